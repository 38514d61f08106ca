#!/usr/bin/env python3
"""The decoded set read from its on-disk store vs held in memory: training img/s, and peak RSS against the number
of images. Every run is a `python -m dcgan_cli train` subprocess, as a user runs it; the parent never imports torch.

    python benchmarks/data_store.py --write

1. Speed: the default preset at 64 px on 4,096 images, `--max-steps` per run, from memory and from the store
   (DCGAN_FAULT=in_memory_max forces either), interleaved rounds after one untimed run that fills the cache;
   the medians of the end event's img/s, and their ratio.
2. Memory: 400, 1,600 and 6,400 images at 128 px (a tiny model, 2 steps), with the automatic choice and with
   the set forced into memory; each child's own peak RSS (ru_maxrss), the lower of two runs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "RESULTS.md"
START, END = "<!-- data-store:start -->", "<!-- data-store:end -->"
MEMORY, STORE = "in_memory_max:1000000000000", "in_memory_max:0"


def make_folder(root: Path, count: int, size: int, distinct: int = 64) -> Path:
    """`count` PNGs of random pixels (hard links to `distinct` files: the decode is real, the disk is spared)."""
    from PIL import Image  # Pillow only: the parent stays torch-free

    folder = root / f"png{size}-{count}"
    if folder.is_dir():
        return folder
    sources = root / f"sources{size}"
    sources.mkdir(parents=True, exist_ok=True)
    rng = random.Random(size)
    for k in range(distinct):
        path = sources / f"{k}.png"
        if not path.exists():
            Image.frombytes("RGB", (size, size), bytes(rng.randrange(256) for _ in range(size * size * 3))).save(path)
    tmp = folder.with_name(folder.name + ".tmp")
    tmp.mkdir()
    for i in range(count):
        os.link(sources / f"{i % distinct}.png", tmp / f"{i:05d}.png")
    tmp.rename(folder)
    return folder


def run_child(cmd: list[str], env: dict[str, str]) -> tuple[str, float]:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    out = proc.stdout.read().decode() if proc.stdout else ""
    err = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status):
        sys.exit(f"failed: {' '.join(cmd)}\n{err[-2000:]}")
    return out, usage.ru_maxrss / 1024


def dcgan_train(data: Path, out: Path, fault: str, args: list[str], cache: Path) -> tuple[dict, float]:
    env = {**os.environ, "DCGAN_FAULT": fault, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "dcgan_cli", "train", str(data), "--out", str(out), "--cache-dir", str(cache),
           "--json", "-q", *args]
    out_text, peak = run_child(cmd, env)
    return json.loads(out_text.strip().splitlines()[-1]), peak


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=120, help="training steps per timed run")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--work", type=Path, default=HERE / "_work" / "data-store")
    ap.add_argument("--write", action="store_true", help=f"write the tables into {RESULTS.name}")
    a = ap.parse_args(argv)
    work, cache = a.work, a.work / "cache"
    runs = work / "runs"
    speed_data = make_folder(work, 4096, 64)
    speed_args = ["--image-size", "64", "--max-steps", str(a.steps), "--sample-every", "100000",
                  "--save-every", "100000"]
    dcgan_train(speed_data, runs / f"prime-{time.time_ns()}", STORE, [*speed_args, "--max-steps", "2"], cache)
    speeds: dict[str, list[float]] = {"memory": [], "store": []}
    for r in range(a.rounds):
        for mode in (("memory", "store") if r % 2 == 0 else ("store", "memory")):
            end, _ = dcgan_train(speed_data, runs / f"speed-{mode}-{r}-{time.time_ns()}",
                                 MEMORY if mode == "memory" else STORE, speed_args, cache)
            speeds[mode].append(end["img_per_s"])
            print(f"round {r + 1}: {mode}: {end['img_per_s']} img/s", file=sys.stderr)
    memory_rows = []
    tiny = ["--image-size", "128", "--ngf", "8", "--ndf", "8", "--nz", "8", "--batch-size", "4", "--max-steps", "2"]
    for count in (400, 1600, 6400):
        folder = make_folder(work, count, 128)
        row = {"images": count, "decoded_mb": round(count * 3 * 128 * 128 / 2**20, 1)}
        for label, fault in (("auto", ""), ("held", MEMORY)):
            for phase in ("decode", "cached"):  # first run decodes (new cache folder), the second reads the cache
                where = cache if phase == "cached" else work / f"cache-{label}-{count}-{time.time_ns()}"
                peaks = [dcgan_train(folder, runs / f"rss-{label}-{count}-{phase}-{time.time_ns()}", fault, tiny,
                                     where)[1] for _ in range(2)]  # a child's peak varies by +-30 MB run to run
                row[f"{label}_{phase}"] = round(min(peaks))
        memory_rows.append(row)
        print(f"{count} images: {row}", file=sys.stderr)
    write(a, speeds, memory_rows)


def write(a: argparse.Namespace, speeds: dict[str, list[float]], rows: list[dict]) -> None:
    mem, store = statistics.median(speeds["memory"]), statistics.median(speeds["store"])
    lines = [START, "", f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} CPU cores with "
             f"`python benchmarks/data_store.py --steps {a.steps} --rounds {a.rounds} --write`.", "",
             f"Training speed, the default preset at 64 px on 4,096 images, {a.steps} steps per run, "
             f"{a.rounds} interleaved rounds, median img/s:", "",
             "| decoded set | img/s | runs | × in memory |", "|---|---:|---|---:|",
             f"| in memory | {mem:.1f} | {', '.join(f'{x:.1f}' for x in speeds['memory'])} | 1.00× |",
             f"| read from the store | {store:.1f} | {', '.join(f'{x:.1f}' for x in speeds['store'])} | "
             f"{store / mem:.3f}× |", "",
             "Peak RSS (MB) of `dcgan train` at 128 px (tiny model, 2 steps): `auto` is the default (in memory up "
             "to 256 MiB of decoded pixels, else read from the store), `held` forces the set into memory; "
             "`decode` is a first run, `cached` a rerun that reads the cache; the lower of two runs each (one child's "
             "peak varies by ±30 MB):", "",
             "| images | decoded set (MB) | auto, decode | auto, cached | held, decode | held, cached |",
             "|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['images']:,} | {r['decoded_mb']} | {r['auto_decode']} | {r['auto_cached']} | "
              f"{r['held_decode']} | {r['held_cached']} |" for r in rows]
    lines += ["", END]
    block = "\n".join(lines)
    print(block)
    if a.write:
        text = RESULTS.read_text()
        if START in text:
            text = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
        else:
            text = text.rstrip("\n") + "\n\n## The decoded set on disk\n\n" + block + "\n"
        RESULTS.write_text(text)


if __name__ == "__main__":
    main(sys.argv[1:])
