"""The decoded-set cache: one safetensors file per (folder contents, decode settings), so a rerun on the same folder
starts training at once instead of decoding again."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from dcgan_cli.data.report import DataReport
from dcgan_cli.io.atomic import atomic_path

# Bump whenever decoding could produce different pixels for the same file: it invalidates every cache entry.
PIPELINE_VERSION = "decode-v1"
CACHE_FORMAT = "dcgan-dataset-cache"


def read_cache(path: Path, key: str, image_size: int) -> tuple[torch.Tensor, DataReport]:
    with safe_open(str(path), framework="pt") as handle:
        meta = handle.metadata() or {}
        if meta.get("format") != CACHE_FORMAT or meta.get("key") != key:
            raise ValueError("cache file is not this dataset")
        images = handle.get_tensor("images")
    raw = json.loads(meta["report"])
    if set(raw) != {f.name for f in fields(DataReport)}:
        raise ValueError("cache report has unexpected fields")
    report = DataReport(**raw)
    expected = (report.used, report.channels, image_size, image_size)
    if images.dtype != torch.uint8 or tuple(images.shape) != expected:
        raise ValueError(f"cache tensor {images.dtype} {tuple(images.shape)} is not {expected}")
    # get_tensor maps the file; a private copy (~50 ms per 123 MB) keeps the set alive whatever happens to it.
    return images.clone(memory_format=torch.contiguous_format), report


def write_cache(path: Path, key: str, images: torch.Tensor, report: DataReport) -> None:
    """Atomically: readers (another process training on the same folder) see the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"format": CACHE_FORMAT, "pipeline": PIPELINE_VERSION, "key": key, "report": json.dumps(report.to_dict())}
    with atomic_path(path, durable=True) as tmp:
        save_file({"images": images}, str(tmp), metadata=meta)
