"""Optimizer state in a checkpoint: Adam's per-parameter tensors as flat safetensors entries
(`optG.state.<i>.<name>`), its param groups and scalar entries as JSON metadata; and back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dcgan_cli.checkpoint.header import json_metadata
from dcgan_cli.errors import CheckpointError


def flatten(prefix: str, state: dict[str, Any], tensors: dict[str, Any], meta: dict[str, str]) -> None:
    import torch

    scalars: dict[str, dict[str, Any]] = {}
    for idx, per_param in state["state"].items():
        for name, value in per_param.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}.state.{idx}.{name}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(idx), {})[name] = value
    meta[f"{prefix}.param_groups"] = json.dumps(state["param_groups"])
    if scalars:
        meta[f"{prefix}.scalars"] = json.dumps(scalars)


def unflatten(path: Path, metadata: dict[str, str], prefix: str, flat: dict[str, Any]) -> dict[str, Any]:
    groups = json_metadata(metadata, f"{prefix}.param_groups", path=path)
    scalars = json_metadata(metadata, f"{prefix}.scalars", path=path, required=False) or {}
    state: dict[int, dict[str, Any]] = {}
    if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups) or not isinstance(scalars, dict):
        raise CheckpointError(f"{path}: corrupt optimizer state ({prefix})")
    try:
        for key, tensor in flat.items():
            idx, name = key.split(".", 1)
            state.setdefault(int(idx), {})[name] = tensor
        for idx, values in scalars.items():
            state.setdefault(int(idx), {}).update(values)
        for g in groups:
            if "betas" in g:
                g["betas"] = tuple(g["betas"])
    except (ValueError, TypeError, KeyError):
        raise CheckpointError(f"{path}: corrupt optimizer state ({prefix})") from None
    return {"state": state, "param_groups": groups}

