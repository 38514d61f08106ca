"""One writer per run folder: an advisory lock (`flock`) on RUN_DIR/.lock, taken before the trainer writes
anything there and held until it ends.

flock is released by the kernel when the process dies however it dies, so a lock left by a killed trainer never
blocks the next one (no stale-lock clean-up to get wrong). The file holds the holder's pid and host, which the
refusal names. Readers (`sample`, `inspect`, `evaluate`) take no lock: they only read the atomically replaced
checkpoint. Where flock does not exist (Windows) or the file system refuses it, training goes on unlocked.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from dcgan_cli.errors import OptionError, OutputError

LOCK = ".lock"


@contextlib.contextmanager
def run_lock(folder: Path, enabled: bool = True) -> Iterator[None]:
    """Hold the run folder's lock for the block (made with its parents if missing); UsageError if it is held."""
    if not enabled:
        yield
        return
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise OutputError(f"cannot create run folder {folder}: {e.strerror or e}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            raise OptionError("out", f"{folder} is being written by another trainer ({holder}); wait for it to "
                              "finish, or choose another <out>") from None
        except OSError:  # e.g. a network file system without flock: carry on without the guarantee
            pass
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock; the file stays (removing it would race with the next trainer)
