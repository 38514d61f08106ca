#!/usr/bin/env python3
"""Sample quality per CPU-minute: dcgan's presets, single options and a pytorch/examples baseline, at wall-clock
budgets of training on this machine, scored by `dcgan evaluate`.

Each variant trains once, in legs (`--max-time` to the first mark, then `--resume` to the next: resume is
bit-exact, so the state at 5 minutes is the state of a 5-minute run), and the checkpoint at every mark is kept,
scored (EfficientNet-Lite0 FD, KID, precision/recall, n images, seed 0) and drawn as an 8x8 grid. The baseline
(examples_baseline.py) saves its G at the same marks. Every step is cached on disk, so a rerun resumes a partly
done grid. The table and an FD-per-minute plot go between markers in benchmarks/RESULTS.md; grids go to
benchmarks/results/. The parent never imports torch: every run is a subprocess, as a user runs it.

    python benchmarks/quality.py --data openmoji --variants tutorial,default,baseline --marks 2,5,10,20 --write
    python benchmarks/quality.py --data openmoji --variants default,no-ema,no-augment --marks 5 --write
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
RESULTS, GRIDS = HERE / "RESULTS.md", HERE / "results"
START, END = "<!-- quality:start -->", "<!-- quality:end -->"
COLUMNS = ("fd", "kid", "precision", "recall", "swd")

# name -> `dcgan train` flags; "baseline" is examples_baseline.py. Single options are changes to the default preset;
# "@name" reuses that variant's run and passes the rest to `dcgan evaluate`/`sample` (EMA only changes what is scored).
VARIANTS: dict[str, list[str]] = {
    "baseline": [],
    "tutorial": ["--preset", "tutorial"],
    "default": [],
    "tutorial+cl": ["--preset", "tutorial", "--channels-last"],
    "no-ema": ["@default", "--no-ema"],  # the default run itself, scored with its raw G instead of the EMA one
    "no-augment": ["--diffaugment", "none"],
    "no-mirror": ["--no-mirror"],
    "widths-64": ["--ngf", "64", "--ndf", "64"],
    "widths-48": ["--ngf", "48", "--ndf", "48"],
    "batch-64": ["--batch-size", "64"],
    "batch-16": ["--batch-size", "16"],
    "equal-lr": ["--lr-d", "0.0002", "--lr-g", "0.0002"],
    "hinge": ["--loss", "hinge"],
    "beta2-0.99": ["--beta2", "0.99"],
    "augment-cutout": ["--diffaugment", "color,translation,cutout"],
    "ttur": ["--lr-d", "0.0004", "--lr-g", "0.0001"],
    "seed-1": ["--seed", "1"],  # the default with another training seed: the run-to-run spread
    "lr-4e-4": ["--lr-d", "0.0004", "--lr-g", "0.0004"],
    "lr-g-4e-4": ["--lr-g", "0.0004"],  # the opposite of TTUR: G faster than D
    "ndf-16": ["--ndf", "16"],  # a weaker, cheaper D
    "widths-24": ["--ngf", "24", "--ndf", "24"],
    "translation": ["--diffaugment", "translation"],
    # the fourth round: the third's winners together (a faster D: lr 4e-4, ndf 16, beta2 0.99) and --mbstd
    "lr-4e-4+ndf-16": ["--lr", "0.0004", "--ndf", "16"],
    "lr-8e-4+ndf-16": ["--lr", "0.0008", "--ndf", "16"],
    "lr-4e-4+ndf-16+beta2": ["--lr", "0.0004", "--ndf", "16", "--beta2", "0.99"],
    "lr-4e-4+ndf-16+beta2+mbstd": ["--lr", "0.0004", "--ndf", "16", "--beta2", "0.99", "--mbstd"],
    # around the default of the fourth round (ndf 16, lr 8e-4): further along the same lines, a bigger G for
    # precision, and what might keep D from pulling ahead over long runs (listed in the fifth round, measured in
    # the seventh: all within the default's spread at 5 minutes)
    "lr-1.2e-3": ["--lr", "0.0012"],
    "ndf-8": ["--ndf", "8"],
    "ngf-48": ["--ngf", "48"],
    "lr-d-4e-4": ["--lr-d", "0.0004"],
    # the sixth round: a longer EMA now that G learns fast, bf16 autocast on a CPU with bf16 instructions (more
    # steps per minute); top-k G updates (Sinha et al. 2020) were tried too and not kept (benchmarks/RESULTS.md)
    "ema-0.999": ["--ema", "0.999"],
    "bf16": ["--amp"],
    # whole runs of the default length (250 kimg), scored at the end (a mark past it); trials with the learning
    # rates falling linearly to 0 over the second half, and with adaptive cutout (--ada 0.6, commit 318cca2), did
    # no better (benchmarks/RESULTS.md) and were not kept
    "default-250": ["--kimg", "250"],
    # for recall over long runs: ProGAN's minibatch-stddev channel on the current default (it cost at 5 minutes
    # on the fourth round's recipe)
    "mbstd": ["--mbstd"],
    # the eighth round, for recall: the R1 penalty on D's real inputs (Mescheder et al. 2018), three fixed weights;
    # 0.1 and 1 also on Fashion-MNIST, where they cost (benchmarks/RESULTS.md)
    "r1-0.1": ["--r1", "0.1", "--r1-target", "0"],
    "r1-1": ["--r1", "1", "--r1-target", "0"],
    "r1-10": ["--r1", "10", "--r1-target", "0"],
    "r1-1-seed-1": ["--r1", "1", "--r1-target", "0", "--seed", "1"],  # the winner with another training seed
    # ninth round: R1 only once D runs ahead (adaptive_r1.py): gamma 1 x p, p steered to keep D(x) at 0.6; it won
    # and is the default now, so r1-adaptive is the default spelled out, and r1-off the default of rounds 4 to 8
    # (they spell out --batch-size 32, the batch of their day: from the tenth round the default's is 16 at 64 px)
    "r1-adaptive": ["--r1", "1", "--r1-target", "0.6", "--batch-size", "32"],
    "r1-off": ["--r1", "0", "--batch-size", "32"],
    # the previous default's run-to-run spread, beside seed-1's
    "r1-off-seed-1": ["--r1", "0", "--seed", "1", "--batch-size", "32"],
    # tenth round, for precision at 5 minutes, on the adaptive-R1 default (then batch 32): with D held back, do a
    # faster G (lr 1.2e-3, above), more and noisier steps (batch-16, above), StyleGAN2's Adam momentum or a smaller
    # latent pay? batch-16 won and is the default at 64 px now; batch-32 is the ninth round's default
    "batch-32": ["--batch-size", "32"],
    "beta1-0": ["--beta1", "0", "--batch-size", "32"],
    "nz-32": ["--nz", "32", "--batch-size", "32"],
    # its winners, batch 16 and lr 1.2e-3, together and further (the step count doubles at batch 16: the same img/s)
    "batch-16+lr-1.2e-3": ["--batch-size", "16", "--lr", "0.0012"],
    "batch-8": ["--batch-size", "8"],
    "batch-16-seed-1": ["--batch-size", "16", "--seed", "1"],
    # eleventh round, still for precision at 5 minutes, on the batch-16 default: an EMA as long in images as 0.99 was
    # at batch 32, a stronger D now that R1 holds it back, a wider G, StyleGAN2's Adam momentum and a faster G alone
    "ema-0.995": ["--ema", "0.995"],
    "ndf-32": ["--ndf", "32"],
    "batch-16+beta1-0": ["--batch-size", "16", "--beta1", "0"],
    "lr-g-1.2e-3": ["--lr-g", "0.0012"],
    # top-k generator updates (new): G learns from the best half of each batch's fakes once 69 kimg are shown
    "top-k-0.5": ["--top-k", "0.5"],
    "top-k-0.5-seed-1": ["--top-k", "0.5", "--seed", "1"],  # beside seed-1, the default's
    # twelfth round: top-k on and off spelled out, a third training seed of each, and a smaller share. From this
    # round the default has --top-k 0.5, so "default", "seed-1" and the single changes above run on it now, and
    # "top-k-off" is the tenth and eleventh rounds' default
    "top-k-off": ["--top-k", "1"],
    "top-k-0.5-seed-2": ["--top-k", "0.5", "--seed", "2"],
    "top-k-off-seed-2": ["--top-k", "1", "--seed", "2"],
    "top-k-0.25": ["--top-k", "0.25"],
    # thirteenth round: the top-k default's own runs scored with the raw G (does the EMA of 0.99 still pay at batch
    # 16?), and a learning rate lowered for batch 16 by sqrt(2) (8e-4 was chosen at batch 32). The relativistic
    # average loss was tried in commit b192427 (variants rasgan, rasgan-seed-1) and not kept
    "top-k-0.5-no-ema": ["@top-k-0.5", "--no-ema"],
    "top-k-0.5-seed-1-no-ema": ["@top-k-0.5-seed-1", "--no-ema"],
    "lr-6e-4": ["--lr", "0.0006"],
    "lr-6e-4-seed-1": ["--lr", "0.0006", "--seed", "1"],
    "lr-1.2e-3-seed-1": ["--lr", "0.0012", "--seed", "1"],  # beside lr-1.2e-3: the other side of 8e-4 with top-k
    "lr-1.2e-3-seed-2": ["--lr", "0.0012", "--seed", "2"],  # beside the twelfth round's top-k-0.5-seed-2
    # fourteenth round: no new variants. On OpenMoji, translation and no-augment asked whether adaptive R1 makes
    # DiffAugment unneeded (no); on the held-out --data twemoji, default and baseline, then no-ema, lr-4e-4, ndf-32,
    # batch-32, translation and top-k-off, looking for what the default lacks there
    # fifteenth round, on Twemoji, where D sits near chance (D(x) 0.53-0.62) while G makes blobs: is D held back too
    # much (no augmentation, no R1, a faster D) or is G too fast (lr-g-half)?
    "r1-0": ["--r1", "0"],
    "lr-g-half": ["--lr-g", "0.0004"],
    "lr-d-1.2e-3": ["--lr-d", "0.0012"],
    "translation+lr-4e-4": ["--diffaugment", "translation", "--lr", "0.0004"],
    # then --augment-p (new): DiffAugment applied to each image with a probability, so D also sees unaugmented ones
    "augment-p-0.5": ["--augment-p", "0.5"],
    "augment-p-0.25": ["--augment-p", "0.25"],
    "augment-p-0.25-seed-1": ["--augment-p", "0.25", "--seed", "1"],
    # from here the default has --augment-p 0.25 (so "default" and the single changes above run on it), and
    # "augment-p-1" is the fourteenth round's default. Runs are cached by name: a work folder's twemoji-default and
    # openmoji-default-r14 are that earlier default's, so pass a new --tag to train today's
    "augment-p-1": ["--augment-p", "1"],
    # sixteenth round (fused Adam from here): a smaller share still
    "augment-p-0.125": ["--augment-p", "0.125"],
}


def run(cmd: list[str], log: Path | None = None) -> str:
    # this checkout's dcgan_cli, whatever is installed: benchmark a frozen worktree while the main one changes
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env)
    if log is not None:
        log.write_text(done.stderr)
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {shlex.join(cmd)}\n{done.stderr.strip()[-2000:]}")
    return done.stdout


def dcgan(*args: str) -> dict[str, Any]:
    """`python -m dcgan_cli ARGS --json -q`; its last JSON line (the end event or the result)."""
    out = run([sys.executable, "-m", "dcgan_cli", *args, "--json", "-q"])
    return json.loads(out.strip().splitlines()[-1])


# colour sets at 64x64: the script that makes each, and its arguments. OpenMoji (4,495 images) is what the defaults
# were tuned on; Twemoji (3,720) is held out from all tuning, its SVGs fetched with npm
EMOJI_SETS = {"openmoji": ["make_openmoji.py"], "twemoji": ["make_twemoji.py", "--npm"]}


def dataset(work: Path, name: str) -> tuple[Path, Path, int, int]:
    """(training folder, real folder to score against, image size, channels)."""
    if name in EMOJI_SETS:
        folder = work / f"{name}64"
        if not (folder / "LICENSE.txt").exists():  # written last: a set cut short is made again
            run([sys.executable, str(HERE / EMOJI_SETS[name][0]), str(folder), *EMOJI_SETS[name][1:], "--size", "64"])
        return folder, folder, 64, 3  # GAN practice: scored against the training set itself
    size = int(name.removeprefix("fashion"))
    folders = []
    for split, limit in (("train", 60000), ("test", 2000)):
        folder = work / f"fashion-{split}-{limit}"
        if not folder.is_dir():
            tmp = folder.with_name(folder.name + ".tmp")
            run([sys.executable, str(EXPORT), str(tmp), "--split", split, "--limit", str(limit)])
            tmp.rename(folder)
        folders.append(folder)
    return folders[0], folders[1], size, 1


def train_variant(name: str, data: Path, size: int, channels: int, marks: list[float], out: Path) -> dict[str, Any]:
    """Train to every mark (cached); returns {minute: {"step", "img_per_s", ...}}."""
    out.mkdir(parents=True, exist_ok=True)
    record = out / "marks.json"
    done: dict[str, Any] = json.loads(record.read_text()) if record.exists() else {}
    if name == "baseline":
        todo = [m for m in marks if f"{m:g}" not in done]
        if todo:
            shutil.rmtree(out / "baseline", ignore_errors=True)
            run([sys.executable, str(HERE / "examples_baseline.py"), str(data), str(out / "baseline"),
                 "--marks", ",".join(f"{m:g}" for m in marks), "--image-size", str(size), "--channels",
                 str(channels)])
            ends = json.loads((out / "baseline" / "end.json").read_text())["marks"]
            for minute, end in ends.items():
                shutil.copyfile(out / "baseline" / f"at-{minute}m.safetensors", out / f"at-{minute}m.safetensors")
                done[minute] = {**end, "img_per_s": round(end["images"] / end["seconds"], 1)}
            record.write_text(json.dumps(done))
        return done
    run_dir, trained = out / "run", 0.0
    for minute in marks:
        key = f"{minute:g}"
        if key in done:
            trained = minute
            continue
        first = not (run_dir / "last.safetensors").exists()
        args = ["train", str(data), "--out", str(run_dir), "--image-size", str(size), "--max-time",
                f"{(minute - trained) * 60:.0f}s", "--sample-every", "1000000", "--save-every", "1000000",
                "--max-steps", "100000000"] + (VARIANTS[name] if first else ["--resume"])
        end = dcgan(*args)
        shutil.copyfile(run_dir / "last.safetensors", out / f"at-{key}m.safetensors")
        previous = done.get(f"{trained:g}", {"step": 0, "seconds": 0.0})
        done[key] = {"step": end["step"], "img_per_s": end["img_per_s"],
                     "seconds": round(previous["seconds"] + end["seconds"], 1)}
        record.write_text(json.dumps(done))
        trained = minute
    return done


def score(ckpt: Path, real: Path, n: int, extra: list[str]) -> dict[str, float]:
    cached = ckpt.with_suffix(f".eval{n}{''.join(extra)}.json")
    if not cached.exists():
        cached.write_text(json.dumps(dcgan("evaluate", str(ckpt), str(real), "--n", str(n), "--seed", "0", *extra)))
    result = json.loads(cached.read_text())
    feats = next(iter(result.get("features", {}).values()), {})
    return {"swd": result["swd"]["mean"], **{k: feats[k] for k in COLUMNS if k in feats}}


def grid(ckpt: Path, target: Path, extra: list[str]) -> None:
    """The 8x8 grid of seeds 0-63, kept in the repository as a q90 JPEG (a PNG of early samples is ~700 KB)."""
    if not target.exists():
        from PIL import Image

        target.parent.mkdir(parents=True, exist_ok=True)
        png = target.with_suffix(".png")
        dcgan("sample", str(ckpt), "--n", "64", "--seed", "0", "-o", str(png), "--force", *extra)
        with Image.open(png) as im:
            im.convert("RGB").save(target, quality=90)
        png.unlink()


def plot(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    """FD against minutes, one line per variant (Pillow only)."""
    from PIL import Image, ImageDraw

    colours = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
               (227, 119, 194), (127, 127, 127)]
    w, h, left, bottom, top, right = 640, 400, 60, 40, 30, 150
    image = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(image)
    points = [(r["minutes"], r["scores"]["fd"]) for r in rows if "fd" in r["scores"]]
    if not points:
        return
    xmax, ymax = max(p[0] for p in points), max(p[1] for p in points) * 1.05
    px = lambda x, y: (left + x / xmax * (w - left - right), h - bottom - y / ymax * (h - top - bottom))  # noqa: E731
    draw.line([px(0, 0), px(xmax, 0)], fill="black")
    draw.line([px(0, 0), px(0, ymax)], fill="black")
    for tick in sorted({r["minutes"] for r in rows}):
        draw.text((px(tick, 0)[0] - 4, h - bottom + 4), f"{tick:g}", fill="black")
    for k in range(0, 5):
        y = ymax * k / 4
        draw.text((4, px(0, y)[1] - 6), f"{y:.0f}", fill="black")
    draw.text((left, 6), title, fill="black")
    draw.text((w - right - 90, h - 16), "minutes of training", fill="black")
    for i, variant in enumerate(dict.fromkeys(r["variant"] for r in rows)):
        line = sorted((r["minutes"], r["scores"]["fd"]) for r in rows
                      if r["variant"] == variant and "fd" in r["scores"])
        colour = colours[i % len(colours)]
        if len(line) > 1:
            draw.line([px(*p) for p in line], fill=colour, width=2)
        for p in line:
            x, y = px(*p)
            draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=colour)
        draw.text((w - right + 10, top + 16 * i), f"- {variant}", fill=colour)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


def table(rows: list[dict[str, Any]], command: str, data: str, n: int) -> str:
    lines = ["| data | variant | flags | minutes | steps | img/s | FD ↓ | KID ↓ | precision ↑ | recall ↑ | SWD ↓ "
             "| grid |",
             "|" + "---|" * 12]
    for r in rows:
        s = r["scores"]
        cell = lambda k, f: "—" if k not in s else format(s[k], f)  # noqa: E731
        flags = "pytorch/examples main.py loop" if r["variant"] == "baseline" else \
            (" ".join(VARIANTS[r["variant"]]) or "(no flags)")
        lines.append(f"| {data} | {r['variant']} | `{flags}` | {r['minutes']:g} | {r['step']} | {r['img_per_s']:.0f} "
                     f"| {cell('fd', '.1f')} | {cell('kid', '.4f')} | {cell('precision', '.3f')} | "
                     f"{cell('recall', '.3f')} | {cell('swd', '.1f')} | [grid]({r['grid']}) |")
    return "\n".join([f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} CPU cores with `{command}`; "
                      f"`dcgan evaluate --n {n} --seed 0`, EfficientNet-Lite0 features.", "", *lines])


def write(key: str, text: str) -> None:
    start, end = START.replace("quality", f"quality:{key}"), END.replace("quality", f"quality:{key}")
    block = f"{start}\n{text}\n{end}"
    old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if start in old:
        new = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, old, flags=re.S)
    else:
        new = old.rstrip("\n") + f"\n\n### Quality per CPU-minute: {key}\n\n" + block + "\n"
    RESULTS.write_text(new)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="openmoji", help="openmoji, twemoji, fashion32 or fashion64")
    ap.add_argument("--variants", default="baseline,tutorial,default")
    ap.add_argument("--marks", default="2,5,10,20", help="minutes of training at which each variant is scored")
    ap.add_argument("--n", type=int, default=1000, help="images per set for dcgan evaluate")
    ap.add_argument("--tag", default="", help="a name for this grid (a second seed, ...) in the work folder")
    ap.add_argument("--work", type=Path, default=HERE / "_work" / "quality2")
    ap.add_argument("--write", action="store_true", help=f"write the table into {RESULTS.name}")
    args = ap.parse_args()
    marks = sorted(float(m) for m in args.marks.split(","))
    data, real, size, channels = dataset(args.work, args.data)
    rows: list[dict[str, Any]] = []
    for name in args.variants.split(","):
        flags = VARIANTS[name]
        trained, extra = (flags[0][1:], flags[1:]) if flags and flags[0].startswith("@") else (name, [])
        out = args.work / "runs" / f"{args.data}-{trained}{args.tag}"
        done = train_variant(trained, data, size, channels, marks, out)
        for minute in marks:
            ckpt = out / f"at-{minute:g}m.safetensors"
            target = GRIDS / f"{args.data}-{name}{args.tag}-{minute:g}m.jpg"
            grid(ckpt, target, extra)
            rows.append({"variant": name, "minutes": minute, **done[f"{minute:g}"],
                         "scores": score(ckpt, real, args.n, extra), "grid": f"results/{target.name}"})
            print(f"{name:>14} {minute:>4g} min: {rows[-1]['step']} steps {rows[-1]['scores']}", file=sys.stderr)
    command = "python benchmarks/quality.py " + shlex.join(sys.argv[1:])
    key = f"{args.data}{args.tag}-{args.variants.replace(',', '+')}-{args.marks.replace(',', '+')}"
    plot(rows, GRIDS / f"fd-{key}.png", f"FD (EfficientNet-Lite0, n={args.n}) on {args.data}, 2 CPU cores")
    text = table(rows, command, args.data, args.n) + f"\n\n![FD against minutes](results/fd-{key}.png)"
    print(text)
    if args.write:
        write(key, text)


if __name__ == "__main__":
    main()
