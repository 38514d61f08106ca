"""dcgan: train a DCGAN on a folder of images, then sample, interpolate, inspect and evaluate what it learned.

    import dcgan_cli as dcgan
    dcgan.train(dcgan.TrainOptions(data="photos", out="runs/p", max_steps=2000))
    g = dcgan.load("runs/p")            # a checkpoint file or a run folder
    images = g.sample(seeds=range(16))  # PIL images; image k depends on seed k alone

Importing the package stays cheap (no torch): the names below are loaded on first use (PEP 562), so
`dcgan --help` and `dcgan inspect` never pay for torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from dcgan_cli.errors import (
    CheckpointError,
    DataError,
    DcganError,
    DcganWarning,
    DivergedError,
    Interrupted,
    LatentsError,
    OptionError,
    OutputError,
    RecipeConflict,
    UsageError,
)

__version__ = "0.1.0"

_LAZY = {
    "train": "dcgan_cli.training.trainer",
    "TrainOptions": "dcgan_cli.training.options",
    "load": "dcgan_cli.sampling.trained",
    "TrainedGenerator": "dcgan_cli.sampling.trained",
    "evaluate": "dcgan_cli.metrics.evaluate",
    "describe": "dcgan_cli.checkpoint.describe",
    "DCGANConfig": "dcgan_cli.config",
    "Projection": "dcgan_cli.projection.project",
    "export": "dcgan_cli.interop.export",
    "doctor": "dcgan_cli.doctor.report",
    "import_tutorial": "dcgan_cli.interop.tutorial_import",
    "LatentsFile": "dcgan_cli.sampling.latents_file",
    "read_latents": "dcgan_cli.sampling.latents_file",
    "save_latents": "dcgan_cli.sampling.latents_file",
    "load_images": "dcgan_cli.data.dataset",
    "ImageSet": "dcgan_cli.data.dataset",
}

__all__ = ["CheckpointError", "DCGANConfig", "DataError", "DcganError", "DcganWarning", "DivergedError", "ImageSet",
           "Interrupted", "LatentsError", "LatentsFile", "OptionError", "OutputError", "Projection", "RecipeConflict",
           "TrainOptions", "TrainedGenerator", "UsageError", "__version__", "describe", "doctor", "evaluate", "export",
           "import_tutorial", "load", "load_images", "read_latents", "save_latents", "train"]

if TYPE_CHECKING:
    from dcgan_cli.checkpoint.describe import describe
    from dcgan_cli.config import DCGANConfig
    from dcgan_cli.doctor.report import doctor
    from dcgan_cli.interop.export import export
    from dcgan_cli.interop.tutorial_import import import_tutorial
    from dcgan_cli.metrics.evaluate import evaluate
    from dcgan_cli.projection.project import Projection
    from dcgan_cli.sampling.latents_file import LatentsFile, read_latents, save_latents
    from dcgan_cli.sampling.trained import TrainedGenerator, load
    from dcgan_cli.training.options import TrainOptions
    from dcgan_cli.training.trainer import train


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'dcgan_cli' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
