"""`train --tensorboard`: the run's events as TensorBoard scalars and images in RUN_DIR/tensorboard/.

It is one more consumer of the events the live display and `--json` get: `step` rows give the tutorial's four
statistics (Loss_D, Loss_G, D(x), D(G(z)) before and after the D step) and img/s, `eval` rows every numeric score,
`best` the kept best, and `sample` the fixed-noise grid as an image. Only rank 0 sees events, so only rank 0 writes.
On resume the writer purges events past the checkpoint's step (what a killed run logged after its last save), so
one stream per run continues without duplicates. The `tensorboard` package is an optional extra, imported only with
the flag; without it the flag is exit 2 with the install command, before anything is written.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dcgan_cli.errors import UsageError

FOLDER = "tensorboard"
STATS = ("loss_d", "loss_g", "d_x", "d_g_z1", "d_g_z2", "img_per_s", "r1_gamma")  # r1_gamma: when R1 is on
INSTALL = "pip install 'dcgan-cli[tensorboard]'"


def require_tensorboard() -> None:
    try:
        importlib.import_module("tensorboard")  # by name: the package has no type information for mypy
    except ImportError:
        raise UsageError(f"--tensorboard needs the tensorboard extra: {INSTALL}") from None


class TensorBoardSink:
    """Call it with each event; close() flushes. `start_step`: the first step this invocation trains."""

    def __init__(self, run_dir: Path, start_step: int) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(run_dir / FOLDER), purge_step=start_step if start_step > 0 else None)

    def __call__(self, event: dict[str, Any]) -> None:
        kind, step = event.get("event"), event.get("step")
        if not isinstance(step, int):
            return
        if kind == "step":
            for name in STATS:
                if isinstance(event.get(name), (int, float)):
                    self.writer.add_scalar(f"train/{name}", event[name], step)
        elif kind == "eval":
            for name, value in _numbers(event, "eval/"):
                if name not in ("eval/step", "eval/seconds"):
                    self.writer.add_scalar(name, value, step)
        elif kind == "best" and isinstance(event.get("value"), (int, float)):
            self.writer.add_scalar(f"best/{event.get('metric')}", event["value"], step)
        elif kind == "sample" and event.get("path"):
            self._image(Path(str(event["path"])), step)

    def _image(self, path: Path, step: int) -> None:
        import numpy as np
        from PIL import Image

        with Image.open(path) as im:
            pixels = np.asarray(im.convert("RGB"))
        self.writer.add_image("samples/fixed_noise", pixels, step, dataformats="HWC")

    def close(self) -> None:
        self.writer.close()


def tee(first: Callable[[dict[str, Any]], None], sink: TensorBoardSink) -> Callable[[dict[str, Any]], None]:
    def emit(event: dict[str, Any]) -> None:
        sink(event)
        first(event)

    return emit


def _numbers(tree: dict[str, Any], prefix: str) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    for key, value in tree.items():
        if isinstance(value, dict):
            out += _numbers(value, f"{prefix}{key}/")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out.append((f"{prefix}{key}", float(value)))
    return out
