"""metrics.jsonl: one JSON object per line, written by rank 0 only, flushed per row so a crash loses at most the
row being written (readers skip a cut line)."""

from __future__ import annotations

import json
from typing import IO, Any


class MetricsLog:
    """The one writer of metrics.jsonl rows: training statistics and `--eval-every` scores alike."""

    def __init__(self, file: IO[str] | None) -> None:
        self.file = file  # None on ranks other than 0: writes are dropped

    def write(self, row: dict[str, Any]) -> None:
        if self.file is None:
            return
        self.file.write(json.dumps(row, separators=(",", ":")) + "\n")
        self.file.flush()
