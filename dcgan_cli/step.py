"""One DCGAN training step, the tutorial's algorithm made cheaper without changing what it computes.

Same maths as the tutorial: D is updated on a real batch (label 1) and a fake batch (label 0) with BCE,
then G is updated to maximise log D(G(z)) (BCE against label 1) through the just-updated D. Savings:
- BCE-with-logits replaces Sigmoid + BCELoss: one fused op, and no log(0) for a saturated D.
- D's parameters are frozen during the G step, so autograd computes no D weight gradients that the
  tutorial computes and then throws away with the next `netD.zero_grad()`.
- The statistics stay on the device; the caller decides when to pay for a host sync.
- backward() after each D forward (as pytorch/examples does) keeps it safe under DDP with BatchNorm.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.functional import binary_cross_entropy_with_logits as bce_logits

# Order of the values in the stats tensor a step returns.
STATS = ("loss_d", "loss_g", "d_x", "d_g_z1", "d_g_z2")


@dataclass
class GanModules:
    netg: nn.Module
    netd: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer


def train_step(m: GanModules, real: torch.Tensor, noise: torch.Tensor, poison: bool = False) -> torch.Tensor:
    """One D update then one G update; returns the detached STATS as one tensor on the device.

    `poison` multiplies the D loss by NaN: the deterministic divergence the fault tests need.
    """
    batch = real.shape[0]
    ones = torch.ones(batch, device=real.device)
    zeros = torch.zeros(batch, device=real.device)

    m.netd.zero_grad(set_to_none=True)
    out_real = m.netd(real)
    err_real = bce_logits(out_real, ones)
    if poison:
        err_real = err_real * float("nan")
    err_real.backward()
    fake = m.netg(noise)
    out_fake = m.netd(fake.detach())
    err_fake = bce_logits(out_fake, zeros)
    err_fake.backward()
    m.opt_d.step()

    m.netg.zero_grad(set_to_none=True)
    m.netd.requires_grad_(False)
    try:
        out_g = m.netd(fake)
        err_g = bce_logits(out_g, ones)
        err_g.backward()
    finally:
        m.netd.requires_grad_(True)
    m.opt_g.step()

    with torch.no_grad():
        return torch.stack(
            [
                err_real + err_fake,
                err_g,
                torch.sigmoid(out_real).mean(),
                torch.sigmoid(out_fake).mean(),
                torch.sigmoid(out_g).mean(),
            ]
        ).detach()
