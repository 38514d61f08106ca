"""The training set: decoded once, up front, into one uint8 tensor, optionally cached as safetensors.

Decoding a folder of photos costs seconds to minutes, while the decoded set (10k x 3 x 64 x 64 = 123 MB) loads in
a fraction of a second; so every epoch reads memory, and a rerun with unchanged files and settings reads the cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from dcgan_cli.data.cache import PIPELINE_VERSION, read_cache, write_cache
from dcgan_cli.data.decode import Decoded, SkippedImage, decode_many
from dcgan_cli.data.report import DataReport
from dcgan_cli.data.scan import IMAGE_EXTENSIONS, ScanEntry, scan_folder
from dcgan_cli.errors import DataError, UsageError
from dcgan_cli.io.text import printable

CACHE_UNREADABLE = "cache unreadable (rebuilt)"


@dataclass
class ImageSet:
    images: torch.Tensor  # uint8 (N, C, S, S), contiguous
    report: DataReport


def load_images(
    root: Path,
    image_size: int,
    channels: int | None,
    *,
    workers: int = 2,
    cache_dir: Path | None = None,
    max_pixels: int = 64_000_000,
    background: tuple[int, int, int] = (255, 255, 255),
    on_progress: Callable[[int, int], None] | None = None,
) -> ImageSet:
    """Decode every usable image under root to (N, C, S, S) uint8; channels=None picks 1 only if all are gray."""
    start = time.perf_counter()
    if channels not in (None, 1, 3):
        raise ValueError(f"channels must be 1, 3 or None, got {channels!r}")
    if image_size < 1 or max_pixels < 1:
        raise ValueError("image_size and max_pixels must be positive")
    if len(background) != 3 or not all(0 <= int(c) <= 255 for c in background):
        raise ValueError(f"background must be three values in 0..255, got {background!r}")
    background = (int(background[0]), int(background[1]), int(background[2]))
    root = Path(root)
    if not root.exists():
        raise UsageError(f"no such folder: {printable(str(root))}")
    if not root.is_dir():
        raise UsageError(f"not a folder: {printable(str(root))}")
    scan = scan_folder(root)
    fingerprint = _fingerprint(scan.images)
    settings = [PIPELINE_VERSION, image_size, channels, list(background), max_pixels, fingerprint]
    key = hashlib.sha256(json.dumps(settings).encode()).hexdigest()
    cache_path = Path(cache_dir) / "datasets" / f"{key}.safetensors" if cache_dir is not None else None
    notes: dict[str, list[str]] = defaultdict(list)  # per-file warnings: cached with the report
    cache_notes: dict[str, list[str]] = defaultdict(list)  # about this run's cache use only
    for folder in scan.unreadable_dirs:
        notes["unreadable folder"].append(folder)

    if cache_path is not None and cache_path.exists():
        try:
            images, report = read_cache(cache_path, key, image_size)
        except Exception:  # noqa: BLE001  any damage just means "decode again"; the write below replaces it
            cache_notes[CACHE_UNREADABLE].append(printable(str(cache_path)))
        else:
            report.root, report.from_cache = printable(str(root)), True
            report.seconds = time.perf_counter() - start
            if on_progress is not None:
                on_progress(report.found, report.found)
            return ImageSet(images, report)

    decoded: list[Decoded | None] = [None] * len(scan.images)
    skipped: dict[str, list[str]] = defaultdict(list)
    paths = [entry.fspath for entry in scan.images]
    with contextlib.closing(
        decode_many(paths, image_size, channels, background, max_pixels, workers, on_progress)
    ) as results:
        for index, result in results:
            rel = printable(scan.images[index].rel)
            if isinstance(result, SkippedImage):
                skipped[result.reason].append(rel)
            else:
                decoded[index] = result
                for note in result.warnings:
                    notes[note].append(rel)
    usable: list[Decoded | None] = [item for item in decoded if item is not None]
    del decoded
    if not usable:
        raise DataError(_no_images_message(root, len(scan.images), scan.other_files, skipped))
    images = _stack(usable, image_size, channels)
    report = DataReport(
        root=printable(str(root)),
        found=len(scan.images),
        used=images.shape[0],
        other_files=scan.other_files,
        skipped={reason: sorted(rels) for reason, rels in sorted(skipped.items())},
        warnings={note: sorted(rels) for note, rels in sorted(notes.items())},
        channels=images.shape[1],
        image_size=image_size,
        fingerprint=fingerprint,
        from_cache=False,
        seconds=0.0,
    )
    if cache_path is not None:
        try:
            write_cache(cache_path, key, images, report)
        except Exception as exc:  # noqa: BLE001  a read-only or full cache folder costs speed next time only
            # io.atomic's OutputError keeps the OSError it replaced as its context
            why = getattr(exc, "strerror", None) or getattr(exc.__context__, "strerror", None) or type(exc).__name__
            cache_notes[f"cache not written ({why})"].append(printable(str(cache_path)))
    report.warnings.update((note, rels) for note, rels in sorted(cache_notes.items()))
    report.seconds = time.perf_counter() - start
    return ImageSet(images, report)


def _fingerprint(entries: list[ScanEntry]) -> str:
    digest = hashlib.sha256()
    for entry in entries:  # already sorted by relative path
        digest.update(os.fsencode(entry.rel) + b"\0" + f"{entry.size}:{entry.mtime_ns}\n".encode())
    return digest.hexdigest()


def _stack(usable: list[Decoded | None], size: int, channels: int | None) -> torch.Tensor:
    """(N, C, S, S) from HWC bytes; gray images are broadcast to RGB when the set is mixed."""
    gray = [k for k, item in enumerate(usable) if item is not None and item.mode == "L"]
    color = [k for k, item in enumerate(usable) if item is not None and item.mode != "L"]
    out_channels = channels or (3 if color else 1)
    out = torch.empty((len(usable), out_channels, size, size), dtype=torch.uint8)
    for indices, band_count in ((color, 3), (gray, 1)):
        if not indices:
            continue
        per_image = size * size * band_count
        buffer = bytearray(len(indices) * per_image)
        view = memoryview(buffer)
        for slot, k in enumerate(indices):
            item, usable[k] = usable[k], None  # free as we go: peak stays near 2x the set
            assert item is not None
            view[slot * per_image : (slot + 1) * per_image] = item.data
        block = torch.frombuffer(buffer, dtype=torch.uint8).view(len(indices), size, size, band_count)
        out[torch.tensor(indices)] = block.permute(0, 3, 1, 2)  # 1 band broadcasts to 3 when mixed
    return out


def _no_images_message(root: Path, found: int, other: int, skipped: dict[str, list[str]]) -> str:
    where = printable(str(root))
    if found == 0:
        looked = " ".join(sorted(IMAGE_EXTENSIONS))
        return (
            f"no images found in {where}: 0 image files found (looked for {looked}), {other} other files ignored"
        )
    counts = sorted(((len(rels), reason) for reason, rels in skipped.items()), key=lambda c: (-c[0], c[1]))
    top = ", ".join(f"{reason} {count}" for count, reason in counts[:5])
    more = f", {len(counts) - 5} more reasons" if len(counts) > 5 else ""
    return f"no usable images in {where}: {found} image files found, skipped: {top}{more}"
