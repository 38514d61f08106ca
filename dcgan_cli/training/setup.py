"""The training state a run starts from: G and D seeded from the recipe (or restored from a checkpoint), their
optimizers, the noise and augmentation generators, the fixed preview noise, and the wrapped modules the step
runs (DDP, autocast, torch.compile).

Determinism comes from one generator per purpose, each derived from the recipe's seed: weights, noise, the
fixed noise, DiffAugment. Rank 0's noise and augmentation streams are checkpointed; other ranks draw their own
from (seed, rank, start step), so a resume under torchrun is reproducible too.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, cast

import torch

from dcgan_cli import checkpoint, faults
from dcgan_cli.checkpoint.state import restore, restore_scalers
from dcgan_cli.config import DCGANConfig
from dcgan_cli.model import Generator, build_models
from dcgan_cli.seeding import derive_seed
from dcgan_cli.training.augment import DiffAugment
from dcgan_cli.training.distributed import DistEnv, wrap
from dcgan_cli.training.options import TrainOptions, parse_policy
from dcgan_cli.training.recipe import FIXED_NOISE_SIZE, Recipe
from dcgan_cli.training.step import GanModules


@dataclasses.dataclass
class TrainingState:
    raw: GanModules  # the plain modules and optimizers: what is checkpointed
    fast: GanModules  # what the step runs: DDP-wrapped, compiled, autocast
    noise: torch.Generator
    fixed: torch.Tensor  # the preview grid's latents, on the device
    ema: Generator | None = None  # with an EMA decay: the averaged copy of G
    streams: dict[str, torch.Generator] = dataclasses.field(default_factory=dict)  # checkpointed as rng.NAME
    channels_last: bool = False

    @property
    def mirror(self) -> torch.Generator | None:
        """With mirrored reals: the generator that decides which images of a batch are flipped."""
        return self.streams.get("mirror")

    @property
    def scored_generator(self) -> Generator:
        """What `sample` would use: the EMA copy when there is one."""
        return self.ema if self.ema is not None else cast(Generator, self.raw.netg)  # raw.netg: build_models' G


def adam(net: torch.nn.Module, lr: float, recipe: Recipe, device: torch.device,
         saved: dict[str, Any] | None = None) -> torch.optim.Adam:
    """The recipe's Adam, as one fused kernel on a CPU or a GPU: on 2 CPU cores the per-tensor loop's G and D steps
    take 4-9 ms of each default-preset step at 64x64, the fused ones 1-2 ms (benchmarks/fused_adam.py). Same
    update, rounded differently.

    `saved`, a resumed run's optimizer state, decides instead: a run keeps the kernel it began with, so one begun
    before the fused default resumes bit for bit. load_state_dict alone would switch the kernel but not what Adam's
    constructor derives from it (whether GradScaler hands the step its scale), so the choice is made here."""
    if saved is not None:
        groups = saved.get("param_groups") or [{}]
        fused = bool(isinstance(groups[0], dict) and groups[0].get("fused"))
    else:
        fused = device.type in ("cpu", "cuda")
    return torch.optim.Adam(net.parameters(), lr, betas=(recipe.beta1, recipe.beta2), fused=fused or None)


def start_step(resumed: checkpoint.Checkpoint | None) -> int:
    return int(resumed.progress["step"]) if resumed else 0


def build_state(config: DCGANConfig, recipe: Recipe, opts: TrainOptions, env: DistEnv, device: torch.device,
                resumed: checkpoint.Checkpoint | None) -> TrainingState:
    netg, netd = build_models(config, seed=derive_seed(recipe.seed, "weights"))
    if opts.sync_bn:
        netg = torch.nn.SyncBatchNorm.convert_sync_batchnorm(netg)
        netd = torch.nn.SyncBatchNorm.convert_sync_batchnorm(netd)
    noise = torch.Generator().manual_seed(derive_seed(recipe.seed, "noise"))
    fixed = torch.randn(FIXED_NOISE_SIZE, config.nz, 1, 1,
                        generator=torch.Generator().manual_seed(derive_seed(recipe.seed, "fixed")))
    # the layout that measures faster on the CPU (benchmarks/RESULTS-train.md); elsewhere unmeasured, so opt-in
    channels_last = opts.channels_last if opts.channels_last is not None else device.type == "cpu"
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    # Module.to's stub has no (device, memory_format=...) overload, though Module.to accepts that call
    netg.to(device, memory_format=fmt)  # type: ignore[call-overload]
    netd.to(device, memory_format=fmt)  # type: ignore[call-overload]
    saved_g, saved_d = (resumed.opt_g, resumed.opt_d) if resumed is not None else (None, None)
    raw = GanModules(netg, netd, adam(netg, recipe.lr_g, recipe, device, saved_g),
                     adam(netd, recipe.lr_d, recipe, device, saved_d))
    ema = copy.deepcopy(netg).requires_grad_(False) if recipe.ema is not None else None
    # rank 0's streams are checkpointed; other ranks start their own from (seed, rank, step), as for the noise
    rank = f":{env.rank}:{start_step(resumed)}" if env.rank else ""
    streams = {name: torch.Generator().manual_seed(derive_seed(recipe.seed, name + rank))
               for name, wanted in (("augment", bool(recipe.diffaugment)), ("mirror", recipe.mirror)) if wanted}
    if recipe.diffaugment:
        raw.augment = DiffAugment(parse_policy(recipe.diffaugment), streams["augment"], recipe.augment_p)
    if resumed is not None:
        # skip_rng_restore is the negative control of the resume test: without the RNG, no bit-exactness
        stored = restore(resumed, netg, netd, raw.opt_g, raw.opt_d, noise, rng=not faults.active("skip_rng_restore"),
                         ema=ema, streams=streams if env.is_main else None)
        fixed = stored if stored is not None else fixed
    if env.enabled and env.rank > 0:
        noise.manual_seed(derive_seed(recipe.seed, f"noise:{env.rank}:{start_step(resumed)}"))
    raw.loss, raw.real_label = recipe.loss, 1.0 - recipe.label_smoothing
    fast = dataclasses.replace(raw, netg=wrap(netg, env, device), netd=wrap(netd, env, device),
                               netd_for_g=netd if env.enabled else None)
    if opts.amp and device.type == "cpu":  # bf16 autocast; bf16 keeps float32's range, so no loss scaling
        fast.amp_dtype = torch.bfloat16
    elif opts.amp:
        bf16 = torch.cuda.is_bf16_supported()
        fast.amp_dtype = torch.bfloat16 if bf16 else torch.float16
        fast.scalers = None if bf16 else (torch.amp.GradScaler("cuda"), torch.amp.GradScaler("cuda"))
        if fast.scalers is not None and resumed is not None:
            restore_scalers(resumed, fast.scalers)  # else a float16 resume would skip other steps than the run
    if opts.compile:
        # torch.compile's stub returns a plain callable; given a Module it returns a Module (OptimizedModule)
        fast.netg = cast(torch.nn.Module, torch.compile(fast.netg))
        fast.netd = cast(torch.nn.Module, torch.compile(fast.netd))
        if fast.netd_for_g is not None:
            fast.netd_for_g = cast(torch.nn.Module, torch.compile(fast.netd_for_g))
    return TrainingState(raw, fast, noise, fixed.to(device), ema, streams, channels_last)
