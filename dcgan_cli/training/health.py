"""Live health checks of a training run: a `warning` event, with advice, when D overpowers G or the fixed-noise
samples collapse towards each other. (`dcgan doctor` judges a finished run; these watch one as it goes.)

D overpowers G when D(G(z)) stays near 0 while D(x) stays near 1 over a window of logged steps: G then gets
almost no gradient from the BCE loss, and Loss_G climbs (the failure the tutorial's recipe shows on a small
folder: D(G(z)) ~ 0.001, Loss_G ~ 10). Collapse is measured on the fixed-noise grid: the mean pairwise distance
between its images, as a fraction of the same measure on real images. Each warning is given once, and again only
after the run has recovered from it.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import torch
import torch.nn.functional as F

WINDOW = 50  # logged steps
D_WINS_FAKE = 0.05  # mean D(G(z)) in the G step below this ...
D_WINS_REAL = 0.9  # ... while mean D(x) is above this
COLLAPSE_RATIO = 0.25  # sample spread below this fraction of the real images' spread
MIN_STEP = 100  # the first steps of any run look like this; judge after them


def spread(images: torch.Tensor) -> float:
    """Mean pairwise RMS distance between images (any range), compared at 16x16 so it measures layout, not noise."""
    x = images.detach().float().cpu()
    if x.shape[-1] > 16:
        x = F.adaptive_avg_pool2d(x, 16)
    flat = x.reshape(x.shape[0], -1)
    n = flat.shape[0]
    if n < 2:
        return 0.0
    d = torch.cdist(flat, flat) / flat.shape[1] ** 0.5
    return float(d.sum() / (n * (n - 1)))


class HealthMonitor:
    def __init__(self, real_u8: torch.Tensor) -> None:
        self.rows: deque[dict[str, float]] = deque(maxlen=WINDOW)
        self.real_spread = spread(real_u8.float() / 127.5 - 1.0)
        self.active: set[str] = set()

    def observe(self, step: int, values: dict[str, float]) -> list[dict[str, Any]]:
        self.rows.append(values)
        if len(self.rows) < WINDOW or step < MIN_STEP:
            return []
        fake = sum(r["d_g_z2"] for r in self.rows) / len(self.rows)
        real = sum(r["d_x"] for r in self.rows) / len(self.rows)
        loss_g = sum(r["loss_g"] for r in self.rows) / len(self.rows)
        if fake < D_WINS_FAKE and real > D_WINS_REAL:
            return self._raise("d_wins", step, f"D is overpowering G: D(G(z)) {fake:.3f} and D(x) {real:.3f} "
                               f"over the last {len(self.rows)} logged steps, Loss_G {loss_g:.1f}",
                               "G learns little while D wins: use the default preset (smaller widths, more "
                               "steps, DiffAugment, and an R1 penalty on D that grows while D is ahead), or add "
                               "--diffaugment color,translation and --r1 1 --r1-target 0.6 (fixed for a run, so "
                               "for the next one)",
                               {"d_g_z": round(fake, 4), "d_x": round(real, 4), "loss_g": round(loss_g, 3)})
        if fake > 2 * D_WINS_FAKE:
            self.active.discard("d_wins")
        return []

    def observe_samples(self, step: int, images: torch.Tensor) -> list[dict[str, Any]]:
        if step < MIN_STEP or self.real_spread <= 0:
            return []
        ratio = spread(images) / self.real_spread
        if ratio < COLLAPSE_RATIO:
            return self._raise("collapse", step, f"the fixed-noise samples are collapsing towards each other: "
                               f"their spread is {ratio:.2f} of the real images'",
                               "resume from an earlier snapshot (--keep) with --diffaugment or a lower --lr-d; "
                               "an EMA generator (--ema 0.99) also helps", {"spread_ratio": round(ratio, 3)})
        if ratio > 2 * COLLAPSE_RATIO:
            self.active.discard("collapse")
        return []

    def _raise(self, check: str, step: int, message: str, advice: str, value: dict[str, Any]) -> list[dict[str, Any]]:
        if check in self.active:
            return []
        self.active.add(check)
        return [{"event": "warning", "check": check, "step": step, "message": f"{message}; {advice}", **value}]
