"""Training images straight from a .zip or .tar (.tar.gz, .tgz, .tar.bz2, .tar.xz): members are listed and read
without extracting anything, so a data set travels as one file and never touches the disk unpacked.

An archive is untrusted input, so the listing is guarded before a byte is decompressed: a cap on the number of
members, a cap on their total declared size, and for zip, members whose compressed extents add up to more than
the file itself (the overlapping-entry zip bomb) are refused as a whole (DataError). Each member read is bounded
(a member that decompresses past its cap is skipped, whatever its header declared), and a member that cannot be
read is skipped with a reason, like a bad file in a folder. Member names are never used as paths.
Standard library only: decoding happens in data/decode.
"""

from __future__ import annotations

import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from dcgan_cli.data.decode import SkippedImage
from dcgan_cli.data.scan import Scan, ScanEntry, finish, is_hidden, is_image_name
from dcgan_cli.errors import DataError
from dcgan_cli.io.text import printable


@dataclass(frozen=True)
class ArchiveLimits:
    members: int = 2_000_000  # entries of any kind, directories included
    member_bytes: int = 256 << 20  # one image file, uncompressed: a 64-megapixel BMP is 192 MiB
    total_bytes: int = 1 << 40  # everything the archive declares, uncompressed


def scan_archive(path: Path, limits: ArchiveLimits = ArchiveLimits()) -> Scan:
    """The image members, sorted by name as a folder scan sorts files, and a fingerprint of the contents."""
    where = printable(str(path))
    try:
        if path.name.lower().endswith(".zip"):
            return _scan_zip(path, limits, where)
        return _scan_tar(path, limits, where)
    except (OSError, EOFError, zipfile.BadZipFile, tarfile.TarError, zlib.error, ValueError) as exc:
        raise DataError(f"cannot read the archive {where}: {_why(exc)}") from None


def read_members(path: Path, scan: Scan, limits: ArchiveLimits = ArchiveLimits()
                 ) -> Iterator[tuple[int, bytes | SkippedImage]]:
    """(index into scan.images, the member's bytes or why it is skipped), in the order reading is cheapest."""
    if path.name.lower().endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            for k, entry in enumerate(scan.images):
                yield k, _bounded(archive.open, entry.fspath, limits)
        return
    index = {entry.fspath: k for k, entry in enumerate(scan.images)}
    with tarfile.open(path, "r:*") as archive:
        # one pass in archive order: random access into a compressed tar would decompress from the start each time
        while (member := archive.next()) is not None:
            _forget(archive)
            at = index.get(member.name)
            # a name stored twice: the copy the listing kept (the last, as tar -x leaves it) has its size and mtime
            if at is not None and (scan.images[at].size, scan.images[at].version) == (member.size,
                                                                                     _tar_version(member)):
                del index[member.name]
                yield at, _bounded(archive.extractfile, member, limits)
    for k in index.values():  # listed, then gone on the second pass: the archive changed while training started
        yield k, SkippedImage("vanished")


def _scan_zip(path: Path, limits: ArchiveLimits, where: str) -> Scan:
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
    _check_counts(len(infos), sum(info.file_size for info in infos), limits, where)
    if sum(info.compress_size for info in infos) > path.stat().st_size:
        raise DataError(f"refusing the archive {where}: its members overlap (a zip bomb)")
    latest: dict[str, zipfile.ZipInfo] = {}
    for info in infos:  # a name stored twice: the later one, as unzip leaves it
        latest[info.filename] = info
    scan = Scan(root=path)
    for name, info in latest.items():
        rel = name.lstrip("/")
        if info.is_dir() or is_hidden(rel):
            continue
        if not is_image_name(rel):
            scan.other_files += 1
            continue
        scan.images.append(ScanEntry(name, rel, info.file_size, info.CRC))  # the CRC: a checksum of the content
    return finish(scan)


def _scan_tar(path: Path, limits: ArchiveLimits, where: str) -> Scan:
    scan, count, total = Scan(root=path), 0, 0
    latest: dict[str, tarfile.TarInfo] = {}
    with tarfile.open(path, "r:*") as archive:
        while (member := archive.next()) is not None:
            _forget(archive)
            count, total = count + 1, total + max(member.size, 0)
            _check_counts(count, total, limits, where)
            latest[member.name] = member
    for name, member in latest.items():
        rel = name.removeprefix("./").lstrip("/")
        if member.isdir() or is_hidden(rel):
            continue
        if not member.isfile() or not is_image_name(rel):  # links and devices are counted, never read
            scan.other_files += 1
            continue
        scan.images.append(ScanEntry(name, rel, member.size, _tar_version(member)))
    return finish(scan)


def _forget(archive: tarfile.TarFile) -> None:
    """TarFile keeps every header it has read (a million add up); a one-pass reader needs none of them."""
    archive.members.clear()  # type: ignore[attr-defined]  # typeshed omits the attribute; CPython has it


def _tar_version(member: tarfile.TarInfo) -> int:
    """What stands for a file's mtime in the fingerprint: the header's mtime (tar has no checksum of the data)."""
    return int(member.mtime)


def _check_counts(count: int, total: int, limits: ArchiveLimits, where: str) -> None:
    if count > limits.members:
        raise DataError(f"refusing the archive {where}: more than {limits.members} members")
    if total > limits.total_bytes:
        raise DataError(f"refusing the archive {where}: it unpacks to more than {_amount(limits.total_bytes)} "
                        "(a zip bomb?)")


def _bounded(open_member: Callable[[Any], IO[bytes] | None], member: Any, limits: ArchiveLimits
             ) -> bytes | SkippedImage:
    """At most member_bytes of one member, whatever its header says; a damaged member is a skip, not an error."""
    try:
        handle = open_member(member)
        if handle is None:
            return SkippedImage("not a regular file")
        with handle:
            data: bytes = handle.read(limits.member_bytes + 1)
    except (OSError, EOFError, zipfile.BadZipFile, tarfile.TarError, zlib.error, RuntimeError,
            NotImplementedError, ValueError) as exc:  # RuntimeError: encrypted; NotImplementedError: a method
        return SkippedImage("unreadable archive member", _why(exc))
    if len(data) > limits.member_bytes:
        return SkippedImage(f"too large (> {_amount(limits.member_bytes)} uncompressed)")
    if not data:
        return SkippedImage("empty file")
    return data


def _amount(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n} bytes"


def _why(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
