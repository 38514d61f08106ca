"""`dcgan project`: for each picture, a latent z whose generated image matches it.

z is optimised by Adam (cosine-decayed step size) against, per image:
- a pixel loss: the mean squared difference in [-1, 1];
- a perceptual loss in the checkpoint's own discriminator (projection/features.py), which keeps edges and
  texture where the pixel loss alone settles for a blur;
- a prior, (mean(z^2) - 1)^2, keeping z near the shell where Gaussian latents live, so the latent still
  interpolates and samples like the rest of the space.
Each image starts from `restarts` latents: the best of 8x as many random draws, screened by one forward pass, are
all optimised at once and the best result is kept. Images are optimised together in batches, and every loss is a
sum of per-image terms (G and D run on running statistics), so an image's result does not depend on its batch.
The starting draws come from the seed and the image's position, so a projection is deterministic for a seed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from PIL import Image

from dcgan_cli.errors import OptionError
from dcgan_cli.io.images import grid, to_pil
from dcgan_cli.projection.features import DFeatures, distance, normalise
from dcgan_cli.projection.targets import load_targets
from dcgan_cli.sampling.latents_file import save_latents
from dcgan_cli.seeding import MAX_SEED, derive_seed

if TYPE_CHECKING:
    from dcgan_cli.sampling.trained import TrainedGenerator

DEFAULTS: dict[str, Any] = {"steps": 200, "restarts": 4, "lr": 0.05, "feature_weight": 1.0, "prior_weight": 0.05,
                            "batch_size": 16, "seed": 0}
CANDIDATES_PER_RESTART = 8


@dataclass
class Projection:
    """Latents found for images: `latents` (N, nz) and, per image, its losses and reconstruction PSNR."""

    latents: torch.Tensor
    sources: list[str]
    targets: torch.Tensor  # uint8 (N, C, H, W), as decoded
    reconstructions: torch.Tensor  # uint8, what `sample --latents` renders from `latents`
    losses: list[dict[str, float]]
    psnr: list[float]
    checkpoint: str
    checkpoint_sha256: str
    settings: dict[str, Any] = field(default_factory=dict)

    def rows(self) -> list[dict[str, Any]]:
        """Per image: file, losses, PSNR (what `--json` prints)."""
        return [{"file": s, "index": k, "psnr": p, **loss}
                for k, (s, p, loss) in enumerate(zip(self.sources, self.psnr, self.losses))]

    def save(self, path: str | Path) -> Path:
        """A latents file for `sample --latents`, `interpolate` keyframes and `arithmetic` groups."""
        info = [{"psnr": p, **loss} for p, loss in zip(self.psnr, self.losses)]
        return save_latents(path, self.latents, checkpoint_sha256=self.checkpoint_sha256, sources=self.sources,
                            info=info)

    def preview(self) -> Image.Image:
        """Targets above their reconstructions, eight images per row pair."""
        per_row, pairs = 8, []
        for i in range(0, len(self.sources), per_row):
            chunk = slice(i, i + per_row)
            targets, recons = self.targets[chunk], self.reconstructions[chunk]
            pad = per_row - targets.shape[0] if len(self.sources) > per_row else 0
            blank = torch.zeros((pad, *targets.shape[1:]), dtype=torch.uint8)
            pairs += [targets, blank, recons, blank]
        images = torch.cat(pairs)
        return to_pil(grid(images, nrow=min(per_row, len(self.sources))))


def check_settings(steps: int, restarts: int, lr: float, feature_weight: float, prior_weight: float,
                   batch_size: int, seed: int) -> None:
    def whole(name: str, value: int, low: int, high: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise OptionError(name, f"must be a whole number from {low} to {high}, got {value!r}")

    whole("steps", steps, 0, 100_000)
    whole("restarts", restarts, 1, 64)
    whole("batch_size", batch_size, 1, 4096)
    whole("seed", seed, 0, MAX_SEED)
    for name, value, low in (("lr", lr, 1e-6), ("feature_weight", feature_weight, 0.0),
                             ("prior_weight", prior_weight, 0.0)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or not value >= low or value > 1000:
            raise OptionError(name, f"must be a number from {low:g} to 1000, got {value!r}")


def project(gen: TrainedGenerator, images: Sequence[str | Path | Image.Image], *,
            steps: int = DEFAULTS["steps"], restarts: int = DEFAULTS["restarts"], lr: float = DEFAULTS["lr"],
            feature_weight: float = DEFAULTS["feature_weight"], prior_weight: float = DEFAULTS["prior_weight"],
            batch_size: int = DEFAULTS["batch_size"], seed: int = DEFAULTS["seed"],
            on_progress: Callable[[int], None] | None = None) -> Projection:
    """Project image files (or PIL images) into `gen`'s latent space; see the module docstring.

    on_progress(k) is called after each optimisation step with the number of steps just done (total:
    steps x number of batches). Without a discriminator in the checkpoint, the feature loss is left out.
    """
    check_settings(steps, restarts, lr, feature_weight, prior_weight, batch_size, seed)
    config = gen.config
    targets, names = load_targets(images, config.image_size, config.channels)
    netd = gen.discriminator()
    features = DFeatures(netd) if netd is not None and feature_weight > 0 else None
    objective = _Objective(gen.module, features, feature_weight, prior_weight)
    found, losses = [], []
    for first in range(0, len(names), batch_size):
        batch = targets[first : first + batch_size]
        z, loss = _project_batch(objective, batch.to(gen.device), first, config.nz, steps, restarts, lr, seed,
                                 on_progress)
        found.append(z)
        losses += loss
    latents = torch.cat(found)
    recons = gen.render(latents)
    psnr = [_psnr(t, r) for t, r in zip(targets, recons)]
    settings = {"steps": steps, "restarts": restarts, "lr": lr, "feature_weight": feature_weight if features else 0,
                "prior_weight": prior_weight, "seed": seed, "discriminator": features is not None}
    return Projection(latents, names, targets, recons, losses, psnr, str(gen.path), gen.sha256, settings)


class _Objective:
    """Per-image losses of latents (M, nz) against targets in [-1, 1] and their normalised D features."""

    def __init__(self, netg: torch.nn.Module, features: DFeatures | None, feature_weight: float,
                 prior_weight: float) -> None:
        self.netg, self.features = netg, features
        self.feature_weight, self.prior_weight = feature_weight, prior_weight

    def target_features(self, targets: torch.Tensor) -> list[torch.Tensor] | None:
        if self.features is None:
            return None
        with torch.no_grad():
            return normalise(self.features(targets))

    def __call__(self, z: torch.Tensor, targets: torch.Tensor,
                 target_features: list[torch.Tensor] | None) -> dict[str, torch.Tensor]:
        images = self.netg(z.view(z.shape[0], -1, 1, 1))
        pixel = (images - targets).pow(2).mean(dim=(1, 2, 3))
        prior = (z.pow(2).mean(dim=1) - 1).pow(2)
        feature = torch.zeros_like(pixel)
        if self.features is not None and target_features is not None:
            feature = distance(normalise(self.features(images)), target_features)
        total = pixel + self.feature_weight * feature + self.prior_weight * prior
        return {"total": total, "pixel": pixel, "feature": feature, "prior": prior}


def _project_batch(objective: _Objective, targets_u8: torch.Tensor, first: int, nz: int, steps: int, restarts: int,
                   lr: float, seed: int, on_progress: Callable[[int], None] | None
                   ) -> tuple[torch.Tensor, list[dict[str, float]]]:
    n, device = targets_u8.shape[0], targets_u8.device
    targets = targets_u8.float() / 127.5 - 1
    feats = objective.target_features(targets)
    starts = []
    for i in range(n):  # screen 8x restarts draws per image; their seeds depend on the image's position only
        draws = torch.randn(restarts * CANDIDATES_PER_RESTART, nz,
                            generator=torch.Generator().manual_seed(derive_seed(seed, f"project:{first + i}")))
        with torch.no_grad():
            reps = draws.shape[0]
            loss = objective(draws.to(device), targets[i : i + 1].expand(reps, -1, -1, -1),
                             _repeat(feats, i, reps))["total"]
        starts.append(draws[torch.argsort(loss.cpu(), stable=True)[:restarts]])
    z = torch.cat(starts).to(device).requires_grad_(True)  # image i's restarts are rows i*R .. i*R+R-1
    tiled = targets.repeat_interleave(restarts, dim=0)
    tiled_feats = None if feats is None else [f.repeat_interleave(restarts, dim=0) for f in feats]
    opt = torch.optim.Adam([z], lr=lr, betas=(0.9, 0.999))
    for step in range(steps):
        for group in opt.param_groups:  # cosine decay to zero: large moves first, then settle
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
        opt.zero_grad(set_to_none=True)
        objective(z, tiled, tiled_feats)["total"].sum().backward()
        opt.step()
        if on_progress is not None:
            on_progress(1)
    with torch.no_grad():
        final = objective(z, tiled, tiled_feats)
    best = final["total"].view(n, restarts).argmin(dim=1)
    rows = torch.arange(n, device=device) * restarts + best
    losses = [{k: round(float(v[r]), 6) for k, v in final.items()} for r in rows.tolist()]
    return z.detach()[rows].cpu(), losses


def _repeat(feats: list[torch.Tensor] | None, i: int, reps: int) -> list[torch.Tensor] | None:
    return None if feats is None else [f[i : i + 1].expand(reps, -1, -1, -1) for f in feats]


def _psnr(target: torch.Tensor, recon: torch.Tensor) -> float:
    """PSNR in dB of two uint8 images (capped at 100 for identical ones)."""
    mse = float((target.float() - recon.float()).pow(2).mean())
    return 100.0 if mse == 0 else round(min(100.0, 10 * math.log10(255.0**2 / mse)), 3)

