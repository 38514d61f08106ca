"""The doctor's checks on images: mode collapse and memorisation.

Collapse: the mean pairwise distance between 64 samples (seeds 0-63, compared at 16x16 as health.spread does),
as a fraction of the same measure on real images: under 0.25 is `fail` (the live warning's bar), under 0.5
`warn`. Without real images, samples are compared with 0.1, the spread of an 8-level grey ramp's worth of variety;
a constant generator scores 0. Before 10 kimg a low spread is only `warn`: every G starts near-constant.

Memorisation: each sample's nearest training image, by RMS distance at 16x16 on pixels in [-1, 1], and, when the
checkpoint has its D, in D's feature space (its last hidden activation, normalised per position, as the projection
loss uses it). In each space a sample closer to a training image than 0.3x the median nearest-neighbour distance
among the training images themselves is a near copy (two training images are rarely that close unless they are
duplicates). Any near copy is `warn`, more than 10 % of samples `fail`; the worst pairs go into the preview grid.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from dcgan_cli.data.store import ImageArray
from dcgan_cli.doctor.checks import Check
from dcgan_cli.training.health import COLLAPSE_RATIO, spread

NO_REFERENCE_SPREAD = 0.1
EARLY_KIMG = 10.0
COPY_RATIO = 0.3
MAX_REFERENCE = 2000
Embed = Callable[[torch.Tensor], torch.Tensor]  # uint8 images (N, C, S, S) -> feature vectors (N, F)


def collapse(samples_u8: torch.Tensor, real_u8: ImageArray | None, kimg: float | None = None) -> Check:
    """kimg: images shown so far; under EARLY_KIMG a low spread is only `warn` (every run starts near-constant)."""
    fake = spread(samples_u8.float() / 127.5 - 1)
    reference = spread(real_u8[:256].float() / 127.5 - 1) if real_u8 is not None else None
    if reference is None:
        ratio = fake / NO_REFERENCE_SPREAD
        basis = f"no training images to compare with (absolute bar {NO_REFERENCE_SPREAD})"
    else:
        ratio, basis = fake / max(reference, 1e-8), f"the real images' spread is {reference:.3f}"
    value = {"sample_spread": round(fake, 4), "real_spread": None if reference is None else round(reference, 4),
             "ratio": round(ratio, 3)}
    detail = f"samples spread {fake:.3f} ({ratio:.2f}x; {basis})"
    advice = "resume from an earlier checkpoint (--keep N), add --diffaugment color,translation, or lower --lr-g"
    if ratio < COLLAPSE_RATIO and kimg is not None and kimg < EARLY_KIMG:
        return Check("mode_collapse", "warn", value, f"too early to judge ({kimg:.1f} kimg): " + detail,
                     "train longer before judging")
    if ratio < COLLAPSE_RATIO:
        return Check("mode_collapse", "fail", value, "samples collapse towards each other: " + detail, advice)
    if ratio < 2 * COLLAPSE_RATIO:
        return Check("mode_collapse", "warn", value, "samples vary little: " + detail, advice)
    return Check("mode_collapse", "ok", value, detail)


def _small(images_u8: torch.Tensor) -> torch.Tensor:
    x = images_u8.float() / 127.5 - 1
    if x.shape[-1] > 16:
        x = F.adaptive_avg_pool2d(x, 16)
    return x.reshape(x.shape[0], -1)


def memorisation(samples_u8: torch.Tensor, train_u8: ImageArray | None, embed: Embed | None = None
                 ) -> tuple[Check, list[tuple[int, int]]]:
    """The check and the (sample, training image) index pairs that are near copies, worst first. `embed` maps a
    uint8 batch to feature vectors (the checkpoint's D): with it, a copy is also sought in feature space."""
    if train_u8 is None:
        return Check("memorisation", "skip", None, "the training folder is not available: pass --data DIR"), []
    if train_u8.shape[0] < 2:
        return Check("memorisation", "skip", None, "fewer than two training images"), []
    index = torch.arange(train_u8.shape[0])
    if train_u8.shape[0] > MAX_REFERENCE:  # a seeded subset: the distances are all-pairs
        index = torch.randperm(train_u8.shape[0], generator=torch.Generator().manual_seed(0))[:MAX_REFERENCE]
    ref = train_u8[index]
    spaces = {"pixels": (_small(ref), _small(samples_u8))}
    if embed is not None:
        spaces["features"] = (embed(ref), embed(samples_u8))
    found = {name: _near_copies(fake, real) for name, (real, fake) in spaces.items()}
    copies: dict[int, tuple[float, int]] = {}  # sample -> (how far under the bar, training index)
    for nearest, which, bar in found.values():
        for i in range(samples_u8.shape[0]):
            margin = float(nearest[i]) / bar
            if margin < 1 and margin < copies.get(i, (1.0, -1))[0]:
                copies[i] = (margin, int(index[which[i]]))
    pairs = [(i, j) for i, (_, j) in sorted(copies.items(), key=lambda item: item[1][0])]
    share = len(pairs) / samples_u8.shape[0]
    value: dict[str, object] = {"near_copies": len(pairs), "samples": samples_u8.shape[0]}
    parts = []
    for name, (nearest, _, bar) in found.items():
        count = int((nearest < bar).sum())
        value[name] = {"near_copies": count, "median_nearest": round(float(nearest.median()), 4),
                       "bar": round(bar, 4)}
        parts.append(f"{count} by {name} (closer than {bar:.3f})")
    detail = (f"{len(pairs)} of {samples_u8.shape[0]} samples are near copies of a training image: "
              f"{', '.join(parts)}; a bar is {COPY_RATIO}x the training images' own nearest-neighbour median")
    advice = "G memorises this folder: add --diffaugment color,translation, use more images, or stop earlier"
    status = "fail" if share > 0.1 else "warn" if pairs else "ok"
    return Check("memorisation", status, value, detail, advice if pairs else ""), pairs


def _near_copies(fake: torch.Tensor, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Each fake vector's nearest real one (distance, index) and the near-copy bar: COPY_RATIO x the median
    distance from a real vector to its own nearest other real vector."""
    scale = real.shape[1] ** 0.5  # RMS per dimension, so bars read alike in both spaces
    among = torch.cdist(real, real) / scale
    among.fill_diagonal_(float("inf"))
    typical = float(among.min(dim=1).values.median())
    nearest, which = (torch.cdist(fake, real) / scale).min(dim=1)
    return nearest, which, COPY_RATIO * typical
