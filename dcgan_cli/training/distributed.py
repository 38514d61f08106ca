"""Multi-process training under torchrun (or `accelerate launch`, which passes through to it).

No launcher of our own: torchrun sets RANK, LOCAL_RANK and WORLD_SIZE (and the rendezvous), we read them,
join the process group (NCCL on CUDA, gloo on the CPU) and wrap G and D in DDP. Every rank sees the same
epoch permutation and takes its own slice of each global batch, so N processes at --batch-size B take exactly
the steps one process would at batch N*B. Only rank 0 writes files or prints.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist

from dcgan_cli.errors import UsageError


@dataclass(frozen=True)
class DistEnv:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls) -> DistEnv:
        try:
            world = int(os.environ.get("WORLD_SIZE", "1"))
            rank = int(os.environ.get("RANK", "0"))
            local = int(os.environ.get("LOCAL_RANK", str(rank)))
        except ValueError:
            raise UsageError("RANK, LOCAL_RANK and WORLD_SIZE must be integers (set by torchrun)") from None
        if world < 1 or not 0 <= rank < world:
            raise UsageError(f"bad torchrun environment: RANK={rank}, WORLD_SIZE={world}")
        return cls(rank, local, world)

    def device(self, requested: torch.device) -> torch.device:
        """One accelerator per process: cuda becomes cuda:LOCAL_RANK under torchrun."""
        if self.enabled and requested.type == "cuda" and requested.index is None:
            return torch.device("cuda", self.local_rank)
        return requested


@contextmanager
def process_group(env: DistEnv, device: torch.device) -> Iterator[None]:
    """Join the group for the duration of a run (no-op for one process); always leave it.

    A run that ends normally leaves together: rank 0 still writes the loss plot and the GIF after the last
    collective, and a rank that tore gloo down and exited meanwhile was seen to abort at exit ("terminate called
    without an active exception", SIGABRT, once in a CI run), so every rank waits at a barrier first. A run that
    fails does not: the other ranks may never reach the barrier.
    """
    if not env.enabled:
        yield
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend, rank=env.rank, world_size=env.world_size)
    try:
        yield
        dist.barrier()
    finally:
        dist.destroy_process_group()


def barrier(env: DistEnv) -> None:
    if env.enabled:
        dist.barrier()


def any_rank(env: DistEnv, flag: bool, device: torch.device) -> bool:
    """True on every rank if it is true on any: ranks must agree to stop at the same step."""
    if not env.enabled:
        return flag
    t = torch.tensor([1 if flag else 0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def mean_over_ranks(env: DistEnv, value: torch.Tensor) -> float:
    """A scalar tensor averaged over every rank, as a number every rank agrees on (the value itself without
    torchrun)."""
    if env.enabled:
        value = value.detach().clone()
        dist.all_reduce(value)
        value /= env.world_size
    return float(value)


def wrap(module: torch.nn.Module, env: DistEnv, device: torch.device) -> torch.nn.Module:
    """DDP around a module when running under torchrun; the module itself otherwise."""
    if not env.enabled:
        return module
    from torch.nn.parallel import DistributedDataParallel as DDP

    return DDP(module, device_ids=[device.index] if device.type == "cuda" else None)


def same_on_all_ranks(env: DistEnv, *modules: torch.nn.Module) -> bool:
    """Whether every rank holds exactly the same weights (a cheap exact checksum, all-gathered)."""
    if not env.enabled:
        return True
    params = [p.detach().double() for m in modules for p in m.parameters()]
    device = params[0].device
    mine = torch.stack([torch.stack([p.sum(), p.square().sum()]) for p in params])
    everyone = [torch.empty_like(mine) for _ in range(env.world_size)]
    dist.all_gather(everyone, mine.to(device))
    return all(torch.equal(everyone[0], other) for other in everyone[1:])
