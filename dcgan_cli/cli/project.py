"""`dcgan project`: images in, latents out; the work is TrainedGenerator.project (projection/project.py).

The checkpoint argument is optional like everywhere else: a first argument that is a checkpoint file (by its
header) or a folder holding last.safetensors names it; otherwise every argument is an image."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dcgan_cli.cli.common import Device, Json, NoEma, Quiet, checkpoint_path, counting_bar
from dcgan_cli.cli.sample import Force
from dcgan_cli.errors import UsageError


def split_arguments(args: list[str]) -> tuple[Path | None, list[str]]:
    """[CKPT] IMAGE ... -> (checkpoint or None, images)."""
    from dcgan_cli.checkpoint import LAST
    from dcgan_cli.checkpoint.format import FORMAT
    from dcgan_cli.checkpoint.header import format_of

    if len(args) > 1:
        first = Path(args[0])
        if (first / LAST).is_file() or format_of(first) == FORMAT:
            return first, args[1:]
    return None, args


def project(
    args: Annotated[list[str], typer.Argument(metavar="[CKPT] IMAGE...", help="An optional checkpoint or run "
                                              "folder (default: the newest run under ./runs/), then the images "
                                              "to project.", show_default=False)],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="The latents file to write (safetensors). "
                                                   " \\[default: ./<run name>-latents.safetensors]",
                                                   show_default=False)] = None,
    preview: Annotated[Path | None, typer.Option(help="Also write a .png grid: targets above their "
                                                 "reconstructions.", show_default=False)] = None,
    steps: Annotated[int, typer.Option(min=0, max=100_000, help="Adam steps per image batch.")] = 200,
    restarts: Annotated[int, typer.Option(min=1, max=64, help="Starting latents per image, optimised together; "
                                          "the best is kept.")] = 4,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the starting latents: same seed, same result.")] = 0,
    lr: Annotated[float, typer.Option(min=1e-6, max=1000, help="Adam step size (cosine-decayed to 0).")] = 0.05,
    feature_weight: Annotated[float, typer.Option(min=0, max=1000, help="Weight of the perceptual loss on the "
                                                  "checkpoint's discriminator features (0: pixels only).")] = 1.0,
    prior_weight: Annotated[float, typer.Option(min=0, max=1000, help="Weight of the term keeping z near the "
                                                "Gaussian shell.")] = 0.05,
    batch_size: Annotated[int, typer.Option(min=1, max=4096, help="Images optimised together (memory vs "
                                            "speed).")] = 16,
    force: Force = False,
    device: Device = "auto",
    no_ema: NoEma = False,
    json_: Json = False,
    quiet: Quiet = False,
) -> None:
    """Find the latent of each image: its generated image matches the picture.

    \b
    [bold]Examples[/]
      dcgan project me.jpg you.jpg -o us.safetensors --preview us.png
      dcgan sample --latents us.safetensors -o us-again.png
      dcgan interpolate us.safetensors:0 us.safetensors:1 -o morph.gif
    """
    ckpt, images = split_arguments(args)
    if not images:
        raise UsageError("project needs at least one image")
    if output is not None and output.suffix != ".safetensors":
        raise UsageError(f"{output}: latents are written to a .safetensors file")
    if preview is not None and preview.suffix.lower() != ".png":
        raise UsageError(f"{preview}: the preview is a .png file")
    path = checkpoint_path(ckpt, quiet or json_)
    from dcgan_cli.sampling.trained import load, run_name

    output = output or Path(f"{run_name(path)}-latents.safetensors")
    for where in (output, preview):  # before any work: the projection itself takes seconds to minutes
        if where is not None and where.exists() and not force:
            raise UsageError(f"{where} already exists; overwrite with --force")
    gen = load(path, device, ema=not no_ema)
    batches = -(-len(images) // batch_size)
    with counting_bar(steps * batches, "projecting", quiet) as advance:
        result = gen.project(images, steps=steps, restarts=restarts, seed=seed, lr=lr, feature_weight=feature_weight,
                             prior_weight=prior_weight, batch_size=batch_size, on_progress=advance)
    result.save(output)
    if preview is not None:
        from dcgan_cli.io.images import save_png

        save_png(result.preview(), preview)
    from dcgan_cli.cli.console import emit_json, err_console, safe_text

    if json_:
        emit_json({"latents": str(output), "preview": None if preview is None else str(preview),
                   "checkpoint": str(path), "checkpoint_sha256": gen.sha256, **result.settings,
                   "images": result.rows()})
    mean = sum(result.psnr) / len(result.psnr)
    err_console(quiet or json_).print(f"projected {len(images)} image(s) to {safe_text(str(output))} "
                                      f"(mean PSNR {mean:.1f} dB)")
