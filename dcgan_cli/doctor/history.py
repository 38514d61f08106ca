"""metrics.jsonl as the doctor reads it: defensively. The file may be cut by a crash, edited, or hostile; a line
that is not a JSON object of finite numbers is skipped and counted, never a traceback."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dcgan_cli.errors import DataError

MAX_BYTES = 512 * 1024 * 1024
STATS = ("loss_d", "loss_g", "d_x", "d_g_z1", "d_g_z2")


@dataclass
class History:
    rows: list[dict[str, float]] = field(default_factory=list)  # training statistics, by step
    evals: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (step, scores) of --eval-every
    skipped: int = 0  # lines that were not usable
    non_finite: list[int] = field(default_factory=list)  # steps whose statistics were NaN or Inf


def read_history(path: Path) -> History:
    """The rows of a run's metrics.jsonl; an absent file is an empty history."""
    history = History()
    if not path.is_file():
        return history
    if path.stat().st_size > MAX_BYTES:
        raise DataError(f"{path}: larger than {MAX_BYTES} bytes; not a metrics log dcgan wrote")
    with open(path, "rb") as f:
        for raw in f:
            try:
                row = json.loads(raw.decode("utf-8"), parse_constant=float)  # NaN, Infinity: kept, then judged
            except (UnicodeDecodeError, ValueError, RecursionError):
                history.skipped += 1
                continue
            if not isinstance(row, dict) or type(row.get("step")) is not int:
                history.skipped += 1
                continue
            _add(history, row)
    return history


def _add(history: History, row: dict[str, Any]) -> None:
    step = row["step"]
    if isinstance(row.get("eval"), dict):
        history.evals.append((step, row["eval"]))
        return
    values = {k: row.get(k) for k in STATS}
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values.values()):
        history.skipped += 1
        return
    if not all(math.isfinite(float(v)) for v in values.values()):  # type: ignore[arg-type]
        history.non_finite.append(step)
        return
    history.rows.append({"step": float(step), **{k: float(v) for k, v in values.items()}})  # type: ignore[arg-type]

