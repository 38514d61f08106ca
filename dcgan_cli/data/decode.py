"""Decode training images with Pillow only, so `--help` paths and decode workers never load torch.

Every image goes through one pipeline: header-size guard, full `load()` (so truncation is caught), EXIF
orientation, explicit mode normalisation (alpha composited, 16-bit scaled), then resize-and-centre-crop in a
single resample. A bad file raises `SkippedImage` with a short reason that is stable enough to group by.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import warnings
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from PIL import Image, UnidentifiedImageError

# Opening is restricted to these plugins: other decoders (FITS, PSD, ...) have had bomb/overflow advisories.
PILLOW_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")
ANIMATED_WARNING = "animated (first frame used)"
EXIF_WARNING = "unreadable EXIF (orientation ignored)"
_ORIENTATION_TAG = 0x0112
_T = Image.Transpose
_TRANSPOSE = {2: _T.FLIP_LEFT_RIGHT, 3: _T.ROTATE_180, 4: _T.FLIP_TOP_BOTTOM, 5: _T.TRANSPOSE, 6: _T.ROTATE_270,
              7: _T.TRANSVERSE, 8: _T.ROTATE_90}  # EXIF orientation -> the transpose that undoes it
_ALPHA_MODES = frozenset({"LA", "La", "PA", "RGBA", "RGBa"})
_KEYED_MODES = frozenset({"L", "RGB", "P"})  # modes whose "transparency" info is a colour key
Background = tuple[int, int, int]
# Bump whenever decoding could produce different pixels for the same file: it invalidates every cache entry.
PIPELINE_VERSION = "decode-v1"
Source = Path | str | bytes  # a file, or the bytes of an archive member


class SkippedImage(Exception):
    """A file that cannot be used; `reason` is short and shared by many files, `detail` is per file."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason, detail)  # both in args so the exception pickles
        self.reason = reason
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}" if self.detail else self.reason


@dataclass(frozen=True)
class Decoded:
    data: bytes  # uint8, row-major HWC as Pillow's tobytes(), exactly image_size x image_size
    mode: str  # "L" or "RGB"
    warnings: tuple[str, ...] = ()


@contextlib.contextmanager
def bombs_are_errors() -> Iterator[None]:
    """Make Pillow's DecompressionBombWarning raise, for this block only (Pillow's own globals stay untouched)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield


def decode_image(
    path: Source,
    image_size: int,
    channels: int | None = None,
    background: Background = (255, 255, 255),
    max_pixels: int = 64_000_000,
) -> Decoded:
    """Decode one file (or a member's bytes) to image_size x image_size uint8 L or RGB, or raise SkippedImage."""
    # catch_warnings edits process-wide state, so thread workers use _decode under one caller-held block.
    with bombs_are_errors():
        return _decode(path, image_size, channels, background, max_pixels)


def _decode(path: Source, size: int, channels: int | None, background: Background, max_pixels: int) -> Decoded:
    if channels not in (None, 1, 3):
        raise ValueError(f"channels must be 1, 3 or None, got {channels!r}")
    notes: list[str] = []
    try:
        with io.BytesIO(path) if isinstance(path, bytes) else open(path, "rb") as fp:
            if (len(path) if isinstance(path, bytes) else os.fstat(fp.fileno()).st_size) == 0:
                raise SkippedImage("empty file")
            with Image.open(fp, formats=PILLOW_FORMATS) as im:
                width, height = im.size
                if width * height > max_pixels:
                    raise SkippedImage(f"too large (> {max_pixels} px)", f"{width} x {height} px")
                if im.format != "MPO" and getattr(im, "is_animated", False):  # MPO: camera previews, not frames
                    notes.append(ANIMATED_WARNING)
                if im.format in ("JPEG", "MPO"):
                    # DCT-domain downscale by up to 8x while both sides stay >= size: most of the decode time.
                    im.draft("L" if channels == 1 and im.mode == "RGB" else None, (size, size))
                im.load()
                frame = _apply_orientation(im, notes)
                # Inside the `with`: closing the file image invalidates its pixels (and GIF frames).
                out = fit(frame, size, channels, background)
    except SkippedImage:
        raise
    except PermissionError as exc:
        raise SkippedImage("permission denied") from exc
    except FileNotFoundError as exc:
        raise SkippedImage("vanished") from exc
    except UnidentifiedImageError as exc:
        raise SkippedImage("not an image") from exc
    except MemoryError as exc:
        raise SkippedImage("too large (out of memory)") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise SkippedImage(f"too large (> {Image.MAX_IMAGE_PIXELS} px)", str(exc)) from exc
    except OSError as exc:
        if exc.errno is not None:  # a real I/O error (EIO, EISDIR), not a decoder complaint
            raise SkippedImage("read error", exc.strerror or "") from exc
        raise SkippedImage("truncated or corrupt", str(exc)) from exc
    except Exception as exc:  # noqa: BLE001  untrusted bytes make plugins raise anything (SyntaxError, ...)
        raise SkippedImage("truncated or corrupt", f"{type(exc).__name__}: {exc}") from exc
    return Decoded(out.tobytes(), out.mode, tuple(notes))


def fit(im: Image.Image, size: int, channels: int | None = None,
        background: Background = (255, 255, 255)) -> Image.Image:
    """A loaded, upright image as training sees it: 8-bit L or RGB (alpha on `background`), the shorter side
    scaled to `size` and centre-cropped; with channels None, RGB whose bands are equal becomes L."""
    try:
        out = _resize_crop(_to_l_or_rgb(im, background), size)
    except ValueError as exc:  # a mode Pillow cannot convert to RGB (e.g. LAB TIFF)
        raise SkippedImage("unsupported format", f"mode {im.mode}") from exc
    if channels == 1 and out.mode != "L":
        out = out.convert("L")
    elif channels == 3 and out.mode != "RGB":
        out = out.convert("RGB")
    elif channels is None and out.mode == "RGB" and _bands_equal(out):
        out = out.getchannel(0)
    return out


def _apply_orientation(im: Image.Image, notes: list[str]) -> Image.Image:
    try:
        orientation = im.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:  # noqa: BLE001  a broken EXIF block should not cost the pixels
        notes.append(EXIF_WARNING)
        return im
    method = _TRANSPOSE.get(orientation)
    return im.transpose(method) if method is not None else im


def _to_l_or_rgb(im: Image.Image, background: Background) -> Image.Image:
    """8-bit L or RGB; the plain convert() would drop alpha (leaking hidden colours) and clip 16-bit to white."""
    mode = im.mode
    if mode in _KEYED_MODES and "transparency" in im.info:
        im, mode = im.convert("RGBA"), "RGBA"
    if mode in _ALPHA_MODES:  # gray-on-gray results come out with equal bands, so auto channels still says L
        rgba = im.convert("RGBA")
        base = Image.new("RGB", im.size, background)
        base.paste(rgba.convert("RGB"), mask=rgba.getchannel("A"))
        return base
    if mode in ("L", "RGB"):
        return im
    if mode == "1":
        return im.convert("L")
    if mode == "P":
        return im.convert("RGB")
    if mode == "I" or mode.startswith("I;16"):
        # Treat every integer mode as 16-bit (PNG/TIFF's only source of them); round(v / 257) maps 65535 to 255.
        return im.convert("I").point(lambda v: v * (1 / 257) + 0.5).convert("L")
    if mode == "F":
        low, high = cast(tuple[float, float], im.getextrema())  # one band: (min, max), not a tuple per band
        scale = 255.0 if 0.0 <= low and high <= 1.0 else 1.0  # float data is either [0, 1] or 8-bit-like
        return im.point(lambda v: v * scale + 0.5).convert("L")
    return im.convert("RGB")  # CMYK, YCbCr, HSV


def _resize_crop(im: Image.Image, size: int) -> Image.Image:
    """Scale the shorter side to size and centre-crop, as one antialiased resample of the centred square."""
    width, height = im.size
    side = min(width, height)
    left, top = (width - side) / 2, (height - side) / 2
    return im.resize((size, size), Image.Resampling.BILINEAR, box=(left, top, left + side, top + side))


def _bands_equal(im: Image.Image) -> bool:
    red, green, blue = (band.tobytes() for band in im.split())
    return red == green == blue


def decode_many(
    items: Iterable[tuple[int, Source | SkippedImage]],
    total: int,
    image_size: int,
    channels: int | None,
    background: Background,
    max_pixels: int,
    workers: int,
    on_progress: Callable[[int, int], None] | None = None,
) -> Generator[tuple[int, Decoded | SkippedImage], None, None]:
    """(index, result) pairs in completion order, for (index, file path or archive member bytes) items (an item that
    is already a SkippedImage passes through). Consume it fully (or close it): it holds bombs_are_errors().

    `items` is pulled lazily from this thread, a few chunks ahead of the workers: an archive is read in one
    sequential pass while the images decode, and at most a few chunks of bytes or results are held at once.

    Threads, not processes: Pillow drops the GIL in decode and resample, while a spawn pool pays worker start-up
    and re-imports __main__ (torch, via the console script). Measured on 2 CPU cores, 300 JPEGs of 1600x1200
    (q90, ~210 KB, page cache warm), img/s to 64x64 [256x256]:
      draft on:  serial 188-205 [135], 2 threads 376-428 [299], 2 spawn processes 320 [248] (incl. start-up)
      draft off: serial 64, 2 threads 107, 2 spawn processes 120
    With both cores busy elsewhere: threads 213 = serial 211 > processes 146. Draft: 3.6 vs 14.3 ms CPU/image.
    """
    # Tasks of several files: per-future overhead and GIL hand-offs otherwise halve throughput on tiny images.
    chunk = max(1, min(16, total // (8 * max(workers, 1))))
    source = iter(items)

    def one(index: int, item: Source | SkippedImage) -> tuple[int, Decoded | SkippedImage]:
        if isinstance(item, SkippedImage):
            return index, item
        try:
            return index, _decode(item, image_size, channels, background, max_pixels)
        except SkippedImage as skip:
            return index, skip

    def run(batch: list[tuple[int, Source | SkippedImage]]) -> list[tuple[int, Decoded | SkippedImage]]:
        return [one(index, item) for index, item in batch]

    with bombs_are_errors():
        done_count = 0
        if workers <= 1 or total <= 1:
            for index, item in source:
                done_count += 1
                yield one(index, item)
                if on_progress is not None:
                    on_progress(done_count, total)
            return
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dcgan-decode") as pool:
            pending: set[Future[list[tuple[int, Decoded | SkippedImage]]]] = set()
            while True:
                # A bounded window keeps only a few chunks of inputs and results waiting, whatever the set's size.
                while len(pending) < 2 * workers and (batch := list(itertools.islice(source, chunk))):
                    pending.add(pool.submit(run, batch))
                if not pending:
                    return
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    for result in future.result():
                        done_count += 1
                        yield result
                        if on_progress is not None:
                            on_progress(done_count, total)
