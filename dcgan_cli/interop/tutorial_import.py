"""`dcgan import`: the state dicts the PyTorch DCGAN tutorial and pytorch/examples save (`netG_epoch_N.pth`) as a
dcgan checkpoint, without ever running code from them.

Safety, in order: a size cap; for the zip container torch.save writes, the member count, the total uncompressed
size and the compression method are checked with zipfile before torch sees the file (torch.save stores members
uncompressed, so anything compressed is suspect); then `torch.load(weights_only=True)`, which refuses any pickle
that would build something other than tensors and plain containers; then the keys and shapes must be exactly the
tutorial's layout (with an optional `module.` prefix from DataParallel), from which nz, widths, channels and image
size are inferred, and every tensor must be finite. Each refusal is one line (CheckpointError, exit 4).
"""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch

from dcgan_cli import checkpoint
from dcgan_cli.config import DCGANConfig
from dcgan_cli.errors import CheckpointError, OptionError, UsageError
from dcgan_cli.model import Discriminator, Generator

MAX_FILE_BYTES = 1 << 30
MAX_MEMBERS = 10_000


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A flat {name: tensor} from a .pth, or CheckpointError; never unpickles anything but tensors."""
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise CheckpointError(f"{path}: {size} bytes is larger than a DCGAN's weights can be ({MAX_FILE_BYTES})")
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as z:
                members = z.infolist()
        except (zipfile.BadZipFile, OSError, ValueError) as e:
            raise CheckpointError(f"{path}: corrupt zip container ({e})") from None
        if len(members) > MAX_MEMBERS or sum(m.file_size for m in members) > MAX_FILE_BYTES:
            raise CheckpointError(f"{path}: the archive unpacks to too much data (a zip bomb?); refused")
        if any(m.compress_type != zipfile.ZIP_STORED for m in members):
            raise CheckpointError(f"{path}: compressed members; torch.save never writes those; refused")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols of files it then refuses anyway
            warnings.simplefilter("ignore")
            data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - UnpicklingError for payloads, RuntimeError for truncation, ...
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise CheckpointError(f"{path}: not a plain PyTorch state dict, refused without running it ({first})") \
            from None
    if isinstance(data, dict) and "state_dict" in data and isinstance(data["state_dict"], dict):
        data = data["state_dict"]  # Lightning-style wrappers
    if not isinstance(data, dict) or not data or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                          for k, v in data.items()):
        raise CheckpointError(f"{path}: not a state dict (a mapping of names to tensors)")
    if all(k.startswith("module.") for k in data):
        data = {k[len("module."):]: v for k, v in data.items()}  # nn.DataParallel
    for name, t in data.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise CheckpointError(f"{path}: non-finite values in {name}")
    return data


def infer_config(netg: dict[str, torch.Tensor], path: Path) -> DCGANConfig:
    """nz, ngf, channels and image size from the tutorial G's transposed-conv weights (main.0, main.3, ...)."""
    convs = [netg[f"main.{3 * i}.weight"] for i in range(8) if f"main.{3 * i}.weight" in netg]
    if len(convs) < 2 or any(c.dim() != 4 for c in convs):
        raise CheckpointError(f"{path}: not the tutorial's generator (no main.0.weight, main.3.weight, ... "
                              "transposed-conv weights)")
    nz, channels, ngf = convs[0].shape[0], convs[-1].shape[1], convs[-1].shape[0]
    try:
        return DCGANConfig(nz=nz, ngf=ngf, ndf=ngf, channels=channels, image_size=4 * 2 ** (len(convs) - 1))
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"{path}: not the tutorial's generator ({e})") from None


def check_layout(state: dict[str, torch.Tensor], module: torch.nn.Module, path: Path, what: str) -> None:
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in state.items()}
    if got != expected:
        extra, missing = sorted(set(got) - set(expected)), sorted(set(expected) - set(got))
        wrong = [k for k in expected if k in got and got[k] != expected[k]]
        detail = (f"unexpected {extra[0]}" if extra else f"missing {missing[0]}" if missing else
                  f"{wrong[0]} is {list(got[wrong[0]])}, expected {list(expected[wrong[0]])}")
        raise CheckpointError(f"{path}: not the tutorial's {what} layout ({detail})")


def import_tutorial(netg_path: str | Path, out: str | Path, *, netd_path: str | Path | None = None,
                    force: bool = False) -> dict[str, Any]:
    """Convert tutorial/pytorch-examples state dicts into a dcgan checkpoint at `out`; returns what was inferred."""
    netg_path, out = Path(netg_path), Path(out)
    if out.suffix != ".safetensors":
        raise OptionError("output", f"{out}: a dcgan checkpoint is a .safetensors file")
    if out.exists() and not force:
        raise OptionError("output", f"{out} already exists; overwrite with <force>")
    g_state = read_state_dict(netg_path)
    config = infer_config(g_state, netg_path)
    with torch.device("meta"):
        check_layout(g_state, Generator(config), netg_path, "generator")
    d_state = None
    if netd_path is not None:
        netd_path = Path(netd_path)
        d_state = read_state_dict(netd_path)
        first = d_state.get("main.0.weight")
        if first is None or first.dim() != 4:
            raise CheckpointError(f"{netd_path}: not the tutorial's discriminator (no main.0.weight)")
        config = DCGANConfig(nz=config.nz, ngf=config.ngf, ndf=first.shape[0], channels=config.channels,
                             image_size=config.image_size)
        with torch.device("meta"):
            check_layout(d_state, Discriminator(config), netd_path, "discriminator (for this generator)")
    source = {"netg": netg_path.name, "netd": None if netd_path is None else Path(netd_path).name}
    ckpt = checkpoint.Checkpoint(
        config=config.to_dict(), generator={k: v.contiguous() for k, v in g_state.items()},
        discriminator=None if d_state is None else {k: v.contiguous() for k, v in d_state.items()},
        progress={"step": 0, "epoch": 0, "position": 0},
        options={"preset": "tutorial", "imported": source}, dataset={})
    checkpoint.save(out, ckpt)
    return {"output": str(out), "config": config.to_dict(), "discriminator": d_state is not None, **source}
