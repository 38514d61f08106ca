"""The model's configuration: everything needed to rebuild G and D, stored in every checkpoint.

Standard library only, so options can be validated, checkpoints described and `dcgan_cli.DCGANConfig` imported
without loading torch; the networks it describes are in model.py.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

MIN_IMAGE_SIZE = 16
MAX_IMAGE_SIZE = 256
MAX_WIDTH_MULT = 8
OPTIONAL_KEYS = ("spectral_norm", "mbstd")  # boolean model options; a checkpoint may lack them (then False)


@dataclass(frozen=True)
class DCGANConfig:
    """Everything needed to rebuild G and D; stored in every checkpoint."""

    nz: int = 100
    ngf: int = 64
    ndf: int = 64
    channels: int = 3
    image_size: int = 64
    spectral_norm: bool = False  # in D; absent from checkpoints written before it existed
    mbstd: bool = False  # minibatch standard deviation before D's last conv; absent when off

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in OPTIONAL_KEYS:
                if not isinstance(value, bool):
                    raise ValueError(f"{f.name} must be true or false, got {value!r}")
            elif not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{f.name} must be a positive integer, got {value!r}")
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")
        if not is_supported_image_size(self.image_size):
            raise ValueError(
                f"image_size must be a power of two from {MIN_IMAGE_SIZE} to {MAX_IMAGE_SIZE}, "
                f"got {self.image_size}"
            )

    @property
    def upsamplings(self) -> int:
        """Stride-2 layers in G (and D): 4 at 64x64, as in the tutorial."""
        return int(math.log2(self.image_size)) - 2

    def to_dict(self) -> dict[str, int | bool]:
        """Optional keys only when set: a default checkpoint stays readable by dcgan versions that predate them."""
        return {k: v for k, v in asdict(self).items() if k not in OPTIONAL_KEYS or v}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DCGANConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown model config keys: {', '.join(sorted(unknown))}")
        missing = known - set(data) - set(OPTIONAL_KEYS)
        if missing:
            raise ValueError(f"missing model config keys: {', '.join(sorted(missing))}")
        return cls(**data)


def is_supported_image_size(size: int) -> bool:
    return MIN_IMAGE_SIZE <= size <= MAX_IMAGE_SIZE and size & (size - 1) == 0
