"""The DCGAN paper's vector arithmetic on latents (Radford et al. 2016, Fig. 7): "smiling woman - neutral woman +
neutral man". Each group of seeds or latents is averaged (one sample is too noisy to carry a concept), the
expression is evaluated on the means, and the result is shown with neighbours: the result plus uniform noise
of +-`noise` per component, as the paper shows eight of them.

The means are evaluated left to right in float32, so `A - A + C` is exactly C's latent: x - x is 0 and 0 + c is c.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from dcgan_cli.errors import OptionError
from dcgan_cli.sampling.keyframes import Sha, resolve
from dcgan_cli.sampling.keys import Term, parse_expression
from dcgan_cli.sampling.outputs import Output, Target, check_target, parse_target, write_batches
from dcgan_cli.seeding import MAX_SEED, derive_seed

if TYPE_CHECKING:
    from dcgan_cli.sampling.trained import TrainedGenerator

MAX_NEIGHBOURS = 64


@dataclass
class Arithmetic:
    """An evaluated expression: each group's latents and mean, the result and its neighbours."""

    terms: list[Term]
    groups: list[torch.Tensor]  # (k_i, nz) per term
    labels: list[list[str]]
    means: torch.Tensor  # (terms, nz)
    result: torch.Tensor  # (nz,)
    neighbours: torch.Tensor  # (K, nz)

    @property
    def width(self) -> int:
        """Images per grid row: the widest group and its mean, or the result and its neighbours."""
        return max(max(g.shape[0] for g in self.groups) + 1, self.neighbours.shape[0] + 1)

    def layout(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(latents to render, which grid cells hold them): one row per group, its images then its mean in the
        last column; a last row with the result and its neighbours. Cells not listed stay blank."""
        width, rows, cells = self.width, [], []
        for r, (group, mean) in enumerate(zip(self.groups, self.means)):
            rows += [group, mean[None]]
            cells += [r * width + c for c in range(group.shape[0])] + [r * width + width - 1]
        last = len(self.groups) * width
        rows += [self.result[None], self.neighbours]
        cells += [last + c for c in range(1 + self.neighbours.shape[0])]
        return torch.cat(rows), torch.tensor(cells)


def evaluate(terms: str | list[Term], nz: int, checkpoint_sha256: Sha = "", *, neighbours: int = 8,
             noise: float = 0.25, seed: int = 0) -> Arithmetic:
    """Evaluate an expression ("1,2,3 - 4,5,6 + 7,8,9", seeds or latents files) for a generator of size nz."""
    if isinstance(neighbours, bool) or not isinstance(neighbours, int) or not 0 <= neighbours <= MAX_NEIGHBOURS:
        raise OptionError("neighbours", f"must be a whole number from 0 to {MAX_NEIGHBOURS}, got {neighbours!r}")
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not 0 <= noise <= 10:
        raise OptionError("noise", f"must be a number from 0 to 10, got {noise!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise OptionError("seed", f"must be a whole number from 0 to {MAX_SEED}, got {seed!r}")
    parsed = parse_expression(terms) if isinstance(terms, str) else list(terms)
    if not parsed:
        raise OptionError("expression", "is empty")
    groups, labels = [], []
    for term in parsed:
        z, names = resolve(term.keys, nz, checkpoint_sha256)
        groups.append(z)
        labels.append(names)
    means = torch.stack([g.mean(dim=0) for g in groups])
    result = means[0] * parsed[0].sign
    for term, mean in zip(parsed[1:], means[1:]):
        result = result + mean if term.sign > 0 else result - mean
    gen = torch.Generator().manual_seed(derive_seed(seed, "arithmetic"))
    offsets = (torch.rand(neighbours, nz, generator=gen) * 2 - 1) * noise
    return Arithmetic(parsed, groups, labels, means, result, result[None] + offsets)


def write_arithmetic(gen: TrainedGenerator, expression: str, outputs: Sequence[Output] = (), *, neighbours: int = 8,
                     noise: float = 0.25, seed: int = 0, force: bool = False) -> dict[str, Any]:
    """What `dcgan arithmetic` does: the grid (.png, or '-' for PNG bytes on stdout) and/or the result as a
    latents file (.safetensors), each output by its suffix; without outputs, <run>-arithmetic.png."""
    from dcgan_cli.sampling.latents_file import save_latents
    from dcgan_cli.sampling.trained import run_name

    grids: list[Target] = []
    files: list[Path] = []
    for out in outputs or [Path(f"{run_name(gen.path)}-arithmetic.png")]:
        if isinstance(out, (str, Path)) and str(out).endswith(".safetensors"):
            files.append(Path(out))
            check_target(Target(".safetensors", Path(out)), [], force)
        else:
            grids.append(parse_target(out, Path("-"), (".png",), "the grid (or the result to a .safetensors file)"))
            if grids[-1].kind == "dir":
                raise OptionError("output", f"{out}: arithmetic writes one grid .png or a .safetensors file")
            check_target(grids[-1], [], force)
    done = evaluate(expression, gen.config.nz, lambda: gen.sha256, neighbours=neighbours, noise=noise, seed=seed)
    written: list[str] = []
    if grids:
        z, cells = done.layout()
        images = gen.render(z)
        canvas = torch.zeros((len(done.groups) + 1) * done.width, *images.shape[1:], dtype=torch.uint8)
        canvas[cells] = images
        shape = (images.shape[1], images.shape[2], images.shape[3])
        for target in grids:
            written += write_batches(target, [(list(range(canvas.shape[0])), canvas)], total=canvas.shape[0],
                                     shape=shape, names={}, manifest={}, nrow=done.width)
    for path in files:
        save_latents(path, done.result[None], checkpoint_sha256=gen.sha256, sources=[expression],
                     info=[{"expression": expression}])
        written.append(str(path))
    return {"files": written, "checkpoint": str(gen.path), "step": gen.step, "expression": expression,
            "groups": done.labels, "signs": [t.sign for t in done.terms], "neighbours": neighbours, "noise": noise,
            "seed": seed, "result": [round(float(v), 6) for v in done.result], "grid_columns": done.width}
