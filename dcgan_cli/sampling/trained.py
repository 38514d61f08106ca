"""The generator handle that `dcgan_cli.load()` returns: a trained G ready to sample, walk and render latents.

It is what `dcgan sample` and `dcgan interpolate` run on, so the same seeds give the same images from Python as
from the shell. Images come back as PIL images; `write_samples` and `write_walk` stream to files the way the
commands do (a grid, a GIF, a folder of PNGs with a manifest, or bytes to a stream).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from dcgan_cli import checkpoint
from dcgan_cli.device import select_device
from dcgan_cli.errors import OptionError
from dcgan_cli.io.images import to_pil
from dcgan_cli.sampling import latents as lat
from dcgan_cli.sampling.generator import check_batch_size, load_generator, render, render_all
from dcgan_cli.sampling.outputs import (
    Output,
    Progress,
    check_target,
    frame_file_names,
    parse_target,
    seed_file_names,
    write_batches,
)
from dcgan_cli.sampling.seeds import check_seeds

DEFAULT_N = 64
DEFAULT_BATCH = 256
DEFAULT_STEPS = 16
MAX_FRAMES = 10_000


class TrainedGenerator:
    """G from a checkpoint, in eval mode (BatchNorm's running statistics) unless loaded with batch_stats."""

    def __init__(self, path: Path, device: str = "auto", *, ema: bool = True, batch_stats: bool = False) -> None:
        self.path = checkpoint.resolve(path)
        self.device = select_device(device)
        self.batch_stats = batch_stats
        self.module, self.config, self.header = load_generator(self.path, self.device, batch_stats, ema=ema)
        self.ema = ema and self.header.has_ema  # True when the averaged G of `train --ema` is the one in use
        self.step: int | None = self.header.progress.get("step")

    def __repr__(self) -> str:
        return f"TrainedGenerator({str(self.path)!r}, step={self.step}, ema={self.ema}, {self.config})"

    # --- latents and images ------------------------------------------------------------------------------

    def latents(self, seeds: Iterable[int], truncation: float | None = None) -> torch.Tensor:
        """(N, nz) float32: seed k's latent, the same for any batch, count or device."""
        return lat.latents(check_seeds(seeds), self.config.nz, truncation)

    def render(self, z: torch.Tensor, batch_size: int = DEFAULT_BATCH) -> torch.Tensor:
        """Latents (N, nz) -> uint8 images (N, C, H, W) on the CPU."""
        z = self._check_latents(z)
        return torch.cat([images for _, images in render_all(self.module, z, batch_size)]) if len(z) else \
            torch.empty(0, self.config.channels, self.config.image_size, self.config.image_size, dtype=torch.uint8)

    def from_latents(self, z: torch.Tensor, batch_size: int = DEFAULT_BATCH) -> list[Image.Image]:
        """Latents (N, nz) -> N PIL images."""
        return [to_pil(image) for image in self.render(z, batch_size)]

    def sample(self, seeds: Iterable[int] = range(DEFAULT_N), truncation: float | None = None,
               batch_size: int = DEFAULT_BATCH) -> list[Image.Image]:
        """One image per seed; image k depends on seed k alone (what `dcgan sample --seeds` writes)."""
        return self.from_latents(self.latents(seeds, truncation), batch_size)

    def walk_latents(self, seeds: Sequence[int], steps: int = DEFAULT_STEPS, mode: str = "slerp",
                     loop: bool = False, truncation: float | None = None) -> tuple[torch.Tensor, list[int]]:
        """Frame latents through keyframe seeds and each keyframe's frame index (see latents.walk)."""
        keys, _ = _plan_walk(seeds, steps, mode, loop)
        return lat.walk(lat.latents(keys, self.config.nz, truncation), steps, mode, loop)

    def interpolate(self, seeds: Sequence[int], steps: int = DEFAULT_STEPS, mode: str = "slerp",
                    loop: bool = False, truncation: float | None = None) -> list[Image.Image]:
        """The frames of a walk through `seeds`; the frame at a keyframe is exactly that seed's sample."""
        return self.from_latents(self.walk_latents(seeds, steps, mode, loop, truncation)[0])

    # --- streamed to files -------------------------------------------------------------------------------

    def write_samples(self, seeds: Iterable[int], output: Output | None = None, *, nrow: int | None = None,
                      force: bool = False, truncation: float | None = None, batch_size: int = DEFAULT_BATCH,
                      on_progress: Progress | None = None) -> dict[str, Any]:
        """What `dcgan sample` does: a grid (.png), a folder (one PNG per seed + manifest.json) or PNG bytes to a
        stream ('-' is stdout); memory holds one batch however many seeds. Returns what was written."""
        seed_list = check_seeds(seeds)
        if not seed_list:
            raise OptionError("seeds", "no seeds given")
        lat.check_truncation(truncation)
        check_batch_size(batch_size)
        _check_nrow(nrow)
        target = parse_target(output, Path(f"{run_name(self.path)}-samples.png"), (".png",), "a grid")
        names = seed_file_names(seed_list) if target.kind == "dir" else {}
        if names:
            seed_list = list(names)
        check_target(target, names.values(), force)
        manifest = {"checkpoint": str(self.path), "step": self.step, "truncation": truncation,
                    "batch_stats": self.batch_stats, "ema": self.ema, "files": {str(s): n for s, n in names.items()}}
        nz = self.config.nz
        batches = ((chunk, render(self.module, lat.latents(chunk, nz, truncation)))
                   for chunk in (seed_list[i : i + batch_size] for i in range(0, len(seed_list), batch_size)))
        files = write_batches(target, batches, total=len(seed_list), shape=self._shape, names=names,
                              manifest=manifest, nrow=nrow, on_progress=on_progress)
        return {"files": files, "seeds": seed_list, "checkpoint": str(self.path), "step": self.step,
                "output": target.describe(), "truncation": truncation, "batch_stats": self.batch_stats,
                "ema": self.ema}

    def write_walk(self, seeds: Sequence[int], output: Output | None = None, *, steps: int = DEFAULT_STEPS,
                   mode: str = "slerp", loop: bool = False, fps: int = 12, nrow: int | None = None,
                   force: bool = False, truncation: float | None = None, batch_size: int = DEFAULT_BATCH,
                   on_progress: Progress | None = None) -> dict[str, Any]:
        """What `dcgan interpolate` does: an animated .gif, a .png grid of frames, or a folder of numbered frames."""
        if isinstance(fps, bool) or not isinstance(fps, int) or not 1 <= fps <= 50:
            raise OptionError("fps", f"must be a whole number from 1 to 50, got {fps!r}")
        check_batch_size(batch_size)
        _check_nrow(nrow)
        keys, total = _plan_walk(seeds, steps, mode, loop)
        lat.check_truncation(truncation)
        target = parse_target(output, Path(f"{run_name(self.path)}-interp.gif"), (".gif", ".png"), "frames")
        names = frame_file_names(total) if target.kind == "dir" else {}
        check_target(target, names.values(), force)
        z, keyframes = lat.walk(lat.latents(keys, self.config.nz, truncation), steps, mode, loop)
        manifest = {"checkpoint": str(self.path), "step": self.step, "seeds": keys, "steps": steps, "mode": mode,
                    "loop": loop, "truncation": truncation, "keyframes": keyframes, "frames": list(names.values())}
        batches = ((list(range(first, first + len(images))), images)
                   for first, images in render_all(self.module, z, batch_size))
        files = write_batches(target, batches, total=total, shape=self._shape, names=names, manifest=manifest,
                              nrow=nrow, fps=fps, on_progress=on_progress)
        return {"files": files, "seeds": keys, "checkpoint": str(self.path), "step": self.step, "frames": total,
                "keyframes": keyframes, "steps": steps, "mode": mode, "loop": loop, "output": target.describe()}

    # --- helpers -----------------------------------------------------------------------------------------

    @property
    def _shape(self) -> tuple[int, int, int]:
        return self.config.channels, self.config.image_size, self.config.image_size

    def _check_latents(self, z: torch.Tensor) -> torch.Tensor:
        if not isinstance(z, torch.Tensor) or z.dim() != 2 or z.shape[1] != self.config.nz:
            shape = list(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            raise OptionError("z", f"latents must be a tensor of shape (N, {self.config.nz}), got {shape}")
        if not z.is_floating_point() or not bool(torch.isfinite(z).all()):
            raise OptionError("z", "latents must be finite floating-point values")
        return z.float()


def _plan_walk(seeds: Sequence[int], steps: int, mode: str, loop: bool) -> tuple[list[int], int]:
    """The checked keyframe seeds of a walk and its frame count (at most MAX_FRAMES)."""
    keys = check_seeds(seeds)
    lat.check_walk(len(keys), steps, mode)
    total = lat.frame_count(len(keys), steps, loop)
    if total > MAX_FRAMES:
        raise OptionError("steps", f"{total} frames is more than {MAX_FRAMES}; use fewer steps or seeds")
    return keys, total


def _check_nrow(nrow: int | None) -> None:
    if nrow is not None and (isinstance(nrow, bool) or not isinstance(nrow, int) or nrow < 1):
        raise OptionError("nrow", f"must be a whole number of at least 1, got {nrow!r}")


def run_name(path: Path) -> str:
    """runs/faces/last.safetensors -> 'faces'; other files -> their stem; made safe for a file name."""
    name = path.resolve().parent.name if path.name == checkpoint.LAST or path.stem.startswith("ckpt-") else path.stem
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "dcgan"


def load(path: str | Path | None = None, device: str = "auto", *, ema: bool = True,
         batch_stats: bool = False) -> TrainedGenerator:
    """The generator of a checkpoint file or run folder (None: the newest run under ./runs/).

    The EMA generator of `train --ema` is used unless `ema=False`; `batch_stats=True` normalises with each batch's
    own statistics, as the tutorial displays samples (images then depend on their batch).
    """
    return TrainedGenerator(checkpoint.find(path), device, ema=ema, batch_stats=batch_stats)


