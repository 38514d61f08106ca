"""Adaptive augmentation strength (Karras et al. 2020, "Training GANs with Limited Data"): cutout, on top of the
recipe's DiffAugment, for each image D sees with a probability p that follows how much D overfits.

On a few thousand images D learns the real set by heart as a run goes on: D(x) climbs to ~0.97 and D(G(z)) falls
to ~0.02 over 20 minutes on OpenMoji, while G still improves (benchmarks/RESULTS.md). Fixed strong augmentation
is no answer, because early on it only slows G down (cutout from the start: worse at 5 minutes). ADA's heuristic
r = E[sign D(x)], the share of real images D is sure of, is measured on every real batch: p rises while r is above
the target and falls while it is below, by at most 1 for every ADJUST_KIMG thousand images shown. So p stays 0
while D is honest and grows only as far as it has to.

p lives on the device (no host sync per step), is the same on every rank (r is averaged across processes) and is
checkpointed as a number; the draws come from DiffAugment's checkpointed generator, so resume stays bit-exact.
"""

from __future__ import annotations

import math

import torch
import torch.distributed as dist

from dcgan_cli import checkpoint
from dcgan_cli.errors import CheckpointError
from dcgan_cli.training.augment import cutout

ADJUST_KIMG = 100.0  # p can go from 0 to 1 in this many thousand images shown (ADA: 500, for far longer runs)


class AdaptiveCutout:
    def __init__(self, target: float, generator: torch.Generator, global_batch: int, device: torch.device,
                 p: float = 0.0, distributed: bool = False) -> None:
        self.target, self.generator, self.distributed = target, generator, distributed
        self.step_size = global_batch / (ADJUST_KIMG * 1000)  # per observed real batch
        self.p = torch.tensor(p, dtype=torch.float32, device=device)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Each image cut out with probability p (the draws are made whatever p is, so the stream never depends on
        it and p = 0 costs what p = 1 costs)."""
        chosen = torch.rand(x.shape[0], generator=self.generator).to(x.device) < self.p
        return torch.where(chosen.view(-1, 1, 1, 1), cutout(x, self.generator), x)

    @torch.no_grad()
    def observe(self, real_logits: torch.Tensor) -> None:
        """Move p after D judged a real batch: up while D is sure of more than `target` of them, else down."""
        r = real_logits.detach().float().sign().mean()
        if self.distributed:
            dist.all_reduce(r)
            r /= dist.get_world_size()
        self.p = (self.p + torch.sign(r - self.target) * self.step_size).clamp(0.0, 1.0)

    @property
    def probability(self) -> float:
        return float(self.p)


def stored_probability(resumed: checkpoint.Checkpoint | None) -> float:
    """The p a checkpoint's run had reached (progress.augment_p); 0 for a new run or one written without it."""
    if resumed is None:
        return 0.0
    p = resumed.progress.get("augment_p", 0.0)
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not (math.isfinite(p) and 0.0 <= p <= 1.0):
        where = resumed.header.path if resumed.header else "checkpoint"
        raise CheckpointError(f"{where}: progress.augment_p must be a probability, got {p!r}")
    return float(p)
