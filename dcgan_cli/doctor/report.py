"""`doctor()`: every check on a run or checkpoint, as one report (what `dcgan doctor --json` prints)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from dcgan_cli import checkpoint
from dcgan_cli.doctor import checks
from dcgan_cli.doctor.history import read_history
from dcgan_cli.errors import DataError
from dcgan_cli.paths import cache_dir_for

if TYPE_CHECKING:
    from dcgan_cli.doctor.samples import Embed
    from dcgan_cli.sampling.trained import TrainedGenerator

STATUSES = ("ok", "warn", "fail", "skip")
RUN_FILE = "run.json"  # training/rundir.py writes it: {"data": "/abs/path"}
SAMPLES = 64


def doctor(run: str | Path | None = None, data: str | Path | None = None, *, preview: str | Path | None = None,
           device: str = "auto") -> dict[str, Any]:
    """Judge a run folder or checkpoint (None: the newest run). `data` is the training folder (default: the one the
    run recorded, if it is still there), for the collapse reference and the memorisation check; `preview` writes
    the worst sample / nearest-training-image pairs as a .png grid."""
    import torch

    from dcgan_cli.data.dataset import load_images
    from dcgan_cli.data.scan import is_archive
    from dcgan_cli.doctor.samples import collapse, memorisation
    from dcgan_cli.io.images import grid, save_png, to_pil
    from dcgan_cli.sampling.trained import load

    path = checkpoint.find(run)
    header = checkpoint.read_header(path)
    options = header.json_field("options") or {}
    dataset = header.json_field("dataset") or {}
    options, dataset = (o if isinstance(o, dict) else {} for o in (options, dataset))
    history = read_history(path.parent / "metrics.jsonl")
    step = int(header.progress.get("step", 0))
    found: list[checks.Check] = [checks.d_overpowers(history), checks.instability(history), checks.progress(history)]
    images = dataset.get("images") if isinstance(dataset.get("images"), int) else None
    found += checks.length(step, options, images)
    gen = load(path, device)
    samples = gen.render(gen.latents(range(SAMPLES)))
    root = Path(data) if data is not None else recorded_data(path.parent)
    train, imageset = None, None
    note = None
    if root is not None and (root.is_dir() or is_archive(root)):
        try:
            imageset = load_images(root, gen.config.image_size, gen.config.channels,
                                   cache_dir=cache_dir_for(None, False), workers=0)
            train = imageset.images
        except DataError as e:
            note = f"training images not usable: {e}"
    elif root is not None:
        note = f"the training images {root} are not there any more"
    try:  # the set may be an on-disk store: its file is closed (an uncached one deleted) when judged
        kimg = next((c.value["kimg"] for c in found if c.name == "too_short" and c.value), None)
        found.append(collapse(samples, train, kimg))
        memo, pairs = memorisation(samples, train, _d_embedding(gen) if train is not None else None)
        if note and memo.status == "skip":
            memo.detail = note
        found.append(memo)
        written = None
        if preview is not None:
            shown = pairs[:8]
            if shown:
                tiles = torch.stack([t for i, j in shown for t in (samples[i], train[j])])  # type: ignore[index]
                save_png(to_pil(grid(tiles, nrow=2)), Path(preview))
                written = str(preview)
    finally:
        if imageset is not None:
            imageset.close()
    counts = {s: sum(c.status == s for c in found) for s in STATUSES}
    return {"checkpoint": str(path), "step": step, "checks": [c.to_dict() for c in found], "counts": counts,
            "failed": counts["fail"] > 0, "metrics_rows": len(history.rows), "metrics_skipped": history.skipped,
            "data": None if train is None else str(root), "preview": written,
            "pairs": [{"sample_seed": i, "training_index": j} for i, j in pairs[:8]]}


def _d_embedding(gen: TrainedGenerator) -> Embed | None:
    """uint8 images -> the checkpoint's D features (last hidden layer, normalised per position), or None without
    a D (an hf folder, a generator-only checkpoint)."""
    import torch

    from dcgan_cli.projection.features import DFeatures, normalise

    netd = gen.discriminator()
    if netd is None:
        return None
    features = DFeatures(netd)

    def embed(images_u8: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return torch.cat([normalise(features(chunk.to(gen.device).float() / 127.5 - 1))[-1].flatten(1).cpu()
                              for chunk in images_u8.split(256)])

    return embed


def recorded_data(run_dir: Path) -> Path | None:
    """The training folder a run recorded in RUN_DIR/run.json, if it did (and the file is sane)."""
    import json

    try:
        text = (run_dir / RUN_FILE).read_text(encoding="utf-8")[:65536]
        value = json.loads(text).get("data")
    except (OSError, ValueError, AttributeError):
        return None
    return Path(value) if isinstance(value, str) else None
