"""`dcgan interpolate`: a walk through keyframe seeds; the work is TrainedGenerator.write_walk
(sampling/trained.py). The checkpoint argument is optional, so the positional arguments are read here: a first
one that is not a whole number names the checkpoint (`dcgan interpolate 3 14` walks the newest run)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from dcgan_cli.cli.common import Device, Json, NoEma, Quiet, checkpoint_path, counting_bar, refuse_binary_to_terminal
from dcgan_cli.cli.sample import BatchSize, Force, Nrow, Truncation
from dcgan_cli.errors import UsageError


class Mode(str, Enum):
    slerp = "slerp"
    lerp = "lerp"


def split_arguments(args: list[str]) -> tuple[Path | None, list[int]]:
    """[CKPT] SEED SEED ... -> (checkpoint or None, seeds)."""
    ckpt = None
    if args and not args[0].isdigit():
        ckpt, args = Path(args[0]), args[1:]
    bad = [a for a in args if not a.isdigit()]
    if bad:
        raise UsageError(f"invalid seed {bad[0]!r}: keyframes are seeds (whole numbers), after an optional "
                         "checkpoint or run folder")
    return ckpt, [int(a) for a in args]


def interpolate(
    args: Annotated[list[str], typer.Argument(metavar="[CKPT] SEED SEED...", help="An optional checkpoint or run "
                                              "folder (default: the newest run under ./runs/), then two or more "
                                              "keyframe seeds.", show_default=False)],
    steps: Annotated[int, typer.Option(min=1, max=1000, help="Frames per pair of seeds, the first seed's "
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
    """Walk the latent space through seeds; each keyframe is exactly `sample --seeds K`'s image.

    \b
    [bold]Examples[/]
      dcgan interpolate 3 14                     [dim]# newest run, to a GIF[/]
      dcgan interpolate runs/cats 3 14 15 --loop -o walk.gif
      dcgan interpolate runs/cats 3 14 --mode lerp -o frames/
    """
    ckpt, seeds = split_arguments(args)
    if len(seeds) < 2:
        raise UsageError("interpolate needs at least two seeds")
    from dcgan_cli.sampling.seeds import check_seeds

    check_seeds(seeds)
    refuse_binary_to_terminal(output, json_)
    path = checkpoint_path(ckpt, quiet or json_)
    from dcgan_cli.sampling import latents
    from dcgan_cli.sampling.trained import load

    total = latents.frame_count(len(seeds), steps, loop)
    gen = load(path, device, ema=not no_ema)
    with counting_bar(total, "rendering", quiet) as advance:
        result = gen.write_walk(seeds, output, steps=steps, mode=mode.value, loop=loop, fps=fps, nrow=nrow,
                                force=force, truncation=truncation, batch_size=batch_size, on_progress=advance)
    from dcgan_cli.cli.console import emit_json, err_console, safe_text

    if json_:
        emit_json(result)
    err_console(quiet or json_).print(f"wrote {result['frames']} frames through {len(seeds)} seeds to "
                                      f"{safe_text(result['output'])}")
