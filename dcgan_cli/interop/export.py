"""`dcgan export`: a checkpoint's generator as ONNX, a torch.export program (.pt2) or a Hugging Face-style folder.

What is exported takes latents (N, nz) float32 and returns images (N, C, H, W) float32 in [-1, 1]: the EMA G when
the checkpoint has one (unless `ema=False`), BatchNorm on its running statistics and folded into the transposed
convolutions (the same function; about one pixel in a million lands one uint8 level away), so any runtime sees
a plain stack of ConvTranspose, ReLU and Tanh. The reshape of z to (N, nz, 1, 1) is part of the graph.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dcgan_cli import __version__
from dcgan_cli.errors import OptionError, UsageError
from dcgan_cli.io.atomic import write_atomic

FORMATS = ("onnx", "pt2", "hf")
ONNX_OPSET = 18  # the torch.export-based exporter's lowest; onnxruntime has run it since 1.14 (2023)
MAX_BATCH = 65_536


class LatentsToImages(nn.Module):
    """z (N, nz) -> G(z) (N, C, H, W): the exported function."""

    def __init__(self, netg: nn.Module, nz: int) -> None:
        super().__init__()
        self.netg, self.nz = netg, nz

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.netg(z.reshape(z.shape[0], self.nz, 1, 1))


def exportable(gen: Any) -> LatentsToImages:
    """The eval-mode, folded, contiguous-layout G of a TrainedGenerator, wrapped to take (N, nz)."""
    netg = copy.deepcopy(gen.module).to(memory_format=torch.contiguous_format).cpu()  # gen keeps its layout
    return LatentsToImages(netg, gen.config.nz).eval()


def check_output(out: Path, fmt: str, force: bool) -> None:
    if fmt not in FORMATS:
        raise OptionError("format", f"must be one of {', '.join(FORMATS)}, got {fmt!r}")
    suffix = {"onnx": ".onnx", "pt2": ".pt2"}.get(fmt)
    if suffix is not None and out.suffix != suffix:
        raise OptionError("output", f"{out}: a {fmt} export is written to a {suffix} file")
    if fmt == "hf" and out.exists() and not out.is_dir():
        raise OptionError("output", f"{out} exists and is not a folder; an hf export is a folder")
    if out.exists() and not force and (not out.is_dir() or any(out.iterdir())):
        raise OptionError("output", f"{out} already exists; overwrite with <force>")
    if not out.parent.is_dir():
        raise UsageError(f"cannot write {out}: folder {out.parent} does not exist")


def export_onnx(gen: Any, out: Path) -> dict[str, Any]:
    """An ONNX model with input `z` (N, nz), dynamic N, and output `image`; metadata names the tool and checkpoint."""
    try:
        import onnx
        import onnxscript  # noqa: F401  the torch.export-based exporter needs it
    except ImportError:
        raise UsageError("ONNX export needs the onnx extra: pip install 'dcgan-cli[onnx]'") from None
    model = exportable(gen)
    z = torch.randn(2, gen.config.nz, generator=torch.Generator().manual_seed(0))
    batch = torch.export.Dim("n", min=1, max=MAX_BATCH)
    with contextlib.redirect_stdout(io.StringIO()):  # the exporter prints its stages; stdout is for data
        program = torch.onnx.export(model, (z,), input_names=["z"], output_names=["image"], dynamo=True,
                                    dynamic_shapes={"z": {0: batch}}, opset_version=ONNX_OPSET, verbose=False)
    assert program is not None
    proto = program.model_proto  # weights are inside: a DCGAN is far below protobuf's 2 GB limit
    onnx.helper.set_model_props(proto, {"producer": f"dcgan-cli {__version__}", "checkpoint_sha256": gen.sha256,
                                        "nz": str(gen.config.nz), "image_size": str(gen.config.image_size),
                                        "channels": str(gen.config.channels), "ema": str(gen.ema).lower(),
                                        "output_range": "[-1, 1]"})
    proto.producer_name, proto.producer_version = "dcgan-cli", __version__
    write_atomic(out, proto.SerializeToString())
    return {"opset": ONNX_OPSET, "inputs": {"z": ["N", gen.config.nz]},
            "outputs": {"image": ["N", gen.config.channels, gen.config.image_size, gen.config.image_size]}}


def export_pt2(gen: Any, out: Path) -> dict[str, Any]:
    """A torch.export program, loadable with torch.export.load (no dcgan needed to run it)."""
    model = exportable(gen)
    z = torch.randn(2, gen.config.nz, generator=torch.Generator().manual_seed(0))
    program = torch.export.export(model, (z,), dynamic_shapes={"z": {0: torch.export.Dim("n", min=1,
                                                                                        max=MAX_BATCH)}})
    buffer = io.BytesIO()  # a buffer, not the temp file: torch.export.save wants names ending in .pt2
    torch.export.save(program, buffer, extra_files={"dcgan.json": json.dumps({"checkpoint_sha256": gen.sha256,
                                                                              "dcgan_version": __version__})})
    write_atomic(out, buffer.getvalue())
    return {"inputs": {"z": ["N", gen.config.nz]}}


def export(gen: Any, fmt: str, out: str | Path, *, force: bool = False, license: str = "other") -> dict[str, Any]:
    """Write `gen` (a TrainedGenerator) in format `fmt` to `out`; returns what was written."""
    out = Path(out)
    check_output(out, fmt, force)
    if fmt == "onnx":
        facts = export_onnx(gen, out)
    elif fmt == "pt2":
        facts = export_pt2(gen, out)
    else:
        from dcgan_cli.interop.hf import write_folder

        facts = write_folder(gen, out, license=license)
    return {"format": fmt, "output": str(out), "checkpoint": str(gen.path), "checkpoint_sha256": gen.sha256,
            "ema": gen.ema, "step": gen.step, **facts}
