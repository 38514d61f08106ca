#!/usr/bin/env python3
"""Which real images make a checkpoint's samples count as precise? Precision's k-NN balls, looked at one by one.

Precision (Kynkäänniemi et al. 2019) counts a sample when it lies within the k-th-neighbour radius of any real
image in feature space. A real image far from the others has a large ball, and if it is plain or faint it can take
in many samples that look like nothing. On the held-out Twemoji set the default's precision fell from 0.10 at 2
minutes to 0.04 at 20 while the grids went from blobs to faces; this shows why. Same features (EfficientNet-Lite0),
same k and the same 1,000 real images (seed 0) as `precision_reference.py`; 1,000 samples of the EMA G from latents
of seed 0. For each checkpoint: the precision, how many real images' balls hold the counted samples, the share held
by the one that holds most, and its radius against the median. With `--images DIR`, a strip of the 8 real images
that hold most samples and one of 16 of the counted samples, per checkpoint.

    python benchmarks/precision_hits.py IMAGE_DIR CKPT [CKPT ...] [--images DIR] [--size 64]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from precision_reference import generate, real_sets  # a sibling script: Python puts this folder on the path
from torchvision.utils import save_image

from dcgan_cli.io.images import to_uint8
from dcgan_cli.metrics import backbones
from dcgan_cli.metrics.distances import NEAREST_K, _kth_neighbour_radius
from dcgan_cli.sampling.generator import load_generator


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("images", type=Path)
    ap.add_argument("checkpoints", type=Path, nargs="+")
    ap.add_argument("--images", dest="out", type=Path, help="write the strips of images here")
    ap.add_argument("--size", type=int, default=64)
    args = ap.parse_args()
    reals, _ = real_sets(args.images, args.size)
    backbone = backbones.load("efficientnet-lite0")
    real_feats = backbone(reals).double()  # as precision_recall_density_coverage computes
    radius = _kth_neighbour_radius(real_feats, NEAREST_K)
    print("| checkpoint | precision | real images holding the counted samples | share held by the top one | "
          "its radius ÷ the median |")
    print("|---|---|---|---|---|")
    for path in args.checkpoints:
        netg, config, _ = load_generator(path)
        fakes = generate(netg, config.nz)
        held = torch.cdist(backbone(to_uint8(fakes)).double(), real_feats) <= radius[None]  # (sample, real)
        counted = held.any(dim=1)
        per_real = held.sum(dim=0)
        top = per_real.argsort(descending=True)
        share = per_real[top[0]].item() / max(1, int(counted.sum()))
        print(f"| `{path.parent.name}/{path.name}` | {counted.float().mean():.3f} | {int((per_real > 0).sum())} | "
              f"{share:.0%} | {radius[top[0]] / radius.median():.2f} |", flush=True)
        if args.out is not None:
            args.out.mkdir(parents=True, exist_ok=True)
            stem = f"{path.parent.name}-{path.stem}"
            save_image(reals[top[:8]].float() / 255, args.out / f"{stem}-top-reals.png", nrow=8)
            save_image((fakes[counted][:16] + 1) / 2, args.out / f"{stem}-counted.png", nrow=8)


if __name__ == "__main__":
    main()
