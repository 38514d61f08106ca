"""The R1 penalty's strength for each penalised step: fixed (`--r1 GAMMA`), or adaptive (`--r1-target T`), where it
follows how far D has run ahead of G.

Why adaptive: on a few thousand images D learns the real set as a run goes on. Over 20 minutes on OpenMoji its mean
confidence on the (augmented) real images, D(x) = E[sigmoid D(x)], climbs from 0.67 to 0.90. A fixed `--r1 1` holds
it near 0.70 and lowers FD at 10 and 20 minutes by a fifth. On Fashion-MNIST's 60,000 images D(x) stays at 0.53-0.55
all run long, and the same fixed penalty only costs: FD 70 against 40 at 32 px (benchmarks/RESULTS.md). So the
strength is gamma x p, and p in [0, 1] is steered as StyleGAN2-ADA steers its augmentation probability. After every
penalised step, p rises while that step's D(x) is above the target and falls while it is below, by at most 1 for
every ADJUST_KIMG thousand images shown. Where D stays honest p stays 0, and no step pays for the double backward.

The signal is the mean sigmoid, not ADA's E[sign D(x)]: on Fashion-MNIST D puts about 80 % of the real images on the
real side by a hair (E[sign D(x)] 0.54-0.62 with D(x) 0.54), so the sign cannot tell that run from OpenMoji's, and the
mean can. Reading it costs one host sync per penalised step. p is a plain number, the same on every rank (D(x) is
averaged across processes), and is checkpointed as `progress.r1_p`, so a resumed run goes on bit for bit.
"""

from __future__ import annotations

import math

from dcgan_cli import checkpoint
from dcgan_cli.errors import CheckpointError

ADJUST_KIMG = 20.0  # p can go from 0 to 1 in this many thousand images shown: about a minute on 2 CPU cores


class R1Strength:
    """gamma, or gamma x p with a target; `every` is the number of steps between penalised steps."""

    def __init__(self, gamma: float, target: float | None, global_batch: int, every: int, p: float = 0.0) -> None:
        self.gamma = gamma
        self.target = target if gamma > 0 else None  # no penalty: nothing to steer
        self.step_size = global_batch * every / (ADJUST_KIMG * 1000)  # per observation
        self.p = p

    @property
    def adaptive(self) -> bool:
        return self.target is not None

    @property
    def gamma_now(self) -> float:
        """The gamma the next penalised step uses (0: it runs as a plain step)."""
        return self.gamma * self.p if self.adaptive else self.gamma

    def observe(self, d_real: float) -> None:
        """Move p after a penalised step in which D's mean confidence on the real batch was `d_real`."""
        if self.target is None:
            return
        direction = (d_real > self.target) - (d_real < self.target)
        self.p = min(1.0, max(0.0, self.p + direction * self.step_size))

    def progress(self) -> dict[str, float]:
        """What the checkpoint's progress carries: p, when there is one."""
        return {"r1_p": self.p} if self.adaptive else {}


def stored_p(resumed: checkpoint.Checkpoint | None) -> float:
    """The p a checkpoint's run had reached; 0 for a new run or one written without it."""
    if resumed is None:
        return 0.0
    p = resumed.progress.get("r1_p", 0.0)
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not (math.isfinite(p) and 0.0 <= p <= 1.0):
        where = resumed.header.path if resumed.header else "checkpoint"
        raise CheckpointError(f"{where}: progress.r1_p must be a number from 0 to 1, got {p!r}")
    return float(p)
