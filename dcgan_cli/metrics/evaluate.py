"""How good is a generator: n seeded samples against n real images, scored offline.

`Reference` holds the real side (a seeded subset of a decoded folder and, once computed, its features) and a
`Scorer` scores generators against it, so training pays for the real side once however often it scores.
`evaluate` is the `dcgan evaluate` command's whole job. Metrics (metric_names.py): swd (network-free, always
available), and fd, kid and prdc (precision, recall, density, coverage) on a pretrained backbone's features.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from dcgan_cli import checkpoint
from dcgan_cli.data.dataset import load_images
from dcgan_cli.data.store import ImageArray
from dcgan_cli.errors import DataError, OptionError
from dcgan_cli.metrics import backbones as features
from dcgan_cli.metrics.backbones import Backbone  # by name: Reference.features shadows the module
from dcgan_cli.metrics.distances import frechet_distance, kid, precision_recall_density_coverage
from dcgan_cli.metrics.names import (
    DEFAULT_N,
    FEATURE_METRICS,
    INCEPTION,
    MAX_N,
    MIN_IMAGES,
    check_backbone,
    parse_metrics,
)
from dcgan_cli.metrics.swd import swd
from dcgan_cli.paths import cache_dir_for, require_images
from dcgan_cli.seeding import MAX_SEED, derive_seed

if TYPE_CHECKING:
    from dcgan_cli.model import Generator

FEATURES_FORMAT = "dcgan-cli/features"
Progress = Callable[[str, int, int], None]


def choose_backbone(requested: str, metrics: Sequence[str]) -> tuple[str | None, str | None]:
    """(backbone name or None, a note on why feature metrics are skipped or None)."""
    check_backbone(requested)
    if requested == "none" or not any(m in FEATURE_METRICS for m in metrics):
        return None, None
    if requested == "auto":
        found = features.available()
        if not found:
            return None, f"fd, kid and prdc skipped: no feature backbone installed ({features.INSTALL_HINT})"
        return found[0], None
    return requested, None


class Reference:
    """n real images, drawn by seed from a decoded folder, and their features per backbone (computed once)."""

    def __init__(self, images_u8: ImageArray, n: int, seed: int, cache_dir: Path | None = None) -> None:
        if images_u8.shape[0] < MIN_IMAGES:
            raise DataError(f"only {images_u8.shape[0]} real images; evaluation needs at least {MIN_IMAGES}")
        self.n = min(n, images_u8.shape[0])
        pick = torch.randperm(images_u8.shape[0], generator=torch.Generator().manual_seed(derive_seed(seed, "real")))
        self.images = images_u8[pick[: self.n]].contiguous()
        self.seed, self.cache_dir = seed, cache_dir
        self._features: dict[str, torch.Tensor] = {}

    def features(self, backbone: Backbone, on_progress: Progress | None = None) -> torch.Tensor:
        if backbone.name not in self._features:
            path = self._cache_path(backbone)
            feats = self._cached(path, backbone.dim) if path is not None else None
            if feats is None:
                feats = _extract(backbone, self.images, "real features", on_progress)
                if path is not None:
                    _store(path, feats)
            self._features[backbone.name] = feats
        return self._features[backbone.name]

    def score(self, fake_u8: torch.Tensor, metrics: Sequence[str], backbone: Backbone | None,
              on_progress: Progress | None = None) -> dict[str, Any]:
        """Every requested metric for `fake_u8` (uint8, as many images as the reference holds)."""
        if fake_u8.shape != self.images.shape:
            raise ValueError(f"fake set {tuple(fake_u8.shape)} does not match the reference {tuple(self.images.shape)}")
        out: dict[str, Any] = {}
        if "swd" in metrics:
            out["swd"] = swd(self.images, fake_u8, seed=derive_seed(self.seed, "swd"))
        if backbone is not None and any(m in FEATURE_METRICS for m in metrics):
            real = self.features(backbone, on_progress)
            fake = _extract(backbone, fake_u8, "fake features", on_progress)
            scores: dict[str, Any] = {"dim": backbone.dim, "resolution": backbone.resolution}
            if "fd" in metrics:
                scores["fd"] = round(frechet_distance(real, fake), 4)
            if "kid" in metrics:
                mean, std = kid(real, fake, seed=derive_seed(self.seed, "kid"))
                scores["kid"], scores["kid_std"] = round(mean, 6), round(std, 6)
            if "prdc" in metrics:
                scores.update({k: round(v, 4) for k, v in precision_recall_density_coverage(real, fake).items()})
            out["features"] = {backbone.name: scores}
        return out

    # Real features cost most of an evaluation on a CPU. They depend only on the decoded pixels (hashed: ~10 ms
    # for 1,000 images at 64x64), the backbone (its weights are pinned by hash) and where they were computed.
    def _cache_path(self, backbone: Backbone) -> Path | None:
        if self.cache_dir is None:
            return None
        pixels = hashlib.sha256(self.images.numpy().tobytes()).hexdigest()
        facts = [FEATURES_FORMAT, pixels, list(self.images.shape), backbone.name, backbone.device.type,
                 torch.__version__]
        return self.cache_dir / "features" / f"{hashlib.sha256(json.dumps(facts).encode()).hexdigest()}.safetensors"

    def _cached(self, path: Path, dim: int) -> torch.Tensor | None:
        if not path.is_file():
            return None
        from safetensors.torch import load_file

        try:
            feats = load_file(str(path))["features"]
        except Exception:  # noqa: BLE001 - a damaged cache only means computing again
            return None
        return feats if tuple(feats.shape) == (self.n, dim) and feats.dtype == torch.float64 else None


def _store(path: Path, feats: torch.Tensor) -> None:
    from safetensors.torch import save

    from dcgan_cli.errors import OutputError
    from dcgan_cli.io.atomic import write_atomic

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, save({"features": feats.contiguous()}))
    except (OSError, OutputError):
        pass  # a read-only cache is not an error: the next run computes the features again


def _extract(backbone: Backbone, images: torch.Tensor, stage: str, on_progress: Progress | None,
             chunk: int = 200) -> torch.Tensor:
    parts = []
    for i in range(0, images.shape[0], chunk):
        parts.append(backbone(images[i : i + chunk]))
        if on_progress is not None:
            on_progress(stage, min(i + chunk, images.shape[0]), images.shape[0])
    return torch.cat(parts)


class Scorer:
    """Scores generators against one reference: `dcgan evaluate` once, `train --eval-every` every N steps."""

    def __init__(self, reference: Reference, metrics: Sequence[str], backbone: Backbone | None,
                 seed: int = 0, batch_size: int = 256) -> None:
        self.reference, self.metrics, self.backbone = reference, tuple(metrics), backbone
        self.seed, self.batch_size = seed, batch_size

    def __call__(self, netg: Generator, on_progress: Progress | None = None) -> dict[str, Any]:
        """G's images for seeds seed .. seed+n-1 (what `dcgan sample --seed S --n N` draws), in eval mode."""
        from dcgan_cli.sampling.generator import generate
        from dcgan_cli.sampling.seeds import seed_range

        seeds = seed_range(self.seed, self.reference.n)
        was_training = netg.training
        netg.eval()
        try:
            fake = torch.cat([images for _, images in generate(netg, seeds, batch_size=self.batch_size)])
        finally:
            netg.train(was_training)
        return self.reference.score(fake, self.metrics, self.backbone, on_progress)


def load_backbone(requested: str, metrics: Sequence[str], device: str = "cpu",
                  inception_weights: Path | None = None) -> tuple[Backbone | None, str | None]:
    """The backbone the metrics need (or None) and a note when feature metrics are skipped; a request that
    leaves nothing to compute is a UsageError. Called before any decoding, so a missing extra fails fast."""
    chosen, note = choose_backbone(requested, metrics)
    if chosen is None and "swd" not in metrics:
        raise OptionError("backbone", note or "none leaves no metric to compute; add swd to the metrics")
    if chosen is None:
        return None, note
    return features.load(chosen, device, inception_weights if chosen == features.INCEPTION else None), note


def make_scorer(images_u8: ImageArray, *, n: int, seed: int, metrics: Sequence[str],
                backbone: Backbone | None, cache_dir: Path | None = None,
                batch_size: int = 256) -> tuple[Scorer, list[str]]:
    """A scorer against n of these real images, and a note when there are fewer than n."""
    reference = Reference(images_u8, n, seed, cache_dir)
    notes = [f"only {reference.n} real images: n lowered from {n}"] if reference.n < n else []
    return Scorer(reference, metrics, backbone, seed, batch_size), notes


def evaluate(
    ckpt: str | Path | None, real: str | Path, *, n: int = DEFAULT_N, seed: int = 0,
    metrics: str | Sequence[str] | None = None, backbone: str = "auto", inception_weights: str | Path | None = None,
    device: str = "auto", ema: bool = True, batch_size: int = 256, workers: int = 2,
    cache_dir: str | Path | None = None, no_cache: bool = False, max_pixels: int = 64_000_000,
    on_progress: Progress | None = None,
) -> dict[str, Any]:
    """Score a checkpoint (a file or run folder; None: the newest run under ./runs/) against a folder of real
    images: `n` samples from seeds seed .. seed+n-1 (what `dcgan sample` draws) against n real images drawn by
    `seed`. `metrics` is any of swd, fd, kid, prdc (None: all); see the module docstring."""
    from dcgan_cli.device import select_device
    from dcgan_cli.sampling.generator import check_batch_size, load_generator, read_generator_header

    start = time.perf_counter()
    wanted, backbone = parse_metrics(metrics), check_backbone(backbone)
    if isinstance(n, bool) or not isinstance(n, int) or not MIN_IMAGES <= n <= MAX_N:
        raise OptionError("n", f"must be a whole number from {MIN_IMAGES} to {MAX_N}, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED - n + 1:
        raise OptionError("seed", f"seeds {seed}..{seed + n - 1} go past {MAX_SEED}; use a smaller seed")
    check_batch_size(batch_size)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise OptionError("workers", f"must be a whole number of at least 0, got {workers!r}")
    weights = Path(inception_weights) if inception_weights is not None else None
    if weights is not None and not weights.is_file():
        raise OptionError("inception_weights", f"no such file: {weights}")
    if weights is not None and backbone == "auto":
        backbone = INCEPTION
    real_dir = require_images(real, "real")
    path = checkpoint.find(ckpt)
    read_generator_header(path)  # a bad checkpoint fails here, before the backbone or the images are loaded
    cache = cache_dir_for(cache_dir, no_cache)
    dev = str(select_device(device))
    net, note = load_backbone(backbone, wanted, dev, weights)
    netg, config, header = load_generator(path, dev, ema=ema)
    data = load_images(real_dir, config.image_size, config.channels, workers=workers, cache_dir=cache,
                       max_pixels=max_pixels,
                       on_progress=(lambda d, t: on_progress("decode", d, t)) if on_progress else None)
    scorer, notes = make_scorer(data.images, n=n, seed=seed, metrics=wanted, backbone=net, cache_dir=cache,
                                batch_size=batch_size)
    return {
        "checkpoint": str(path), "step": header.progress.get("step"),
        "ema": ema and header.has_ema,
        "real": {"dir": str(real_dir), "images": data.report.used,
                 "skipped": {reason: len(paths) for reason, paths in data.report.skipped.items()}},
        "n": scorer.reference.n, "seed": seed, "image_size": config.image_size, "channels": config.channels,
        **scorer(netg, on_progress),
        "notes": ([note] if note else []) + notes,
        "seconds": round(time.perf_counter() - start, 3),
    }
