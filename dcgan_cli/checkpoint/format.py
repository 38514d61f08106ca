"""The checkpoint file format: the only module that reads or writes it.

One `.safetensors` file holds everything: G and D weights (`G.*`, `D.*`, and `G_ema.*` with --ema), both Adam states
(`optG.state.<i>.<name>`, param groups as JSON metadata), RNG states (`rng.*`) and the fixed preview noise.
Structured facts live in `__metadata__` as JSON strings, because safetensors allows only str -> str there.

Loading never uses pickle. The header is parsed and checked here with the standard library before
safetensors sees the file, because safetensors accepts duplicate keys, headers with leading junk and
NaN tensors (probed on 0.8.0) and its errors do not say what the user should do. Reading the header needs
no torch, so `dcgan inspect` stays fast; torch is imported only by the functions that move tensors.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dcgan_cli import __version__, faults
from dcgan_cli.checkpoint import header as safetensors_header
from dcgan_cli.checkpoint import optimizer_state
from dcgan_cli.checkpoint.header import TensorInfo
from dcgan_cli.errors import CheckpointError, DivergedError
from dcgan_cli.io.atomic import atomic_path

if TYPE_CHECKING:
    import torch

FORMAT = "dcgan-cli/checkpoint"
FORMAT_VERSION = 1
REQUIRED_METADATA = ("format", "format_version", "dcgan_version", "config", "progress", "created")
RESUME_TENSORS = ("D.", "rng.")
RESUME_METADATA = ("optG.param_groups", "optD.param_groups")


@dataclass
class Header:
    """What `read_header` validated: enough to describe a checkpoint without loading a tensor."""

    path: Path
    file_size: int
    header_bytes: int
    metadata: dict[str, str]
    tensors: dict[str, TensorInfo]
    config: dict[str, Any]
    progress: dict[str, Any]

    def json_field(self, key: str) -> Any:
        return safetensors_header.json_metadata(self.metadata, key, required=False)

    @property
    def has_ema(self) -> bool:
        """Holds the averaged G of `train --ema` (sample, interpolate and evaluate prefer it)."""
        return any(n.startswith("G_ema.") for n in self.tensors)

    @property
    def imported(self) -> bool:
        """Converted by `dcgan import` from another tool's weights: no optimizer or RNG state of ours in it."""
        options = self.json_field("options")
        return isinstance(options, dict) and bool(options.get("imported"))

    @property
    def can_resume(self) -> bool:
        if self.imported:  # with its D, training goes on from fresh Adam states and random streams
            return any(n.startswith("D.") for n in self.tensors)
        # Adam has no per-parameter state before its first step, so optimizers are judged by their groups.
        has_tensors = all(any(n.startswith(p) for n in self.tensors) for p in RESUME_TENSORS)
        return has_tensors and all(k in self.metadata for k in RESUME_METADATA)


@dataclass
class Checkpoint:
    """A checkpoint's content as tensors and plain data, ready to hand to modules and optimizers."""

    config: dict[str, int]
    generator: dict[str, torch.Tensor]
    header: Header | None = None  # set by load(): what was validated before the tensors were read
    discriminator: dict[str, torch.Tensor] | None = None
    generator_ema: dict[str, torch.Tensor] | None = None  # with --ema: the averaged G that sampling prefers
    opt_g: dict[str, Any] | None = None
    opt_d: dict[str, Any] | None = None
    rng: dict[str, torch.Tensor] = field(default_factory=dict)
    fixed_noise: torch.Tensor | None = None
    progress: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    dataset: dict[str, Any] = field(default_factory=dict)
    scalers: dict[str, dict[str, Any]] | None = None  # float16 --amp: each loss scaler's state, "d" and "g"


def read_header(path: Path) -> Header:
    """Validate the file's framing, header JSON and metadata; raise CheckpointError with one clear line."""
    size, n, tensors, metadata = safetensors_header.read(path)
    for key in REQUIRED_METADATA:
        if key not in metadata:
            raise CheckpointError(f"{path}: not a dcgan checkpoint (metadata key {key!r} missing)")
    if metadata["format"] != FORMAT:
        raise CheckpointError(f"{path}: not a dcgan checkpoint (format {metadata['format']!r})")
    try:
        version = int(metadata["format_version"])
    except ValueError:
        raise CheckpointError(f"{path}: bad format_version {metadata['format_version']!r}") from None
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: written by a newer dcgan (format {version}, this is {__version__} reading format "
            f"{FORMAT_VERSION}); upgrade dcgan-cli"
        )
    if version < 1:
        raise CheckpointError(f"{path}: bad format_version {version}")
    config = safetensors_header.json_metadata(metadata, "config", path=path)
    progress = safetensors_header.json_metadata(metadata, "progress", path=path)
    if not isinstance(config, dict) or not isinstance(progress, dict):
        raise CheckpointError(f"{path}: metadata 'config' and 'progress' must be JSON objects")
    if not all(type(progress.get(k)) is int and progress[k] >= 0 for k in ("step", "epoch", "position")):
        raise CheckpointError(f"{path}: metadata 'progress' needs whole numbers step, epoch and position")
    return Header(path, size, n, metadata, tensors, config, progress)


# --- writing -------------------------------------------------------------------------------------------


def encode(ckpt: Checkpoint) -> bytes:
    """Serialise to safetensors bytes, refusing non-finite weights (a NaN checkpoint is never written)."""
    import torch
    from safetensors.torch import save

    tensors: dict[str, torch.Tensor] = {}
    for prefix, sd in (("G", ckpt.generator), ("D", ckpt.discriminator or {}), ("G_ema", ckpt.generator_ema or {})):
        for k, v in sd.items():
            tensors[f"{prefix}.{k}"] = v.detach().cpu().contiguous()
    meta = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "dcgan_version": __version__,
        "torch_version": torch.__version__,
        "config": json.dumps(ckpt.config, sort_keys=True),
        "progress": json.dumps(ckpt.progress, sort_keys=True),
        "options": json.dumps(ckpt.options, sort_keys=True),
        "dataset": json.dumps(ckpt.dataset, sort_keys=True),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if ckpt.scalers is not None:
        meta["scalers"] = json.dumps(ckpt.scalers, sort_keys=True)
    if ckpt.opt_g is not None:
        optimizer_state.flatten("optG", ckpt.opt_g, tensors, meta)
    if ckpt.opt_d is not None:
        optimizer_state.flatten("optD", ckpt.opt_d, tensors, meta)
    for name, state in ckpt.rng.items():
        tensors[f"rng.{name}"] = state.detach().cpu().contiguous()
    if ckpt.fixed_noise is not None:
        tensors["fixed_noise"] = ckpt.fixed_noise.detach().cpu().contiguous()
    for name, t in tensors.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise DivergedError(f"refusing to write a checkpoint with non-finite values in {name}")
    return save(tensors, metadata=meta)


def save(path: Path, ckpt: Checkpoint) -> int:
    """Write atomically and durably (io.atomic): a crash at any instant leaves either the old file or the new one
    at `path`, never a mix. Returns the size in bytes."""
    data = encode(ckpt)

    def before_replace() -> None:
        faults.signal_if("save:sigint")  # a second Ctrl-C in the middle of a save must not tear it
        faults.crash_if("save:before_replace")

    with atomic_path(path, durable=True, before_replace=before_replace, what="checkpoint") as tmp, open(tmp, "wb") as f:
        if faults.active("save:mid_write"):
            f.write(data[: len(data) // 2])
            f.flush()
            faults.crash_if("save:mid_write")
        f.write(data)
    return len(data)


def clean_stale_temps(folder: Path) -> list[Path]:
    """Remove temp files that a killed save left behind (they are never valid checkpoints)."""
    removed = []
    for p in folder.glob(".*.safetensors.*.tmp"):
        p.unlink(missing_ok=True)
        removed.append(p)
    return removed


# --- loading -------------------------------------------------------------------------------------------


def load(path: Path, *, for_resume: bool = False, discriminator: bool = False, generator: bool = True
         ) -> Checkpoint:
    """Validate everything that can be validated without tensors, then read tensors with safetensors.

    G (and G_ema) unless `generator` is False; D too with `discriminator` (projection's feature loss, the
    doctor's feature space), everything with `for_resume`.
    """
    import torch
    from safetensors import safe_open

    from dcgan_cli.model import DCGANConfig, Discriminator, Generator

    header = read_header(path)
    try:
        config = DCGANConfig.from_dict(header.config)
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"{path}: bad model config in metadata ({e})") from None
    if for_resume and not header.can_resume:
        if header.imported:
            raise CheckpointError(f"{path}: imported without a discriminator; to train on from it, import again "
                                  "with --netd NETD.pth")
        raise CheckpointError(f"{path}: holds no training state (D, optimizers, RNG); it cannot resume training")
    with torch.device("meta"):  # shapes only: no memory, no random init
        expected = {f"G.{k}": tuple(v.shape) for k, v in Generator(config).state_dict().items()}
        if header.has_ema:
            expected.update({f"G_ema.{k[2:]}": shape for k, shape in expected.items()})
        if any(n.startswith("D.") for n in header.tensors):
            expected.update({f"D.{k}": tuple(v.shape) for k, v in Discriminator(config).state_dict().items()})
    _check_shapes(path, header, expected)
    parts = (("G.", "G_ema.") if generator else ()) + (("D.",) if discriminator else ())
    wanted = [n for n in header.tensors if for_resume or n.startswith(parts)]
    tensors: dict[str, torch.Tensor] = {}
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            for name in wanted:
                tensors[name] = f.get_tensor(name)
    except Exception as e:  # safetensors raises its own error types; the header was valid a moment ago
        raise CheckpointError(f"{path}: cannot read tensors ({e})") from None
    for name, t in tensors.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise CheckpointError(f"{path}: contains non-finite values in {name}")

    def group(prefix: str) -> dict[str, torch.Tensor]:
        return {n[len(prefix):]: t for n, t in tensors.items() if n.startswith(prefix)}

    options, dataset = header.json_field("options") or {}, header.json_field("dataset") or {}
    if not isinstance(options, dict) or not isinstance(dataset, dict):
        raise CheckpointError(f"{path}: metadata 'options' and 'dataset' must be JSON objects")
    ckpt = Checkpoint(
        config=config.to_dict(),
        header=header,
        generator=group("G."),
        generator_ema=group("G_ema.") or None,
        progress=header.progress,
        options=options,
        dataset=dataset,
    )
    if discriminator:
        ckpt.discriminator = group("D.") or None
    if for_resume:
        ckpt.discriminator = group("D.")
    if for_resume and not header.imported:  # an imported checkpoint has no state beyond the weights
        ckpt.opt_g = optimizer_state.unflatten(path, header.metadata, "optG", group("optG.state."))
        ckpt.opt_d = optimizer_state.unflatten(path, header.metadata, "optD", group("optD.state."))
        ckpt.rng = group("rng.")
        ckpt.fixed_noise = tensors.get("fixed_noise")
        scalers = header.json_field("scalers")
        if scalers is not None and not (isinstance(scalers, dict) and set(scalers) == {"d", "g"} and all(
                isinstance(v, dict) for v in scalers.values())):
            raise CheckpointError(f"{path}: corrupt loss scaler state")
        ckpt.scalers = scalers
    return ckpt


def _check_shapes(path: Path, header: Header, expected: dict[str, tuple[int, ...]]) -> None:
    problems = []
    for name, shape in expected.items():
        info = header.tensors.get(name)
        if info is None:
            problems.append(f"{name} missing")
        elif info.shape != shape:
            problems.append(f"{name}: file {list(info.shape)} vs expected {list(shape)}")
    known = ("G.", "G_ema.", "D.", "optG.state.", "optD.state.", "rng.", "fixed_noise")
    problems += [f"unexpected tensor {n}" for n in header.tensors if n not in expected and not n.startswith(known)]
    if problems:
        more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
        raise CheckpointError(f"{path}: does not match its model config: {'; '.join(problems[:3])}{more}")
