"""The training set: decoded once, up front, into an on-disk image store (data/store), optionally kept as the
decode cache, and read from there; small sets are then loaded into memory, where indexing is cheapest.

Decoding a folder of photos costs seconds to minutes, while reading the decoded set costs a fraction of that;
so every epoch reads decoded pixels, and a rerun with unchanged files and settings reads the cache. Memory stays
flat in the number of images: decoded images go to disk as they come, and a large set is read batch by batch.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from pathlib import Path

from dcgan_cli import faults
from dcgan_cli.data.archive import ArchiveLimits, read_members, scan_archive
from dcgan_cli.data.decode import PIPELINE_VERSION, Decoded, SkippedImage, Source, decode_many
from dcgan_cli.data.report import DataReport
from dcgan_cli.data.scan import IMAGE_EXTENSIONS, Scan, is_archive, scan_folder
from dcgan_cli.data.store import STORE_FORMAT, DiskImages, ImageArray, StoreWriter, open_store
from dcgan_cli.errors import DataError, OutputError
from dcgan_cli.io.atomic import atomic_path, fsync_dir
from dcgan_cli.io.text import printable
from dcgan_cli.paths import require_images

CACHE_UNREADABLE = "cache unreadable (rebuilt)"
IN_MEMORY_MAX_BYTES = 256 << 20  # a decoded set up to this size is held in memory (benchmarks/RESULTS.md)


@dataclass
class ImageSet:
    images: ImageArray
    report: DataReport

    def close(self) -> None:
        """Release the store's file (an uncached one is deleted with it); in-memory sets need nothing."""
        if isinstance(self.images, DiskImages):
            self.images.close()


def load_images(
    root: Path,
    image_size: int,
    channels: int | None,
    *,
    workers: int = 2,
    cache_dir: Path | None = None,
    scratch_dir: Path | None = None,
    max_pixels: int = 64_000_000,
    background: tuple[int, int, int] = (255, 255, 255),
    on_progress: Callable[[int, int], None] | None = None,
    in_memory_max: int = IN_MEMORY_MAX_BYTES,
    limits: ArchiveLimits = ArchiveLimits(),
) -> ImageSet:
    """Decode every usable image in a folder or an archive (.zip, .tar, .tar.gz, ...) to (N, C, S, S) uint8;
    channels=None picks 1 only if all are gray. Without `cache_dir` (or when it cannot be written) the store is
    an unlinked temp file in `scratch_dir` (default: the system's temp folder), gone when the set is closed."""
    start = time.perf_counter()
    if channels not in (None, 1, 3):
        raise ValueError(f"channels must be 1, 3 or None, got {channels!r}")
    if image_size < 1 or max_pixels < 1 or in_memory_max < 0:
        raise ValueError("image_size and max_pixels must be positive, in_memory_max >= 0")
    if len(background) != 3 or not all(0 <= int(c) <= 255 for c in background):
        raise ValueError(f"background must be three values in 0..255, got {background!r}")
    background = (int(background[0]), int(background[1]), int(background[2]))
    root = require_images(root, "root")
    archive = is_archive(root)
    scan = scan_archive(root, limits) if archive else scan_folder(root)
    settings = [PIPELINE_VERSION, image_size, channels, list(background), max_pixels, scan.fingerprint]
    key = hashlib.sha256(json.dumps(settings).encode()).hexdigest()
    cache_path = Path(cache_dir) / "datasets" / f"{key}.{STORE_FORMAT}" if cache_dir is not None else None
    cache_notes: dict[str, list[str]] = defaultdict(list)  # about this run's cache use only

    if cache_path is not None and cache_path.exists():
        try:
            cached, report = open_store(cache_path, key, image_size)
        except (OSError, ValueError):  # damage just means "decode again"
            cache_notes[CACHE_UNREADABLE].append(printable(str(cache_path)))
        else:
            report.root, report.from_cache = printable(str(root)), True
            report.seconds = time.perf_counter() - start
            if on_progress is not None:
                on_progress(report.found, report.found)
            return ImageSet(_hold(cached, in_memory_max), report)

    build = _Build(root, scan, image_size, channels, key)

    def decode(fd: int) -> tuple[int, int, int, int]:
        items: Iterable[tuple[int, Source | SkippedImage]] = read_members(root, scan, limits) if archive else (
            (k, entry.fspath) for k, entry in enumerate(scan.images))
        return build.into(fd, decode_many(items, len(scan.images), image_size, channels, background, max_pixels,
                                          workers, on_progress))

    store = None
    if cache_path is not None:
        try:
            cache_path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(cache_path, what="decode cache") as tmp:
                fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
                try:
                    store = DiskImages(fd, decode(fd))  # the fd stays valid across the rename
                except BaseException:
                    os.close(fd)
                    raise
            fsync_dir(cache_path.parent)
        except (OutputError, OSError) as exc:  # a read-only or full cache folder: decode into scratch instead
            why = getattr(exc, "strerror", None) or getattr(exc.__context__, "strerror", None) or str(exc)
            cache_notes[f"cache not written ({why})"].append(printable(str(cache_path)))
    if store is None:  # else it is complete, and at worst only its rename failed: it is read, unlinked
        store = DiskImages(*_scratch(scratch_dir, decode))
    report = build.report
    report.warnings.update((note, rels) for note, rels in sorted(cache_notes.items()))
    report.seconds = time.perf_counter() - start
    return ImageSet(_hold(store, in_memory_max), report)


def _scratch(folder: Path | None, decode: Callable[[int], tuple[int, int, int, int]]
             ) -> tuple[int, tuple[int, int, int, int]]:
    """Decode into a temp file that is unlinked at once: the kernel frees it when the last fd closes, even after
    a SIGKILL, so no run leaves one behind."""
    try:
        fd, name = tempfile.mkstemp(prefix=".dcgan-images-", dir=folder)
        os.unlink(name)
    except OSError as exc:
        raise DataError(f"no room for the decoded images in {folder or tempfile.gettempdir()}: "
                        f"{exc.strerror or exc}") from None
    try:
        return fd, decode(fd)
    except OSError as exc:
        os.close(fd)
        raise DataError(f"could not store the decoded images: {exc.strerror or exc}") from None
    except BaseException:
        os.close(fd)
        raise


def _hold(store: DiskImages, in_memory_max: int) -> ImageArray:
    """Small sets in memory (plain tensor indexing is cheapest), large ones read from the store by position."""
    forced = faults.value("in_memory_max")  # the tests' switch: train a tiny set from the store, or hold a big one
    if store.nbytes > (in_memory_max if forced is None else forced):
        return store
    images = store.load()
    store.close()
    return images


class _Build:
    """One decode into a store: the per-file skips and warnings, then the report."""

    def __init__(self, root: Path, scan: Scan, image_size: int, channels: int | None, key: str) -> None:
        self.root, self.scan, self.image_size, self.channels, self.key = root, scan, image_size, channels, key
        self.report = DataReport(root=printable(str(root)), found=len(scan.images), used=0,
                                 other_files=scan.other_files, skipped={}, warnings={}, channels=0,
                                 image_size=image_size, fingerprint=scan.fingerprint, from_cache=False, seconds=0.0)

    def into(self, fd: int, results: Generator[tuple[int, Decoded | SkippedImage], None, None]
             ) -> tuple[int, int, int, int]:
        scan, size = self.scan, self.image_size
        writer = StoreWriter(fd, len(scan.images), size, 1 if self.channels == 1 else 3)
        skipped: dict[str, list[str]] = defaultdict(list)
        notes: dict[str, list[str]] = defaultdict(list)  # per-file warnings: kept in the store's report
        for folder in scan.unreadable_dirs:
            notes["unreadable folder"].append(folder)
        with contextlib.closing(results):
            for index, result in results:
                rel = printable(scan.images[index].rel)
                if isinstance(result, SkippedImage):
                    skipped[result.reason].append(rel)
                    continue
                writer.put(index, result.data, result.mode)
                for note in result.warnings:
                    notes[note].append(rel)
        if not any(writer.modes):
            raise DataError(_no_images_message(self.root, len(scan.images), scan.other_files, skipped))
        self.report.skipped = {reason: sorted(rels) for reason, rels in sorted(skipped.items())}
        self.report.warnings = {note: sorted(rels) for note, rels in sorted(notes.items())}
        n, c = writer.finish(self.channels, self.key, self.report)
        return n, c, size, size


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
