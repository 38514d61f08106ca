"""`dcgan sample`, `dcgan interpolate` and `dcgan inspect`: option parsing and output files; the work lives in
sample.py and inspect.py.

`dcgan --help` imports this module, so torch (3-4 s) is imported only inside the bodies that need it, and
`inspect` never imports it at all. Usage errors (seed syntax, output paths, existing files) are raised before
a model is loaded.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from dcgan_cli import checkpoint
from dcgan_cli.cli.common import Device, Json, Quiet, progress_bars, user_errors
from dcgan_cli.errors import OutputError, UsageError

Ckpt = Annotated[Path, typer.Argument(help="A checkpoint file, or a run folder (its last.safetensors).",
                                      show_default=False)]
Force = Annotated[bool, typer.Option("--force", "-f", help="Overwrite existing output files.")]
BatchSize = Annotated[int, typer.Option(min=1, max=65536, help="Images per forward pass (memory vs speed).")]
Truncation = Annotated[float | None, typer.Option(min=0.1, help="Redraw latent components with |z| above this "
                                                     "bound (less variety, fewer artefacts).", show_default=False)]
NoEma = Annotated[bool, typer.Option("--no-ema", help="Use the raw generator even if the checkpoint holds an "
                                     "EMA one (from train --ema).")]
Nrow = Annotated[int | None, typer.Option(min=1, help="Images per grid row.  \\[default: about sqrt(n)]",
                                             show_default=False)]

MAX_FRAMES = 10_000


class Mode(str, Enum):
    slerp = "slerp"
    lerp = "lerp"


def register(app: typer.Typer) -> None:
    """Add `sample`, `interpolate` and `inspect` to `app`."""
    app.command("sample")(user_errors(sample))
    app.command("interpolate")(user_errors(interpolate))
    app.command("inspect")(user_errors(inspect_checkpoint))


# --- shared helpers ----------------------------------------------------------------------------------------


def run_name(path: Path) -> str:
    """runs/faces/last.safetensors -> 'faces'; other files -> their stem; made safe for a file name."""
    name = path.resolve().parent.name if path.name == checkpoint.LAST or path.stem.startswith("ckpt-") else path.stem
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "dcgan"


def _target(output: str | None, default: Path, suffixes: tuple[str, ...], what: str) -> tuple[str, Path | None]:
    """-o value -> ('stdout', None) | ('dir', folder) | (suffix, file)."""
    text = str(default) if output is None else output
    if text == "-":
        return "stdout", None
    path = Path(text)
    if text.endswith(("/", os.sep)) or path.is_dir():
        return "dir", path
    if path.suffix.lower() in suffixes:
        return path.suffix.lower(), path
    names = " or ".join(suffixes)
    raise UsageError(f"-o {text}: write {what} to a {names} file, a folder ending in '/'"
                     + (", or '-' for stdout" if what == "a grid" else ""))


def _stdout_is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def _write_stdout(data: bytes) -> None:
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    except BrokenPipeError:
        raise OutputError("cannot write to stdout: broken pipe") from None


@contextmanager
def _progress(total: int, label: str, quiet: bool) -> Iterator[Callable[[int], None]]:
    """advance(n) on one cli_common.progress_bars bar (nothing when stderr is not a terminal)."""
    with progress_bars(quiet) as update:
        if update is None:
            yield lambda n: None
            return
        done = 0
        update(label, done, total)

        def advance(n: int) -> None:
            nonlocal done
            done += n
            update(label, done, total)

        yield advance


def _prepare(kind: str, out: Path | None, names: dict[int, str], force: bool, json_: bool = False) -> None:
    """Refuse before any work: binary to a terminal, existing files without --force, a missing folder."""
    if kind == "stdout":
        if json_:
            raise UsageError("-o - writes PNG bytes to stdout, so it cannot be combined with --json")
        if _stdout_is_terminal():
            raise UsageError("refusing to write binary PNG data to a terminal; redirect stdout (-o - > grid.png) "
                             "or give a file name with -o")
        return
    assert out is not None
    if kind == "dir":
        from dcgan_cli.sampling.generator import MANIFEST

        paths = [out / MANIFEST] + [out / name for name in names.values()]
    elif not out.parent.is_dir():  # atomic.write_atomic would only fail after all the sampling
        raise OutputError(f"cannot write {out}: " + (f"{out.parent} is not a folder" if out.parent.exists()
                                                     else f"folder {out.parent} does not exist"))
    else:
        paths = [out]
    existing = [] if force else [p for p in paths if p.exists()]
    if existing:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise UsageError(f"{existing[0]} already exists{more}; use --force to overwrite")


def _finish(sink: Any, kind: str, out: Path | None, names: dict[int, str]) -> list[str]:
    """Write the single-file output (grid, GIF, stdout) or the manifest; return the files made."""
    from dcgan_cli.io.atomic import write_atomic

    data = sink.finish()
    if kind == "stdout":
        _write_stdout(data)
        return ["-"]
    assert out is not None
    if kind == "dir":
        return [str(out / name) for name in names.values()]
    write_atomic(out, data)
    return [str(out)]


# --- commands ----------------------------------------------------------------------------------------------


def sample(
    ckpt: Ckpt,
    n: Annotated[int | None, typer.Option("--n", "-n", help="Number of images (seeds --seed .. --seed+n-1).  "
                                             "\\[default: 64]", show_default=False)] = None,
    seed: Annotated[int | None, typer.Option(help="First seed.  \\[default: 0]", show_default=False)] = None,
    seeds: Annotated[str | None, typer.Option(help="Seeds as ranges and lists, e.g. 0-35,40,42 "
                                                 "(instead of --n/--seed).", show_default=False)] = None,
    output: Annotated[str | None, typer.Option("--output", "-o", help="grid.png, a folder DIR/ (one PNG per "
                                                  "seed + manifest.json), or - for PNG bytes on stdout.  "
                                                  "\\[default: ./<run name>-samples.png]", show_default=False)] = None,
    nrow: Nrow = None,
    force: Force = False,
    truncation: Truncation = None,
    batch_stats: Annotated[bool, typer.Option("--batch-stats", help="Normalise with each batch's statistics, as "
                                              "the tutorial displays samples. Images then depend on their batch: "
                                              "not reproducible across --batch-size or seed lists.")] = False,
    device: Device = "auto",
    no_ema: NoEma = False,
    batch_size: BatchSize = 256,
    json_: Json = False,
    quiet: Quiet = False,
) -> None:
    """Generate images from a checkpoint: one per seed, same seed -> same image."""
    if seeds is not None and (n is not None or seed is not None):
        raise UsageError("use either --seeds or --n/--seed, not both")
    from dcgan_cli.sampling import generator as lib

    seed_list = lib.parse_seeds(seeds) if seeds is not None else lib.seed_range(seed or 0, 64 if n is None else n)
    path = checkpoint.resolve(ckpt)
    kind, out = _target(output, Path(f"{run_name(path)}-samples.png"), (".png",), "a grid")
    names: dict[int, str] = {}
    if kind == "dir":  # one file per seed (a repeated seed is the same image), named so `ls` sorts them
        width = max(4, len(str(max(seed_list))))
        names = {s: f"seed{s:0{width}d}.png" for s in seed_list}
        seed_list = list(names)
    _prepare(kind, out, names, force, json_)

    from dcgan_cli.device import select_device

    netg, config, header = lib.load_generator(path, select_device(device), batch_stats, ema=not no_ema)
    step = header.progress.get("step")
    used_ema = not no_ema and header.has_ema
    manifest = {"checkpoint": str(path), "step": step, "truncation": truncation, "batch_stats": batch_stats,
                "ema": used_ema, "files": {str(s): name for s, name in names.items()}}
    shape = (config.channels, config.image_size, config.image_size)
    sink = lib.open_sink(kind, out, len(seed_list), shape, nrow, names, manifest)
    start = time.perf_counter()
    with _progress(len(seed_list), "sampling", quiet) as advance:
        for chunk, images in lib.generate(netg, seed_list, batch_size=batch_size, truncation=truncation):
            sink.add(chunk, images)  # a folder gets each file as soon as its batch is done
            advance(len(chunk))
    files = _finish(sink, kind, out, names)
    seconds = max(time.perf_counter() - start, 1e-9)
    rate = len(seed_list) / seconds
    if json_:
        from dcgan_cli.cli.render import emit_json

        emit_json({"files": files, "seeds": seed_list, "checkpoint": str(path), "step": step,
                   "output": "-" if out is None else str(out), "truncation": truncation, "batch_stats": batch_stats,
                   "ema": used_ema, "seconds": round(seconds, 3), "img_per_s": round(rate, 1)})
    from dcgan_cli.cli.render import err_console, safe_text

    where = "stdout" if out is None else safe_text(str(out))
    err_console(quiet or json_).print(f"wrote {len(seed_list)} image(s) to {where} ({seconds:.1f} s, {rate:.0f} img/s)")


def interpolate(
    ckpt: Ckpt,
    seeds: Annotated[list[int], typer.Argument(help="Two or more keyframe seeds.", show_default=False)],
    steps: Annotated[int, typer.Option(min=2, max=1000, help="Frames per pair of seeds, the first seed's "
                                       "frame included.")] = 16,
    mode: Annotated[Mode, typer.Option(help="slerp follows the sphere Gaussian latents live near; lerp is "
                                       "a straight line.")] = Mode.slerp,
    loop: Annotated[bool, typer.Option("--loop", help="Walk back from the last seed to the first.")] = False,
    output: Annotated[str | None, typer.Option("--output", "-o", help="walk.gif (animated), frames.png (grid "
                                                  "of frames) or a folder DIR/ (numbered frames).  "
                                                  "\\[default: ./<run name>-interp.gif]", show_default=False)] = None,
    fps: Annotated[int, typer.Option(min=1, max=50, help="GIF frames per second.")] = 12,
    nrow: Nrow = None,
    force: Force = False,
    truncation: Truncation = None,
    device: Device = "auto",
    no_ema: NoEma = False,
    batch_size: BatchSize = 256,
    json_: Json = False,
    quiet: Quiet = False,
) -> None:
    """Walk the latent space through seeds; each keyframe is exactly `sample --seeds K`'s image."""
    from dcgan_cli.sampling import generator as lib

    if len(seeds) < 2:
        raise UsageError("interpolate needs at least two seeds")
    bad = [s for s in seeds if not 0 <= s <= lib.MAX_SEED]
    if bad:
        raise UsageError(f"invalid seed {bad[0]}: seeds go from 0 to {lib.MAX_SEED}")
    total = lib.frame_count(len(seeds), steps, loop)
    if total > MAX_FRAMES:
        raise UsageError(f"{total} frames is more than {MAX_FRAMES}; use fewer --steps or seeds")
    path = checkpoint.resolve(ckpt)
    kind, out = _target(output, Path(f"{run_name(path)}-interp.gif"), (".gif", ".png"), "frames")
    width = max(4, len(str(total - 1)))
    names = {i: f"frame{i:0{width}d}.png" for i in range(total)} if kind == "dir" else {}
    _prepare(kind, out, names, force, json_)

    from dcgan_cli.device import select_device

    netg, config, header = lib.load_generator(path, select_device(device), ema=not no_ema)
    z, keyframes = lib.walk(lib.latents(seeds, config.nz, truncation), steps, mode.value, loop)
    step = header.progress.get("step")
    manifest = {"checkpoint": str(path), "step": step, "seeds": seeds, "steps": steps, "mode": mode.value,
                "loop": loop, "truncation": truncation, "keyframes": keyframes, "frames": list(names.values())}
    shape = (config.channels, config.image_size, config.image_size)
    sink = lib.open_sink(kind, out, total, shape, nrow, names, manifest, fps)
    with _progress(total, "rendering", quiet) as advance:
        for first, images in lib.render_all(netg, z, batch_size):
            sink.add(range(first, first + len(images)), images)
            advance(len(images))
    files = _finish(sink, kind, out, names)
    if json_:
        from dcgan_cli.cli.render import emit_json

        emit_json({"files": files, "seeds": seeds, "checkpoint": str(path), "step": step, "frames": total,
                   "keyframes": keyframes, "steps": steps, "mode": mode.value, "loop": loop})
    from dcgan_cli.cli.render import err_console, safe_text

    err_console(quiet or json_).print(f"wrote {total} frames through {len(seeds)} seeds to {safe_text(str(out))}")


def inspect_checkpoint(ckpt: Ckpt, json_: Json = False, quiet: Quiet = False) -> None:
    """Describe a checkpoint from its header alone: fast, and safe on hostile files."""
    from dcgan_cli.checkpoint.describe import describe, render

    info = describe(checkpoint.resolve(ckpt))
    if json_:  # console.emit_json's format, without importing rich (~0.1 s of a 0.5 s budget)
        import json

        sys.stdout.write(json.dumps(info, separators=(",", ":")) + "\n")
        return
    from rich.console import Console

    render(info, Console(highlight=False))  # the facts are data: stdout, even with -q
