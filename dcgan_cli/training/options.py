"""What a training run is asked to do: `TrainOptions`, every value checked here, in the library.

`validate()` runs when the options are made and again when `train()` starts (a dataclass can be changed in
between), so an invalid value fails before a run folder exists or a tensor is made, with an OptionError naming
the field. The CLI shows that field as its flag. Standard library only: a typo costs no `import torch`.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence
from pathlib import Path

from dcgan_cli.config import MAX_IMAGE_SIZE, MIN_IMAGE_SIZE, is_supported_image_size
from dcgan_cli.data.scan import ARCHIVE_SUFFIXES
from dcgan_cli.device import check_device_name
from dcgan_cli.errors import OptionError
from dcgan_cli.metrics.names import DEFAULT_TRAINING_METRICS, DEFAULT_TRAINING_N, MAX_N, MIN_IMAGES, parse_metrics
from dcgan_cli.seeding import MAX_SEED
from dcgan_cli.training.presets import PRESETS

LOSSES = ("bce", "hinge")
DIFFAUGMENT_POLICIES = ("color", "translation", "cutout")  # training/augment.py implements each
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([hms]?)")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "": 1.0}


@dataclasses.dataclass
class TrainOptions:
    """Options of one `train()` call. Paths may be str. None for a model or recipe value means the preset's, or on
    resume the checkpoint's (a different value is refused: a resumed run keeps its recipe)."""

    data: str | Path
    out: str | Path | None = None  # None: runs/<name of the data folder>
    preset: str | None = None  # a named recipe (presets.py); None: "default", or on resume the checkpoint's
    # length of the whole run, the first limit reached; none given: the preset's (or on resume the checkpoint's)
    epochs: int | None = None
    max_steps: int | None = None
    kimg: float | None = None  # thousands of real images shown
    max_time: float | str | None = None  # seconds, or "90s", "20m", "1h30m": training time in this call
    batch_size: int | None = None
    lr: float | None = None  # both learning rates (lr_d and lr_g override it)
    lr_d: float | None = None
    lr_g: float | None = None
    beta1: float | None = None
    beta2: float | None = None
    seed: int | None = None
    loss: str | None = None  # "bce" (the paper's) or "hinge"
    label_smoothing: float | None = None  # one-sided: real label 1 - s
    diffaugment: str | Sequence[str] | None = None  # DiffAugment policy, e.g. "color,translation"; "none": off
    augment_p: float | None = None  # each image D sees is augmented with this probability (1: all, the paper's)
    ema: float | None = None  # decay of an exponential moving average of G's weights (e.g. 0.999); 0: off
    mirror: bool | None = None  # random horizontal flips of the real images
    r1: float | None = None  # weight (gamma) of the R1 gradient penalty on D's real inputs; 0: off
    r1_target: float | None = None  # adaptive R1: gamma scaled by p, steered to keep D(x) here; 0: fixed gamma
    top_k: float | None = None  # G learns from this share of each batch's fakes, those D finds most real; 1: all
    nz: int | None = None
    ngf: int | None = None
    ndf: int | None = None
    image_size: int | None = None
    channels: int | None = None  # None: auto (1 if every image is grayscale, else 3)
    spectral_norm: bool | None = None  # spectral norm in D (and no BatchNorm there)
    mbstd: bool | None = None  # minibatch standard deviation layer in D
    workers: int = 2
    device: str = "auto"
    sample_every: int = 500
    save_every: int = 500
    log_every: int = 1
    keep: int = 1  # checkpoints kept: last.safetensors plus keep - 1 step snapshots
    keep_best: bool = False  # with eval_every: best.safetensors, the best-scoring step
    tensorboard: bool = False  # RUN_DIR/tensorboard/ event files (the optional extra)
    channels_last: bool | None = None  # NHWC layout; None: on for the CPU, where it measures faster
    compile: bool = False
    # mixed precision: bf16 autocast on a CPU with bf16 instructions, on CUDA bf16 (or fp16 with loss scaling);
    # None: off, or on resume the checkpoint's
    amp: bool | None = None
    sync_bn: bool = False  # SyncBatchNorm across processes under torchrun (CUDA)
    eval_every: int | None = None  # steps between quality scores in metrics.jsonl (and at the end)
    eval_dir: str | Path | None = None  # real images to score against; None: the training images
    eval_n: int = DEFAULT_TRAINING_N
    eval_metrics: str | Sequence[str] = DEFAULT_TRAINING_METRICS
    resume: bool = False
    dry_run: bool = False
    cache_dir: str | Path | None = None  # None: $DCGAN_CACHE_DIR or ~/.cache/dcgan
    no_cache: bool = False
    max_pixels: int = 64_000_000

    def __post_init__(self) -> None:
        self.validate()

    @property
    def run_dir(self) -> Path:
        if self.out is not None:
            return Path(self.out)
        name = Path(self.data).resolve().name
        for suffix in ARCHIVE_SUFFIXES:  # photos.tar.gz trains into runs/photos
            if name.lower().endswith(suffix) and len(name) > len(suffix):
                name = name[: -len(suffix)]
                break
        return Path("runs") / (name or "run")

    def validate(self) -> None:
        """Check every value and normalise the forms it accepts (str paths, "20m", a policy list); idempotent."""
        if not isinstance(self.data, (str, Path)) or not str(self.data):
            raise OptionError("data", f"must be the path of a folder or an archive, got {self.data!r}")
        self.data = Path(self.data)
        self.out = Path(self.out) if self.out is not None else None
        self.eval_dir = Path(self.eval_dir) if self.eval_dir is not None else None
        self.cache_dir = Path(self.cache_dir) if self.cache_dir is not None else None
        for name in ("epochs", "max_steps", "batch_size", "nz", "ngf", "ndf", "eval_every"):
            _whole(self, name, 1, optional=True)
        for name in ("sample_every", "save_every", "log_every", "keep", "max_pixels"):
            _whole(self, name, 1)
        _whole(self, "workers", 0)
        _whole(self, "seed", 0, MAX_SEED, optional=True)
        _whole(self, "eval_n", MIN_IMAGES, MAX_N)
        _whole(self, "image_size", 1, optional=True)
        if self.image_size is not None and not is_supported_image_size(self.image_size):
            raise OptionError("image_size", f"must be a power of two from {MIN_IMAGE_SIZE} to {MAX_IMAGE_SIZE}, "
                              f"got {self.image_size}")
        if self.channels is not None and self.channels not in (1, 3):
            raise OptionError("channels", f"must be 1, 3 or None (auto), got {self.channels!r}")
        for name in ("lr", "lr_d", "lr_g", "kimg"):
            _number(self, name, lo=0.0, lo_open=True)
        _number(self, "beta1", lo=0.0, hi=1.0, hi_open=True)
        _number(self, "beta2", lo=0.0, hi=1.0, hi_open=True)
        _number(self, "label_smoothing", lo=0.0, hi=0.5, hi_open=True)
        _number(self, "ema", lo=0.0, hi=1.0, hi_open=True)
        _number(self, "r1", lo=0.0)
        _number(self, "r1_target", lo=0.0, hi=1.0, hi_open=True)
        _number(self, "top_k", lo=0.0, hi=1.0, lo_open=True)
        _number(self, "augment_p", lo=0.0, hi=1.0, lo_open=True)
        if self.preset is not None and self.preset not in PRESETS:
            raise OptionError("preset", f"must be one of {', '.join(PRESETS)}, got {self.preset!r}")
        if self.loss is not None and self.loss not in LOSSES:
            raise OptionError("loss", f"must be {' or '.join(LOSSES)}, got {self.loss!r}")
        if self.diffaugment is not None and self.diffaugment != "none":
            self.diffaugment = ",".join(parse_policy(self.diffaugment))
        self.max_time = parse_duration(self.max_time) if self.max_time is not None else None
        self.device = check_device_name(self.device)
        self.eval_metrics = parse_metrics(self.eval_metrics, "eval_metrics")
        for name in ("keep_best", "tensorboard"):
            if not isinstance(getattr(self, name), bool):
                raise OptionError(name, f"must be True or False, got {getattr(self, name)!r}")
        if self.keep_best and self.eval_every is None:
            raise OptionError("keep_best", "needs <eval_every>: the best checkpoint is judged by its scores")
        for name in ("spectral_norm", "mbstd", "mirror", "channels_last", "amp"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), bool):
                raise OptionError(name, f"must be True, False or None, got {getattr(self, name)!r}")
        for name in ("compile", "sync_bn", "resume", "dry_run", "no_cache"):
            if not isinstance(getattr(self, name), bool):
                raise OptionError(name, f"must be True or False, got {getattr(self, name)!r}")
        if self.eval_every is None and (self.eval_dir is not None or self.eval_n != DEFAULT_TRAINING_N
                                        or self.eval_metrics != DEFAULT_TRAINING_METRICS):
            field = "eval_dir" if self.eval_dir is not None else "eval_n" if self.eval_n != DEFAULT_TRAINING_N \
                else "eval_metrics"
            raise OptionError(field, "needs <eval_every> (steps between scores); <eval_dir>, <eval_n> and "
                              "<eval_metrics> only shape those scores")
        if self.dry_run and self.resume:
            raise OptionError("dry_run", "cannot be combined with <resume>")


def parse_duration(value: float | str) -> float:
    """90, '90', '90s', '20m', '1.5h', '1h30m' -> seconds (a positive, finite number)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        parts = _DURATION.findall(text)
        units = [unit for _, unit in parts]
        valid = bool(parts) and "".join(n + u for n, u in parts) == text and len(set(units)) == len(units) and (
            len(parts) == 1 or "" not in units)
        seconds = sum(float(n) * _UNITS[u] for n, u in parts) if valid else math.nan
    else:
        seconds = math.nan
    if not 0 < seconds < math.inf:
        raise OptionError("max_time", f"must be a positive duration such as 90s, 20m, 1.5h or 1h30m, got {value!r}")
    return seconds


def parse_policy(value: str | Sequence[str]) -> tuple[str, ...]:
    """'color,translation,cutout' (or a list of names) -> the names, in order."""
    items = value.split(",") if isinstance(value, str) else list(value)
    names = tuple(str(p).strip() for p in items if str(p).strip())
    unknown = [p for p in names if p not in DIFFAUGMENT_POLICIES]
    if unknown or not names:
        raise OptionError("diffaugment", f"unknown DiffAugment policy {', '.join(unknown) or value!r} "
                          f"(use a comma-separated subset of {', '.join(DIFFAUGMENT_POLICIES)})")
    return names


def _whole(opts: TrainOptions, name: str, lo: int, hi: int | None = None, optional: bool = False) -> None:
    value = getattr(opts, name)
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < lo or (hi is not None and value > hi):
        span = f"from {lo} to {hi}" if hi is not None else f"of at least {lo}"
        raise OptionError(name, f"must be a whole number {span}, got {value!r}")


def _number(opts: TrainOptions, name: str, *, lo: float, hi: float | None = None, lo_open: bool = False,
            hi_open: bool = False) -> None:
    value = getattr(opts, name)
    if value is None:
        return
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > lo if lo_open else value >= lo)
    ok = ok and (hi is None or (value < hi if hi_open else value <= hi))
    if not ok:
        low = f"above {lo}" if lo_open else f"at least {lo}"
        high = "" if hi is None else f" and {'below' if hi_open else 'at most'} {hi}"
        raise OptionError(name, f"must be a number {low}{high}, got {value!r}")
    setattr(opts, name, float(value))
