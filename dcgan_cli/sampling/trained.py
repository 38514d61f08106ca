"""The generator handle that `dcgan_cli.load()` returns: a trained G ready to sample, walk and render latents.

It is what `dcgan sample` and `dcgan interpolate` run on, so the same seeds give the same images from Python as
from the shell. Images come back as PIL images; `write_samples` and `write_walk` stream to files the way the
commands do (a grid, a GIF, a folder of PNGs with a manifest, or bytes to a stream).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import torch
from PIL import Image

from dcgan_cli import checkpoint
from dcgan_cli.device import select_device
from dcgan_cli.errors import OptionError
from dcgan_cli.io.images import to_pil
from dcgan_cli.sampling import keyframes
from dcgan_cli.sampling import latents as lat
from dcgan_cli.sampling.generator import check_batch_size, load_generator, render, render_all
from dcgan_cli.sampling.keys import Key, as_keys
from dcgan_cli.sampling.latents_file import LatentsFile, read_latents
from dcgan_cli.sampling.outputs import (
    Output,
    Progress,
    check_target,
    frame_file_names,
    latent_file_names,
    parse_target,
    seed_file_names,
    write_batches,
)
from dcgan_cli.sampling.seeds import check_seeds

if TYPE_CHECKING:
    from dcgan_cli.model import Discriminator
    from dcgan_cli.projection.project import Projection

Keyframe = int | str | Path | Key  # a seed, or a latents file ('me.safetensors', 'me.safetensors:2')

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

    @functools.cached_property
    def sha256(self) -> str:
        """The checkpoint file's SHA-256: latents files made with this generator name it. An hf folder answers
        with its source checkpoint's, so latents projected with the checkpoint fit its export without a warning."""
        if self.path.is_dir():
            from dcgan_cli.interop.hf import read_config

            recorded = read_config(self.path).get("checkpoint_sha256")
            return recorded if isinstance(recorded, str) else ""
        return checkpoint.fingerprint(self.path)

    def discriminator(self) -> Discriminator | None:
        """The checkpoint's D (eval mode, frozen, on this device), read on demand and G not again: projection's
        perceptual loss and the doctor's feature space use it. None for an hf folder or a G-only checkpoint."""
        if self.path.is_dir():
            return None
        from dcgan_cli.projection.features import load_discriminator

        ckpt = checkpoint.load(self.path, discriminator=True, generator=False)
        return load_discriminator(ckpt, self.config, self.device)

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

    def keyframes(self, keys: Sequence[Keyframe], truncation: float | None = None) -> tuple[torch.Tensor, list[str]]:
        """Latents (K, nz) for seeds and latents files (a whole file, or 'file:i'), and a label for each."""
        return keyframes.resolve(as_keys(keys), self.config.nz, lambda: self.sha256, truncation)

    def read_latents(self, path: str | Path) -> LatentsFile:
        """A latents file checked for this generator (LatentsError for another nz, a warning for another
        checkpoint)."""
        file = read_latents(path)
        keyframes.check_file_for(file, self.config.nz, self.sha256)
        return file

    def walk_latents(self, keys: Sequence[Keyframe], steps: int = DEFAULT_STEPS, mode: str = "slerp",
                     loop: bool = False, truncation: float | None = None) -> tuple[torch.Tensor, list[int]]:
        """Frame latents through keyframes (seeds or latents files) and each keyframe's frame index."""
        z, _ = self._plan_walk(keys, steps, mode, loop, truncation)
        return lat.walk(z, steps, mode, loop)

    def interpolate(self, keys: Sequence[Keyframe], steps: int = DEFAULT_STEPS, mode: str = "slerp",
                    loop: bool = False, truncation: float | None = None) -> list[Image.Image]:
        """The frames of a walk through keyframes; the frame at a keyframe is exactly that seed's (or that
        latent's) sample."""
        return self.from_latents(self.walk_latents(keys, steps, mode, loop, truncation)[0])

    def project(self, images: Sequence[str | Path | Image.Image], **options: Any) -> Projection:
        """Latents whose images match `images` (files or PIL images); see projection.project for options."""
        from dcgan_cli.projection.project import project

        return project(self, images, **options)

    # --- streamed to files -------------------------------------------------------------------------------

    def write_samples(self, seeds: Iterable[int] | None = None, output: Output | None = None, *,
                      latents: str | Path | None = None, nrow: int | None = None, force: bool = False,
                      truncation: float | None = None, batch_size: int = DEFAULT_BATCH,
                      on_progress: Progress | None = None) -> dict[str, Any]:
        """What `dcgan sample` does: a grid (.png), a folder (one PNG per seed + manifest.json) or PNG bytes to a
        stream ('-' is stdout); memory holds one batch however many seeds. With `latents` (a latents file), its
        rows instead of seeds (files latent0000.png, ...). Returns what was written."""
        if latents is not None and seeds is not None:
            raise OptionError("latents", "give either seeds or <latents>, not both")
        lat.check_truncation(truncation)
        check_batch_size(batch_size)
        _check_nrow(nrow)
        if latents is not None:
            if truncation is not None:
                raise OptionError("truncation", "applies to seeds; a latents file is rendered as stored")
            z = self.read_latents(latents).latents
            keys, source = list(range(z.shape[0])), {"latents": str(latents)}
        else:
            keys, source = check_seeds(range(DEFAULT_N) if seeds is None else seeds), {}
            if not keys:
                raise OptionError("seeds", "no seeds given")
        target = parse_target(output, Path(f"{run_name(self.path)}-samples.png"), (".png",), "a grid")
        names = (latent_file_names(len(keys)) if latents is not None else seed_file_names(keys)) \
            if target.kind == "dir" else {}
        if names:
            keys = list(names)
        check_target(target, names.values(), force)
        manifest = {"checkpoint": str(self.path), "step": self.step, "truncation": truncation, **source,
                    "batch_stats": self.batch_stats, "ema": self.ema, "files": {str(s): n for s, n in names.items()}}
        nz = self.config.nz
        chunks = (keys[i : i + batch_size] for i in range(0, len(keys), batch_size))
        batches = ((chunk, render(self.module, z[chunk[0] : chunk[-1] + 1] if latents is not None
                                  else lat.latents(chunk, nz, truncation))) for chunk in chunks)
        files = write_batches(target, batches, total=len(keys), shape=self._shape, names=names,
                              manifest=manifest, nrow=nrow, on_progress=on_progress)
        return {"files": files, **({"latents": str(latents), "count": len(keys)} if latents is not None else
                                   {"seeds": keys}), "checkpoint": str(self.path), "step": self.step,
                "output": target.describe(), "truncation": truncation, "batch_stats": self.batch_stats,
                "ema": self.ema}

    def write_walk(self, keys: Sequence[Keyframe], output: Output | None = None, *, steps: int = DEFAULT_STEPS,
                   mode: str = "slerp", loop: bool = False, fps: int = 12, nrow: int | None = None,
                   force: bool = False, truncation: float | None = None, batch_size: int = DEFAULT_BATCH,
                   on_progress: Progress | None = None) -> dict[str, Any]:
        """What `dcgan interpolate` does: an animated .gif, a .png grid of frames, or a folder of numbered frames."""
        if isinstance(fps, bool) or not isinstance(fps, int) or not 1 <= fps <= 50:
            raise OptionError("fps", f"must be a whole number from 1 to 50, got {fps!r}")
        check_batch_size(batch_size)
        _check_nrow(nrow)
        target = parse_target(output, Path(f"{run_name(self.path)}-interp.gif"), (".gif", ".png"), "frames")
        keys_z, labels = self._plan_walk(keys, steps, mode, loop, truncation)
        total = lat.frame_count(len(labels), steps, loop)
        names = frame_file_names(total) if target.kind == "dir" else {}
        check_target(target, names.values(), force)
        z, at = lat.walk(keys_z, steps, mode, loop)
        manifest = {"checkpoint": str(self.path), "step": self.step, "keys": labels, "steps": steps, "mode": mode,
                    "loop": loop, "truncation": truncation, "keyframes": at, "frames": list(names.values())}
        batches = ((list(range(first, first + len(images))), images)
                   for first, images in render_all(self.module, z, batch_size))
        files = write_batches(target, batches, total=total, shape=self._shape, names=names, manifest=manifest,
                              nrow=nrow, fps=fps, on_progress=on_progress)
        return {"files": files, "keys": labels, "checkpoint": str(self.path), "step": self.step, "frames": total,
                "keyframes": at, "steps": steps, "mode": mode, "loop": loop, "output": target.describe()}

    # --- helpers -----------------------------------------------------------------------------------------

    def arithmetic(self, expression: str, output: Output | Sequence[Output] | None = None, *, neighbours: int = 8,
                   noise: float = 0.25, seed: int = 0, force: bool = False) -> dict[str, Any]:
        """The paper's latent arithmetic ("1,2,3 - 4,5,6 + 7,8,9"): a grid (.png) and/or the resulting latent
        (.safetensors); see sampling/arithmetic.py. Returns what was written and the result."""
        from dcgan_cli.sampling.arithmetic import write_arithmetic

        outputs: list[Output] = []
        if isinstance(output, (str, Path)) or hasattr(output, "write"):
            outputs = [cast(Output, output)]
        elif output is not None:
            outputs = list(output)
        return write_arithmetic(self, expression, outputs, neighbours=neighbours, noise=noise, seed=seed,
                                force=force)

    @property
    def _shape(self) -> tuple[int, int, int]:
        return self.config.channels, self.config.image_size, self.config.image_size

    def _plan_walk(self, keys: Sequence[Keyframe], steps: int, mode: str, loop: bool,
                   truncation: float | None) -> tuple[torch.Tensor, list[str]]:
        """The keyframe latents of a walk and their labels, checked: mode, steps, at most MAX_FRAMES frames."""
        found = as_keys(keys, "keys")
        lat.check_walk(max(len(found), 2), steps, mode)  # mode and steps first: they cost nothing to check
        z, labels = self.keyframes(found, truncation)
        lat.check_walk(len(labels), steps, mode)
        total = lat.frame_count(len(labels), steps, loop)
        if total > MAX_FRAMES:
            raise OptionError("steps", f"{total} frames is more than {MAX_FRAMES}; use fewer steps or keyframes")
        return z, labels

    def _check_latents(self, z: torch.Tensor) -> torch.Tensor:
        if not isinstance(z, torch.Tensor) or z.dim() != 2 or z.shape[1] != self.config.nz:
            shape = list(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            raise OptionError("z", f"latents must be a tensor of shape (N, {self.config.nz}), got {shape}")
        if not z.is_floating_point() or not bool(torch.isfinite(z).all()):
            raise OptionError("z", "latents must be finite floating-point values")
        return z.float()


def _check_nrow(nrow: int | None) -> None:
    if nrow is not None and (isinstance(nrow, bool) or not isinstance(nrow, int) or nrow < 1):
        raise OptionError("nrow", f"must be a whole number of at least 1, got {nrow!r}")


def run_name(path: Path) -> str:
    """runs/faces/last.safetensors -> 'faces'; other files -> their stem; made safe for a file name."""
    name = path.resolve().parent.name if path.name == checkpoint.LAST or path.stem.startswith("ckpt-") else \
        path.resolve().name if path.is_dir() else path.stem
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "dcgan"


def load(path: str | Path | None = None, device: str = "auto", *, ema: bool = True,
         batch_stats: bool = False) -> TrainedGenerator:
    """The generator of a checkpoint file or run folder (None: the newest run under ./runs/).

    The EMA generator of `train --ema` is used unless `ema=False`; `batch_stats=True` normalises with each batch's
    own statistics, as the tutorial displays samples (images then depend on their batch).
    """
    return TrainedGenerator(checkpoint.find(path), device, ema=ema, batch_stats=batch_stats)


