"""`dcgan arithmetic`: the DCGAN paper's latent vector arithmetic; the work is TrainedGenerator.arithmetic
(sampling/arithmetic.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dcgan_cli.cli.common import Device, Json, NoEma, Quiet, checkpoint_path, refuse_binary_to_terminal
from dcgan_cli.cli.sample import Force
from dcgan_cli.errors import UsageError


def arithmetic(
    args: Annotated[list[str], typer.Argument(metavar="[CKPT] EXPRESSION", help="An optional checkpoint or run "
                                              "folder (default: the newest run under ./runs/), then groups of "
                                              "seeds or latents joined by + and - with spaces around them, e.g. "
                                              "\"1,2,3 - 4,5,6 + 7,8,9\".", show_default=False)],
    output: Annotated[list[str] | None, typer.Option("--output", "-o", help="grid.png (or - for PNG bytes on "
                                                        "stdout) and/or result.safetensors (the resulting latent); "
                                                        "repeat for both.  \\[default: ./<run name>-arithmetic.png]",
                                                        show_default=False)] = None,
    neighbours: Annotated[int, typer.Option(min=0, max=64, help="Samples near the result (the paper shows 8).")] = 8,
    noise: Annotated[float, typer.Option(min=0, max=10, help="Uniform noise per component for the "
                                         "neighbours.")] = 0.25,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the neighbours' noise.")] = 0,
    force: Force = False,
    device: Device = "auto",
    no_ema: NoEma = False,
    json_: Json = False,
    quiet: Quiet = False,
) -> None:
    """Latent vector arithmetic: average each group, add and subtract the means.

    The grid has one row per group (its images, then its mean at the right) and a last row with the result and
    its neighbours.

    \b
    [bold]Examples[/]
      dcgan arithmetic "1,2,3 - 4,5,6 + 7,8,9"
      dcgan arithmetic runs/faces "smile.safetensors - 4,5,6 + me.safetensors:0" -o out.png -o out.safetensors
    """
    if len(args) not in (1, 2):
        raise UsageError("arithmetic takes an optional checkpoint and one expression (quote it)")
    ckpt, expression = (Path(args[0]), args[1]) if len(args) == 2 else (None, args[0])
    from dcgan_cli.sampling.keys import parse_expression

    parse_expression(expression)  # a typo costs nothing: checked before torch is loaded
    for out in output or []:
        refuse_binary_to_terminal(out, json_)
    path = checkpoint_path(ckpt, quiet or json_)
    from dcgan_cli.sampling.trained import load

    gen = load(path, device, ema=not no_ema)
    result = gen.arithmetic(expression, output or None, neighbours=neighbours, noise=noise, seed=seed, force=force)
    from dcgan_cli.cli.console import emit_json, err_console, safe_text

    if json_:
        emit_json(result)
    where = ", ".join("stdout" if f == "-" else safe_text(f) for f in result["files"])
    err_console(quiet or json_).print(f"wrote {where}")
