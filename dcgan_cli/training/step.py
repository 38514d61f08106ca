"""One DCGAN training step, the tutorial's algorithm made cheaper without changing what it computes.

Same maths as the tutorial: D is updated on a real batch (label 1) and a fake batch (label 0) with BCE,
then G is updated to maximise log D(G(z)) (BCE against label 1) through the just-updated D. Savings:
- BCE-with-logits replaces Sigmoid + BCELoss: one fused op, and no log(0) for a saturated D.
- D's parameters are frozen during the G step, so autograd computes no D weight gradients that the
  tutorial computes and then throws away with the next `netD.zero_grad()`.
- The statistics stay on the device; the caller decides when to pay for a host sync.
- backward() after each D forward (as pytorch/examples does) keeps it safe under DDP with BatchNorm.
Departures from the paper, each an option (a preset may turn it on): the hinge loss, one-sided label smoothing,
DiffAugment of D's inputs, and the R1 penalty (Mescheder et al. 2018), gamma/2 * E|grad_x D(x)|^2 on the real
inputs: it flattens D around the data, where an unpenalised D keeps sharpening once it is ahead. Like StyleGAN2's
it is lazy, every R1_EVERY steps with R1_EVERY times the weight: its double backward through D makes a
penalised step about 1.5x a plain one (the default preset at 64x64 on a CPU). Its gamma may change from one
penalised step to the next (adaptive_r1.py). Top-k generator updates (Sinha et al. 2020): G learns only from the
k fakes of each batch that D finds most real, k shrinking from the whole batch to a fraction of it (top_k_count),
so the worst samples, whose gradients point anywhere, stop pulling G away from what already works.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.functional import binary_cross_entropy_with_logits as bce_logits

# Order of the values in the stats tensor a step returns.
STATS = ("loss_d", "loss_g", "d_x", "d_g_z1", "d_g_z2")
R1_EVERY = 4  # steps between R1 penalties (see the module docstring)
# top-k: the share of each batch G learns from shrinks by this factor per thousand images shown, down to the
# requested fraction. The paper's 0.99 per epoch of CIFAR-10 (50,000 images) would take a 250 kimg run from 1 only
# to 0.95; per 1,000 images it reaches 0.5 at 69 kimg, a quarter of the default length.
TOP_K_DECAY = 0.99


@dataclass
class GanModules:
    netg: nn.Module
    netd: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    # D as the G step calls it. Under DDP this is the unwrapped D: its weights get no gradients in the G step,
    # and a DDP forward whose parameters then produce none would leave DDP waiting for their reduction.
    netd_for_g: nn.Module | None = None
    amp_dtype: torch.dtype | None = None  # autocast dtype with --amp
    scalers: tuple[torch.amp.GradScaler, torch.amp.GradScaler] | None = None  # (D, G), for float16 only
    loss: str = "bce"  # "bce": the paper's (non-saturating for G); "hinge": the SNGAN/BigGAN hinge loss
    real_label: float = 1.0  # below 1 with --label-smoothing (one-sided: fakes stay at 0)
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None  # DiffAugment of everything D sees

    def d_input(self, images: torch.Tensor) -> torch.Tensor:
        return self.augment(images) if self.augment is not None else images

    def d_loss(self, logits: torch.Tensor, real: bool) -> torch.Tensor:
        if self.loss == "hinge":
            return torch.relu(1 - logits).mean() if real else torch.relu(1 + logits).mean()
        return bce_logits(logits, torch.full_like(logits, self.real_label if real else 0.0))

    def g_loss(self, logits: torch.Tensor) -> torch.Tensor:
        return -logits.mean() if self.loss == "hinge" else bce_logits(logits, torch.ones_like(logits))

    def autocast(self, device: torch.device) -> AbstractContextManager[object]:
        return torch.autocast(device.type, dtype=self.amp_dtype) if self.amp_dtype else nullcontext()

    def backward(self, loss: torch.Tensor, which: int) -> None:
        (self.scalers[which].scale(loss) if self.scalers else loss).backward()

    def r1_penalty(self, out_real: torch.Tensor, real_in: torch.Tensor, gamma: float) -> torch.Tensor:
        """R1_EVERY * gamma/2 * the mean over the batch of |dD/dx|^2 at the (augmented) real inputs."""
        total = out_real.sum()
        scale = 1.0
        if self.scalers:  # float16: take the gradient of the scaled sum, so that it does not underflow
            total, scale = self.scalers[0].scale(total), self.scalers[0].get_scale()
        (grad,) = torch.autograd.grad(total, real_in, create_graph=True)
        return (grad.float() / scale).square().sum(dim=(1, 2, 3)).mean() * (gamma / 2 * R1_EVERY)

    def step(self, opt: torch.optim.Optimizer, which: int) -> None:
        if self.scalers:
            self.scalers[which].step(opt)
            self.scalers[which].update()
        else:
            opt.step()


def train_step(m: GanModules, real: torch.Tensor, noise: torch.Tensor, poison: bool = False,
               r1: float = 0.0, top_k: int = 0) -> torch.Tensor:
    """One D update then one G update; returns the detached STATS as one tensor on the device.

    `r1` > 0 adds the R1 penalty with that gamma to this step's D loss (the caller says which steps, and how strong).
    `top_k` > 0 and below the batch: G's loss is over the `top_k` fakes D scores highest (top_k_count); D's step and
    the statistics still see every fake.
    `poison` multiplies the D loss by NaN: the deterministic divergence the fault tests need.
    """
    D, G = 0, 1  # which loss scaler
    regularize = r1 > 0
    m.netd.zero_grad(set_to_none=True)
    real_in = m.d_input(real)
    if regularize:  # the penalty is a gradient with respect to what D saw
        real_in = real_in.detach().requires_grad_(True)
    # torch.compile's graphs cannot be differentiated twice: a penalised step runs D eagerly (the same module)
    netd_real = getattr(m.netd, "_orig_mod", m.netd) if regularize else m.netd
    with m.autocast(real.device):
        out_real = netd_real(real_in).float()
    err_real = m.d_loss(out_real, real=True)
    if poison:
        err_real = err_real * float("nan")
    # one backward for the loss and the penalty, so that DDP reduces D's gradients once
    m.backward(err_real + m.r1_penalty(out_real, real_in, r1) if regularize else err_real, D)
    with m.autocast(real.device):
        fake = m.netg(noise)
        out_fake = m.netd(m.d_input(fake.detach())).float()
    err_fake = m.d_loss(out_fake, real=False)
    m.backward(err_fake, D)
    m.step(m.opt_d, D)

    m.netg.zero_grad(set_to_none=True)
    netd_g = m.netd_for_g if m.netd_for_g is not None else m.netd
    netd_g.requires_grad_(False)
    try:
        with m.autocast(real.device):
            out_g = netd_g(m.d_input(fake)).float()
        out_g = out_g.flatten()
        err_g = m.g_loss(out_g.topk(top_k).values if 0 < top_k < out_g.numel() else out_g)
        m.backward(err_g, G)
    finally:
        netd_g.requires_grad_(True)
    m.step(m.opt_g, G)

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


def top_k_count(fraction: float | None, batch: int, images_shown: int) -> int:
    """How many fakes of a batch of `batch` G learns from once `images_shown` real images have been shown (0: all).

    The share starts at 1 and shrinks by TOP_K_DECAY per thousand images to `fraction` (None: top-k off). Early on
    every sample is bad and D's ranking means little, so the paper anneals rather than cutting from the start.
    """
    if fraction is None:
        return 0
    return max(1, math.ceil(batch * max(fraction, TOP_K_DECAY ** (images_shown / 1000))))


def ema_decay(decay: float, step: int) -> float:
    """The decay after `step` updates, warmed up as TensorFlow's ExponentialMovingAverage(num_updates) does.

    A flat 0.999 from step 1 would leave 74% of the random initial weights in the average after 300 steps;
    (1 + t) / (10 + t) lets the average follow G early and reaches the requested decay by itself (0.999 at
    t = 8990), so long runs are unchanged.
    """
    return min(decay, (1 + step) / (10 + step))


@torch.no_grad()
def update_ema(ema: nn.Module, netg: nn.Module, decay: float, step: int) -> None:
    """ema <- d * ema + (1 - d) * G for weights, d = ema_decay(decay, step); BatchNorm statistics are copied,
    as StyleGAN does."""
    torch._foreach_lerp_(list(ema.parameters()), list(netg.parameters()), 1.0 - ema_decay(decay, step))
    for mine, theirs in zip(ema.buffers(), netg.buffers()):
        mine.copy_(theirs)
