"""`dcgan evaluate`: option parsing, progress and the results table; the work lives in evaluate.py."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from dcgan_cli.cli.common import Device, Json, Quiet, progress_bars, require_folder, user_errors
from dcgan_cli.errors import UsageError
from dcgan_cli.metrics.names import INCEPTION, check_backbone, parse_metrics

# the table's rows for feature metrics: (label, arrow: lower or higher is better)
_LABELS = {"fd": ("Fréchet distance", "↓"), "kid": ("KID", "↓"), "precision": ("precision", "↑"),
           "recall": ("recall", "↑"), "density": ("density", "↑"), "coverage": ("coverage", "↑")}
_CAPTION = ("↓ lower is better, ↑ higher. FD is biased upwards at small n: compare it at equal n. Precision and "
            "density measure fidelity, recall and coverage diversity (a collapsed generator keeps precision and "
            "loses coverage).")


def register(app: typer.Typer) -> None:
    app.command("evaluate")(user_errors(evaluate))


def evaluate(
    ckpt: Annotated[Path, typer.Argument(help="A checkpoint file, or a run folder (its last.safetensors).",
                                         show_default=False)],
    real: Annotated[Path, typer.Argument(help="Folder of real images to compare with (the same decoding as "
                                         "training).", show_default=False)],
    n: Annotated[int, typer.Option("--n", "-n", min=8, max=100_000, help="Images per set: seeds --seed .. "
                                   "--seed+n-1, and n real images drawn by --seed.")] = 1000,
    seed: Annotated[int, typer.Option(min=0, max=2**32 - 1, help="First sample seed; also draws the real "
                                      "subset, SWD patches and KID subsets.")] = 0,
    metrics: Annotated[str | None, typer.Option(help="Comma-separated: swd, fd, kid, prdc (precision, recall, "
                                                   "density, coverage).  \\[default: all]", show_default=False)]
    = None,
    backbone: Annotated[str, typer.Option(help="Features for fd/kid/prdc: auto (efficientnet-lite0 if "
                                          "installed, else inception-v3 if its weights are cached), "
                                          "efficientnet-lite0, inception-v3 or none.")] = "auto",
    inception_weights: Annotated[Path | None, typer.Option(help="torchvision's inception_v3_google-0cc3c7bd.pth "
                                                              "(checked against its pinned hash).",
                                                              show_default=False)] = None,
    no_ema: Annotated[bool, typer.Option("--no-ema", help="Score the raw generator even if the checkpoint holds an "
                                         "EMA one.")] = False,
    device: Device = "auto",
    batch_size: Annotated[int, typer.Option(min=1, max=65536, help="Images per generator pass.")] = 256,
    workers: Annotated[int, typer.Option(min=0, help="Parallel image decoders.")] = 2,
    cache_dir: Annotated[Path | None, typer.Option(help="Where decoded images and real features are cached.  "
                                                      "\\[default: $DCGAN_CACHE_DIR or ~/.cache/dcgan]",
                                                      show_default=False)] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Cache nothing.")] = False,
    json_: Json = False,
    quiet: Quiet = False,
) -> None:
    """Score a checkpoint against real images: SWD, and FD/KID/precision/recall on pretrained features."""
    require_folder(real)
    if inception_weights is not None and not inception_weights.is_file():
        raise UsageError(f"--inception-weights: no such file: {inception_weights}")
    if seed + n - 1 > 2**32 - 1:
        raise UsageError(f"seeds {seed}..{seed + n - 1} go past {2**32 - 1}; use a smaller --seed")
    wanted, backbone = parse_metrics(metrics), check_backbone(backbone)
    if inception_weights is not None and backbone == "auto":
        backbone = INCEPTION
    from dcgan_cli import checkpoint

    path = checkpoint.resolve(ckpt)
    checkpoint.read_header(path)  # a bad checkpoint fails here, before torch is imported
    from dcgan_cli.cli.train import default_cache_dir
    from dcgan_cli.device import select_device
    from dcgan_cli.metrics.evaluate import evaluate as run

    with progress_bars(quiet or json_) as on_progress:
        result = run(path, real, n=n, seed=seed, metrics=wanted, backbone=backbone,
                     inception_weights=inception_weights, device=str(select_device(device)),
                     ema=not no_ema, batch_size=batch_size, workers=workers,
                     cache_dir=None if no_cache else (cache_dir or default_cache_dir()), on_progress=on_progress)
    from dcgan_cli.cli.render import emit_json, err_console, safe_text

    console = err_console(quiet)
    for note in result["notes"]:
        console.print(f"[yellow]note:[/] {safe_text(note)}")
    if json_:
        emit_json(result)
        return
    from rich.console import Console

    Console(highlight=False).print(_table(result))  # the scores are data: stdout, even with -q


def _table(result: dict[str, Any]) -> Any:
    from rich.table import Table

    from dcgan_cli.cli.render import safe_text

    ema = ", EMA generator" if result["ema"] else ""
    table = Table(title=f"{safe_text(result['checkpoint'])} (step {result['step']}{ema}) vs {result['n']} real images, "
                        f"seed {result['seed']}", caption=_CAPTION, title_justify="left", caption_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("features", overflow="fold")
    if "swd" in result:
        swd = result["swd"]
        table.add_row("SWD x1e3 ↓", f"{swd['mean']:.2f}", "none (pixels)")
        for level, value in swd.items():
            if level != "mean":
                table.add_row(f"  {level}x{level} level", f"{value:.2f}", "", style="dim")
    for backbone, scores in result.get("features", {}).items():
        for key, (label, arrow) in _LABELS.items():
            if key in scores:
                value = f"{scores[key]:.4f}" + (f" ± {scores['kid_std']:.4f}" if key == "kid" else "")
                table.add_row(f"{label} {arrow}", value, f"{backbone} ({scores['dim']}-d, {scores['resolution']}px)")
    return table
