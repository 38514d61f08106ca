"""Latents: one per seed from its own CPU generator, and walks between keyframe latents.

Every image's latent comes from its own generator seeded with the image's seed, so image k never depends on the
batch it was computed in, on how many images were asked for, or on the device.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from dcgan_cli.errors import OptionError

MIN_TRUNCATION = 0.1  # below this, resampling |z| > bound takes hundreds of rounds per component
MODES = ("slerp", "lerp")


def check_truncation(truncation: float | None) -> None:
    if truncation is not None and not truncation >= MIN_TRUNCATION:
        raise OptionError("truncation", f"must be at least {MIN_TRUNCATION}, got {truncation}")


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
    check_truncation(truncation)
    if not seeds:
        return torch.empty(0, nz)
    return torch.stack([latent(s, nz, truncation) for s in seeds])


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


def check_walk(keyframes: int, steps: int, mode: str) -> None:
    if mode not in MODES:
        raise OptionError("mode", f"must be slerp or lerp, got {mode!r}")
    if keyframes < 2:
        raise OptionError("keys", "a walk needs at least two keyframes")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise OptionError("steps", f"must be a whole number of at least 1, got {steps!r}")


def walk(keys: torch.Tensor, steps: int, mode: str = "slerp", loop: bool = False) -> tuple[torch.Tensor, list[int]]:
    """Frame latents through keyframe latents (K, nz) and the frame index of each keyframe.

    Each pair contributes frames t = 0, 1/steps, ..., (steps-1)/steps; t = 0 is the keyframe tensor itself
    (copied, never recomputed), so a keyframe frame has exactly the bits `sample --seeds K` feeds G.
    """
    check_walk(keys.shape[0], steps, mode)
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
