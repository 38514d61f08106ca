#!/usr/bin/env python3
"""Training throughput: `dcgan train` vs the PyTorch DCGAN tutorial, end to end on photo-sized JPEGs.

Interleaved rounds (order rotated each round; medians reported) of: the tutorial trainer and `dcgan train
--preset tutorial` (the same recipe: as it runs by default, with channels-last on the CPU; with --no-channels-last;
with --compile; cold and warm caches), each a subprocess timed from spawn to exit; plus, in a subprocess
too, compute-only steps on an in-memory batch and dcgan's data path. The parent never imports torch. See README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "RESULTS-train.md"
NZ, NGF, NDF, NC = 100, 64, 64, 3  # the tutorial's sizes, 64x64 images
SEED = 999
STEPS = ("tutorial", "dcgan", "dcgan_cl")  # the compute-only steps


# --- 1. the image folder ---------------------------------------------------------------------------------------

def _make_jpeg(job: tuple[Path, int, int, int]) -> None:
    """Smooth gradient + soft blobs + per-pixel noise at JPEG q90: about the size of a real photo."""
    from PIL import Image, ImageDraw

    path, seed, w, h = job
    rng = random.Random(seed)
    color = lambda: tuple(rng.randrange(256) for _ in range(3))  # noqa: E731
    corners = Image.new("RGB", (2, 2))
    corners.putdata([color() for _ in range(4)])
    small = corners.resize((w // 8, h // 8), Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(small)
    for _ in range(rng.randint(4, 12)):
        x, y, r = rng.randrange(small.width), rng.randrange(small.height), rng.randint(4, small.width // 4)
        draw.ellipse((x - r, y - r // 2, x + r, y + r), fill=color())
    noise = Image.frombytes("RGB", (w, h), rng.randbytes(w * h * 3))
    Image.blend(small.resize((w, h), Image.Resampling.BICUBIC), noise, 0.07).save(path, quality=90)


def make_dataset(work: Path, n: int, w: int, h: int) -> Path:
    """`work/jpegs-N-WxH/all/*.jpg` (one class folder, as ImageFolder needs), made once and then reused."""
    root = work / f"jpegs-{n}-{w}x{h}"
    if not (root / ".done").exists():
        shutil.rmtree(root, ignore_errors=True)
        (root / "all").mkdir(parents=True)
        print(f"generating {n} JPEGs of {w}x{h} in {root} ...", file=sys.stderr)
        with ProcessPoolExecutor(os.cpu_count() or 1) as pool:
            list(pool.map(_make_jpeg, [(root / "all" / f"img{i:05d}.jpg", i, w, h) for i in range(n)], chunksize=16))
        (root / ".done").touch()
    return root


# --- 2. the tutorial (pytorch/tutorials beginner_source/dcgan_faces_tutorial.py): same layers, same step --

def tutorial_setup(device: Any) -> tuple[Any, Any, Any, Any, Any]:
    """G, D (Sigmoid at the end), their Adam optimizers and BCELoss, with the tutorial's weights_init."""
    import torch
    from torch import nn

    def block(cls: Any, c_in: int, c_out: int, act: nn.Module, stride: int = 2, pad: int = 1) -> list[nn.Module]:
        return [cls(c_in, c_out, 4, stride, pad, bias=False), nn.BatchNorm2d(c_out), act]

    relu, lrelu = nn.ReLU(True), nn.LeakyReLU(0.2, inplace=True)
    net_g = nn.Sequential(*block(nn.ConvTranspose2d, NZ, NGF * 8, relu, 1, 0),
                          *block(nn.ConvTranspose2d, NGF * 8, NGF * 4, relu),
                          *block(nn.ConvTranspose2d, NGF * 4, NGF * 2, relu),
                          *block(nn.ConvTranspose2d, NGF * 2, NGF, relu),
                          nn.ConvTranspose2d(NGF, NC, 4, 2, 1, bias=False), nn.Tanh())
    net_d = nn.Sequential(nn.Conv2d(NC, NDF, 4, 2, 1, bias=False), lrelu, *block(nn.Conv2d, NDF, NDF * 2, lrelu),
                          *block(nn.Conv2d, NDF * 2, NDF * 4, lrelu), *block(nn.Conv2d, NDF * 4, NDF * 8, lrelu),
                          nn.Conv2d(NDF * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid())

    def weights_init(m: nn.Module) -> None:
        if m.__class__.__name__.find("Conv") != -1:
            nn.init.normal_(m.weight.data, 0.0, 0.02)
        elif m.__class__.__name__.find("BatchNorm") != -1:
            nn.init.normal_(m.weight.data, 1.0, 0.02)
            nn.init.constant_(m.bias.data, 0)

    net_g, net_d = net_g.to(device).apply(weights_init), net_d.to(device).apply(weights_init)
    adam = lambda net: torch.optim.Adam(net.parameters(), lr=2e-4, betas=(0.5, 0.999))  # noqa: E731
    return net_g, net_d, adam(net_g), adam(net_d), nn.BCELoss()


def tutorial_step(net_g: Any, net_d: Any, opt_g: Any, opt_d: Any, criterion: Any, real_cpu: Any,
                  device: Any) -> tuple[float, float, float, float, float]:
    import torch

    net_d.zero_grad()
    real_cpu = real_cpu.to(device)
    b_size = real_cpu.size(0)
    label = torch.full((b_size,), 1.0, dtype=torch.float, device=device)
    output = net_d(real_cpu).view(-1)
    err_d_real = criterion(output, label)
    err_d_real.backward()
    d_x = output.mean().item()
    noise = torch.randn(b_size, NZ, 1, 1, device=device)
    fake = net_g(noise)
    label.fill_(0.0)
    output = net_d(fake.detach()).view(-1)
    err_d_fake = criterion(output, label)
    err_d_fake.backward()
    d_g_z1 = output.mean().item()
    err_d = err_d_real + err_d_fake
    opt_d.step()
    net_g.zero_grad()
    label.fill_(1.0)
    output = net_d(fake).view(-1)
    err_g = criterion(output, label)
    err_g.backward()
    d_g_z2 = output.mean().item()
    opt_g.step()
    return err_d.item(), err_g.item(), d_x, d_g_z1, d_g_z2  # the tutorial's D_losses / G_losses appends


def baseline_main(a: argparse.Namespace) -> None:
    import torch
    import torchvision.datasets as dset
    import torchvision.transforms as transforms
    import torchvision.utils as vutils

    random.seed(SEED)
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)  # as the tutorial does, "for reproducible results"
    dataset = dset.ImageFolder(root=a.data, transform=transforms.Compose([
        transforms.Resize(64), transforms.CenterCrop(64), transforms.ToTensor(),
        transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))]))
    dataloader = torch.utils.data.DataLoader(dataset, batch_size=a.batch_size, shuffle=True, num_workers=2)
    device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    setup = tutorial_setup(device)
    fixed_noise = torch.randn(64, NZ, 1, 1, device=device)
    g_losses, d_losses, img_list, iters = [], [], [], 0
    while iters < a.steps:
        for i, data in enumerate(dataloader, 0):
            err_d, err_g, d_x, d_g_z1, d_g_z2 = tutorial_step(*setup, data[0], device)
            if i % 50 == 0:
                print(f"[{i}/{len(dataloader)}] Loss_D: {err_d:.4f} Loss_G: {err_g:.4f} D(x): {d_x:.4f} "
                      f"D(G(z)): {d_g_z1:.4f} / {d_g_z2:.4f}", file=sys.stderr)
            g_losses.append(err_g)
            d_losses.append(err_d)
            if iters % 500 == 0 or iters == a.steps - 1:
                with torch.no_grad():
                    fake = setup[0](fixed_noise).detach().cpu()
                img_list.append(vutils.make_grid(fake, padding=2, normalize=True))
            iters += 1
            if iters == a.steps:
                break
    print(json.dumps({"event": "end", "step": iters}))


# --- 4/5. compute-only steps and dcgan's data path, in process -----------------------------------------------

def compute_main(a: argparse.Namespace) -> None:
    """Seconds per step of the three steps, interleaved step by step so that machine load hits all alike."""
    import torch

    from dcgan_cli.data.batches import epoch_permutation, to_model_input
    from dcgan_cli.model import DCGANConfig, build_models
    from dcgan_cli.training.step import GanModules, train_step

    torch.manual_seed(SEED)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    b, per_epoch, tutorial = a.batch_size, a.images // a.batch_size, tutorial_setup(device)
    real = torch.randn(b, NC, 64, 64, device=device).clamp_(-1, 1)  # the fixed in-memory batch
    images = torch.randint(0, 256, (a.images, NC, 64, 64), dtype=torch.uint8)  # dcgan's decoded set
    perm, noise_gen = epoch_permutation(a.images, SEED, 0), torch.Generator().manual_seed(SEED)
    adam = lambda net: torch.optim.Adam(net.parameters(), lr=2e-4, betas=(0.5, 0.999))  # noqa: E731
    mods = {}
    for key, fmt in (("dcgan", torch.contiguous_format), ("dcgan_cl", torch.channels_last)):
        g, d = build_models(DCGANConfig(), seed=SEED)
        mods[key] = GanModules(g.to(device, memory_format=fmt), d.to(device, memory_format=fmt), adam(g), adam(d))
    out: dict[str, list[float]] = {k: [] for k in (*STEPS, "data_dcgan", "data_dcgan_cl")}
    for k in range(a.warmup + a.steps):
        sync()
        t0 = time.perf_counter()
        tutorial_step(*tutorial, real, device)
        sync()
        timed = {"tutorial": time.perf_counter() - t0}
        for key, m in mods.items():
            pos = k % per_epoch
            sync()
            t0 = time.perf_counter()
            batch = to_model_input(images[perm[pos * b:(pos + 1) * b]], device, key == "dcgan_cl")
            sync()
            t1 = time.perf_counter()
            train_step(m, batch, torch.randn(b, NZ, 1, 1, generator=noise_gen).to(device))
            sync()
            timed |= {key: time.perf_counter() - t1, f"data_{key}": t1 - t0}
        for key, seconds in timed.items():
            out[key] += [seconds] if k >= a.warmup else []
    print(json.dumps(out))


# --- 3. end-to-end runs ----------------------------------------------------------------------------------------

@dataclass
class Variant:
    name: str
    flags: list[str] | None  # `dcgan train` flags; None: the tutorial baseline
    warm: bool = False  # warm: caches primed by an untimed run; cold: fresh --cache-dir and inductor cache
    step: str = "tutorial"  # the compute-only step it is compared with ("": none matches)
    runs: list[float] = field(default_factory=list)  # img/s
    cmd: list[str] = field(default_factory=list)


def variants(with_compile: bool) -> list[Variant]:
    # the tutorial's recipe on both sides; channels-last is now the CPU default, so it is compared with NCHW
    tut = ["--preset", "tutorial"]
    settings = [("--preset tutorial (channels-last by default)", tut, "dcgan_cl"),
                ("--preset tutorial --no-channels-last", [*tut, "--no-channels-last"], "dcgan")]
    if with_compile:
        settings.append(("--preset tutorial --compile", [*tut, "--compile"], ""))
    return [Variant("tutorial baseline", None)] + [
        Variant(f"dcgan {name}, {'warm' if warm else 'cold'} cache", flags, warm, step)
        for name, flags, step in settings for warm in (False, True)]


def run_json(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, Any]:
    """Wall time from spawn to exit, and the last JSON line on stdout."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"failed (exit {proc.returncode}): {shlex.join(cmd)}\n{proc.stderr[-3000:]}")
    return seconds, json.loads([line for line in proc.stdout.splitlines() if line.startswith("{")][-1])


def dcgan_cmd(data: Path, out: Path, cache: Path, *flags: str) -> list[str]:
    return [sys.executable, "-m", "dcgan_cli", "train", str(data), "--out", str(out), "--cache-dir", str(cache),
            "--json", "-q", *flags]


def run_variant(v: Variant, a: argparse.Namespace, data: Path, steps: int, rnd: int) -> None:
    env, work, tag = dict(os.environ), a.work_dir, "-".join(v.name.replace(",", "").replace("--", "").split())
    scratch = [work / "train-runs" / f"{tag}-r{rnd}"]
    if v.flags is None:
        v.cmd = [sys.executable, __file__, "_baseline", str(data), "--batch-size", str(a.batch_size),
                 "--steps", str(steps)]
    else:
        cache, inductor = (work / "train-warm-cache", work / "train-warm-inductor") if v.warm else \
            (work / f"train-cold-cache-{tag}-r{rnd}", work / f"train-cold-inductor-{tag}-r{rnd}")
        scratch += [] if v.warm else [cache, inductor]
        env["TORCHINDUCTOR_CACHE_DIR"] = str(inductor)
        v.cmd = dcgan_cmd(data, scratch[0], cache, "--epochs", str(a.epochs), "--max-steps", str(steps),
                          "--batch-size", str(a.batch_size), *v.flags)
    for path in scratch:
        shutil.rmtree(path, ignore_errors=True)
    seconds, end = run_json(v.cmd, env)
    for path in scratch:
        shutil.rmtree(path, ignore_errors=True)
    if end.get("step") != steps:
        sys.exit(f"{v.name}: expected {steps} steps, got {end}")
    v.runs.append(steps * a.batch_size / seconds)
    print(f"  round {rnd + 1}: {v.name}: {v.runs[-1]:.1f} img/s ({seconds:.1f} s)", file=sys.stderr)


# --- report ----------------------------------------------------------------------------------------------------

def report(a: argparse.Namespace, vs: list[Variant], compute: list[dict[str, list[float]]], data: Path,
           steps: int) -> str:
    med = statistics.median
    step_ips = {k: med(a.batch_size / med(c[k]) for c in compute) for k in STEPS}
    data_ms = {k: 1e3 * med(med(c[f"data_{k}"]) for c in compute) for k in STEPS[1:]}
    share = {k: data_ms[k] / (data_ms[k] + 1e3 * a.batch_size / step_ips[k]) for k in data_ms}
    base, cold = med(vs[0].runs), [v for v in vs[1:] if not v.warm]
    best = max(cold, key=lambda v: med(v.runs))
    jpegs = list((data / "all").glob("*.jpg"))
    kb = sum(p.stat().st_size for p in jpegs) / len(jpegs) / 1024
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    cpu = next((ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines() if ln.startswith("model name")), "?")
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO)
    lines = [
        "## Training throughput: `dcgan train` vs the PyTorch DCGAN tutorial", "",
        f"{len(jpegs)} JPEGs of {a.photo_size} (q90, mean {kb:.0f} KB) → 64x64, batch {a.batch_size}, {steps} steps "
        f"= {steps * a.batch_size} images per run, {a.rounds} interleaved round(s), medians. torch {version('torch')}, "
        f"torchvision {version('torchvision')}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs ({cpu}), "
        f"commit {head.stdout.strip() or '?'}, {time.strftime('%Y-%m-%d')}.", "",
        "| end to end (subprocess, spawn to exit) | img/s | runs | × baseline | ÷ tutorial step | ÷ own step "
        "| data path |", "|---|---:|---|---:|---:|---:|---:|"]
    for v in vs:
        m = med(v.runs)
        own = f"{m / step_ips[v.step]:.2f}" if v.step else "—"
        dp = f"{100 * share[v.step]:.1f} %" if v.step in share else "—"
        lines.append(f"| {v.name} | {m:.1f} | {', '.join(f'{r:.1f}' for r in v.runs)} | {m / base:.2f}× "
                     f"| {m / step_ips['tutorial']:.2f} | {own} | {dp} |")
    lines += ["", f"Compute-only (one in-memory batch, no data loading; {a.compute_steps} timed steps per round after "
              f"{a.warmup} warm-up, median):", "", "| step | img/s | × tutorial step | data path ms/batch "
              "| data path % of step |", "|---|---:|---:|---:|---:|"]
    labels = ("tutorial step (Sigmoid + BCELoss, `.item()` per stat)", "`dcgan_cli.training.step.train_step`",
              "`train_step`, channels-last")
    for key, label in zip(STEPS, labels):
        dp = f"{data_ms[key]:.2f} | {100 * share[key]:.1f} %" if key in data_ms else "— | —"
        lines.append(f"| {label} | {step_ips[key]:.1f} | {step_ips[key] / step_ips['tutorial']:.2f}× | {dp} |")
    argv = shlex.join(sys.argv[1:])
    lines += ["", f"Best settings end to end (cold cache): **{best.name}**, {med(best.runs) / base:.2f}× the baseline "
              f"(target ≥ 1.3×); `--preset tutorial` as it runs by default {med(cold[0].runs) / base:.2f}× "
              f"(target ≥ 1.3×); data path at most "
              f"{100 * max(share.values()):.1f} % of the step (target ≤ 5 %).", "", "Reproduce (repository root):",
              "", "```sh", f"python benchmarks/train_throughput.py {argv}".rstrip(), "```", "",
              "Commands of the last round:", ""]
    for v in vs:
        shown = shlex.join(["python" if x == sys.executable else x for x in v.cmd]).replace(f"{REPO}/", "")
        lines.append(f"- {v.name}: `{shown}`")
    return "\n".join(lines) + "\n"


# --- main ------------------------------------------------------------------------------------------------------

def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="End-to-end training img/s: dcgan train vs the DCGAN tutorial.")
    p.add_argument("--images", type=int, default=1024, help="JPEGs in the folder (a multiple of --batch-size)")
    p.add_argument("--epochs", type=int, default=2, help="epochs per run (steps = epochs * images / batch)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are reported")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--photo-size", default="1600x1200", help="WxH of the generated JPEGs")
    p.add_argument("--compute-steps", type=int, default=6, help="timed compute-only steps per round")
    p.add_argument("--warmup", type=int, default=2, help="untimed compute-only steps before those")
    p.add_argument("--no-compile", action="store_true", help="skip the --compile variants")
    p.add_argument("--work-dir", type=Path, default=HERE / "_work", help="images and scratch (git-ignored)")
    p.add_argument("--quick", action="store_true", help="smoke test: 256 JPEGs of 640x480, 2 steps, 1 round, "
                   "no compile (overrides the flags above)")
    p.add_argument("--write", action="store_true", help=f"also write {RESULTS.relative_to(REPO)}")
    a = p.parse_args(argv)
    if a.quick:
        a.images, a.epochs, a.rounds, a.photo_size, a.no_compile, a.compute_steps, a.warmup = \
            256, 1, 1, "640x480", True, 2, 1
    if a.images % a.batch_size or min(a.images, a.epochs, a.rounds, a.compute_steps) < 1 or a.warmup < 0:
        p.error("--images must be a positive multiple of --batch-size; --epochs/--rounds/--compute-steps >= 1")
    a.work_dir = a.work_dir.resolve()
    return a


def main(argv: list[str]) -> None:
    if argv[:1] in (["_baseline"], ["_compute"]):  # the child processes the parent starts
        p = argparse.ArgumentParser()
        p.add_argument("mode")
        p.add_argument("data", nargs="?")
        for flag in ("--batch-size", "--steps", "--images", "--warmup"):
            p.add_argument(flag, type=int)
        c = p.parse_args(argv)
        return baseline_main(c) if c.mode == "_baseline" else compute_main(c)
    a = parse_args(argv)
    w, h = (int(x) for x in a.photo_size.lower().split("x"))
    data, steps, vs = make_dataset(a.work_dir, a.images, w, h), a.epochs * a.images // a.batch_size, \
        variants(not a.no_compile)
    shutil.rmtree(a.work_dir / "train-runs", ignore_errors=True)
    print("priming the warm caches (untimed) ...", file=sys.stderr)
    run_json(dcgan_cmd(data, a.work_dir / "train-runs" / "prime", a.work_dir / "train-warm-cache", "--max-steps", "1",
                       *([] if a.no_compile else ["--channels-last", "--compile"])),
             dict(os.environ, TORCHINDUCTOR_CACHE_DIR=str(a.work_dir / "train-warm-inductor")))
    compute: list[dict[str, list[float]]] = []
    compute_cmd = [sys.executable, __file__, "_compute", "--batch-size", str(a.batch_size), "--steps",
                   str(a.compute_steps), "--images", str(a.images), "--warmup", str(a.warmup)]
    for rnd in range(a.rounds):
        jobs: list[Variant | None] = [*vs, None]  # None: the compute-only subprocess
        for v in jobs[rnd % len(jobs):] + jobs[:rnd % len(jobs)]:
            if v is not None:
                run_variant(v, a, data, steps, rnd)
                continue
            seconds, result = run_json(compute_cmd)
            compute.append(result)
            print(f"  round {rnd + 1}: compute-only steps ({seconds:.1f} s)", file=sys.stderr)
    shutil.rmtree(a.work_dir / "train-runs", ignore_errors=True)
    text = report(a, vs, compute, data, steps)
    print(text)
    if a.write:
        RESULTS.write_text(text)
        print(f"wrote {RESULTS.relative_to(REPO)}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
