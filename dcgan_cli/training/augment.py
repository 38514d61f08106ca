"""DiffAugment (Zhao et al., NeurIPS 2020) for small datasets: augment every image D sees, real and fake.

The transforms are differentiable, so G is trained through them, and they touch only D's inputs: samples are
never augmented. Random numbers come from a CPU generator whose state is checkpointed, so a resumed run draws
the same augmentations as an uninterrupted one, on any device. Same transforms and ranges as the paper's code.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

Transform = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def _uniform(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    return torch.rand(x.shape[0], 1, 1, 1, generator=gen).to(x.device, x.dtype)


def brightness(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    return x + (_uniform(x, gen) - 0.5)


def saturation(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (_uniform(x, gen) * 2) + mean


def contrast(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (_uniform(x, gen) + 0.5) + mean


def translation(x: torch.Tensor, gen: torch.Generator, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to 1/8 of its size, filling with zeros (mid-grey in [-1, 1]).

    The paper's code gathers every pixel through an index grid, whose backward is a scatter-add; here each image is
    one slice of the zero-padded batch: the same values (tested against the gather), a cheaper step on a CPU.
    """
    n, _, h, w = x.shape
    sx, sy = int(h * ratio + 0.5), int(w * ratio + 0.5)
    shift_x = torch.randint(-sx, sx + 1, (n,), generator=gen).tolist()
    shift_y = torch.randint(-sy, sy + 1, (n,), generator=gen).tolist()
    padded = F.pad(x, [sy, sy, sx, sx]).permute(0, 2, 3, 1)  # NHWC, so the result has channels-last strides
    # unbind first: each slice's backward then fills one image's gradient, not a whole batch's
    return torch.stack([image[sx + dx:sx + dx + h, sy + dy:sy + dy + w]
                        for image, dx, dy in zip(padded.unbind(0), shift_x, shift_y)]).permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, gen: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    """Zero one square of half the image size per image, at a random place (partly outside is allowed)."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    off_x = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), generator=gen).to(x.device)
    off_y = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), generator=gen).to(x.device)
    gb, gx, gy = torch.meshgrid(torch.arange(n, device=x.device), torch.arange(ch, device=x.device),
                                torch.arange(cw, device=x.device), indexing="ij")
    gx = torch.clamp(gx + off_x - ch // 2, 0, h - 1)
    gy = torch.clamp(gy + off_y - cw // 2, 0, w - 1)
    mask = torch.ones(n, h, w, dtype=x.dtype, device=x.device)
    mask[gb, gx, gy] = 0
    return x * mask.unsqueeze(1)


POLICIES: dict[str, tuple[Transform, ...]] = {
    "color": (brightness, saturation, contrast),
    "translation": (translation,),
    "cutout": (cutout,),
}


class DiffAugment:
    """The policy's transforms in order, applied to each image with probability `p` (1: every image, the paper's).

    Why a probability: with every image augmented, G on Twemoji (pictures that fill the frame) tiled one motif
    across each sample, a lattice of white dots 8 px apart, and training without augmentation scored better; with a
    quarter of the images augmented it scored better still, and level on OpenMoji (benchmarks/RESULTS.md, fifteenth
    round). The likely reason: D that only ever sees shifted, recoloured images never sees a real layout as it is.
    StyleGAN2-ADA's argument for p < 1 is the same: the unaugmented images in what D sees keep G from learning to
    make augmented-looking ones.
    """

    def __init__(self, policy: tuple[str, ...], generator: torch.Generator, p: float = 1.0) -> None:
        self.transforms = [t for name in policy for t in POLICIES[name]]
        self.generator = generator
        self.p = p

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for transform in self.transforms:
            out = transform(out, self.generator)
        if self.p >= 1.0:  # no draw: a run at p 1 takes the same random numbers as one from before p existed
            return out
        chosen = torch.rand(x.shape[0], 1, 1, 1, generator=self.generator).to(x.device) < self.p
        return torch.where(chosen, out, x)
