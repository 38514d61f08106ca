"""The resolved recipe, model and length of a run: the options over a preset for a new run; on resume, the
checkpoint's values, which a resumed run must keep (a different value is a RecipeConflict). Standard library only."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from dcgan_cli.config import DCGANConfig
from dcgan_cli.errors import CheckpointError, OptionError, RecipeConflict, UsageError
from dcgan_cli.training.options import TrainOptions
from dcgan_cli.training.presets import DEFAULT_PRESET, PRESETS

FIXED_NOISE_SIZE = 64  # the preview grid's 8x8
LEGACY_PRESET = "tutorial"  # checkpoints written before presets existed were trained with the tutorial's recipe


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How G and D are trained. The dataclass defaults are the tutorial's: they fill keys a checkpoint written before
    the key existed lacks. Stored in the checkpoint's options."""

    batch_size: int = 128
    lr_d: float = 2e-4
    lr_g: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    seed: int = 999
    ema: float | None = None  # decay of the EMA of G's weights; None: none (the paper's)
    loss: str = "bce"
    label_smoothing: float = 0.0
    diffaugment: str | None = None
    augment_p: float = 1.0  # the share of D's images the DiffAugment policy is applied to (augment.py)
    mirror: bool = False  # random horizontal flips of the real images
    r1: float = 0.0  # weight (gamma) of the R1 gradient penalty on D's real inputs; 0: none (the paper's)
    r1_target: float | None = None  # adaptive R1: gamma x p, p steered to keep D(x) at this (adaptive_r1.py)
    top_k: float | None = None  # G learns from this share of each batch's fakes, D's best (step.py); None: all
    preset: str = LEGACY_PRESET

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
    mbstd: bool = False
    channels: int | None = None

    def config(self, channels: int) -> DCGANConfig:
        return DCGANConfig(nz=self.nz, ngf=self.ngf, ndf=self.ndf, channels=channels, image_size=self.image_size,
                           spectral_norm=self.spectral_norm, mbstd=self.mbstd)


@dataclasses.dataclass(frozen=True)
class Length:
    """How long the whole run is: the first limit reached ends it (None: no limit of that kind)."""

    epochs: int | None = None
    max_steps: int | None = None
    kimg: float | None = None  # thousands of real images shown to D, counted in global batches

    def steps(self, per_epoch: int, global_batch: int) -> int:
        limits = [self.max_steps, self.epochs * per_epoch if self.epochs is not None else None,
                  math.ceil(self.kimg * 1000 / global_batch) if self.kimg is not None else None]
        return min(x for x in limits if x is not None)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_RECIPE = [f.name for f in dataclasses.fields(Recipe) if f.name != "preset"]
_MODEL = [f.name for f in dataclasses.fields(ModelChoice)]


def _off(name: str, value: Any) -> Any:
    """The spellings of 'off' (ema 0, diffaugment 'none') as the recipe stores them."""
    if name == "ema" and value == 0:
        return None
    if name == "diffaugment" and value == "none":
        return None
    if name == "r1_target" and value == 0:
        return None
    if name == "top_k" and value == 1:
        return None
    return value


def _check_stored(recipe: dict[str, Any]) -> None:
    """A checkpoint's recipe must pass the checks its options pass: a damaged or hostile file is then one line and
    exit 4, not a traceback from deep inside the run. Its model config was checked when it was loaded
    (DCGANConfig.from_dict in checkpoint.load); the preset is only a label (and a checkpoint may name one this
    version no longer has), so neither is checked here."""
    try:
        TrainOptions(data=".", **{k: v for k, v in recipe.items() if k != "preset"})
    except OptionError as e:
        raise CheckpointError(f"the checkpoint's {e}") from None


def _requested(opts: TrainOptions) -> tuple[dict[str, Any], dict[str, Any]]:
    """The model and recipe values the options give (None: not given). `lr` sets both learning rates."""
    model = {k: getattr(opts, k) for k in _MODEL}
    recipe = {k: getattr(opts, k) for k in _RECIPE}
    for k in ("lr_d", "lr_g"):
        if recipe[k] is None:
            recipe[k] = opts.lr
    return model, recipe


def resolve(opts: TrainOptions, stored_config: dict[str, Any] | None = None,
            stored_options: dict[str, Any] | None = None, world_size: int = 1) -> tuple[ModelChoice, Recipe, Length]:
    """Model, recipe and length: the checkpoint's when resuming (`stored_*` from its metadata; a conflicting option is
    a RecipeConflict; length options may change), else the options over their preset.

    `batch_size` is per process, but the recipe is the global batch (per process x `world_size`): a resume under
    another world size keeps the checkpoint's global batch, so its per-process batch is that divided by the new
    world size, and a `batch_size` that would change the global batch is a conflict like any other."""
    model_req, recipe_req = _requested(opts)
    length_req = Length(opts.epochs, opts.max_steps, opts.kimg)
    given_length = length_req != Length()
    if stored_config is not None and (stored_options or {}).get("imported"):
        # weights from another tool and no recipe of ours: the options over a preset (the tutorial's unless one
        # is named), as for a new run; only the model is the file's
        # at the file's image size, which decides a preset's size-dependent values (Preset.small_images)
        as_new = dataclasses.replace(opts, preset=opts.preset or LEGACY_PRESET,
                                     image_size=stored_config.get("image_size", opts.image_size))
        _, new_recipe, new_length = resolve(as_new, world_size=world_size)
        stored_model = {k: stored_config.get(k, getattr(ModelChoice(), k)) for k in _MODEL}
        conflicts = [(k, v, stored_model[k]) for k, v in model_req.items() if v is not None and v != stored_model[k]]
        if conflicts:
            raise RecipeConflict(conflicts)
        return ModelChoice(**stored_model), new_recipe, new_length
    if stored_config is None:
        preset = PRESETS[opts.preset or DEFAULT_PRESET]
        model = {**preset.model, **{k: v for k, v in model_req.items() if v is not None}}
        recipe = {**preset.recipe_for(model.get("image_size", ModelChoice.image_size)),
                  **{k: _off(k, v) for k, v in recipe_req.items() if v is not None}}
        length = length_req if given_length else Length(**preset.length)
        if recipe.get("diffaugment") is None and recipe_req["augment_p"] not in (None, 1.0):
            # a share of nothing: refused rather than recorded and silently ignored
            raise OptionError("augment_p", "needs a policy to apply: this recipe has no <diffaugment> (the "
                              f"{preset.name} preset's is {preset.recipe.get('diffaugment') or 'none'})")
        return ModelChoice(**model), Recipe(**recipe, preset=preset.name), length
    stored = dict(stored_options or {})
    if "lr" in stored:  # written before D and G had a learning rate each
        stored.setdefault("lr_d", stored["lr"])
        stored.setdefault("lr_g", stored["lr"])
    defaults_model, defaults_recipe = ModelChoice(), Recipe()
    stored_recipe = {k: stored.get(k, getattr(defaults_recipe, k)) for k in [*_RECIPE, "preset"]}
    stored_world = int(stored.get("world_size", 1))
    global_batch = int(stored.get("global_batch", stored_recipe["batch_size"] * stored_world))
    if global_batch % world_size:
        raise UsageError(f"the checkpoint's global batch of {global_batch} cannot be shared by {world_size} "
                         "processes: resume with a number of processes that divides it")
    stored_recipe["batch_size"] = global_batch // world_size
    # optional config keys (spectral_norm, mbstd) may be absent from older checkpoints
    stored_model = {k: stored_config.get(k, getattr(defaults_model, k)) for k in _MODEL}
    _check_stored(stored_recipe)
    recipe_req["preset"] = opts.preset
    conflicts = [(k, v, have[k]) for req, have in ((model_req, stored_model), (recipe_req, stored_recipe))
                 for k, v in req.items() if v is not None and _off(k, v) != have[k]]
    from_lr = [c for c in conflicts if c[0] in ("lr_d", "lr_g") and getattr(opts, c[0]) is None]
    if from_lr:  # named as the user gave it: --lr, not the two rates it set
        stored_lr = {stored_recipe["lr_d"], stored_recipe["lr_g"]}
        conflicts = [c for c in conflicts if c not in from_lr] + [
            ("lr", opts.lr, stored_lr.pop() if len(stored_lr) == 1 else f"D {stored_recipe['lr_d']}, G "
             f"{stored_recipe['lr_g']}")]
    if world_size != stored_world or world_size > 1:  # say what the per-process number stands for
        conflicts = [(k, v, f"{have}, a global batch of {global_batch} over {world_size} process"
                      f"{'es' if world_size > 1 else ''}") if k == "batch_size" else (k, v, have)
                     for k, v, have in conflicts]
    if conflicts:
        raise RecipeConflict(conflicts)
    stored_length = Length(**{k: stored.get(k) for k in ("epochs", "max_steps", "kimg")})
    if stored_length == Length():  # written when no limit meant the tutorial's 5 epochs
        stored_length = Length(epochs=5)
    return ModelChoice(**stored_model), Recipe(**stored_recipe), length_req if given_length else stored_length
