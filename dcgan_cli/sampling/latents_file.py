"""Latents files: (N, nz) latent vectors in a safetensors file, with where they came from.

`dcgan project` and `dcgan arithmetic -o x.safetensors` write them; `sample --latents`, `interpolate` keyframes
and arithmetic groups read them. The file holds one float32 tensor `latents` and string metadata: the format,
nz, the SHA-256 of the checkpoint the latents were made for (a latent means something only to its generator),
and JSON lists of the source files and per-latent facts (losses, PSNR).

Reading goes through the same torch-free header check as checkpoints (framing, duplicate keys, offsets) and
then checks what a latents file must be: exactly one F32 tensor of shape (N, nz), every value finite.
safetensors itself never runs code, and nothing is read before the header has been checked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from dcgan_cli import __version__
from dcgan_cli.checkpoint import header as safetensors_header
from dcgan_cli.errors import CheckpointError, LatentsError, UsageError
from dcgan_cli.io.atomic import write_atomic
from dcgan_cli.sampling.keys import LATENTS_FORMAT

FORMAT = LATENTS_FORMAT
FORMAT_VERSION = 1
MAX_LATENTS = 1_000_000


@dataclass
class LatentsFile:
    """What a latents file holds: `latents` (N, nz) float32 and what they are for."""

    latents: torch.Tensor
    checkpoint_sha256: str = ""
    sources: list[str] = field(default_factory=list)
    info: list[dict[str, Any]] = field(default_factory=list)  # one dict per latent (losses, psnr, ...)
    path: Path | None = None

    @property
    def nz(self) -> int:
        return int(self.latents.shape[1])


def save_latents(path: str | Path, latents: torch.Tensor, *, checkpoint_sha256: str = "",
                 sources: list[str] | None = None, info: list[dict[str, Any]] | None = None) -> Path:
    """Write (N, nz) latents atomically; returns the path."""
    from safetensors.torch import save

    path = Path(path)
    z = _check(latents, path)
    if info is not None and len(info) != z.shape[0]:
        raise ValueError(f"info has {len(info)} entries for {z.shape[0]} latents")
    metadata = {"format": FORMAT, "format_version": str(FORMAT_VERSION), "dcgan_version": __version__,
                "nz": str(z.shape[1]), "checkpoint_sha256": checkpoint_sha256,
                "sources": json.dumps(list(sources or [])), "info": json.dumps(list(info or []))}
    write_atomic(path, save({"latents": z.contiguous()}, metadata=metadata))
    return path


def read_latents(path: str | Path) -> LatentsFile:
    """A checked latents file; LatentsError (one line) for anything else, hostile files included."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"no such latents file: {path}")
    try:
        _, _, tensors, metadata = safetensors_header.read(path, "latents file")
    except CheckpointError as e:  # the header reader's error; the same exit code, as the latents error class
        raise LatentsError(str(e)) from None
    if metadata.get("format") != FORMAT:
        raise LatentsError(f"{path}: not a dcgan latents file (format {metadata.get('format')!r}); "
                           "make one with dcgan project")
    if not metadata.get("format_version", "").isdigit() or int(metadata["format_version"]) > FORMAT_VERSION:
        raise LatentsError(f"{path}: latents format version {metadata.get('format_version')!r} is not one this "
                           f"dcgan ({__version__}) reads")
    info_ = tensors.get("latents")
    if set(tensors) != {"latents"} or info_ is None or info_.dtype != "F32" or len(info_.shape) != 2:
        raise LatentsError(f"{path}: a latents file holds one float32 tensor 'latents' of shape (N, nz)")
    if not 1 <= info_.shape[0] <= MAX_LATENTS or info_.shape[1] < 1:
        raise LatentsError(f"{path}: 'latents' has shape {list(info_.shape)}; expected 1 to {MAX_LATENTS} rows")
    sources, extra = _json_list(path, metadata, "sources"), _json_list(path, metadata, "info")
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            z = f.get_tensor("latents")
    except Exception as e:  # noqa: BLE001 - safetensors' own error types
        raise LatentsError(f"{path}: cannot read latents ({e})") from None
    if not bool(torch.isfinite(z).all()):
        raise LatentsError(f"{path}: latents contain non-finite values")
    return LatentsFile(z, metadata.get("checkpoint_sha256", ""), [str(s) for s in sources],
                       [d if isinstance(d, dict) else {} for d in extra], path)


def pick(file: LatentsFile, index: int | None) -> torch.Tensor:
    """All of a file's latents, or row `index` of them, as (K, nz)."""
    if index is None:
        return file.latents
    if index >= file.latents.shape[0]:
        raise LatentsError(f"{file.path}:{index}: the file holds {file.latents.shape[0]} latent(s), "
                           f"numbered from 0")
    return file.latents[index : index + 1]


def _check(latents: torch.Tensor, path: Path) -> torch.Tensor:
    if not isinstance(latents, torch.Tensor) or latents.dim() != 2 or not 1 <= latents.shape[0] <= MAX_LATENTS:
        raise ValueError(f"{path}: latents must be a tensor of shape (N, nz) with 1 to {MAX_LATENTS} rows")
    z = latents.detach().float().cpu()
    if not bool(torch.isfinite(z).all()):
        raise ValueError(f"{path}: latents must be finite")
    return z


def _json_list(path: Path, metadata: dict[str, str], key: str) -> list[Any]:
    try:
        value = json.loads(metadata.get(key, "[]"))
    except ValueError:
        raise LatentsError(f"{path}: metadata {key!r} is not valid JSON") from None
    if not isinstance(value, list):
        raise LatentsError(f"{path}: metadata {key!r} must be a JSON list")
    return value
