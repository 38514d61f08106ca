"""Choosing the torch device from `--device auto|cpu|cuda|cuda:N|mps`."""

from __future__ import annotations

import re

import torch

from dcgan_cli.errors import UsageError

DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def select_device(name: str) -> torch.device:
    """auto picks CUDA, then MPS, then the CPU; asking for a missing accelerator is a usage error."""
    name = name.strip().lower()
    if not DEVICE_PATTERN.match(name):
        raise UsageError(f"unknown device {name!r} (use auto, cpu, cuda, cuda:N or mps)")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UsageError(f"--device {name}: CUDA is not available on this machine")
        index = int(name.split(":")[1]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise UsageError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) present")
    if name == "mps" and not torch.backends.mps.is_available():
        raise UsageError("--device mps: MPS is not available on this machine")
    return torch.device(name)
