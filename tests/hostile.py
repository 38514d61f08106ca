"""Hand-made bad checkpoints: byte-level edits of a good one, and pickles that would run code if loaded.

Shared by the inspect tests and the hardening matrix, so every command that reads a checkpoint meets the
same cases.
"""

from __future__ import annotations

import json
import pickle
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def split(data: bytes) -> tuple[dict[str, Any], bytes]:
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + n]), data[8 + n :]


def join(header: dict[str, Any] | str, body: bytes) -> bytes:
    raw = (header if isinstance(header, str) else json.dumps(header)).encode()
    return struct.pack("<Q", len(raw)) + raw + body


def edit_meta(data: bytes, fn: Callable[[dict[str, Any]], None]) -> bytes:
    header, body = split(data)
    fn(header["__metadata__"])
    return join(header, body)


def duplicate_key(data: bytes) -> bytes:
    header, body = split(data)
    name = next(k for k in header if k != "__metadata__")
    text = json.dumps(header)
    entry = json.dumps({name: header[name]})[1:-1]
    return join(text[:-1] + ", " + entry + "}", body)


def nan_tensor(data: bytes) -> bytes:
    header, body = split(data)
    start = header["G.main.0.weight"]["data_offsets"][0]
    body = body[:start] + struct.pack("<f", float("nan")) + body[start + 4 :]
    return join(header, body)


class Evil:
    """Unpickling this creates the file PWNED: proof that a loader ran the pickle."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.target), "w"))


def zipped_pickle(target: Path) -> bytes:
    path = target.parent / "z.zip"
    with zipfile.ZipFile(path, "w") as z:  # the layout torch.save writes
        z.writestr("archive/data.pkl", pickle.dumps(Evil(target)))
    return path.read_bytes()


BAD: dict[str, Callable[[bytes, Path], bytes]] = {
    "pickle": lambda good, pwned: pickle.dumps({"G": Evil(pwned)}),
    "zip": lambda good, pwned: zipped_pickle(pwned),
    "truncated": lambda good, pwned: good[:-5],
    "truncated_header": lambda good, pwned: good[:100],
    "empty": lambda good, pwned: b"",
    "giant_header_length": lambda good, pwned: struct.pack("<Q", 2**63) + good[8:],
    "header_longer_than_file": lambda good, pwned: struct.pack("<Q", len(good)) + good[8:],
    "duplicate_keys": lambda good, pwned: duplicate_key(good),
    "non_string_metadata": lambda good, pwned: edit_meta(good, lambda m: m.update(format_version=1)),
    "missing_key": lambda good, pwned: edit_meta(good, lambda m: m.pop("config")),
    "no_metadata": lambda good, pwned: edit_meta(good, lambda m: m.clear()),
    "future_format": lambda good, pwned: edit_meta(good, lambda m: m.update(format_version="99")),
    "bad_json_config": lambda good, pwned: edit_meta(good, lambda m: m.update(config="{")),
}
