"""Reading a safetensors header safely, before the safetensors library ever sees the file.

Generic to the safetensors framing (8-byte length, JSON header, data buffer); what the keys and metadata of a
dcgan checkpoint must be is checkpoint.py's business. Checked here because safetensors 0.8 accepts duplicate
keys and a header that does not start with `{`, and its errors don't tell a user what happened.
Standard library only: `dcgan inspect` must not import torch.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dcgan_cli.errors import CheckpointError

MAX_HEADER_BYTES = 16 * 1024 * 1024  # ours are ~20 KB; safetensors itself allows 100 MB
DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2, "I32": 4, "U32": 4,
               "F32": 4, "I64": 8, "U64": 8, "F64": 8}


@dataclass(frozen=True)
class TensorInfo:
    dtype: str
    shape: tuple[int, ...]
    start: int
    end: int

    @property
    def numel(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n


def read(path: Path, what: str = "checkpoint") -> tuple[int, int, dict[str, TensorInfo], dict[str, str]]:
    """(file size, header length, tensors, metadata) of a well-formed file; CheckpointError otherwise.

    `what` names the kind of file in messages (a checkpoint, a latents file).
    """
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(8)
            if size < 8 or len(head) < 8:
                raise CheckpointError(f"{path}: not a dcgan {what} (file too small: {size} bytes)")
            (n,) = struct.unpack("<Q", head)
            if n > min(MAX_HEADER_BYTES, size - 8):
                # Sniffed only now: 0x80 is also a valid low byte of a real header length.
                if head.startswith(b"PK\x03\x04") or head[:1] == b"\x80":
                    raise CheckpointError(
                        f"{path}: looks like a PyTorch pickle/zip file; refusing to load it "
                        "(pickle can run code)"
                    )
                raise CheckpointError(
                    f"{path}: not a valid safetensors file (header length {n} is larger than the file or the "
                    f"{MAX_HEADER_BYTES}-byte limit); truncated or corrupt"
                )
            raw = f.read(n)
    except OSError as e:
        raise CheckpointError(f"cannot read {what} {path}: {e.strerror or e}") from None
    tensors, metadata = _parse(path, raw, size - 8 - n, what)
    return size, n, tensors, metadata


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _parse(path: Path, raw: bytes, buffer_size: int, what: str) -> tuple[dict[str, TensorInfo], dict[str, str]]:
    if not raw.startswith(b"{"):
        raise CheckpointError(f"{path}: not a valid safetensors file (header does not start with '{{')")
    try:
        doc = json.loads(raw.decode("utf-8"), object_pairs_hook=_reject_duplicates)
    except (UnicodeDecodeError, ValueError) as e:
        raise CheckpointError(f"{path}: corrupt {what} header ({e})") from None
    if not isinstance(doc, dict):
        raise CheckpointError(f"{path}: corrupt {what} header (not a JSON object)")
    metadata = doc.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise CheckpointError(f"{path}: corrupt {what} header (metadata values must all be strings)")
    tensors: dict[str, TensorInfo] = {}
    for name, entry in doc.items():
        tensors[name] = _tensor_info(path, name, entry, what)
    expected = 0
    for name, info in sorted(tensors.items(), key=lambda kv: kv[1].start):
        if info.start != expected:
            raise CheckpointError(f"{path}: corrupt {what} (tensor {name!r} has bad data offsets)")
        expected = info.end
    if expected != buffer_size:
        raise CheckpointError(
            f"{path}: {what} is truncated or corrupt (data is {buffer_size} bytes, header describes {expected})"
        )
    return tensors, metadata


def _tensor_info(path: Path, name: str, entry: Any, what: str) -> TensorInfo:
    bad = CheckpointError(f"{path}: corrupt {what} header (bad entry for tensor {name!r})")
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise bad
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype not in DTYPE_BYTES or not isinstance(shape, list) or not isinstance(offsets, list):
        raise bad
    if not all(type(s) is int and s >= 0 for s in shape) or len(offsets) != 2:
        raise bad
    if not all(type(o) is int and o >= 0 for o in offsets):
        raise bad
    info = TensorInfo(dtype, tuple(shape), offsets[0], offsets[1])
    if info.end - info.start != info.numel * DTYPE_BYTES[dtype]:
        raise bad
    return info


def format_of(path: Path) -> str | None:
    """The `format` metadata of a well-formed safetensors file (a checkpoint, a latents file), else None: how the
    commands tell a checkpoint from a latents file among their positional arguments."""
    if not path.is_file():
        return None
    try:
        return read(path)[3].get("format")
    except CheckpointError:
        return None


def json_metadata(metadata: dict[str, str], key: str, *, path: Path | None = None, required: bool = True) -> Any:
    """The JSON value of a metadata entry (safetensors allows only str -> str there), or CheckpointError."""
    if key not in metadata:
        if required:
            raise CheckpointError(f"{path}: metadata key {key!r} missing")
        return None
    try:
        return json.loads(metadata[key])
    except ValueError:
        raise CheckpointError(f"{path}: metadata {key!r} is not valid JSON") from None
