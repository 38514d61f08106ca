"""Images from a trained generator: seeds -> latents -> uint8 images, streamed in batches; latent walks.

Every image's latent comes from its own CPU generator seeded with the image's seed, so image k never depends on
the batch it was computed in, on how many images were asked for, or on the device. G runs in eval mode by
default: BatchNorm then uses the running statistics saved in the checkpoint, so a sample is a pure function of
its seed (reproducible, and `--seeds 7` is exactly image 7 of `--seeds 0-63`). `batch_stats=True` puts G in
train mode instead, normalising with each batch's own statistics. That is how the PyTorch DCGAN tutorial shows
its samples (and often looks a little sharper early in training), but an image then depends on the other images
in its batch, so it is neither reproducible across batch sizes nor composable.

Byte equality between a batch of 1 and a batch of 256 is a property of the CPU kernels, which compute each
sample independently (tests check it on every run); on CUDA, cuDNN may pick other algorithms per batch size.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch

from dcgan_cli import checkpoint
from dcgan_cli.io.atomic import write_atomic
from dcgan_cli.errors import CheckpointError, OutputError, UsageError
from dcgan_cli.io.images import GridCanvas, encode_pngs, gif_bytes, tensor_png, to_pil, to_uint8
from dcgan_cli.model import DCGANConfig, Generator, fold_batchnorm

MAX_SEED = 2**32 - 1  # what numpy's RandomState accepts, as in stylegan2-ada; torch would take 2**64-1
MAX_SEEDS = 1_000_000
MIN_TRUNCATION = 0.1  # below this, resampling |z| > bound takes hundreds of rounds per component
MANIFEST = "manifest.json"
MAX_GRID_BYTES = 512 * 1024 * 1024  # a grid is held whole in memory (a folder streams instead)
_RANGE = re.compile(r"^(\d+)-(\d+)$")


def parse_seeds(text: str, limit: int = MAX_SEEDS) -> list[int]:
    """'0-35,40,42' -> [0, ..., 35, 40, 42]; ranges are inclusive, order and repeats are kept."""
    parts = [p.strip() for p in text.split(",")]
    spans: list[tuple[int, int]] = []
    for part in parts:
        if not part:
            raise UsageError(f"invalid seed list {text!r}: empty item (write e.g. 0-35,40,42)")
        match = _RANGE.match(part)
        if match:
            start, end = int(match.group(1)), int(match.group(2))
            if start > end:
                raise UsageError(f"invalid seed range {part!r}: start > end")
        elif part.isdigit():
            start = end = int(part)
        elif re.fullmatch(r"-\d+", part):
            raise UsageError(f"invalid seed {part!r}: seeds cannot be negative")
        else:
            raise UsageError(f"invalid seed {part!r} (write seeds as N or N-M, separated by commas)")
        if end > MAX_SEED:
            raise UsageError(f"invalid seed {part!r}: seeds go up to {MAX_SEED}")
        spans.append((start, end))
    total = sum(end - start + 1 for start, end in spans)  # counted before expanding: 0-4294967295 is cheap
    if total > limit:
        raise UsageError(f"too many seeds in {text!r}: {total} (at most {limit})")
    return [s for start, end in spans for s in range(start, end + 1)]


def seed_range(start: int, n: int, limit: int = MAX_SEEDS) -> list[int]:
    """`--seed S --n N` -> S .. S+N-1, checked like parse_seeds."""
    if n < 1 or n > limit:
        raise UsageError(f"--n must be from 1 to {limit}, got {n}")
    if start < 0 or start + n - 1 > MAX_SEED:
        raise UsageError(f"seeds {start}..{start + n - 1} are outside 0..{MAX_SEED}")
    return list(range(start, start + n))


def latent(seed: int, nz: int, truncation: float | None = None) -> torch.Tensor:
    """One seed's latent (nz,), from its own CPU generator; truncation redraws |z| > bound from the same one."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(nz, generator=gen)
    if truncation is not None:
        while True:
            outside = z.abs() > truncation
            count = int(outside.sum())
            if count == 0:
                break
            z[outside] = torch.randn(count, generator=gen)
    return z


def latents(seeds: Sequence[int], nz: int, truncation: float | None = None) -> torch.Tensor:
    """(len(seeds), nz) float32 on the CPU."""
    if truncation is not None and not truncation >= MIN_TRUNCATION:
        raise UsageError(f"--truncation must be at least {MIN_TRUNCATION}, got {truncation}")
    if not seeds:
        return torch.empty(0, nz)
    return torch.stack([latent(s, nz, truncation) for s in seeds])


def load_generator(
    path: Path, device: torch.device | str = "cpu", batch_stats: bool = False, ema: bool = True
) -> tuple[Generator, DCGANConfig, checkpoint.Header]:
    """G from a checkpoint (validated, finite), on `device`, in eval mode unless batch_stats.

    A checkpoint trained with --ema holds an averaged G too; it is used unless `ema` is False.
    """
    ckpt = checkpoint.load(path)
    assert ckpt.header is not None
    config = DCGANConfig.from_dict(ckpt.config)  # load() already turned a bad config into CheckpointError
    with torch.device("meta"):  # no random init of weights that are replaced at once
        netg = Generator(config)
    weights = ckpt.generator_ema if ema and ckpt.generator_ema is not None else ckpt.generator
    try:
        netg.load_state_dict(weights, strict=True, assign=True)
    except RuntimeError as e:  # e.g. an extra G.* tensor the shape check lets through
        first = str(e).strip().splitlines()[-1].strip() if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path}: generator weights do not fit the model ({first})") from None
    device = torch.device(device)
    netg = netg.to(device)
    netg.train(batch_stats)
    if not batch_stats:
        netg = fold_batchnorm(netg)
    if device.type in ("cpu", "cuda"):  # NHWC: 1.4-2.4x faster transposed convs on CPU (measured)
        netg = netg.to(memory_format=torch.channels_last)
    for p in netg.parameters():
        p.requires_grad_(False)
    return netg, config, ckpt.header


def render(netg: Generator, z: torch.Tensor) -> torch.Tensor:
    """Latents (N, nz) -> uint8 images (N, C, H, W) on the CPU."""
    device = next(netg.parameters()).device
    z = z.to(device).view(z.shape[0], -1, 1, 1)
    with torch.inference_mode():
        return to_uint8(netg(z))


def generate(
    netg: Generator, seeds: Sequence[int], *, batch_size: int = 256, truncation: float | None = None
) -> Iterator[tuple[list[int], torch.Tensor]]:
    """Yield (seeds, uint8 images) one batch at a time: memory holds one batch, whatever len(seeds) is."""
    if batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {batch_size}")
    nz = netg.config.nz
    for i in range(0, len(seeds), batch_size):
        chunk = list(seeds[i : i + batch_size])
        yield chunk, render(netg, latents(chunk, nz, truncation))


def render_all(netg: Generator, z: torch.Tensor, batch_size: int = 256) -> Iterator[tuple[int, torch.Tensor]]:
    """Render many latents (frames of a walk) in batches: yield (index of the first, uint8 images)."""
    for i in range(0, z.shape[0], batch_size):
        yield i, render(netg, z[i : i + batch_size])


# --- latent walks ----------------------------------------------------------------------------------------


def lerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    return a + (b - a) * t


def slerp(a: torch.Tensor, b: torch.Tensor, t: float, eps: float = 1e-6) -> torch.Tensor:
    """Spherical interpolation (keeps the norm Gaussian latents have); lerp when a and b are ~(anti)parallel."""
    a64, b64 = a.double(), b.double()
    na, nb = a64.norm(), b64.norm()
    if float(na) < eps or float(nb) < eps:
        return lerp(a, b, t)
    cos = torch.clamp(torch.dot(a64 / na, b64 / nb), -1.0, 1.0)
    omega = torch.acos(cos)
    sin = torch.sin(omega)
    if float(sin) < eps:  # the angle is ~0 (or ~pi): the slerp weights are 0/0, lerp is the limit
        return lerp(a, b, t)
    out = (torch.sin((1 - t) * omega) / sin) * a64 + (torch.sin(t * omega) / sin) * b64
    return out.to(a.dtype)


def frame_count(keyframes: int, steps: int, loop: bool) -> int:
    """steps frames per pair of keyframes, plus the last keyframe itself unless the walk loops back."""
    pairs = keyframes if loop else keyframes - 1
    return steps * pairs + (0 if loop else 1)


def walk(keys: torch.Tensor, steps: int, mode: str = "slerp", loop: bool = False) -> tuple[torch.Tensor, list[int]]:
    """Frame latents through keyframe latents (K, nz) and the frame index of each keyframe.

    Each pair contributes frames t = 0, 1/steps, ..., (steps-1)/steps; t = 0 is the keyframe tensor itself
    (copied, never recomputed), so a keyframe frame has exactly the bits `sample --seeds K` feeds G.
    """
    if mode not in ("slerp", "lerp"):
        raise UsageError(f"--mode must be slerp or lerp, got {mode!r}")
    if keys.shape[0] < 2:
        raise UsageError("interpolate needs at least two seeds")
    if steps < 1:
        raise UsageError(f"--steps must be at least 1, got {steps}")
    fn = slerp if mode == "slerp" else lerp
    order = list(range(keys.shape[0])) + ([0] if loop else [])
    frames: list[torch.Tensor] = []
    at: list[int] = []
    for i, j in zip(order, order[1:]):
        at.append(len(frames))
        frames.append(keys[i].clone())
        frames += [fn(keys[i], keys[j], k / steps) for k in range(1, steps)]
    if not loop:
        at.append(len(frames))
        frames.append(keys[-1].clone())
    return torch.stack(frames), at


# --- where images go -------------------------------------------------------------------------------------
# Each sink takes batches as they are made and returns the bytes of a single-file output (or None) at the end.


class FolderSink:
    """One PNG per image, written (atomically) by a background thread while the next batch renders.

    torch releases the GIL inside the forward pass, so encoding batch k overlaps rendering batch k+1. At most
    one batch waits in the writer, which keeps memory flat however many images are asked for.
    """

    def __init__(self, folder: Path, names: dict[int, str], manifest: dict[str, Any]) -> None:
        self.folder, self.names, self.manifest = folder, names, manifest
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="png-writer")
        self.pending: Future[None] | None = None

    def _write(self, keys: Sequence[int], images: torch.Tensor) -> None:
        for key, data in zip(keys, encode_pngs(images)):
            write_atomic(self.folder / self.names[key], data)

    def _wait(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            pending.result()  # re-raises the writer's OutputError here, in the caller's thread

    def add(self, keys: Sequence[int], images: torch.Tensor) -> None:
        self._wait()
        self.pending = self.writer.submit(self._write, list(keys), images)

    def finish(self) -> None:
        try:
            self._wait()
        finally:
            self.writer.shutdown(wait=True)
        write_atomic(self.folder / MANIFEST, (json.dumps(self.manifest, indent=1) + "\n").encode())


class GridSink:
    """One grid filled batch by batch (images.GridCanvas): only the uint8 canvas is held."""

    def __init__(self, n: int, shape: tuple[int, int, int], nrow: int) -> None:
        self.canvas = GridCanvas(n, shape, nrow)

    def add(self, keys: Sequence[int], images: torch.Tensor) -> None:
        for image in images:
            self.canvas.add(image)

    def finish(self) -> bytes:
        return tensor_png(self.canvas.image)


class GifSink:
    """Frames of an animation, kept as small palette-ready images until the GIF is encoded."""

    def __init__(self, fps: int) -> None:
        self.fps = fps
        self.frames: list[Any] = []

    def add(self, keys: Sequence[int], images: torch.Tensor) -> None:
        self.frames += [to_pil(image) for image in images]

    def finish(self) -> bytes:
        return gif_bytes(self.frames, round(1000 / self.fps), loop=True)


def open_sink(kind: str, out: Path | None, n: int, shape: tuple[int, int, int], nrow: int | None,
              names: dict[int, str], manifest: dict[str, Any], fps: int = 12) -> FolderSink | GridSink | GifSink:
    """The sink for an output kind: 'dir' (made here), '.gif', or a grid ('.png' or 'stdout')."""
    if kind == "dir":
        assert out is not None
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OutputError(f"cannot create folder {out}: {e.strerror or e}") from None
        return FolderSink(out, names, manifest)
    if kind == ".gif":
        return GifSink(fps)
    nrow = nrow if nrow is not None else max(1, math.ceil(math.sqrt(n)))  # about square by default
    c, h, w = GridCanvas.shape(n, shape, nrow)
    if c * h * w > MAX_GRID_BYTES:
        raise UsageError(f"a grid of {n} images of {shape[1]}x{shape[2]} would be {w}x{h} pixels; "
                         "write a folder instead (-o DIR/)")
    return GridSink(n, shape, nrow)
