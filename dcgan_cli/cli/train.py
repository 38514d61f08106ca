"""The `dcgan` command: parses options, builds consoles, maps errors to exit codes. The work lives elsewhere.

Nothing here imports torch at module level: `dcgan --help` and `dcgan inspect` must answer in well under a
second, and `import torch` alone costs 3-4 s on a small machine. Commands import their library lazily.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from dcgan_cli import __version__
from dcgan_cli.cli import evaluate as cli_evaluate
from dcgan_cli.cli import sample as cli_outputs
from dcgan_cli.cli.common import Device, Json, Quiet, require_folder, user_errors
from dcgan_cli.errors import UsageError
from dcgan_cli.metrics.names import parse_metrics

app = typer.Typer(
    name="dcgan",
    help="Train a DCGAN on a folder of images, then sample, interpolate, inspect and evaluate what it learned.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

def _version(value: bool) -> None:
    if value:
        typer.echo(f"dcgan {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Train a DCGAN on a folder of images, then sample, interpolate, inspect and evaluate what it learned."""


def default_cache_dir() -> Path:
    if os.environ.get("DCGAN_CACHE_DIR"):
        return Path(os.environ["DCGAN_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dcgan"


def _parse_duration(value: str) -> float:
    """'90', '90s', '20m', '1.5h' -> seconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    text = value.strip().lower()
    scale = units.get(text[-1:], None)
    try:
        seconds = float(text[:-1] if scale else text) * (scale or 1)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0 or seconds == float("inf"):
        raise UsageError(f"--max-time must be a positive duration such as 90s, 20m or 1.5h, got {value!r}")
    return seconds


def _parse_channels(value: str) -> int | None:
    if value == "auto":
        return None
    if value in ("1", "3"):
        return int(value)
    raise UsageError(f"--channels must be auto, 1 or 3, got {value!r}")


@app.command()
@user_errors
def train(
    data: Annotated[Path, typer.Argument(help="Folder of images, searched recursively.", show_default=False)],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Run folder.  \\[default: runs/<folder name>]",
                                                show_default=False)] = None,
    epochs: Annotated[int | None, typer.Option(min=1, help="Epochs in the whole run, resumed steps included.  "
                                                  "\\[default: 5, or unlimited with --max-steps]",
                                                  show_default=False)] = None,
    max_steps: Annotated[int | None, typer.Option(min=1, help="Stop after this many steps in the whole run.",
                                                     show_default=False)] = None,
    max_time: Annotated[str | None, typer.Option(help="Stop after this much training in this invocation (decoding "
                                                    "and scoring excluded), save and end normally: 90s, 20m, 1.5h.",
                                                    show_default=False)] = None,
    batch_size: Annotated[int | None, typer.Option(min=1, help="Images per step.  \\[default: 128]",
                                                      show_default=False)] = None,
    image_size: Annotated[int | None, typer.Option(help="Power of two, 16 to 256.  \\[default: 64]",
                                                      show_default=False)] = None,
    channels: Annotated[str, typer.Option(help="auto (1 if every image is grayscale, else 3), 1 or 3.")] = "auto",
    nz: Annotated[int | None, typer.Option(min=1, help="Latent size.  \\[default: 100]", show_default=False)] = None,
    ngf: Annotated[int | None, typer.Option(min=1, help="G width.  \\[default: 64]", show_default=False)] = None,
    ndf: Annotated[int | None, typer.Option(min=1, help="D width.  \\[default: 64]", show_default=False)] = None,
    lr: Annotated[float | None, typer.Option(min=0.0, help="Adam learning rate.  \\[default: 0.0002]",
                                                show_default=False)] = None,
    beta1: Annotated[float | None, typer.Option(min=0.0, max=1.0, help="Adam beta1.  \\[default: 0.5]",
                                                   show_default=False)] = None,
    seed: Annotated[int | None, typer.Option(min=0, help="Seed for weights, batch order and noise.  "
                                                "\\[default: 999, the tutorial's]", show_default=False)] = None,
    loss: Annotated[str | None, typer.Option(help="bce (the paper's, non-saturating for G) or hinge.  "
                                            "\\[default: bce]", show_default=False)] = None,
    label_smoothing: Annotated[float | None, typer.Option(help="One-sided label smoothing: real label 1 - S "
                                                          "(e.g. 0.1).  \\[default: 0]", show_default=False)] = None,
    diffaugment: Annotated[str | None, typer.Option(help="Augment every image D sees with this DiffAugment policy, "
                                                    "e.g. color,translation,cutout (for small datasets).  "
                                                    "\\[default: off]", show_default=False)] = None,
    ema: Annotated[float | None, typer.Option(min=0.0, max=1.0, help="Keep an exponential moving average of G's "
                                              "weights with this decay (e.g. 0.999); `sample` then uses it.  "
                                              "\\[default: off, as in the paper]", show_default=False)] = None,
    spectral_norm: Annotated[bool, typer.Option("--spectral-norm", help="Spectral normalisation of D's convolutions "
                                                "(SN-GAN; D then has no BatchNorm).  \\[default: off]")] = False,
    eval_every: Annotated[int | None, typer.Option(min=1, help="Score G every N steps (and at the end) into "
                                                   "metrics.jsonl; see `dcgan evaluate`.", show_default=False)]
    = None,
    eval_dir: Annotated[Path | None, typer.Option(help="Real images to score against.  \\[default: the training "
                                                     "images]", show_default=False)] = None,
    eval_n: Annotated[int, typer.Option(min=8, max=100_000, help="Images per set for --eval-every.")] = 500,
    eval_metrics: Annotated[str, typer.Option(help="Metrics for --eval-every: swd, fd, kid, prdc (the feature "
                                              "metrics cost ~25 s per 500 images on 2 CPU cores).")] = "swd",
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out from last.safetensors.")] = False,
    workers: Annotated[int, typer.Option(min=0, help="Parallel image decoders for the one-time decode.")] = 2,
    device: Device = "auto",
    sample_every: Annotated[int, typer.Option(min=1, help="Steps between fixed-noise grids.")] = 500,
    save_every: Annotated[int, typer.Option(min=1, help="Steps between checkpoints.")] = 500,
    log_every: Annotated[int, typer.Option(min=1, help="Steps between logged statistics (a host sync each).")] = 1,
    keep: Annotated[int, typer.Option(min=1, help="Checkpoints to keep: last.safetensors plus the newest N-1 "
                                      "step snapshots (ckpt-STEP.safetensors).")] = 1,
    channels_last: Annotated[bool, typer.Option("--channels-last", help="NHWC memory layout (faster on CPU).")] = False,
    compile_: Annotated[bool, typer.Option("--compile", help="torch.compile G and D.")] = False,
    amp: Annotated[bool, typer.Option("--amp", help="Mixed precision on CUDA (bf16, or fp16 with loss scaling).")]
    = False,
    sync_bn: Annotated[bool, typer.Option("--sync-bn", help="Synchronise BatchNorm across torchrun processes "
                                          "(CUDA).")] = False,
    cache_dir: Annotated[Path | None, typer.Option(help="Where decoded datasets are cached.  "
                                                      "\\[default: $DCGAN_CACHE_DIR or ~/.cache/dcgan]",
                                                      show_default=False)] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Decode in memory only; write no cache.")] = False,
    max_image_pixels: Annotated[int, typer.Option(min=1, help="Skip images larger than this (decompression bombs).")]
    = 64_000_000,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Two steps end to end in a temp folder; keep nothing.")]
    = False,
    json_: Json = False,
    quiet: Quiet = False,
) -> None:
    """Train on a folder of images (crash-safe and resumable)."""
    require_folder(data)
    if image_size is not None and not (16 <= image_size <= 256 and image_size & (image_size - 1) == 0):
        raise UsageError(f"--image-size must be a power of two from 16 to 256, got {image_size}")
    if lr is not None and lr <= 0:
        raise UsageError("--lr must be greater than 0")
    if loss is not None and loss not in ("bce", "hinge"):
        raise UsageError(f"--loss must be bce or hinge, got {loss!r}")
    if label_smoothing is not None and not 0 <= label_smoothing < 0.5:
        raise UsageError("--label-smoothing must be from 0 to below 0.5, e.g. 0.1")
    if diffaugment is not None:
        from dcgan_cli.training.augment import parse_policy  # torch is loaded by this point of `train` anyway

        try:
            diffaugment = ",".join(parse_policy(diffaugment))
        except ValueError as e:
            raise UsageError(f"--diffaugment: {e}") from None
    if ema is not None and not 0 < ema < 1:
        raise UsageError("--ema must be a decay between 0 and 1 (exclusive), e.g. 0.999")
    if eval_every is None and (eval_dir is not None or eval_n != 500 or eval_metrics != "swd"):
        raise UsageError("--eval-dir, --eval-n and --eval-metrics need --eval-every N")
    if eval_dir is not None:
        require_folder(eval_dir, "--eval-dir")
    run_dir = out if out is not None else Path("runs") / (data.resolve().name or "run")
    from dcgan_cli.cli.render import Renderer, err_console, safe_text
    from dcgan_cli.training.trainer import TrainOptions
    from dcgan_cli.training.trainer import train as run_training

    opts = TrainOptions(
        data=data, out=run_dir, epochs=epochs, max_steps=max_steps,
        max_time=_parse_duration(max_time) if max_time is not None else None, batch_size=batch_size, lr=lr, beta1=beta1,
        seed=seed, ema=ema, loss=loss, label_smoothing=label_smoothing, diffaugment=diffaugment, nz=nz, ngf=ngf,
        ndf=ndf, image_size=image_size, channels=_parse_channels(channels), spectral_norm=spectral_norm or None,
        workers=workers, device=device, sample_every=sample_every, save_every=save_every, log_every=log_every,
        keep=keep, eval_every=eval_every, eval_dir=eval_dir, eval_n=eval_n, eval_metrics=parse_metrics(eval_metrics),
        channels_last=channels_last, compile=compile_, amp=amp, sync_bn=sync_bn, resume=resume,
        dry_run=dry_run,
        cache_dir=None if no_cache else (cache_dir or default_cache_dir()), max_pixels=max_image_pixels,
    )
    if os.environ.get("RANK", "0") != "0":  # under torchrun only rank 0 talks; the others still report errors
        quiet, json_ = True, False
    console = err_console(quiet)
    with Renderer(console, json_lines=json_, quiet=quiet) as render:
        end = run_training(opts, render)
    if end.get("rank", 0) != 0:
        return
    if json_:
        from dcgan_cli.cli.render import emit_json

        emit_json(end)
    if end.get("dry_run"):
        console.print(f"dry run OK: {end['step']} steps end to end ({end['img_per_s']:.1f} img/s); nothing kept")
        return
    console.print(
        f"done: step {end['step']} in {end['seconds']:.1f} s ({end['img_per_s']:.1f} img/s)\n"
        f"  checkpoint  {safe_text(end['checkpoint'])}\n"
        f"  samples     {safe_text(str(Path(end['run_dir']) / 'samples'))}\n"
        f"  loss plot   {safe_text(str(end['loss_plot']))}\n"
        f"  progress    {safe_text(str(end['progress_gif']))}"
    )


# sample, interpolate, inspect (cli_outputs.py) and evaluate (cli_evaluate.py), registered so `dcgan --help`
# lists them.
cli_outputs.register(app)
cli_evaluate.register(app)


def main() -> None:
    app(prog_name="dcgan")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
