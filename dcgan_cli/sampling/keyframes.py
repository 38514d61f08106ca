"""Keys (seeds, latents files, rows of them) turned into latent vectors for one generator.

A seed's latent is `latents.latent(seed)`, exactly what `sample --seeds` feeds G; a file's rows are used as
stored, so the frame at a projected keyframe is the image `sample --latents` makes of it. A file made for a
generator with another nz cannot be used at all (LatentsError); one made for another checkpoint of the same nz
works but means something else there, so it is a warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from dcgan_cli.errors import DcganWarning, LatentsError
from dcgan_cli.sampling import latents as lat
from dcgan_cli.sampling.keys import Key
from dcgan_cli.sampling.latents_file import LatentsFile, pick, read_latents

Sha = str | Callable[[], str]  # the checkpoint's SHA-256, or how to get it: hashed only when a file is read


def check_file_for(file: LatentsFile, nz: int, checkpoint_sha256: Sha) -> None:
    """Refuse another nz; warn when the file names another checkpoint than this one."""
    if callable(checkpoint_sha256):
        checkpoint_sha256 = checkpoint_sha256()
    if file.nz != nz:
        raise LatentsError(f"{file.path}: latents of size {file.nz} do not fit this generator (nz {nz}); they "
                           "were made for another model: project the images with this checkpoint")
    if file.checkpoint_sha256 and checkpoint_sha256 and file.checkpoint_sha256 != checkpoint_sha256:
        warnings.warn(DcganWarning(f"{file.path} was made for another checkpoint (sha256 "
                                   f"{file.checkpoint_sha256[:12]}, this one {checkpoint_sha256[:12]}): its images "
                                   "here differ from the ones it was made from"), stacklevel=3)


def resolve(keys: Sequence[Key], nz: int, checkpoint_sha256: Sha,
            truncation: float | None = None) -> tuple[torch.Tensor, list[str]]:
    """(K, nz) latents for the keys, in order, and a label for each ('7', 'me.safetensors:2')."""
    lat.check_truncation(truncation)
    rows: list[torch.Tensor] = []
    labels: list[str] = []
    files: dict[Path, LatentsFile] = {}
    for key in keys:
        if key.file is None:
            assert key.seed is not None
            rows.append(lat.latent(key.seed, nz, truncation))
            labels.append(str(key.seed))
            continue
        if key.file not in files:
            files[key.file] = read_latents(key.file)
            check_file_for(files[key.file], nz, checkpoint_sha256)
        chosen = pick(files[key.file], key.index)
        first = 0 if key.index is None else key.index
        rows += list(chosen)
        labels += [f"{key.file}:{first + i}" for i in range(chosen.shape[0])]
    if not rows:
        return torch.empty(0, nz), []
    return torch.stack(rows), labels
