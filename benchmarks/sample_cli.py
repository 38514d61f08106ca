#!/usr/bin/env python3
"""`dcgan sample` / `dcgan inspect` from the shell: throughput, peak memory and start-up wall time (issue #3).

1. A realistic 64x64 checkpoint (nz=100, ngf=ndf=64, RGB, with D and Adam state) is made once by `dcgan train
   --max-steps 1` on 16 generated PNGs, in the work folder (git-ignored), and reused.
2. Interleaved rounds of `dcgan sample CKPT --n N -o DIR/ -q --json --device cpu` for N = --n-small and --n:
   img/s from the command's own JSON (`seconds`, the sampling loop) and from spawn-to-exit wall time, and each
   process's peak RSS (`os.wait4` rusage of that one child, i.e. ru_maxrss of a fresh process).
3. Interleaved, order-rotating rounds of `dcgan --help`, `dcgan inspect CKPT [--json]`, `dcgan sample CKPT --n 64
   -o grid.png --force` and `python -c "import torch"` (the baseline); medians.
The parent never imports torch. `dcgan` is the console script next to this interpreter (no pyenv shim).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "RESULTS-sample.md"
_SCRIPT = Path(sys.executable).parent / "dcgan"
DCGAN = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "dcgan_cli"]
IPS_TARGET, GROWTH_TARGET_MB, INSPECT_TARGET_S, N64_OVER_TORCH_S = 300.0, 50.0, 0.5, 1.0


@dataclass
class Run:
    rc: int
    wall: float  # spawn to exit, seconds
    rss_mb: float  # peak resident set size of the child
    out: str
    err: str


def run(cmd: list[str]) -> Run:
    """Run one command; wall time from spawn to exit and the peak RSS of that child alone (wait4 rusage)."""
    with tempfile.TemporaryFile() as err_file:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err_file, stdin=subprocess.DEVNULL, cwd=REPO)
        assert proc.stdout is not None
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        proc.stdout.close()
        err_file.seek(0)
        err = err_file.read().decode(errors="replace")
    return Run(proc.returncode, wall, usage.ru_maxrss / 1024, out.decode(errors="replace"), err)


def checked(cmd: list[str]) -> Run:
    r = run(cmd)
    if r.rc != 0:
        sys.exit(f"command failed (exit {r.rc}): {shown(cmd)}\n{r.err.strip()[-2000:]}")
    return r


def shown(cmd: list[str]) -> str:
    """The command as a user would type it from the repository root."""
    text = shlex.join(["dcgan" if c == DCGAN[0] else "python" if c == sys.executable else c for c in cmd])
    return text.replace("python -m dcgan_cli", "dcgan").replace(f"{REPO}/", "")


def make_checkpoint(work: Path) -> Path:
    """`work/ckpt-64/last.safetensors`: one training step on 16 generated 64x64 PNGs; made once, then reused."""
    run_dir = work / "ckpt-64"
    ckpt = run_dir / "last.safetensors"
    if ckpt.is_file():
        return ckpt
    from PIL import Image

    images = work / "ckpt-images"
    shutil.rmtree(images, ignore_errors=True)
    shutil.rmtree(run_dir, ignore_errors=True)
    images.mkdir(parents=True)
    for i in range(16):
        rng = random.Random(i)
        Image.frombytes("RGB", (8, 8), rng.randbytes(192)).resize((64, 64), Image.Resampling.BICUBIC) \
            .save(images / f"img{i:02d}.png")
    print(f"making the checkpoint {ckpt.relative_to(REPO) if ckpt.is_relative_to(REPO) else ckpt} ...",
          file=sys.stderr)
    checked([*DCGAN, "train", str(images), "-o", str(run_dir), "--max-steps", "1", "--batch-size", "8",
             "--image-size", "64", "--no-cache", "--device", "cpu", "--workers", "1", "-q"])
    return ckpt


def sample_to_dir(ckpt: Path, n: int, out: Path) -> tuple[Run, dict[str, float]]:
    shutil.rmtree(out, ignore_errors=True)
    cmd = [*DCGAN, "sample", str(ckpt), "--n", str(n), "-o", f"{out}/", "-q", "--json", "--device", "cpu"]
    r = checked(cmd)
    result = json.loads(r.out)
    pngs = sum(1 for _ in out.glob("*.png"))
    if pngs != n or len(result["files"]) != n:
        sys.exit(f"expected {n} PNGs in {out}, found {pngs}")
    shutil.rmtree(out, ignore_errors=True)
    return r, {"seconds": float(result["seconds"]), "img_per_s": float(result["img_per_s"])}


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def spread(xs: list[float], fmt: str) -> str:
    return ", ".join(format(x, fmt) for x in xs)


def verdict(ok: bool) -> str:
    return "**pass**" if ok else "**FAIL**"


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(description="dcgan sample/inspect: throughput, peak memory, start-up wall time.")
    p.add_argument("--n", type=int, default=10_000, help="images in the throughput / large memory run")
    p.add_argument("--n-small", type=int, default=1_000, help="images in the small memory run")
    p.add_argument("--rounds", type=int, default=3, help="rounds of the two sample-to-folder runs")
    p.add_argument("--reps", type=int, default=7, help="rounds of the start-up wall-time commands")
    p.add_argument("--work-dir", type=Path, default=HERE / "_work", help="checkpoint and scratch (git-ignored)")
    p.add_argument("--quick", action="store_true", help="smoke test: n=2,000 and 500, 1 round, 2 reps")
    p.add_argument("--write", action="store_true", help=f"also write {RESULTS.relative_to(REPO)}")
    a = p.parse_args(argv)
    if a.quick:
        a.n, a.n_small, a.rounds, a.reps = 2_000, 500, 1, 2  # both > 2 batches of 256
    if min(a.n, a.n_small, a.rounds, a.reps) < 1:
        p.error("--n, --n-small, --rounds and --reps must be at least 1")
    work = a.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    ckpt = make_checkpoint(work)
    scratch = work / "sample-scratch"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()

    # --- 2 + 3: sample to a folder, two sizes, interleaved ------------------------------------------------------
    big: list[tuple[Run, dict[str, float]]] = []
    small: list[Run] = []
    for rnd in range(a.rounds):
        for n in ([a.n_small, a.n] if rnd % 2 == 0 else [a.n, a.n_small]):
            r, res = sample_to_dir(ckpt, n, scratch / f"out-{n}")
            if n == a.n:
                big.append((r, res))
            else:
                small.append(r)
            print(f"  round {rnd + 1}: sample --n {n}: {res['img_per_s']:.0f} img/s in the loop, "
                  f"{n / r.wall:.0f} img/s end to end, {r.wall:.1f} s, peak RSS {r.rss_mb:.0f} MB", file=sys.stderr)

    # --- 4: start-up wall times, interleaved with the order rotating each round -----------------------------------
    grid = scratch / "grid.png"
    cmds: dict[str, list[str]] = {
        "torch": [sys.executable, "-c", "import torch"],
        "help": [*DCGAN, "--help"],
        "inspect": [*DCGAN, "inspect", str(ckpt)],
        "inspect_json": [*DCGAN, "inspect", str(ckpt), "--json"],
        "n64": [*DCGAN, "sample", str(ckpt), "--n", "64", "-o", str(grid), "--force"],
    }
    walls: dict[str, list[float]] = {k: [] for k in cmds}
    keys = list(cmds)
    for rnd in range(a.reps + 1):  # round 0 is an untimed warm-up (page cache, .pyc files)
        for k in keys[rnd % len(keys):] + keys[:rnd % len(keys)]:
            r = checked(cmds[k])
            if rnd:
                walls[k].append(r.wall)
        if rnd:
            print(f"  rep {rnd}: " + ", ".join(f"{k} {walls[k][-1]:.2f} s" for k in keys), file=sys.stderr)
    shutil.rmtree(scratch, ignore_errors=True)

    # --- report -------------------------------------------------------------------------------------------------
    loop_ips = [res["img_per_s"] for _, res in big]
    e2e_ips = [a.n / r.wall for r, _ in big]
    rss_big, rss_small = [r.rss_mb for r, _ in big], [r.rss_mb for r in small]
    growth = med(rss_big) - med(rss_small)
    m = {k: med(v) for k, v in walls.items()}
    over = m["n64"] - m["torch"]
    scale = " (scaled down: the targets are for n = 10,000 and 1,000)" if (a.n, a.n_small) != (10_000, 1_000) else ""

    def s_cmd(n: int) -> str:
        return shown([*DCGAN, "sample", str(ckpt), "--n", str(n), "-o", f"{scratch}/out-{n}/", "-q", "--json",
                      "--device", "cpu"])

    rows = [
        (f"sampling throughput, n = {a.n:,}, to a folder (JSON `img_per_s`, the sampling loop)",
         f"{med(loop_ips):.0f} img/s", f"≥ {IPS_TARGET:.0f} img/s", verdict(med(loop_ips) >= IPS_TARGET), s_cmd(a.n)),
        ("same, end to end (n / spawn-to-exit wall, incl. start-up and loading)", f"{med(e2e_ips):.0f} img/s",
         "—", "info", s_cmd(a.n)),
        (f"peak RSS, n = {a.n_small:,}", f"{med(rss_small):.0f} MB", "—", "info", s_cmd(a.n_small)),
        (f"peak RSS, n = {a.n:,}", f"{med(rss_big):.0f} MB", "—", "info", s_cmd(a.n)),
        (f"peak RSS growth, n = {a.n_small:,} → {a.n:,}", f"{growth:+.1f} MB", f"< {GROWTH_TARGET_MB:.0f} MB",
         verdict(growth < GROWTH_TARGET_MB), "the two rows above"),
        ("`python -c \"import torch\"` (baseline)", f"{m['torch']:.2f} s", "—", "info", shown(cmds["torch"])),
        ("`dcgan --help`", f"{m['help']:.2f} s", "—", "info", shown(cmds["help"])),
        ("`dcgan inspect CKPT`", f"{m['inspect']:.2f} s", f"≤ {INSPECT_TARGET_S} s",
         verdict(m["inspect"] <= INSPECT_TARGET_S), shown(cmds["inspect"])),
        ("`dcgan inspect CKPT --json`", f"{m['inspect_json']:.2f} s", f"≤ {INSPECT_TARGET_S} s",
         verdict(m["inspect_json"] <= INSPECT_TARGET_S), shown(cmds["inspect_json"])),
        ("`dcgan sample CKPT --n 64 -o grid.png`", f"{m['n64']:.2f} s", "—", "info", shown(cmds["n64"])),
        ("`sample --n 64` minus bare `import torch`", f"{over:+.2f} s", f"≤ {N64_OVER_TORCH_S:.0f} s",
         verdict(over <= N64_OVER_TORCH_S), "the two rows above"),
    ]
    ckpt_mb = ckpt.stat().st_size / 1e6
    pyc = " PYTHONDONTWRITEBYTECODE is set: dcgan_cli's modules are compiled at every start." \
        if os.environ.get("PYTHONDONTWRITEBYTECODE") else ""
    lines = [
        "# `dcgan sample` / `inspect` benchmark", "",
        f"{time.strftime('%Y-%m-%d %H:%M')}, {platform.platform()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, torch {version('torch')}, dcgan-cli {version('dcgan-cli')}. Checkpoint: "
        f"64x64 RGB, nz=100, ngf=ndf=64, with D and Adam state ({ckpt_mb:.1f} MB). Sample-to-folder: {a.rounds} "
        f"round(s); wall times: median of {a.reps} interleaved rep(s) after a warm-up{scale}.{pyc}", "",
        "| measure | value | target | result | command |", "|---|---:|---:|:---:|---|",
        *[f"| {what} | {val} | {tgt} | {res} | `{cmd}` |" if not cmd.startswith("the ") else
          f"| {what} | {val} | {tgt} | {res} | {cmd} |" for what, val, tgt, res, cmd in rows],
        "", "Runs (in order):", "",
        f"- n = {a.n:,}: loop img/s {spread(loop_ips, '.0f')}; end-to-end img/s {spread(e2e_ips, '.0f')}; "
        f"peak RSS MB {spread(rss_big, '.0f')}",
        f"- n = {a.n_small:,}: peak RSS MB {spread(rss_small, '.0f')}",
        *[f"- `{k}` wall s: {spread(v, '.2f')}" for k, v in walls.items()],
        "", "Reproduce (repository root, on an otherwise idle machine):", "", "```sh",
        f"python benchmarks/sample_cli.py {shlex.join(argv)}".rstrip(), "```", "",
    ]
    text = "\n".join(lines)
    print(text)
    if a.write:
        RESULTS.write_text(text)
        print(f"wrote {RESULTS.relative_to(REPO)}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
