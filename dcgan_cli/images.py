"""Turning generator output into image files: grids, PNGs, GIFs.

Pure torch + Pillow on purpose: torchvision's `make_grid` would cost a 2-3 s torchvision import (it pulls in
torch._dynamo) for ten lines of tensor reshaping.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image

from dcgan_cli.errors import OutputError


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Generator output in [-1, 1] (N, C, H, W) -> uint8 on the CPU, rounded the same way everywhere."""
    return images.detach().float().cpu().add(1).mul(127.5).round().clamp(0, 255).to(torch.uint8)


class GridCanvas:
    """A grid filled image by image (row-major like torchvision's make_grid), holding only the uint8 canvas.

    A grid of one image is that image with no border, so `-o -` of one seed equals its file in a folder.
    """

    def __init__(self, n: int, shape: tuple[int, int, int], nrow: int = 8, padding: int = 2, pad_value: int = 0):
        self.padding = 0 if n == 1 else padding
        self.ncol, (_, self.h, self.w), self.done = min(nrow, n), shape, 0
        self.image = torch.full(self.shape(n, shape, nrow, padding), pad_value, dtype=torch.uint8)

    @staticmethod
    def shape(n: int, shape: tuple[int, int, int], nrow: int = 8, padding: int = 2) -> tuple[int, int, int]:
        c, h, w = shape
        padding = 0 if n == 1 else padding
        ncol = min(nrow, n)
        return c, -(-n // ncol) * (h + padding) + padding, ncol * (w + padding) + padding

    def add(self, image: torch.Tensor) -> None:
        r, col = divmod(self.done, self.ncol)
        y, x = self.padding + r * (self.h + self.padding), self.padding + col * (self.w + self.padding)
        self.image[:, y : y + self.h, x : x + self.w] = image
        self.done += 1


def grid(images: torch.Tensor, nrow: int = 8, padding: int = 2, pad_value: int = 0) -> torch.Tensor:
    """uint8 (N, C, H, W) -> one uint8 (C, H', W') image."""
    canvas = GridCanvas(images.shape[0], tuple(images.shape[1:]), nrow, padding, pad_value)
    for image in images:
        canvas.add(image)
    return canvas.image


def to_pil(image: torch.Tensor) -> Image.Image:
    """uint8 (C, H, W) with C = 1 or 3 -> a Pillow image (L or RGB)."""
    c = image.shape[0]
    array = image.permute(1, 2, 0).contiguous()
    if c == 1:
        return Image.frombytes("L", (array.shape[1], array.shape[0]), array.numpy().tobytes())
    return Image.frombytes("RGB", (array.shape[1], array.shape[0]), array.numpy().tobytes())


def png_bytes(image: Image.Image) -> bytes:
    """PNG with fixed encoder settings and no time or text chunks, so equal pixels give equal bytes.

    zlib level 1: about 3x faster to encode than the default 6 for ~15% larger files; encoding, not the
    generator, was the bottleneck of `dcgan sample -o DIR/`.
    """
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def write_atomic(path: Path, data: bytes) -> None:
    """Write via a temp file and rename, so a reader never sees half a file."""
    tmp = path.parent / f".{path.name}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):  # the folder itself may be what failed
            tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from None


def save_png(image: Image.Image, path: Path) -> None:
    write_atomic(path, png_bytes(image))


def gif_bytes(frames: Sequence[Image.Image], duration_ms: int, loop: bool = True) -> bytes:
    """An animated GIF; every frame shares the first frame's palette mode so Pillow doesn't re-dither."""
    if not frames:
        raise ValueError("a GIF needs at least one frame")
    rgb = [f.convert("RGB") for f in frames]
    buf = io.BytesIO()
    kwargs = {"loop": 0} if loop else {}
    rgb[0].save(buf, format="GIF", save_all=True, append_images=rgb[1:], duration=duration_ms, disposal=1, **kwargs)
    return buf.getvalue()
