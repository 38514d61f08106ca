"""`train --keep-best`: RUN_DIR/best.safetensors, the checkpoint of the best-scoring step so far.

Judged by the headline score of `--eval-every` (FD when it is measured, else SWD; lower is better). The file is a
full checkpoint (it can resume), written atomically like last.safetensors; its progress metadata carries the score
(`{"score": {"metric": "fd", "value": ...}}`), which `dcgan inspect` shows and a resumed run reads back, so the
best is the best across resumes, not just within one invocation.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from dcgan_cli import checkpoint
from dcgan_cli.errors import CheckpointError
from dcgan_cli.metrics.names import headline

BEST = "best.safetensors"


def recorded_best(path: Path) -> tuple[str, float] | None:
    """(metric, value) stored in an existing best.safetensors, or None (absent, damaged, or without a score)."""
    if not path.is_file():
        return None
    try:
        found = checkpoint.read_header(path).progress.get("score")
    except CheckpointError:
        return None
    value = found.get("value") if isinstance(found, dict) else None
    if isinstance(found, dict) and isinstance(found.get("metric"), str) and isinstance(value, (int, float)):
        return found["metric"], float(found["value"])
    return None


class BestKeeper:
    def __init__(self, run_dir: Path, emit: Callable[[dict[str, Any]], None]) -> None:
        self.path, self.emit = run_dir / BEST, emit
        self.best = recorded_best(self.path)

    def offer(self, step: int, scores: dict[str, Any], capture: Callable[[dict[str, Any]], checkpoint.Checkpoint]
              ) -> bool:
        """Save `capture(extra_progress)` as best.safetensors when these scores beat the best; True if saved."""
        got = headline(scores)
        if got is None:
            return False
        metric, value = got
        if self.best is not None and self.best[0] == metric and value >= self.best[1]:
            return False
        size = checkpoint.save(self.path, capture({"score": {"metric": metric, "value": value}}))
        self.best = (metric, value)
        self.emit({"event": "best", "step": step, "metric": metric, "value": value, "path": str(self.path),
                   "bytes": size})
        return True
