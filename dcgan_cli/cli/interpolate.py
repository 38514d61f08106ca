"""`dcgan interpolate`: a walk through keyframes (seeds or latents files); the work is
TrainedGenerator.write_walk (sampling/trained.py). The checkpoint argument is optional, so the positional arguments
are read here: a first one that is neither a seed nor a latents file names the checkpoint (`dcgan interpolate 3 14`
walks the newest run)."""

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


def split_arguments(args: list[str]) -> tuple[Path | None, list[str]]:
    """[CKPT] KEY KEY ... -> (checkpoint or None, keyframe words); a first word that is neither a seed nor a latents
    file is the checkpoint."""
    from dcgan_cli.sampling.keys import is_latents_file

    if args and not args[0].isdigit() and not is_latents_file(args[0]):
        return Path(args[0]), args[1:]
    return None, args


def interpolate(
    args: Annotated[list[str], typer.Argument(metavar="[CKPT] KEY KEY...", help="An optional checkpoint or run "
                                              "folder (default: the newest run under ./runs/), then two or more "
                                              "keyframes: seeds (7), latents files (me.safetensors, every latent "
                                              "in it) or one latent of a file (me.safetensors:2).",
                                              show_default=False)],
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
    """Walk the latent space through keyframes; each is exactly `sample`'s image of that seed or latent.

    \b
    [bold]Examples[/]
      dcgan interpolate 3 14                     [dim]# newest run, to a GIF[/]
      dcgan interpolate runs/cats 3 14 15 --loop -o walk.gif
      dcgan interpolate runs/cats 3 me.safetensors:0 14 -o frames/
    """
    ckpt, words = split_arguments(args)
    if len(words) < 2:
        raise UsageError("interpolate needs at least two keyframes (seeds or latents files)")
    from dcgan_cli.sampling.keys import count_latents, parse_key
    from dcgan_cli.sampling.latents import frame_count

    keys = [k for word in words for k in parse_key(word, "keys")]
    total = frame_count(count_latents(keys), steps, loop)
    refuse_binary_to_terminal(output, json_)
    path = checkpoint_path(ckpt, quiet or json_)
    from dcgan_cli.sampling.trained import load

    gen = load(path, device, ema=not no_ema)
    with counting_bar(total, "rendering", quiet) as advance:
        result = gen.write_walk(keys, output, steps=steps, mode=mode.value, loop=loop, fps=fps, nrow=nrow,
                                force=force, truncation=truncation, batch_size=batch_size, on_progress=advance)
    from dcgan_cli.cli.console import emit_json, err_console, safe_text

    if json_:
        emit_json(result)
    err_console(quiet or json_).print(f"wrote {result['frames']} frames through {len(result['keys'])} keyframes "
                                      f"to {safe_text(result['output'])}")
