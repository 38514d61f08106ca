"""Where `sample` and `interpolate` write: an output spec (a grid or GIF file, a folder, a binary stream) parsed
and checked before any image is made, then filled batch by batch.

Refusals come first and cost nothing: an unknown suffix, existing files without `force`, a missing parent
folder. The folder form names files so `ls` sorts them (seed0007.png, frame0012.png) beside a manifest.json.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import torch

from dcgan_cli.errors import OptionError, OutputError
from dcgan_cli.io.atomic import write_atomic
from dcgan_cli.sampling.sinks import MANIFEST, open_sink

Output = str | Path | IO[bytes]
Progress = Callable[[int], None]  # advance(images just made)


@dataclass(frozen=True)
class Target:
    """kind: 'dir', a file suffix ('.png', '.gif') or 'stream' (bytes to `stream`, e.g. stdout for '-')."""

    kind: str
    path: Path | None = None
    stream: IO[bytes] | None = None

    def describe(self) -> str:
        return "-" if self.path is None else str(self.path)


def parse_target(output: Output | None, default: Path, suffixes: tuple[str, ...], what: str) -> Target:
    """An output spec: a path with one of `suffixes`, a folder (existing, or ending in '/'), '-' for stdout, or an
    open binary file object (a single-file output written to it)."""
    if output is not None and not isinstance(output, (str, Path)):
        return Target("stream", stream=output)
    text = str(default) if output is None else str(output)
    if text == "-":
        return Target("stream", stream=sys.stdout.buffer)
    path = Path(text)
    if text.endswith(("/", os.sep)) or path.is_dir():
        return Target("dir", path)
    if path.suffix.lower() in suffixes:
        return Target(path.suffix.lower(), path)
    names = " or ".join(suffixes)
    raise OptionError("output", f"{text}: write {what} to a {names} file, a folder ending in '/', or '-' for stdout")


def check_target(target: Target, names: Iterable[str], force: bool) -> None:
    """Refuse before any work: existing files without `force`, a file whose folder does not exist."""
    if target.kind == "stream":
        return
    out = target.path
    assert out is not None
    if target.kind == "dir":
        paths = [out / MANIFEST] + [out / name for name in names]
    elif not out.parent.is_dir():  # the atomic write would only fail after all the sampling
        raise OutputError(f"cannot write {out}: " + (f"{out.parent} is not a folder" if out.parent.exists()
                                                     else f"folder {out.parent} does not exist"))
    else:
        paths = [out]
    existing = [] if force else [p for p in paths if p.exists()]
    if existing:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise OptionError("output", f"{existing[0]} already exists{more}; overwrite with <force>")


def write_batches(target: Target, batches: Iterable[tuple[list[int], torch.Tensor]], *, total: int,
                  shape: tuple[int, int, int], names: dict[int, str], manifest: dict[str, Any],
                  nrow: int | None = None, fps: int = 12, on_progress: Progress | None = None) -> list[str]:
    """Stream (keys, uint8 images) batches into the target; returns the files made ('-' for a stream)."""
    sink = open_sink("stdout" if target.kind == "stream" else target.kind, target.path, total, shape, nrow,
                     names, manifest, fps)
    for keys, images in batches:
        sink.add(keys, images)  # a folder gets each file as soon as its batch is done
        if on_progress is not None:
            on_progress(len(keys))
    data = sink.finish()
    if target.kind == "stream":
        assert target.stream is not None and data is not None
        try:
            target.stream.write(data)
            target.stream.flush()
        except BrokenPipeError:
            raise OutputError("cannot write to stdout: broken pipe") from None
        return ["-"]
    assert target.path is not None
    if target.kind == "dir":
        return [str(target.path / name) for name in names.values()]
    assert data is not None
    write_atomic(target.path, data)
    return [str(target.path)]


def seed_file_names(seeds: list[int]) -> dict[int, str]:
    """One file per seed (a repeated seed is the same image), zero-padded so `ls` sorts them."""
    width = max(4, len(str(max(seeds))))
    return {s: f"seed{s:0{width}d}.png" for s in seeds}


def frame_file_names(total: int) -> dict[int, str]:
    width = max(4, len(str(total - 1)))
    return {i: f"frame{i:0{width}d}.png" for i in range(total)}


def latent_file_names(total: int) -> dict[int, str]:
    """One file per row of a latents file: latent0000.png, ..."""
    width = max(4, len(str(total - 1)))
    return {i: f"latent{i:0{width}d}.png" for i in range(total)}
