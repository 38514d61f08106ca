"""From the decoded set to model input: the batch order of each epoch and the uint8 -> [-1, 1] conversion."""

from __future__ import annotations

import torch

from dcgan_cli.seeding import seed_from


def epoch_permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The sample order of one epoch: a pure function of (seed, epoch), so a resumed run replays it exactly."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    generator = torch.Generator(device="cpu").manual_seed(seed_from(f"dcgan-epoch:{seed}:{epoch}"))
    return torch.randperm(n, generator=generator)


def batch_indices(perm: torch.Tensor, position: int, rank: int, world_size: int, batch: int) -> torch.Tensor:
    """One rank's share of global batch `position` of an epoch: ranks take consecutive slices, so N processes at
    batch B see exactly the images one process sees at batch N x B, step for step."""
    first = (position * world_size + rank) * batch
    return perm[first : first + batch]


def to_model_input(batch_u8: torch.Tensor, device: torch.device, channels_last: bool = False) -> torch.Tensor:
    """uint8 (N, C, S, S) -> float32 in [-1, 1] on device; copied as uint8 so the transfer is 4x smaller."""
    if batch_u8.dtype != torch.uint8:
        raise TypeError(f"expected a uint8 batch, got {batch_u8.dtype}")
    x = batch_u8.to(device, non_blocking=True).float().div_(127.5).sub_(1.0)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x
