"""Describing a checkpoint from its safetensors header, without torch.

`dcgan inspect` must answer in well under a second, and `import torch` alone costs seconds, so this module
imports only the standard library and checkpoint.read_header (torch-free, and it validates the framing, the
JSON and the metadata). Tensor data is read only to hash the file, never decoded. Everything it returns comes
from a file someone may have crafted: cli/inspect.py makes it inert before it reaches a terminal.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from dcgan_cli import checkpoint
from dcgan_cli.errors import CheckpointError

# Buffers are state, not learned parameters (nn.Module.parameters() would not count them either): BatchNorm
# statistics and spectral norm's power-iteration vectors.
BUFFER_SUFFIXES = (".running_mean", ".running_var", ".num_batches_tracked", ".weight.0._u", ".weight.0._v")
HASH_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def parameter_count(tensors: dict[str, checkpoint.TensorInfo], prefix: str) -> int:
    return sum(info.numel for name, info in tensors.items()
               if name.startswith(prefix) and not name.endswith(BUFFER_SUFFIXES))


def describe(path: Path) -> dict[str, Any]:
    """The facts `inspect` shows, as plain JSON-ready data. Raises CheckpointError for a bad file."""
    header = checkpoint.read_header(path)
    meta, config, progress = header.metadata, header.config, header.progress
    try:
        content_hash = sha256_file(path)
    except OSError as e:
        raise CheckpointError(f"cannot read checkpoint {path}: {e.strerror or e}") from None
    known = {"format", "format_version", "dcgan_version", "torch_version", "config", "progress", "options",
             "dataset", "created"}
    dataset = header.json_field("dataset")
    return {
        "path": str(path),
        "format": meta["format"],
        "format_version": int(meta["format_version"]),
        "dcgan_version": meta["dcgan_version"],
        "torch_version": meta.get("torch_version"),
        "created": meta["created"],
        "config": config,
        "image_size": config.get("image_size"),
        "channels": config.get("channels"),
        "step": progress.get("step"),
        "epoch": progress.get("epoch"),
        "progress": progress,
        "options": header.json_field("options"),
        "dataset": dataset,
        "dataset_fingerprint": dataset.get("fingerprint") if isinstance(dataset, dict) else None,
        "parameters": {"G": parameter_count(header.tensors, "G."), "D": parameter_count(header.tensors, "D.")},
        "can_resume": header.can_resume,
        "imported": header.imported,
        "ema": header.has_ema,
        "file_size": header.file_size,
        "header_bytes": header.header_bytes,
        "sha256": content_hash,
        "other_metadata": sorted(k for k in meta if k not in known),
        "tensors": [{"name": name, "shape": list(info.shape), "dtype": info.dtype}
                    for name, info in header.tensors.items()],
    }
