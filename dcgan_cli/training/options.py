"""What a training run is asked to do, and how flags combine with a checkpoint's recipe on --resume."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dcgan_cli.errors import UsageError

if TYPE_CHECKING:
    from dcgan_cli.checkpoint import Checkpoint

# The tutorial's values; a resumed run must keep them, so they live in the checkpoint.
RECIPE_DEFAULTS: dict[str, Any] = {"batch_size": 128, "lr": 2e-4, "beta1": 0.5, "seed": 999, "ema": None,
                                   "loss": "bce", "label_smoothing": 0.0, "diffaugment": None}
MODEL_DEFAULTS: dict[str, Any] = {"nz": 100, "ngf": 64, "ndf": 64, "image_size": 64, "spectral_norm": False}
DEFAULT_EPOCHS = 5
FIXED_NOISE_SIZE = 64


@dataclasses.dataclass
class TrainOptions:
    data: Path
    out: Path
    epochs: int | None = None  # None: 5, or unlimited when max_steps is given
    max_steps: int | None = None
    max_time: float | None = None  # seconds of training in this invocation (decoding excluded); then save and end
    batch_size: int | None = None  # None for the recipe/model values: the default, or the checkpoint's
    lr: float | None = None
    beta1: float | None = None
    seed: int | None = None
    loss: str | None = None  # "bce" (the paper's) or "hinge"
    label_smoothing: float | None = None  # one-sided: real label 1 - s
    diffaugment: str | None = None  # DiffAugment policy, e.g. "color,translation,cutout"
    ema: float | None = None  # decay of an exponential moving average of G's weights; None: no EMA (the paper's)
    nz: int | None = None
    ngf: int | None = None
    ndf: int | None = None
    image_size: int | None = None
    channels: int | None = None  # None: auto (1 if every image is grayscale)
    spectral_norm: bool | None = None  # spectral norm in D (and no BatchNorm there); None: off, or the checkpoint's
    workers: int = 2
    device: str = "auto"
    sample_every: int = 500
    save_every: int = 500
    log_every: int = 1
    keep: int = 1  # checkpoints kept: last.safetensors plus keep - 1 step snapshots
    channels_last: bool = False
    compile: bool = False
    amp: bool = False  # bf16 (or fp16 + grad scaling) autocast on CUDA
    sync_bn: bool = False  # SyncBatchNorm across processes under torchrun (CUDA)
    eval_every: int | None = None  # steps between quality scores in metrics.jsonl (and at the end)
    eval_dir: Path | None = None  # real images to score against; None: the training images
    eval_n: int = 500
    eval_metrics: tuple[str, ...] = ("swd",)  # evaluate.METRICS; feature metrics cost ~25 s per 500 images on 2 cores
    resume: bool = False
    dry_run: bool = False
    cache_dir: Path | None = None
    max_pixels: int = 64_000_000


def derive_seed(seed: int, purpose: str) -> int:
    """Independent streams from one user seed (seed+1 for one purpose would collide with seed for another)."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{purpose}".encode()).digest()[:8], "little") >> 1


def resolve(opts: TrainOptions, resumed: Checkpoint | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Model config and recipe: the checkpoint's when resuming (a conflicting flag is an error), else defaults."""
    model_req = {k: getattr(opts, k) for k in (*MODEL_DEFAULTS, "channels")}
    recipe_req = {k: getattr(opts, k) for k in RECIPE_DEFAULTS}
    if resumed is None:
        model = {k: v if v is not None else MODEL_DEFAULTS.get(k) for k, v in model_req.items()}
        recipe = {k: v if v is not None else RECIPE_DEFAULTS[k] for k, v in recipe_req.items()}
        return model, recipe
    stored_recipe = {k: resumed.options.get(k, RECIPE_DEFAULTS[k]) for k in RECIPE_DEFAULTS}
    stored_model = {k: resumed.config.get(k, MODEL_DEFAULTS.get(k)) for k in model_req}  # optional keys may be absent
    conflicts = [
        f"--{k.replace('_', '-')} {v} (checkpoint: {have[k]})"
        for req, have in ((model_req, stored_model), (recipe_req, stored_recipe))
        for k, v in req.items()
        if v is not None and v != have[k]
    ]
    if conflicts:
        raise UsageError("cannot change these when resuming: " + ", ".join(conflicts))
    return stored_model, stored_recipe
