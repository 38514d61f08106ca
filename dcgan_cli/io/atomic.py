"""Writing files so that a reader, or the next run after a crash, sees the old file or the whole new one.

Standard library only: the torch-free paths (`inspect`) and every module that writes share it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from dcgan_cli.errors import OutputError


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


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable. Best effort: some filesystems refuse to fsync a directory, and by then
    the new file is already complete in its place."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
