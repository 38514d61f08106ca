"""The run folder and the artefacts a training run leaves in it.

    RUN_DIR/last.safetensors     everything needed to continue (see checkpoint.py)
    RUN_DIR/ckpt-STEP.safetensors  with --keep N > 1: the newest N - 1 earlier checkpoints (hard links)
    RUN_DIR/metrics.jsonl        one JSON object per logged step
    RUN_DIR/samples/step_*.png   fixed-noise grids, every --sample-every steps and at the end
    RUN_DIR/real_samples.png     a grid of training images, as the tutorial shows
    RUN_DIR/loss.png             G and D loss against iterations (the tutorial's plot)
    RUN_DIR/progress.gif         the fixed-noise grids as an animation (the tutorial's, as a file)
    RUN_DIR/run.json             where the training images are (for `dcgan doctor`); kept out of the checkpoint,
                                 which may be shared and records the data by fingerprint only
    RUN_DIR/.lock                the one-trainer lock (training/run_lock.py); it stays, unlocked, after the run
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from dcgan_cli import checkpoint, faults
from dcgan_cli.errors import OutputError
from dcgan_cli.io.atomic import write_atomic
from dcgan_cli.io.images import gif_bytes, grid, save_png, tensor_png, to_uint8
from dcgan_cli.io.plot import loss_curve

RUN_FILE = "run.json"
GIF_FRAME_MS = 200
MAX_GIF_FRAMES = 200


class RunDir:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.checkpoint = path / checkpoint.LAST
        self.metrics = path / "metrics.jsonl"
        self.samples = path / "samples"
        self.loss_png = path / "loss.png"
        self.progress_gif = path / "progress.gif"
        self.real_png = path / "real_samples.png"

    def create(self) -> list[Path]:
        """Make the folders and clear temp files a killed save left; returns what was removed."""
        try:
            self.samples.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OutputError(f"cannot create run folder {self.path}: {e.strerror or e}") from None
        return checkpoint.clean_stale_temps(self.path)

    def record_data(self, data: Path) -> None:
        write_atomic(self.path / RUN_FILE, (json.dumps({"data": str(data.resolve())}) + "\n").encode())

    def snapshots(self) -> list[Path]:
        """Kept step checkpoints, oldest first (the zero-padded step sorts by name)."""
        return sorted(self.path.glob("ckpt-*.safetensors"))

    def keep_snapshot(self, step: int, keep: int) -> Path | None:
        """With --keep N > 1: link last.safetensors as ckpt-STEP and delete the oldest beyond N - 1.

        The new file exists before any old one is removed, and removal goes oldest first, so a crash at any
        point leaves last.safetensors and the newest snapshots intact.
        """
        if keep <= 1:
            return None
        snap = self.path / f"ckpt-{step:08d}.safetensors"
        tmp = self.path / f".{snap.name}.{os.getpid()}.tmp"
        try:
            tmp.unlink(missing_ok=True)
            try:
                os.link(self.checkpoint, tmp)  # no second write of the bytes where links work
            except OSError:
                shutil.copyfile(self.checkpoint, tmp)
            os.replace(tmp, snap)
            for old in self.snapshots()[: -(keep - 1)]:
                old.unlink(missing_ok=True)
                faults.crash_if("rotate:mid")
        except OSError as e:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            raise OutputError(f"could not keep checkpoint {snap}: {e.strerror or e}") from None
        return snap

    def truncate_metrics(self, step: int) -> None:
        """Forget metrics logged after `step`: a resumed run logs those steps again."""
        if not self.metrics.exists():
            return
        keep = [line for line in self._metric_lines() if line.get("step", 0) <= step]
        write_atomic(self.metrics, "".join(json.dumps(r) + "\n" for r in keep).encode())

    def last_eval_step(self) -> int:
        """The step of the newest score row (`train --eval-every`), or -1."""
        if not self.metrics.exists():
            return -1
        return max((int(r["step"]) for r in self._metric_lines() if "eval" in r and "step" in r), default=-1)

    def _metric_lines(self) -> list[dict[str, Any]]:
        rows = []
        with open(self.metrics, encoding="utf-8") as f:
            for line in f:
                try:
                    rows.append(json.loads(line))
                except ValueError:  # a line cut short by a crash: skip it, the rest is good
                    continue
        return rows

    def open_metrics(self):  # noqa: ANN201 - a text file object
        try:
            return open(self.metrics, "a", encoding="utf-8")
        except OSError as e:
            raise OutputError(f"cannot write {self.metrics}: {e.strerror or e}") from None

    def sample_path(self, step: int) -> Path:
        return self.samples / f"step_{step:08d}.png"

    def save_grid(self, images: torch.Tensor, path: Path) -> Path:
        write_atomic(path, tensor_png(grid(to_uint8(images))))
        return path

    def save_real(self, images_u8: torch.Tensor) -> Path:
        write_atomic(self.real_png, tensor_png(grid(images_u8[:64])))
        return self.real_png

    def write_loss_plot(self) -> Path | None:
        if not self.metrics.exists():
            return None
        rows = [r for r in self._metric_lines() if "loss_g" in r]
        image = loss_curve([r["step"] for r in rows], [r["loss_g"] for r in rows], [r["loss_d"] for r in rows])
        save_png(image, self.loss_png)
        return self.loss_png

    def write_progress_gif(self) -> Path | None:
        frames = sorted(self.samples.glob("step_*.png"))
        if not frames:
            return None
        if len(frames) > MAX_GIF_FRAMES:  # evenly thinned, always keeping the last grid
            stride = len(frames) / MAX_GIF_FRAMES
            frames = [frames[int(i * stride)] for i in range(MAX_GIF_FRAMES - 1)] + [frames[-1]]
        images = []
        for p in frames:
            with Image.open(p) as im:
                images.append(im.convert("RGB"))
        write_atomic(self.progress_gif, gif_bytes(images, GIF_FRAME_MS))
        return self.progress_gif
