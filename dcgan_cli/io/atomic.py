"""Writing files so that a reader, or the next run after a crash, sees the old file or the whole new one.

One routine for every writer (checkpoints, the decode cache, grids, manifests, outputs): a temp file in the same
folder, renamed over the target. Standard library only: the torch-free paths (`inspect`) share it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from dcgan_cli.errors import OutputError


def temp_path(path: Path) -> Path:
    """`.NAME.PID.tmp` beside `path`: hidden from `ls` and from the image scan, and recognisable as debris."""
    return path.parent / f".{path.name}.{os.getpid()}.tmp"


@contextlib.contextmanager
def atomic_path(path: Path, *, durable: bool = False, before_replace: Callable[[], None] | None = None,
                what: str = "") -> Iterator[Path]:
    """Yield a temp path to write; on success rename it over `path`, on any failure remove it.

    `durable` fsyncs the file before the rename and the folder after it, so the new file survives a power cut
    (checkpoints, the decode cache); plain outputs skip that cost. `before_replace` runs between the two: the
    fault-injection hook of the checkpoint tests. OSError becomes OutputError ("could not write WHAT PATH: why");
    anything else propagates as is.
    """
    tmp = temp_path(path)
    try:
        yield tmp
        if durable:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        if before_replace is not None:
            before_replace()
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):  # the folder itself may be what failed
            tmp.unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise OutputError(f"could not write {what + ' ' if what else ''}{path}: {e.strerror or e}") from None
        raise
    if durable:
        fsync_dir(path.parent)


def write_atomic(path: Path, data: bytes, *, durable: bool = False) -> None:
    """Write `data` to `path` through atomic_path."""
    with atomic_path(path, durable=durable) as tmp:
        tmp.write_bytes(data)


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable. Best effort: some filesystems refuse to fsync a directory, and by then
    the new file is already complete in its place."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
