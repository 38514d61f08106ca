"""Training steps per second with Adam's per-tensor loop against its fused kernel, in one process.

The default preset's step at 64x64 (G width 32, D width 16, batch 16, DiffAugment on a quarter of D's images, R1
every 4th step, top-k, EMA), channels-last on the CPU as `dcgan train` runs it. Two copies train side by side in
interleaved blocks of 25 steps, so that the machine's drift (a shared VM moves by +-10 % from one minute to the
next) falls on both; the first block of each is a warm-up. Reports the median img/s of each and their ratio, then the
median time of the two Adam steps alone.

    python benchmarks/fused_adam.py [--blocks 10]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch

from dcgan_cli.config import DCGANConfig
from dcgan_cli.model import build_models
from dcgan_cli.training.augment import DiffAugment
from dcgan_cli.training.options import parse_policy
from dcgan_cli.training.step import R1_EVERY, GanModules, train_step, update_ema

BATCH, STEPS_PER_BLOCK = 16, 25


def side(fused: bool | None) -> tuple[GanModules, torch.nn.Module]:
    netg, netd = build_models(DCGANConfig(nz=100, ngf=32, ndf=16, channels=3, image_size=64), seed=1)
    for net in (netg, netd):
        net.to(memory_format=torch.channels_last)
    opt_g, opt_d = (torch.optim.Adam(n.parameters(), 8e-4, betas=(0.5, 0.999), fused=fused) for n in (netg, netd))
    m = GanModules(netg, netd, opt_g, opt_d)
    m.augment = DiffAugment(parse_policy("color,translation"), torch.Generator().manual_seed(0), 0.25)
    return m, copy.deepcopy(netg).requires_grad_(False)


def default_step(m: GanModules, ema: torch.nn.Module, real: torch.Tensor, noise: torch.Generator, step: int) -> None:
    """Training step `step` as the default preset runs it: R1 every R1_EVERY steps, G from the better half, EMA."""
    z = torch.randn(BATCH, 100, 1, 1, generator=noise)
    train_step(m, real, z, r1=1.0 if step % R1_EVERY == 0 else 0.0, top_k=BATCH // 2)
    update_ema(ema, m.netg, 0.99, step)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=10, help="blocks of 25 steps per side, the first one a warm-up")
    a = ap.parse_args()
    sides = {"loop": side(None), "fused": side(True)}
    real = torch.rand(BATCH, 3, 64, 64).mul(2).sub(1).contiguous(memory_format=torch.channels_last)
    noise = torch.Generator().manual_seed(0)
    rates: dict[str, list[float]] = {name: [] for name in sides}
    step = 0
    for block in range(a.blocks):
        for name, (m, ema) in sides.items():
            start = time.perf_counter()
            for _ in range(STEPS_PER_BLOCK):
                default_step(m, ema, real, noise, step)
                step += 1
            if block:
                rates[name].append(STEPS_PER_BLOCK * BATCH / (time.perf_counter() - start))
    med = {name: statistics.median(r) for name, r in rates.items()}
    for name, r in rates.items():
        print(f"{name:6s} median {med[name]:6.1f} img/s  (blocks: {', '.join(f'{x:.0f}' for x in sorted(r))})")
    print(f"fused / loop: {med['fused'] / med['loop']:.3f}x  ({torch.get_num_threads()} threads)")
    # the optimizer steps alone (G's and D's, on the last step's gradients), where the difference is not drowned by
    # the convolutions' minute-to-minute drift
    for name, (m, _) in sides.items():
        times = []
        for _ in range(a.blocks):
            start = time.perf_counter()
            for _ in range(STEPS_PER_BLOCK):
                m.opt_g.step()
                m.opt_d.step()
            times.append((time.perf_counter() - start) / STEPS_PER_BLOCK * 1000)
        print(f"{name:6s} Adam steps of G and D: median {statistics.median(times):.2f} ms per training step")


if __name__ == "__main__":
    main()
