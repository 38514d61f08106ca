"""The resolved recipe and model of a run: what the options asked for, filled with the defaults or, on resume, with
the checkpoint's values (which a resumed run must keep). Standard library only."""

from __future__ import annotations

import dataclasses
from typing import Any

from dcgan_cli.config import DCGANConfig
from dcgan_cli.errors import RecipeConflict
from dcgan_cli.training.options import TrainOptions

DEFAULT_EPOCHS = 5  # the tutorial's
FIXED_NOISE_SIZE = 64  # the preview grid's 8x8


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How G and D are trained; the tutorial's values by default. Stored in the checkpoint's options."""

    batch_size: int = 128
    lr: float = 2e-4
    beta1: float = 0.5
    seed: int = 999
    ema: float | None = None
    loss: str = "bce"
    label_smoothing: float = 0.0
    diffaugment: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class ModelChoice:
    """The model config before the data is seen: channels None means 1 if every image is grayscale, else 3."""

    nz: int = 100
    ngf: int = 64
    ndf: int = 64
    image_size: int = 64
    spectral_norm: bool = False
    channels: int | None = None

    def config(self, channels: int) -> DCGANConfig:
        return DCGANConfig(nz=self.nz, ngf=self.ngf, ndf=self.ndf, channels=channels, image_size=self.image_size,
                           spectral_norm=self.spectral_norm)


_RECIPE = [f.name for f in dataclasses.fields(Recipe)]
_MODEL = [f.name for f in dataclasses.fields(ModelChoice)]


def resolve(opts: TrainOptions, stored_config: dict[str, Any] | None = None,
            stored_options: dict[str, Any] | None = None) -> tuple[ModelChoice, Recipe]:
    """Model and recipe: the checkpoint's when resuming (`stored_*` from its metadata; a conflicting option is a
    RecipeConflict), else the options over the defaults."""
    model_req = {k: getattr(opts, k) for k in _MODEL}
    recipe_req = {k: getattr(opts, k) for k in _RECIPE}
    if stored_config is None:
        return (ModelChoice(**{k: v for k, v in model_req.items() if v is not None}),
                Recipe(**{k: v for k, v in recipe_req.items() if v is not None}))
    defaults_model, defaults_recipe = ModelChoice(), Recipe()
    stored_recipe = {k: (stored_options or {}).get(k, getattr(defaults_recipe, k)) for k in _RECIPE}
    # optional config keys (spectral_norm) may be absent from older checkpoints
    stored_model = {k: stored_config.get(k, getattr(defaults_model, k)) for k in _MODEL}
    conflicts = [(k, v, have[k]) for req, have in ((model_req, stored_model), (recipe_req, stored_recipe))
                 for k, v in req.items() if v is not None and v != have[k]]
    if conflicts:
        raise RecipeConflict(conflicts)
    return ModelChoice(**stored_model), Recipe(**stored_recipe)
