"""`dcgan sample`: options, the checkpoint, and the report; the work is TrainedGenerator.write_samples
(sampling/trained.py). torch is imported only once the options have been checked."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from dcgan_cli.cli.common import (
    CkptArg,
    Device,
    Json,
    NoEma,
    Quiet,
    checkpoint_path,
    counting_bar,
    refuse_binary_to_terminal,
)
from dcgan_cli.errors import UsageError

Force = Annotated[bool, typer.Option("--force", "-f", help="Overwrite existing output files.")]
BatchSize = Annotated[int, typer.Option(min=1, max=65536, help="Images per forward pass (memory vs speed).")]
Truncation = Annotated[float | None, typer.Option(min=0.1, help="Redraw latent components with |z| above this "
                                                     "bound (less variety, fewer artefacts).", show_default=False)]
Nrow = Annotated[int | None, typer.Option(min=1, help="Images per grid row.  \\[default: about sqrt(n)]",
                                             show_default=False)]


def sample(
    ckpt: CkptArg = None,
    n: Annotated[int | None, typer.Option("--n", "-n", min=1, help="Number of images (seeds --seed .. "
                                             "--seed+n-1).  \\[default: 64]", show_default=False)] = None,
    seed: Annotated[int | None, typer.Option(min=0, help="First seed.  \\[default: 0]", show_default=False)] = None,
    seeds: Annotated[str | None, typer.Option(help="Seeds as ranges and lists, e.g. 0-35,40,42 "
                                                 "(instead of --n/--seed).", show_default=False)] = None,
    latents: Annotated[Path | None, typer.Option(help="Render every latent of a latents file (from dcgan project "
                                                 "or arithmetic) instead of seeds.", show_default=False)] = None,
    output: Annotated[str | None, typer.Option("--output", "-o", help="grid.png, a folder DIR/ (one PNG per "
                                                  "seed or latent + manifest.json), or - for PNG bytes on stdout.  "
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
    """Generate images from a checkpoint: one per seed, same seed -> same image.

    \b
    [bold]Examples[/]
      dcgan sample --n 64                        [dim]# newest run, an 8x8 grid[/]
      dcgan sample runs/cats --seeds 0-35,40 -o out/
      dcgan sample runs/cats --seeds 7 -o - > seven.png
      dcgan sample runs/cats --latents me.safetensors -o me.png
    """
    from dcgan_cli.sampling.seeds import parse_seeds, seed_range

    if seeds is not None and (n is not None or seed is not None):
        raise UsageError("use either --seeds or --n/--seed, not both")
    if latents is not None and (seeds is not None or n is not None or seed is not None):
        raise UsageError("use either --latents or seeds (--seeds, --n/--seed), not both")
    seed_list = None if latents is not None else \
        parse_seeds(seeds) if seeds is not None else seed_range(seed or 0, 64 if n is None else n)
    refuse_binary_to_terminal(output, json_)
    path = checkpoint_path(ckpt, quiet or json_)
    from dcgan_cli.sampling.trained import load

    gen = load(path, device, ema=not no_ema, batch_stats=batch_stats)
    start = time.perf_counter()
    from dcgan_cli.sampling.keys import Key, count_latents

    total = len(seed_list) if seed_list is not None else count_latents([Key(file=latents)])
    with counting_bar(total, "sampling", quiet) as advance:
        result = gen.write_samples(seed_list, output, latents=latents, nrow=nrow, force=force,
                                   truncation=truncation, batch_size=batch_size, on_progress=advance)
    seconds = max(time.perf_counter() - start, 1e-9)
    count = result["count"] if latents is not None else len(result["seeds"])
    rate = count / seconds
    from dcgan_cli.cli.console import emit_json, err_console, safe_text

    if json_:
        emit_json({**result, "seconds": round(seconds, 3), "img_per_s": round(rate, 1)})
    where = "stdout" if result["output"] == "-" else safe_text(result["output"])
    err_console(quiet or json_).print(f"wrote {count} image(s) to {where} ({seconds:.1f} s, "
                                      f"{rate:.0f} img/s)")
