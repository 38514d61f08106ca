"""Named recipes: `--preset tutorial` is the PyTorch DCGAN tutorial exactly; `default` is what the benchmark
(benchmarks/quality.py, results in benchmarks/RESULTS.md) found makes the best pictures per CPU-minute.

Every preset keeps the seed's layer structure (ConvTranspose + BatchNorm + ReLU blocks ending in Tanh for G,
strided Conv + BatchNorm + LeakyReLU(0.2) for D); they differ in widths, batch, learning rates, length,
augmentation and EMA. Any option given explicitly overrides its preset's value. A checkpoint records its preset
and every resolved value, so a resumed run keeps them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_PRESET = "default"


@dataclass(frozen=True)
class Preset:
    name: str
    summary: str
    model: dict[str, Any] = field(default_factory=dict)  # ModelChoice fields
    recipe: dict[str, Any] = field(default_factory=dict)  # Recipe fields
    length: dict[str, Any] = field(default_factory=dict)  # Length fields, when no length option is given


PRESETS: dict[str, Preset] = {
    "tutorial": Preset(
        "tutorial", "the PyTorch DCGAN tutorial: widths 64, BCE, Adam 2e-4/0.5, batch 128, 5 epochs",
        model={"nz": 100, "ngf": 64, "ndf": 64},
        recipe={"batch_size": 128, "lr_d": 2e-4, "lr_g": 2e-4, "beta1": 0.5, "beta2": 0.999, "ema": None,
                "loss": "bce", "label_smoothing": 0.0, "diffaugment": None, "mirror": False},
        length={"epochs": 5},
    ),
    "default": Preset(
        "default", "more, cheaper steps: widths 32, batch 32, EMA of G, DiffAugment color+translation, mirrored "
        "reals; 600k images shown",
        model={"nz": 100, "ngf": 32, "ndf": 32},
        recipe={"batch_size": 32, "lr_d": 2e-4, "lr_g": 2e-4, "beta1": 0.5, "beta2": 0.999, "ema": 0.999,
                "loss": "bce", "label_smoothing": 0.0, "diffaugment": "color,translation", "mirror": True},
        length={"kimg": 600},
    ),
}


def get(name: str) -> Preset:
    return PRESETS[name]
