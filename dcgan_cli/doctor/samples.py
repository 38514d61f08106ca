"""The doctor's checks on images: mode collapse and memorisation.

Collapse: the mean pairwise distance between 64 samples (seeds 0-63, compared at 16x16 as health.spread does),
as a fraction of the same measure on real images: under 0.25 is `fail` (the live warning's bar), under 0.5
`warn`. Without real images, samples are compared with 0.1, the spread of an 8-level grey ramp's worth of variety;
a constant generator scores 0. Before 10 kimg a low spread is only `warn`: every G starts near-constant.

Memorisation: each sample's nearest training image, by RMS distance at 16x16 on pixels in [-1, 1]. A sample
closer to a training image than 0.3x the median nearest-neighbour distance among the training images themselves
is a near copy (two training images are rarely that close unless they are duplicates). Any near copy is `warn`,
more than 10 % of samples `fail`; the worst pairs go into the preview grid.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dcgan_cli.data.store import ImageArray
from dcgan_cli.doctor.checks import Check
from dcgan_cli.training.health import COLLAPSE_RATIO, spread

NO_REFERENCE_SPREAD = 0.1
EARLY_KIMG = 10.0
COPY_RATIO = 0.3
MAX_REFERENCE = 2000


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


def memorisation(samples_u8: torch.Tensor, train_u8: ImageArray | None) -> tuple[Check, list[tuple[int, int]]]:
    """The check and the (sample, training image) index pairs that are near copies, worst first."""
    if train_u8 is None:
        return Check("memorisation", "skip", None, "the training folder is not available: pass --data DIR"), []
    if train_u8.shape[0] < 2:
        return Check("memorisation", "skip", None, "fewer than two training images"), []
    index = torch.arange(train_u8.shape[0])
    if train_u8.shape[0] > MAX_REFERENCE:  # a seeded subset: the distances are all-pairs
        index = torch.randperm(train_u8.shape[0], generator=torch.Generator().manual_seed(0))[:MAX_REFERENCE]
    ref = train_u8[index]
    small_ref, small_fake = _small(ref), _small(samples_u8)
    scale = small_ref.shape[1] ** 0.5
    among = torch.cdist(small_ref, small_ref) / scale
    among.fill_diagonal_(float("inf"))
    typical = float(among.min(dim=1).values.median())
    dist = torch.cdist(small_fake, small_ref) / scale
    nearest, which = dist.min(dim=1)
    bar = COPY_RATIO * typical
    copies = [(int(i), int(index[which[i]])) for i in torch.argsort(nearest).tolist() if float(nearest[i]) < bar]
    share = len(copies) / samples_u8.shape[0]
    value = {"near_copies": len(copies), "samples": samples_u8.shape[0], "median_nearest": round(float(
        nearest.median()), 4), "training_nn_median": round(typical, 4)}
    detail = (f"{len(copies)} of {samples_u8.shape[0]} samples are near copies of a training image (closer than "
              f"{bar:.3f}; training images' own nearest neighbours: median {typical:.3f})")
    advice = "G memorises this folder: add --diffaugment color,translation, use more images, or stop earlier"
    status = "fail" if share > 0.1 else "warn" if copies else "ok"
    return Check("memorisation", status, value, detail, advice if copies else ""), copies
