"""`dcgan evaluate`: option parsing, progress and the results table; the work lives in metrics/evaluate.py."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from dcgan_cli.cli.common import Device, Json, Quiet, checkpoint_path, progress_bars
from dcgan_cli.errors import UsageError
from dcgan_cli.metrics.names import DEFAULT_N, EFFICIENTNET, INCEPTION, MAX_N, MIN_IMAGES
from dcgan_cli.seeding import MAX_SEED

# the table's rows for feature metrics: (label, arrow: lower or higher is better)
_LABELS = {"fd": ("Fréchet distance", "↓"), "kid": ("KID", "↓"), "precision": ("precision", "↑"),
           "recall": ("recall", "↑"), "density": ("density", "↑"), "coverage": ("coverage", "↑")}
_CAPTION = ("↓ lower is better, ↑ higher. FD is biased upwards at small n: compare it at equal n. Precision and "
            "density measure fidelity, recall and coverage diversity (a collapsed generator keeps precision and "
            "loses coverage).")


class Backbone(str, Enum):
    auto = "auto"
    efficientnet = EFFICIENTNET
    inception = INCEPTION
    none = "none"


def evaluate(
    paths: Annotated[list[Path], typer.Argument(metavar="[CKPT] REAL_DIR", help="An optional checkpoint or run "
                                                "folder (default: the newest run under ./runs/), then a folder "
                                                "of real images to compare with (decoded as training decodes).",
                                                show_default=False)],
    n: Annotated[int, typer.Option("--n", "-n", min=MIN_IMAGES, max=MAX_N, help="Images per set: seeds --seed .. "
                                   "--seed+n-1, and n real images drawn by --seed.")] = DEFAULT_N,
    seed: Annotated[int, typer.Option(min=0, max=MAX_SEED, help="First sample seed; also draws the real "
                                      "subset, SWD patches and KID subsets.")] = 0,
    metrics: Annotated[str | None, typer.Option(metavar="swd,fd,kid,prdc", help="Comma-separated metrics: swd, fd, "
                                                "kid, prdc (precision, recall, density, coverage).  "
                                                "\\[default: all]", show_default=False)] = None,
    backbone: Annotated[Backbone, typer.Option(help="Features for fd/kid/prdc: auto (efficientnet-lite0 if "
                                               "installed, else inception-v3 if its weights are cached) or none.")]
    = Backbone.auto,
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
    """Score a checkpoint against real images: SWD, and FD/KID/precision/recall on pretrained features.

    \b
    [bold]Examples[/]
      dcgan evaluate ./photos                    [dim]# newest run vs ./photos[/]
      dcgan evaluate runs/cats ./photos --n 5000 --json
      dcgan evaluate runs/cats ./photos --metrics swd
    """
    if len(paths) not in (1, 2):
        raise UsageError("evaluate takes [CKPT] REAL_DIR: an optional checkpoint, then a folder of real images")
    ckpt, real = (None, paths[0]) if len(paths) == 1 else (paths[0], paths[1])
    from dcgan_cli.metrics.names import parse_metrics

    wanted = parse_metrics(metrics)  # a typo fails here, before torch is imported
    path = checkpoint_path(ckpt, quiet or json_)
    from dcgan_cli.checkpoint import read_header

    read_header(path)  # a bad checkpoint fails here, before torch is imported
    from dcgan_cli.metrics.evaluate import evaluate as run

    with progress_bars(quiet or json_) as on_progress:
        result = run(path, real, n=n, seed=seed, metrics=wanted, backbone=backbone.value,
                     inception_weights=inception_weights, device=device, ema=not no_ema, batch_size=batch_size,
                     workers=workers, cache_dir=cache_dir, no_cache=no_cache, on_progress=on_progress)
    from dcgan_cli.cli.console import emit_json, err_console, safe_text

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

    from dcgan_cli.cli.console import safe_text

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
