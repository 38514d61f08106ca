"""Where generated images go: a folder of PNGs (streamed), one grid, or a GIF.

Each sink takes batches as they are made and returns the bytes of a single-file output (or None) at the end.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch

from dcgan_cli.errors import OptionError, OutputError
from dcgan_cli.io.atomic import write_atomic
from dcgan_cli.io.images import GridCanvas, encode_pngs, gif_bytes, tensor_png, to_pil

MANIFEST = "manifest.json"
MAX_GRID_BYTES = 512 * 1024 * 1024  # a grid is held whole in memory (a folder streams instead)


class FolderSink:
    """One PNG per image, written (atomically) by a background thread while the next batch renders.

    torch releases the GIL inside the forward pass, so encoding batch k overlaps rendering batch k+1. At most
    one batch waits in the writer, which keeps memory flat however many images are asked for.
    """

    def __init__(self, folder: Path, names: dict[int, str], manifest: dict[str, Any]) -> None:
        self.folder, self.names, self.manifest = folder, names, manifest
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="png-writer")
        self.pending: Future[None] | None = None

    def _write(self, keys: Sequence[int], images: torch.Tensor) -> None:
        for key, data in zip(keys, encode_pngs(images)):
            write_atomic(self.folder / self.names[key], data)

    def _wait(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            pending.result()  # re-raises the writer's OutputError here, in the caller's thread

    def add(self, keys: Sequence[int], images: torch.Tensor) -> None:
        self._wait()
        self.pending = self.writer.submit(self._write, list(keys), images)

    def finish(self) -> None:
        try:
            self._wait()
        finally:
            self.writer.shutdown(wait=True)
        write_atomic(self.folder / MANIFEST, (json.dumps(self.manifest, indent=1) + "\n").encode())


class GridSink:
    """One grid filled batch by batch (images.GridCanvas): only the uint8 canvas is held."""

    def __init__(self, n: int, shape: tuple[int, int, int], nrow: int) -> None:
        self.canvas = GridCanvas(n, shape, nrow)

    def add(self, keys: Sequence[int], images: torch.Tensor) -> None:
        for image in images:
            self.canvas.add(image)

    def finish(self) -> bytes:
        return tensor_png(self.canvas.image)


class GifSink:
    """Frames of an animation, kept as small palette-ready images until the GIF is encoded."""

    def __init__(self, fps: int) -> None:
        self.fps = fps
        self.frames: list[Any] = []

    def add(self, keys: Sequence[int], images: torch.Tensor) -> None:
        self.frames += [to_pil(image) for image in images]

    def finish(self) -> bytes:
        return gif_bytes(self.frames, round(1000 / self.fps), loop=True)


def open_sink(kind: str, out: Path | None, n: int, shape: tuple[int, int, int], nrow: int | None,
              names: dict[int, str], manifest: dict[str, Any], fps: int = 12) -> FolderSink | GridSink | GifSink:
    """The sink for an output kind: 'dir' (made here), '.gif', or a grid ('.png' or 'stdout')."""
    if kind == "dir":
        assert out is not None
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OutputError(f"cannot create folder {out}: {e.strerror or e}") from None
        return FolderSink(out, names, manifest)
    if kind == ".gif":
        return GifSink(fps)
    nrow = nrow if nrow is not None else max(1, math.ceil(math.sqrt(n)))  # about square by default
    c, h, w = GridCanvas.shape(n, shape, nrow)
    if c * h * w > MAX_GRID_BYTES:
        raise OptionError("output", f"a grid of {n} images of {shape[1]}x{shape[2]} would be {w}x{h} pixels; "
                                    "write a folder instead (a path ending in '/')")
    return GridSink(n, shape, nrow)
