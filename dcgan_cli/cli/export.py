"""`dcgan export` and `dcgan import`: the work is interop/export.py and interop/tutorial_import.py."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from dcgan_cli.cli.common import CkptArg, Json, NoEma, Quiet, checkpoint_path
from dcgan_cli.cli.sample import Force


class Format(str, Enum):
    onnx = "onnx"
    pt2 = "pt2"
    hf = "hf"


def export(
    ckpt: CkptArg = None,
    format: Annotated[Format, typer.Option("--format", help="onnx (onnxruntime and friends), pt2 (torch.export) "
                                           "or hf (a Hugging Face-style folder).")] = Format.onnx,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="G.onnx, G.pt2 or a folder for hf.  "
                                                   "\\[default: ./<run name>.onnx, .pt2 or -hf/]",
                                                   show_default=False)] = None,
    license: Annotated[str, typer.Option(help="The hf model card's license field (e.g. mit, cc-by-4.0).")] = "other",
    force: Force = False,
    no_ema: NoEma = False,
    json_: Json = False,
    quiet: Quiet = False,
) -> None:
    """Export the generator: z (N, nz) in, images (N, C, H, W) in [-1, 1] out.

    \b
    [bold]Examples[/]
      dcgan export runs/cats --format onnx -o cats.onnx
      dcgan export runs/cats --format pt2 -o cats.pt2
      dcgan export runs/cats --format hf -o cats-hf/ --license mit
    """
    path = checkpoint_path(ckpt, quiet or json_)
    from dcgan_cli.sampling.trained import run_name

    out = output or Path(f"{run_name(path)}" + {"onnx": ".onnx", "pt2": ".pt2", "hf": "-hf"}[format.value])
    from dcgan_cli.interop.export import check_output

    check_output(out, format.value, force)  # before torch and the checkpoint are loaded
    from dcgan_cli.interop.export import export as run_export
    from dcgan_cli.sampling.trained import load

    result = run_export(load(path, "cpu", ema=not no_ema), format.value, out, force=force, license=license)
    from dcgan_cli.cli.console import emit_json, err_console, safe_text

    if json_:
        emit_json(result)
    err_console(quiet or json_).print(f"exported {'the EMA' if result['ema'] else 'the'} generator to "
                                      f"{safe_text(str(out))} ({format.value})")


def import_(
    netg: Annotated[Path, typer.Argument(metavar="NETG.pth", help="The generator's state dict, as the PyTorch "
                                         "tutorial or pytorch/examples saves it.", show_default=False)],
    netd: Annotated[Path | None, typer.Option("--netd", metavar="NETD.pth", help="The discriminator's state "
                                              "dict too (projection's perceptual loss uses D).",
                                              show_default=False)] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="The dcgan checkpoint to write.")] = Path(
        "imported.safetensors"),
    force: Force = False,
    json_: Json = False,
    quiet: Quiet = False,
) -> None:
    """Convert tutorial / pytorch/examples weights (netG_epoch_N.pth) into a dcgan checkpoint, safely.

    \b
    [bold]Examples[/]
      dcgan import netG_epoch_24.pth --netd netD_epoch_24.pth -o celeba.safetensors
      dcgan sample celeba.safetensors --n 64
    """
    from dcgan_cli.interop.tutorial_import import import_tutorial

    result = import_tutorial(netg, output, netd_path=netd, force=force)
    from dcgan_cli.cli.console import emit_json, err_console, safe_text

    if json_:
        emit_json(result)
    c = result["config"]
    err_console(quiet or json_).print(f"imported {safe_text(netg.name)} (nz {c['nz']}, ngf {c['ngf']}, "
                                      f"{c['channels']}×{c['image_size']}px) to {safe_text(str(output))}")
