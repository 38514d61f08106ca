#!/usr/bin/env python3
"""Projection speed and reconstruction quality: `dcgan project` on generated, training and held-out images.

For one checkpoint, three sets of N images each are projected at the default settings in one batched call:
images the generator made (seeds 1000..), images from its training folder, and held-out real images it never saw.
Reported per set: seconds per image (wall clock of the whole call, model loading excluded), PSNR of the
reconstruction, and the D-feature distance (the perceptual loss term). A 'random latent' row scores the same
generated targets against images of unrelated seeds: what chance gives. Runs in this process (torch imported once).

    python benchmarks/projection.py CKPT TRAIN_DIR HELDOUT_DIR [--n 16] [--steps 200] [--restarts 4] [--write]
"""

from __future__ import annotations

import argparse
import math
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # this checkout's dcgan_cli, whatever is installed
RESULTS = HERE / "RESULTS.md"
START, END = "<!-- projection:start -->", "<!-- projection:end -->"
SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def pick(folder: Path, n: int, seed: int) -> list[Path]:
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES)
    return random.Random(seed).sample(files, n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ckpt")
    ap.add_argument("train_dir", type=Path)
    ap.add_argument("heldout_dir", type=Path)
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--restarts", type=int, default=4)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()

    import torch

    import dcgan_cli as dcgan

    gen = dcgan.load(args.ckpt, "cpu")
    tmp = Path(tempfile.mkdtemp())
    generated = []
    for k, image in enumerate(gen.sample(range(1000, 1000 + args.n))):
        image.save(tmp / f"g{k}.png")
        generated.append(tmp / f"g{k}.png")
    sets = {"generated": generated, "training": pick(args.train_dir, args.n, 0),
            "held-out": pick(args.heldout_dir, args.n, 1)}
    rows, generated_targets = [], None
    for name, files in sets.items():
        start = time.perf_counter()
        found = gen.project(files, steps=args.steps, restarts=args.restarts)
        seconds = time.perf_counter() - start
        rows.append((name, seconds / len(files), statistics.median(found.psnr), min(found.psnr),
                     statistics.median(loss["feature"] for loss in found.losses)))
        found.preview().save(HERE / "results" / f"projection-{name}.png")
        generated_targets = found.targets if name == "generated" else generated_targets
        print(f"{name:>10}: {rows[-1][1]:.2f} s/image, PSNR median {rows[-1][2]:.1f} dB", file=sys.stderr)
    random_images = gen.render(gen.latents(range(5000, 5000 + args.n)))
    chance = [10 * math.log10(255**2 / float((a.float() - b.float()).pow(2).mean()))
              for a, b in zip(generated_targets, random_images)]
    rows.append(("random latent (chance)", float("nan"), statistics.median(chance), min(chance), float("nan")))
    command = "python benchmarks/projection.py " + " ".join(sys.argv[1:])
    lines = [f"Measured {time.strftime('%Y-%m-%d')} on {torch.get_num_threads()} CPU threads with `{command}`; "
             f"checkpoint {gen.config.image_size}x{gen.config.image_size}, nz {gen.config.nz}, ngf "
             f"{gen.config.ngf}, step {gen.step}; {args.n} images per set, {args.steps} steps, {args.restarts} "
             "restarts, one batched call per set.", "",
             "| images | s / image | PSNR median (dB) | PSNR min | D-feature distance (median) |",
             "|---|---|---|---|---|"]
    for name, per, med, low, feat in rows:
        cell = lambda v, f: "—" if math.isnan(v) else format(v, f)  # noqa: E731
        lines.append(f"| {name} | {cell(per, '.2f')} | {med:.1f} | {low:.1f} | {cell(feat, '.3f')} |")
    text = "\n".join(lines)
    print(text)
    if args.write:
        old = RESULTS.read_text()
        block = f"{START}\n{text}\n{END}"
        new = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, old, flags=re.S) if START in old \
            else old.rstrip("\n") + "\n\n## Projection (`projection.py`, issue 12)\n\n" + block + "\n"
        RESULTS.write_text(new)


if __name__ == "__main__":
    main()
