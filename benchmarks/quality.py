#!/usr/bin/env python3
"""Sample quality per CPU budget: the tutorial recipe vs each opt-in training option, on Fashion-MNIST.

Every variant trains from the same seed for the same wall-clock budget (`dcgan train --max-time`, which excludes
the one-time decode), then `dcgan evaluate` scores it with the same sample seeds against the same held-out real
images (the test split, never trained on). The table goes between markers in benchmarks/RESULTS.md. The parent
never imports torch; every run is a `dcgan` subprocess, so the numbers are what a user gets from the shell.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
EXPORT = REPO.parent / "shared" / "datasets" / "fashion_mnist.py"
RESULTS = HERE / "RESULTS.md"
START, END = "<!-- quality:start -->", "<!-- quality:end -->"

# name -> extra `dcgan train` flags; the first is the baseline every other row is compared with
VARIANTS: dict[str, list[str]] = {
    "tutorial": [],
    "channels-last": ["--channels-last"],
    "ema": ["--ema", "0.999"],
    "hinge": ["--loss", "hinge"],
    "label-smoothing": ["--label-smoothing", "0.1"],
    "diffaugment": ["--diffaugment", "color,translation,cutout"],
    "spectral-norm": ["--spectral-norm"],
    "ema+channels-last": ["--ema", "0.999", "--channels-last"],
}
COLUMNS = ("swd", "fd", "kid", "precision", "recall", "density", "coverage")
LOWER_IS_BETTER = {"swd", "fd", "kid"}


def dcgan(*args: str) -> dict[str, Any]:
    """Run `python -m dcgan_cli ARGS --json -q`; return its last JSON line (the end event or the result)."""
    cmd = [sys.executable, "-m", "dcgan_cli", *args, "--json", "-q"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {shlex.join(cmd)}\n{done.stderr.strip()}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def export(work: Path, split: str, limit: int) -> Path:
    folder = work / f"fashion-{split}-{limit}"
    if not folder.is_dir():
        tmp = folder.with_name(folder.name + ".tmp")
        subprocess.run([sys.executable, str(EXPORT), str(tmp), "--split", split, "--limit", str(limit)], check=True)
        tmp.rename(folder)
    return folder


def scores(result: dict[str, Any]) -> dict[str, float]:
    feats = next(iter(result.get("features", {}).values()), {})
    return {"swd": result["swd"]["mean"], **{k: feats[k] for k in COLUMNS[1:] if k in feats}}


def table(rows: list[dict[str, Any]], args: argparse.Namespace, backbone: str) -> str:
    base = rows[0]["scores"]
    head = ("| variant | flags | steps | img/s | SWD ↓ | FD ↓ | KID ↓ | precision ↑ | recall ↑ | density ↑ | "
            "coverage ↑ | beats tutorial on |")
    lines = [head, "|" + "---|" * 12]
    for row in rows:
        s = row["scores"]
        wins = [k for k in COLUMNS if row is not rows[0] and k in s and k in base
                and (s[k] < base[k] if k in LOWER_IS_BETTER else s[k] > base[k])]
        cells = ["—" if k not in s else f"{s[k]:.4f}" if k == "kid" else f"{s[k]:.3f}" if k in COLUMNS[3:]
                 else f"{s[k]:.2f}" for k in COLUMNS]
        lines.append(f"| {row['name']} | `{' '.join(row['flags']) or '(defaults)'}` | {row['steps']} | "
                     f"{row['img_per_s']:.0f} | " + " | ".join(cells) + f" | {', '.join(wins) or '—'} |")
    command = "python benchmarks/quality.py " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in (("budget", args.budget), ("train_images", args.train_images),
                                                     ("test_images", args.test_images), ("eval_n", args.eval_n),
                                                     ("image_size", args.image_size)))
    return "\n".join([
        START,
        f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} CPU cores with `{command}`.",
        "",
        f"Each variant: `dcgan train` on {args.train_images} Fashion-MNIST training images at "
        f"{args.image_size}x{args.image_size}, seed 999, batch 128, for {args.budget} s of training "
        f"(`--max-time`); then `dcgan evaluate --n {args.eval_n} --seed 0` against {args.eval_n} of the "
        f"{args.test_images} test-split images. Feature metrics use `{backbone}`. One training seed per variant: "
        "differences of a few percent are within run-to-run noise.",
        "",
        *lines,
        END,
    ])


def write(text: str) -> None:
    old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\n"
    if START in old and END in old:
        new = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: text, old, flags=re.S)
    else:
        new = old.rstrip("\n") + "\n\n## Sample quality per CPU budget (`quality.py`)\n\n" + text + "\n"
    RESULTS.write_text(new)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=int, default=240, help="training seconds per variant")
    ap.add_argument("--train-images", type=int, default=60000)
    ap.add_argument("--test-images", type=int, default=2000)
    ap.add_argument("--eval-n", type=int, default=1000)
    ap.add_argument("--image-size", type=int, default=32)
    ap.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated subset, the baseline first")
    ap.add_argument("--work", type=Path, default=HERE / "_work" / "quality")
    ap.add_argument("--write", action="store_true", help=f"write the table into {RESULTS.name}")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    train_dir = export(args.work, "train", args.train_images)
    test_dir = export(args.work, "test", args.test_images)
    rows, backbone = [], "none"
    for name in args.variants.split(","):
        run = args.work / "runs" / f"{name}-{args.budget}s"
        if not (run / "end.json").exists():  # trained runs are kept: a rerun only evaluates them again
            shutil.rmtree(run, ignore_errors=True)  # a run cut short left no end.json
            end = dcgan("train", str(train_dir), "--out", str(run), "--image-size", str(args.image_size),
                        "--epochs", "1000", "--max-time", f"{args.budget}s", "--save-every", "100000",
                        "--sample-every", "100000", *VARIANTS[name])
            (run / "end.json").write_text(json.dumps(end))
        end = json.loads((run / "end.json").read_text())
        scored = run / f"evaluate-n{args.eval_n}.json"  # deterministic: a rerun reuses it (delete to re-score)
        if not scored.exists():
            scored.write_text(json.dumps(dcgan("evaluate", str(run), str(test_dir), "--n", str(args.eval_n),
                                               "--seed", "0")))
        result = json.loads(scored.read_text())
        backbone = next(iter(result.get("features", {})), "none")
        rows.append({"name": name, "flags": VARIANTS[name], "steps": end["step"], "img_per_s": end["img_per_s"],
                     "scores": scores(result)})
        print(f"{name:>18}: {end['step']} steps, {end['img_per_s']:.0f} img/s, {rows[-1]['scores']}", file=sys.stderr)
    (args.work / f"results-{args.budget}s.json").write_text(json.dumps(rows, indent=1))
    text = table(rows, args, backbone)
    print(text)
    if args.write:
        write(text)


if __name__ == "__main__":
    main()
