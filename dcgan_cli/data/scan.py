"""Finding the training images: a recursive, loop-safe walk of a folder that opens no file."""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from dcgan_cli.io.text import printable

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"})
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")  # data/archive reads


@dataclass(frozen=True)
class ScanEntry:
    fspath: str  # as found (root joined with rel; an archive's member name); a str: 10k Paths cost more than the walk
    rel: str  # relative to the root, "/"-separated; may hold surrogate escapes (non-UTF-8 names)
    size: int
    version: int  # what changes when the content does: a file's mtime_ns, a zip member's CRC, a tar member's mtime


@dataclass
class Scan:
    root: Path
    images: list[ScanEntry] = field(default_factory=list)
    other_files: int = 0  # non-image extensions, broken links, devices: counted, never opened
    unreadable_dirs: list[str] = field(default_factory=list)
    fingerprint: str = ""  # hex: what the decode cache is keyed on; never an absolute path


def is_archive(path: Path) -> bool:
    """A file whose name says zip or tar: the training images are read from inside it (data/archive)."""
    return path.is_file() and path.name.lower().endswith(ARCHIVE_SUFFIXES)


def is_hidden(rel: str) -> bool:
    """A dotfile or something in a dot-folder (`.git/`, macOS's `._x.jpg`): never data, not even counted."""
    return any(part.startswith(".") for part in rel.split("/"))


def is_image_name(rel: str) -> bool:
    return os.path.splitext(rel)[1].lower() in IMAGE_EXTENSIONS and not is_hidden(rel)


def finish(scan: Scan) -> Scan:
    """Sort the images by relative name (the decode order, whatever the source) and fingerprint them: sha256 over
    each one's name, size and version, so any renamed, resized or rewritten file makes another cache key."""
    scan.images.sort(key=lambda entry: entry.rel)
    digest = hashlib.sha256()
    for entry in scan.images:
        digest.update(os.fsencode(entry.rel) + b"\0" + f"{entry.size}:{entry.version}\n".encode())
    scan.fingerprint = digest.hexdigest()
    return scan


def scan_folder(root: Path) -> Scan:
    """Every image-extension regular file under root, recursively, sorted by relative path.

    A hand-rolled scandir walk: os.walk plus os.path.relpath cost ~4x more per file, which dominates a cache hit.
    """
    root = Path(root)
    scan = Scan(root=root)
    visited = {os.path.realpath(root)}  # followed symlinked dirs can point back up: never enter a dir twice
    stack = [(os.fspath(root), "")]
    while stack:
        folder, rel_folder = stack.pop()
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError:
            scan.unreadable_dirs.append(printable(rel_folder or "."))
            continue
        for entry in entries:
            if entry.name.startswith("."):  # dotfiles, dot-dirs and macOS AppleDouble "._x.jpg": never data
                continue
            rel = rel_folder + entry.name
            with contextlib.suppress(OSError):
                if entry.is_dir():  # follows symlinks, like the walk as a whole
                    real = os.path.realpath(entry.path)
                    if real not in visited:
                        visited.add(real)
                        stack.append((entry.path, rel + "/"))
                    continue
            st = None
            if is_image_name(entry.name):
                with contextlib.suppress(OSError):
                    st = entry.stat()
            if st is None or not stat.S_ISREG(st.st_mode):
                scan.other_files += 1  # also broken links and FIFOs (which would block a reader forever)
                continue
            scan.images.append(ScanEntry(entry.path, rel, st.st_size, st.st_mtime_ns))
    return finish(scan)
