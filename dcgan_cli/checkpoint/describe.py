"""Describing a checkpoint from its safetensors header, without torch.

`dcgan inspect` must answer in well under a second, and `import torch` alone costs seconds, so this module
imports only the standard library and checkpoint.read_header (torch-free, and it validates the framing, the
JSON and the metadata); rich (~0.1 s) only when a table is drawn, so `--json` never loads it. Tensor data is
read only to hash the file, never decoded.

Everything shown comes from a file someone may have crafted: every string that reaches the terminal goes
through console.safe_text (control bytes made visible, rich markup escaped); JSON output is ASCII-escaped.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dcgan_cli import checkpoint
from dcgan_cli.errors import CheckpointError

if TYPE_CHECKING:
    from rich.console import Console

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
        "ema": header.has_ema,
        "file_size": header.file_size,
        "header_bytes": header.header_bytes,
        "sha256": content_hash,
        "other_metadata": sorted(k for k in meta if k not in known),
        "tensors": [{"name": name, "shape": list(info.shape), "dtype": info.dtype}
                    for name, info in header.tensors.items()],
    }


def _text(value: Any) -> str:
    """Any metadata value as inert one-line text: JSON (ASCII-escaped) for structures, then safe_text."""
    from dcgan_cli.cli.render import safe_text

    if value is None:
        return "-"
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, dict):
        return safe_text(", ".join(f"{k}={json.dumps(v)}" for k, v in value.items()) or "{}")
    return safe_text(json.dumps(value))


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"  # pragma: no cover


def render(info: dict[str, Any], console: Console) -> None:
    """Two rich tables on `console`: the facts, then every tensor."""
    from rich.table import Table

    from dcgan_cli.cli.render import inert

    facts = Table(title=_text(info["path"]), show_header=False, box=None, pad_edge=False)
    facts.add_column("field", style="bold", no_wrap=True)
    facts.add_column("value", overflow="fold")
    params = info["parameters"]
    rows = [
        ("format", f"{_text(info['format'])} v{info['format_version']}"),
        ("written by", f"dcgan {_text(info['dcgan_version'])}, torch {_text(info['torch_version'])}"),
        ("created", _text(info["created"])),
        ("model", _text(info["config"])),
        ("images", f"{_text(info['image_size'])}x{_text(info['image_size'])}, {_text(info['channels'])} channel(s)"),
        ("step / epoch", f"{_text(info['step'])} / {_text(info['epoch'])}"),
        ("training options", _text(info["options"])),
        ("dataset", _text(info["dataset"])),
        ("parameters", f"G {params['G']:,}  D {params['D']:,}"),
        ("EMA generator", "yes (sample uses it)" if info["ema"] else "no"),
        ("can resume", "yes" if info["can_resume"] else "no (generator only: sampling works, training cannot resume)"),
        ("file size", f"{_size(info['file_size'])} ({info['file_size']:,} bytes, header {info['header_bytes']:,})"),
        ("sha256", info["sha256"]),
    ]
    if info["other_metadata"]:
        rows.append(("other metadata", _text(", ".join(info["other_metadata"]))))
    for field, value in rows:
        facts.add_row(field, value)
    console.print(facts)
    # Plain aligned lines, not a rich Table: 100+ rows of Table layout cost ~0.1 s of inspect's 0.5 s budget.
    rows_t = sorted((inert(t["name"]), "x".join(map(str, t["shape"])) or "scalar", inert(t["dtype"]))
                    for t in info["tensors"])
    width = max([len(r[0]) for r in rows_t] + [4])
    shape_width = max([len(r[1]) for r in rows_t] + [5])
    lines = [f"{len(rows_t)} tensors", f"{'name':<{width}}  {'shape':<{shape_width}}  dtype"]
    lines += [f"{name:<{width}}  {shape:<{shape_width}}  {dtype}" for name, shape, dtype in rows_t]
    console.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)
