#!/usr/bin/env python3
"""The baseline of benchmarks/quality.py: pytorch/examples' `dcgan/main.py` training loop, for a wall-clock budget.

What a user of pytorch/examples runs (its recipe, written here from its documented behaviour, not copied): images
read from disk every epoch by a DataLoader with 2 workers (resize, centre crop, normalise), the tutorial's G and
D with D ending in Sigmoid + BCELoss, Adam(2e-4, β=(0.5, 0.999)), batch 128, nz 100, widths 64, real label 1,
the G step back-propagating through D (D's weight gradients computed and thrown away, as there), one `.item()`
per statistic per step. Its network layout is the tutorial's, so G is saved as a generator-only `dcgan`
checkpoint that `dcgan evaluate` and `dcgan sample` read, at each minute mark of training time given in --marks.

    python benchmarks/examples_baseline.py IMAGES OUT_DIR --marks 2,5,10,20 [--image-size 64] [--seed 999]

writes OUT_DIR/at-2m.safetensors ... and OUT_DIR/end.json ({"marks": {"2": {"step", "images", "seconds"}}}).
The clock counts the loop only (data loading included: it is part of this loop's cost), not start-up.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from dcgan_cli import checkpoint
from dcgan_cli.config import DCGANConfig
from dcgan_cli.data.scan import scan_folder
from dcgan_cli.model import build_models

NZ, WIDTH, BATCH, LR, BETA1 = 100, 64, 128, 2e-4, 0.5


class Folder(Dataset):
    """Every image under a folder (ImageFolder without its class-subfolder requirement)."""

    def __init__(self, root: Path, size: int, channels: int) -> None:
        self.paths = [entry.fspath for entry in scan_folder(root).images]
        mean = (0.5,) * channels
        self.mode = "RGB" if channels == 3 else "L"
        self.transform = transforms.Compose([transforms.Resize(size), transforms.CenterCrop(size),
                                             transforms.ToTensor(), transforms.Normalize(mean, mean)])

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        with Image.open(self.paths[i]) as im:
            return self.transform(im.convert(self.mode))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("images", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--marks", default="2,5,10,20", help="minutes of training at which to save G")
    ap.add_argument("--image-size", type=int, default=64)
    ap.add_argument("--channels", type=int, default=3)
    ap.add_argument("--seed", type=int, default=999)
    args = ap.parse_args()
    marks = sorted(float(m) for m in args.marks.split(","))
    torch.manual_seed(args.seed)
    config = DCGANConfig(nz=NZ, ngf=WIDTH, ndf=WIDTH, channels=args.channels, image_size=args.image_size)
    netg, netd_logits = build_models(config, seed=args.seed)  # N(0, 0.02) init, as main.py's weights_init
    netd = nn.Sequential(netd_logits, nn.Sigmoid())
    loader = DataLoader(Folder(args.images, args.image_size, args.channels), batch_size=BATCH, shuffle=True,
                        num_workers=2, drop_last=True, persistent_workers=True)
    criterion = nn.BCELoss()
    opt_d = torch.optim.Adam(netd.parameters(), lr=LR, betas=(BETA1, 0.999))
    opt_g = torch.optim.Adam(netg.parameters(), lr=LR, betas=(BETA1, 0.999))
    args.out.mkdir(parents=True, exist_ok=True)
    done: dict[str, dict[str, float]] = {}
    step, trained, pending = 0, 0.0, list(marks)
    while pending:
        t0 = time.perf_counter()
        for real in loader:
            netd.zero_grad()
            label = torch.full((real.shape[0],), 1.0)
            err_real = criterion(netd(real).view(-1), label)
            err_real.backward()
            fake = netg(torch.randn(real.shape[0], NZ, 1, 1))
            err_fake = criterion(netd(fake.detach()).view(-1), label.fill_(0.0))
            err_fake.backward()
            opt_d.step()
            netg.zero_grad()
            err_g = criterion(netd(fake).view(-1), label.fill_(1.0))
            err_g.backward()
            opt_g.step()
            _ = (err_real.item() + err_fake.item(), err_g.item())  # main.py prints these every step
            step += 1
            now = time.perf_counter()
            trained, t0 = trained + now - t0, now
            while pending and trained >= pending[0] * 60:
                minute = pending.pop(0)
                ckpt = checkpoint.Checkpoint(config=config.to_dict(), generator=netg.state_dict(),
                                             progress={"step": step, "epoch": 0, "position": 0},
                                             options={"baseline": "pytorch/examples dcgan/main.py"})
                checkpoint.save(args.out / f"at-{minute:g}m.safetensors", ckpt)
                done[f"{minute:g}"] = {"step": step, "images": step * BATCH, "seconds": round(trained, 1)}
                print(f"baseline: {minute:g} min, step {step}", file=sys.stderr)
            if not pending:
                break
    (args.out / "end.json").write_text(json.dumps({"marks": done}))


if __name__ == "__main__":
    main()
