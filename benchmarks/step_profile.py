"""Where a training step's time goes: the default preset's step at 64x64 under torch.profiler, by op and shape.

The same step as fused_adam.py's (G width 32, D width 16, batch 16, DiffAugment on a quarter of D's images, R1
every 4th step, top-k, EMA, channels-last, fused Adam). After a warm-up it profiles `--steps` steps and prints a
Markdown table of the ops that take the most time, each with the shapes it ran on, its milliseconds per step, its
share, and for convolutions the rate it ran at: 2 x N x C_in x C_out x k^2 x (the spatial size of the wider side)
floating-point operations per forward; a backward is counted as two forwards (the gradients for input and
weights), which overstates the rate of a backward that needs only one of them. Then the shares by kind of op.
Compare the convolutions' rates with the cores' peak (2 AVX2 cores with two FMA units: about 2 x 2.5 GHz x 32)
to see what a faster kernel could still give.

    python benchmarks/step_profile.py [--steps 40] [--top 20]
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import torch
from fused_adam import BATCH, default_step, side  # a sibling script: Python puts this folder on the path
from torch.profiler import ProfilerActivity, profile

# the ops that do a convolution's arithmetic themselves: the backward, oneDNN's forward, and aten::_convolution,
# which computes a transposed convolution itself but hands a plain one to mkldnn_convolution
WORKERS = ("aten::convolution_backward", "aten::mkldnn_convolution", "aten::_convolution")


def conv_flops(op: str, shapes: list[list[int]]) -> float:
    """FLOPs of one call of `op` on these input shapes, a backward counted as two forwards; 0 when it does no
    convolution's arithmetic itself."""
    backward = op == "aten::convolution_backward"
    if op not in WORKERS or len(shapes) < 2 + backward:
        return 0.0
    x, w = (shapes[1], shapes[2]) if backward else (shapes[0], shapes[1])
    if len(x) != 4 or len(w) != 4:
        return 0.0
    transposed = x[1] == w[0] and x[1] != w[1]  # ConvTranspose weights are (C_in, C_out, k, k)
    if op == "aten::_convolution" and not transposed:
        return 0.0
    c_out = w[1] if transposed else w[0]
    # a stride-2 conv's work is counted on its (smaller) output, a transposed one's on its (smaller) input
    spatial = x[2] * x[3] if transposed else x[2] * x[3] // 4
    if w[2] == 4 and x[2] == 4 and not transposed:  # D's last conv: 4x4 input, valid padding, a 1x1 output
        spatial = 1
    flops = 2.0 * x[0] * x[1] * c_out * w[2] * w[3] * spatial
    return 2 * flops if backward else flops


def kind(name: str) -> str:
    if "conv" in name:
        return "convolutions"
    if "batch_norm" in name:
        return "BatchNorm"
    if "adam" in name.lower():
        return "Adam"
    return "everything else"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--top", type=int, default=20)
    a = ap.parse_args()
    m, ema = side(True)
    real = torch.rand(BATCH, 3, 64, 64).mul(2).sub(1).contiguous(memory_format=torch.channels_last)
    noise = torch.Generator().manual_seed(0)

    for step in range(20):  # warm-up: oneDNN picks and caches its kernels on the first calls
        default_step(m, ema, real, noise, step)
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        for step in range(20, 20 + a.steps):
            default_step(m, ema, real, noise, step)
    rows = [e for e in prof.key_averages(group_by_input_shape=True) if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in rows)
    print(f"{a.steps} steps, {total / 1000 / a.steps:.1f} ms of op time per step\n")
    print("| op | shapes | ms/step | share | GFLOP/s |")
    print("|---|---|---|---|---|")
    for e in sorted(rows, key=lambda e: -e.self_cpu_time_total)[:a.top]:
        shapes = [s for s in e.input_shapes if s]
        flops = conv_flops(e.key, shapes)
        rate = f"{flops * e.count / e.self_cpu_time_total / 1000:.0f}" if flops else ""
        print(f"| {e.key} | {shapes[:3]} | {e.self_cpu_time_total / 1000 / a.steps:.2f} | "
              f"{100 * e.self_cpu_time_total / total:.1f} % | {rate} |")
    shares: dict[str, float] = defaultdict(float)
    for e in rows:
        shares[kind(e.key)] += e.self_cpu_time_total
    print("\n| kind | share |\n|---|---|")
    for name, t in sorted(shares.items(), key=lambda kv: -kv[1]):
        print(f"| {name} | {100 * t / total:.1f} % |")


if __name__ == "__main__":
    main()
