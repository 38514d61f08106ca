"""Which checkpoint a command means: a file, a run folder (its last.safetensors), or, when none is named, the
newest run under ./runs/ (where `dcgan train` writes by default). Standard library only."""

from __future__ import annotations

import hashlib
from pathlib import Path

from dcgan_cli.errors import UsageError

LAST = "last.safetensors"
RUNS = Path("runs")


def resolve(path: str | Path) -> Path:
    """A checkpoint file, a run folder meaning its latest checkpoint, or an exported hf folder (itself)."""
    path = Path(path)
    if path.is_dir() and (path / "config.json").is_file() and (path / "model.safetensors").is_file():
        return path  # a Hugging Face-style folder from `dcgan export --format hf`
    if path.is_dir():
        candidate = path / LAST
        if not candidate.is_file():
            raise UsageError(f"no checkpoint in folder {path} (expected {LAST})")
        return candidate
    if not path.exists() and path.name in ("best", "last") and (path.parent / f"{path.name}.safetensors").is_file():
        return path.parent / f"{path.name}.safetensors"  # RUN/best: train --keep-best's checkpoint
    if not path.exists():
        raise UsageError(f"no such checkpoint: {path}")
    return path


def newest_run(root: Path = RUNS) -> Path:
    """RUN/last.safetensors of the most recently saved run under `root`."""
    found = []
    if root.is_dir():
        for run in root.iterdir():
            ckpt = run / LAST
            try:
                found.append((ckpt.stat().st_mtime_ns, str(ckpt)))
            except OSError:  # not a run folder, or not one that has saved yet
                continue
    if not found:
        raise UsageError(f"no checkpoint given and no run under {root}/ yet; name a checkpoint or run folder, "
                         f"or train one first (dcgan train DIR)")
    return Path(max(found)[1])


def find(path: str | Path | None) -> Path:
    """resolve(path), or newest_run() when path is None."""
    return newest_run() if path is None else resolve(path)


def fingerprint(path: Path) -> str:
    """SHA-256 of a checkpoint file: what latents files and exports name it by (its path can change)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
