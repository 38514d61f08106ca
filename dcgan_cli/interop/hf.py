"""Hugging Face-style model folders: written by `dcgan export --format hf`, read by `sample`, `interpolate`,
`project`, `arithmetic` and `evaluate` like a checkpoint.

The layout is what the Hub and `PyTorchModelHubMixin` use: `config.json` (the model config and the recipe),
`model.safetensors` (the generator's weights only, under the tutorial's key names `main.0.weight`, ...) and
`README.md`, a model card with YAML front matter, beside a sample grid `samples.png`. No `huggingface_hub` is
needed to write it. The card names the training data by fingerprint and image count, never by path.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from dcgan_cli import __version__
from dcgan_cli.errors import CheckpointError
from dcgan_cli.io.atomic import write_atomic

CONFIG, WEIGHTS, CARD, GRID = "config.json", "model.safetensors", "README.md", "samples.png"
MODEL_TYPE = "dcgan-generator"
MAX_CONFIG_BYTES = 1 << 20
_PATH_OPTIONS = {"data", "out", "cache_dir", "eval_dir", "resume", "inception_weights"}  # never published


def is_folder(path: Path) -> bool:
    return path.is_dir() and (path / CONFIG).is_file() and (path / WEIGHTS).is_file()


def write_folder(gen: Any, out: Path, *, license: str = "other") -> dict[str, Any]:
    """The three files and the grid, each written atomically, in `out` (made if missing)."""
    from safetensors.torch import save

    from dcgan_cli import checkpoint
    from dcgan_cli.sampling.generator import raw_generator_weights

    header = checkpoint.read_header(gen.path) if gen.path.is_file() else None
    options = (header.json_field("options") if header else None) or {}
    dataset = (header.json_field("dataset") if header else None) or {}
    config = {"model_type": MODEL_TYPE, **gen.config.to_dict(), "ema": gen.ema, "step": gen.step,
              "checkpoint_sha256": gen.sha256, "dcgan_version": __version__,
              "recipe": {k: v for k, v in options.items() if k not in _PATH_OPTIONS},
              "dataset": {"fingerprint": dataset.get("fingerprint"), "images": dataset.get("images")}}
    scores = _last_eval(gen.path.parent / "metrics.jsonl") if gen.path.is_file() else None
    if out.exists():
        for name in (CONFIG, WEIGHTS, CARD, GRID):  # --force: replace ours, leave anything else alone
            if (out / name).is_dir():
                shutil.rmtree(out / name)
    out.mkdir(parents=True, exist_ok=True)
    weights = {k: v.contiguous() for k, v in raw_generator_weights(gen.path, ema=gen.ema)[0].items()}
    write_atomic(out / WEIGHTS, save(weights, metadata={"format": "pt"}))
    write_atomic(out / CONFIG, (json.dumps(config, indent=2) + "\n").encode())
    gen.write_samples(range(64), out / GRID, force=True)
    write_atomic(out / CARD, card(config, scores, license).encode())
    return {"files": [str(out / n) for n in (CONFIG, WEIGHTS, CARD, GRID)], "scores": scores}


def card(config: dict[str, Any], scores: dict[str, Any] | None, license: str) -> str:
    """The model card: YAML front matter (license, tags, library name), then what the model is and how to use it."""
    c = config
    shape = f"{c['channels']}×{c['image_size']}×{c['image_size']}"
    lines = ["---", f"license: {license}", "library_name: dcgan-cli", "pipeline_tag: unconditional-image-generation",
             "tags:", "- dcgan", "- gan", "- unconditional-image-generation", "- pytorch", "---", "",
             "# DCGAN generator", "",
             f"A DCGAN generator (Radford et al. 2016, the PyTorch tutorial's network) trained with "
             f"[dcgan-cli](https://pypi.org/project/dcgan-cli/) {c['dcgan_version']}: latents of size {c['nz']} to "
             f"{shape} images in [-1, 1]. Widths ngf {c['ngf']} / ndf {c['ndf']}; "
             f"{'the EMA generator' if c['ema'] else 'the raw generator'} after {c['step']} steps.", "",
             f"![samples]({GRID})", "", "## Training data", "",
             f"- images: {c['dataset'].get('images')}",
             f"- fingerprint: `{c['dataset'].get('fingerprint')}` (a hash of the file list and contents; paths "
             "are not recorded)", ""]
    if scores:
        lines += ["## Scores (`dcgan evaluate` during training)", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in sorted(scores.items()) if isinstance(v, (int, float))]
        lines.append("")
    lines += ["## Use", "", "```sh", "pip install dcgan-cli", "dcgan sample THIS_FOLDER --n 64 -o grid.png", "```", "",
              "Or with plain PyTorch: `model.safetensors` holds the tutorial's `Generator.main` weights "
              "(`main.0.weight`, ...); `config.json` gives nz, widths, channels and image size.", "",
              f"Source checkpoint sha256: `{c['checkpoint_sha256']}`", ""]
    return "\n".join(lines)


def read_config(folder: Path) -> dict[str, Any]:
    """config.json of an hf folder, checked: size, JSON, model type."""
    path = folder / CONFIG
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise CheckpointError(f"{path}: too large for a model config")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise CheckpointError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(config, dict) or config.get("model_type") != MODEL_TYPE:
        raise CheckpointError(f"{path}: not a dcgan model folder (model_type must be {MODEL_TYPE!r})")
    return config


def _last_eval(metrics: Path) -> dict[str, Any] | None:
    """The last `--eval-every` scores of the run, if it has any."""
    if not metrics.is_file():
        return None
    last = None
    for line in metrics.read_text(errors="replace").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue  # a line cut by a crash
        if isinstance(row, dict) and isinstance(row.get("eval"), dict):
            last = {**_flat(row["eval"]), "step": row.get("step")}
    return last


def _flat(scores: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in scores.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def read_header(folder: Path) -> Any:
    """A checkpoint.Header describing the folder's generator (config from config.json, tensors from the weights'
    safetensors header, checked like a checkpoint's), so commands treat it like a G-only checkpoint."""
    from dcgan_cli import checkpoint
    from dcgan_cli.checkpoint import header as safetensors_header

    config = read_config(folder)
    size, n, tensors, metadata = safetensors_header.read(folder / WEIGHTS, "model file")
    prefix = "G_ema." if config.get("ema") is True else "G."
    step = config.get("step")
    progress = {"step": step if type(step) is int and step >= 0 else 0, "epoch": 0, "position": 0}
    keys = ("nz", "ngf", "ndf", "channels", "image_size", "spectral_norm", "mbstd")
    model: dict[str, Any] = {k: config[k] for k in keys if k in config}
    return checkpoint.Header(folder / WEIGHTS, size, n, metadata, {prefix + k: v for k, v in tensors.items()},
                             model, progress)


def load_weights(folder: Path, header: Any, expected: dict[str, tuple[int, ...]]) -> dict[str, Any]:
    """The generator's state dict from model.safetensors (whose `header` read_header gave): exactly the expected
    keys and shapes, all finite."""
    import torch
    from safetensors import safe_open

    path = folder / WEIGHTS
    shapes = {k.split(".", 1)[1]: info.shape for k, info in header.tensors.items()}
    if shapes != expected:
        wrong = sorted(set(shapes) ^ set(expected)) or [k for k in expected if shapes[k] != expected[k]]
        raise CheckpointError(f"{path}: weights do not fit the model in {CONFIG} (first difference: {wrong[0]})")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            weights = {k: f.get_tensor(k) for k in expected}
    except Exception as e:  # noqa: BLE001 - safetensors' own error types
        raise CheckpointError(f"{path}: cannot read tensors ({e})") from None
    for name, t in weights.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise CheckpointError(f"{path}: contains non-finite values in {name}")
    return weights
