"""The decoded set on disk: written image by image as decoding finishes them, then read by position, so neither
decoding nor training holds the set in memory (CelebA at 128 px is 10 GB).

File layout (`.dcgan-images`): a 64-byte preamble (magic, then the offset and length of a JSON header), the
pixels as uint8 (N, C, S, S) from byte 4096, then the JSON header (the cache key, the shape and the DataReport).
The header comes last because N, C and the report are known only when decoding ends; the preamble is written
last of all, so a file cut short anywhere has none and reads as "decode again".

Decoding writes each image into its slot of a staging area (slot = its index in the scan, sized for RGB unless
the set is gray), in whatever order the workers finish; `finish` then compacts in place, in index order, dropping
the skipped slots and turning HWC bytes into CHW (gray broadcast to RGB when the set is mixed). Output k never
reaches past slot k's end, so compaction never overwrites a slot it has yet to read.

Reading uses os.preadv into a fresh buffer, not mmap: both go through the kernel's page cache, which every process
on a node shares, but mapped pages count in each process's RSS (and so in the OOM killer's sums), which would
make every trainer look as large as the data set.
"""

from __future__ import annotations

import json
import operator
import os
import struct
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path

import numpy as np
import torch

from dcgan_cli.data.report import DataReport

STORE_FORMAT = "dcgan-images"
STORE_VERSION = 1
DATA_OFFSET = 4096  # page-aligned pixels
_PREAMBLE = struct.Struct("<8sQQ")  # magic, JSON offset, JSON length
_MAGIC = b"DCGANIMG"


class StoreWriter:
    """A staging area for `slots` images of size x size with up to `bands` channels, in an open file descriptor."""

    def __init__(self, fd: int, slots: int, size: int, bands: int) -> None:
        self.fd, self.size, self.bands = fd, size, bands
        self.slot_bytes = size * size * bands
        self.modes = bytearray(slots)  # 0: nothing (skipped), else the band count written there
        os.ftruncate(fd, DATA_OFFSET + slots * self.slot_bytes)  # sparse: only what is written takes disk

    def put(self, index: int, hwc: bytes, mode: str) -> None:
        bands = 1 if mode == "L" else 3
        if len(hwc) != self.size * self.size * bands or bands > self.bands:
            raise ValueError(f"image {index}: {len(hwc)} bytes of mode {mode} do not fit a {self.bands}-band slot")
        _write(self.fd, hwc, DATA_OFFSET + index * self.slot_bytes)
        self.modes[index] = bands

    def finish(self, channels: int | None, key: str, report: DataReport) -> tuple[int, int]:
        """Compact to (N, C, S, S) and write the header; returns (N, C). channels None: 3 if any image is RGB."""
        used = [k for k, bands in enumerate(self.modes) if bands]
        out_c = channels or (3 if any(self.modes[k] == 3 for k in used) else 1)
        plane = self.size * self.size
        for out, k in enumerate(used):
            bands = self.modes[k]
            hwc = np.frombuffer(os.pread(self.fd, plane * bands, DATA_OFFSET + k * self.slot_bytes), np.uint8)
            chw = np.broadcast_to(hwc.reshape(self.size, self.size, bands).transpose(2, 0, 1),
                                  (out_c, self.size, self.size))
            _write(self.fd, np.ascontiguousarray(chw).tobytes(), DATA_OFFSET + out * out_c * plane)
        end = DATA_OFFSET + len(used) * out_c * plane
        os.ftruncate(self.fd, end)
        report.used, report.channels = len(used), out_c
        header = json.dumps({"format": STORE_FORMAT, "version": STORE_VERSION, "key": key,
                             "shape": [len(used), out_c, self.size, self.size], "report": report.to_dict()}).encode()
        _write(self.fd, header, end)
        os.fsync(self.fd)  # the pixels and header are on disk before a preamble claims they are
        _write(self.fd, _PREAMBLE.pack(_MAGIC, end, len(header)), 0)
        return len(used), out_c


def _write(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view.nbytes:  # pwrite may write less than asked (a signal, a nearly full disk)
        done = os.pwrite(fd, view, offset)
        view, offset = view[done:], offset + done


def open_store(path: Path, key: str, image_size: int) -> tuple[DiskImages, DataReport]:
    """A finished store of this data set and its report; ValueError for anything else (another set, a torn or
    foreign file), OSError when it cannot be read."""
    fd = os.open(path, os.O_RDONLY)
    try:
        shape, report = _read_header(fd, key, image_size)
    except (KeyError, TypeError, struct.error) as exc:
        os.close(fd)
        raise ValueError(f"not a dcgan image store ({type(exc).__name__})") from None
    except BaseException:
        os.close(fd)
        raise
    return DiskImages(fd, shape), report


def _read_header(fd: int, key: str, image_size: int) -> tuple[tuple[int, int, int, int], DataReport]:
    magic, offset, length = _PREAMBLE.unpack(os.pread(fd, _PREAMBLE.size, 0))
    size = os.fstat(fd).st_size
    if magic != _MAGIC or offset < DATA_OFFSET or offset + length != size or length > 1 << 30:
        raise ValueError("not a finished dcgan image store")
    meta = json.loads(os.pread(fd, length, offset))
    if not isinstance(meta, dict) or meta.get("format") != STORE_FORMAT or meta.get("key") != key:
        raise ValueError("the image store is not this data set")
    shape = tuple(int(x) for x in meta["shape"])
    raw = meta["report"]
    if not isinstance(raw, dict) or set(raw) != {f.name for f in fields(DataReport)}:
        raise ValueError("the image store's report has unexpected fields")
    n, c, h, w = shape
    if (h, w) != (image_size, image_size) or c not in (1, 3) or DATA_OFFSET + n * c * h * w != offset:
        raise ValueError(f"the image store's shape {list(shape)} does not match its size")
    return (n, c, h, w), DataReport(**raw)


class DiskImages:
    """A uint8 (N, C, S, S) set read from a store by position: indexing by an int, a slice or a sequence of ints
    gives a tensor, as indexing the in-memory tensor would. Owns `fd` and closes it."""

    def __init__(self, fd: int, shape: tuple[int, int, int, int]) -> None:
        self.fd, self.shape = fd, torch.Size(shape)
        self.item_bytes = shape[1] * shape[2] * shape[3]

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def nbytes(self) -> int:
        return self.shape[0] * self.item_bytes

    def __getitem__(self, index: int | slice | Sequence[int] | torch.Tensor) -> torch.Tensor:
        n = self.shape[0]
        if isinstance(index, slice):
            start, stop, step = index.indices(n)
            if step != 1:
                return self._read(range(start, stop, step))
            count = max(stop - start, 0)  # a run of images: one read
            out = np.empty((count, *self.shape[1:]), np.uint8)
            if count:
                self._fill(out.data.cast("B"), DATA_OFFSET + start * self.item_bytes)
            return torch.from_numpy(out)
        if isinstance(index, torch.Tensor):
            index = index.tolist()  # a 0-d tensor gives an int, any other a (nested) list
        if not isinstance(index, Sequence):
            k = operator.index(index)  # int, numpy integers
            return self._read([self._check(k, n)])[0]
        return self._read([self._check(operator.index(k), n) for k in index])

    @staticmethod
    def _check(k: int, n: int) -> int:
        if not -n <= k < n:
            raise IndexError(f"index {k} is out of range for {n} images")
        return k % n

    def _read(self, picks: Sequence[int]) -> torch.Tensor:
        out = np.empty((len(picks), *self.shape[1:]), np.uint8)
        view = out.data.cast("B")
        size = self.item_bytes
        for slot, k in enumerate(picks):
            self._fill(view[slot * size : (slot + 1) * size], DATA_OFFSET + k * size)
        return torch.from_numpy(out)

    def _fill(self, view: memoryview, offset: int) -> None:
        while view.nbytes:  # preadv may return short on some filesystems
            got = os.preadv(self.fd, [view], offset)
            if got <= 0:
                raise OSError(f"the image store ended early at byte {offset}")
            view, offset = view[got:], offset + got

    def load(self) -> torch.Tensor:
        """The whole set in memory (small sets: one read, then plain tensor indexing)."""
        return self[:]

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __del__(self) -> None:
        self.close()


ImageArray = torch.Tensor | DiskImages  # a decoded set: uint8 (N, C, S, S), indexed by int, slice or ints
