"""What decoding a folder found: counts, skip reasons, the fingerprint; shown before training and cached."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class DataReport:
    root: str
    found: int  # files with an image extension
    used: int
    other_files: int
    skipped: dict[str, list[str]]  # reason -> printable paths relative to root
    warnings: dict[str, list[str]]  # e.g. "animated (first frame used)" -> paths
    channels: int
    image_size: int
    fingerprint: str  # hex: relative paths, sizes and mtimes; never an absolute path
    from_cache: bool
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
