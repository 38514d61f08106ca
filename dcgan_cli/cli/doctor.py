"""`dcgan doctor`: the verdicts as a table on stdout (or --json); the work is doctor/report.py. Exit 7 when a
check fails, so a script can gate on it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dcgan_cli.cli.common import CkptArg, Device, Json, Quiet, checkpoint_path

FAILED = 7
STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}


def doctor(
    run: CkptArg = None,
    data: Annotated[Path | None, typer.Option(help="The training folder (default: the one the run recorded, if it "
                                              "is still there): the reference for collapse and memorisation.",
                                              show_default=False)] = None,
    preview: Annotated[Path | None, typer.Option(help="Write the worst near-copy pairs (sample, training image) "
                                                 "as a .png grid.", show_default=False)] = None,
    device: Device = "auto",
    json_: Json = False,
    quiet: Quiet = False,
) -> None:
    """Judge a run: D overpowering G, instability, mode collapse, memorisation, progress, length.

    Exit 0 when no check fails, 7 when one does.

    \b
    [bold]Examples[/]
      dcgan doctor runs/cats
      dcgan doctor runs/cats --data ./cats --preview pairs.png
      dcgan doctor --json | jq '.checks[] | select(.status != "ok")'
    """
    if preview is not None and preview.suffix.lower() != ".png":
        from dcgan_cli.errors import UsageError

        raise UsageError(f"{preview}: the preview is a .png file")
    path = checkpoint_path(run, quiet or json_)
    from dcgan_cli.doctor.report import doctor as run_doctor

    report = run_doctor(path, data, preview=preview, device=device)
    from dcgan_cli.cli.console import emit_json, err_console, safe_text

    if json_:
        emit_json(report)
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"{safe_text(report['checkpoint'])} at step {report['step']}")
        for column in ("check", "status", "detail", "advice"):
            table.add_column(column, overflow="fold")
        for c in report["checks"]:
            table.add_row(c["name"], f"[{STYLE[c['status']]}]{c['status']}[/]", safe_text(c["detail"]),
                          safe_text(c["advice"]))
        Console(soft_wrap=False).print(table)
    if report["metrics_skipped"]:
        err_console(quiet or json_).print(f"skipped {report['metrics_skipped']} unreadable line(s) of metrics.jsonl")
    if report["failed"]:
        raise typer.Exit(FAILED)
