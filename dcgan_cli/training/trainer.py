"""`train()`: the tutorial's training run, resumable bit-for-bit and safe to interrupt.

The library never prints. It reports through `on_event(dict)`; the CLI renders those events as a rich display,
plain lines or JSON Lines. This module takes a run from options to a running loop: resume or refuse, the recipe
resolved against the checkpoint, the device, the data decoded (under torchrun by rank 0 first, the others then
read the cache), and hands over to loop.Loop.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from dcgan_cli import checkpoint
from dcgan_cli.data.dataset import ImageSet, load_images
from dcgan_cli.device import cpu_has_bf16, select_device
from dcgan_cli.errors import CheckpointError, OptionError, UsageError
from dcgan_cli.metrics.backbones import Backbone
from dcgan_cli.metrics.evaluate import load_backbone
from dcgan_cli.paths import cache_dir_for, require_images
from dcgan_cli.training.distributed import DistEnv, barrier, process_group
from dcgan_cli.training.loop import Loop
from dcgan_cli.training.options import TrainOptions
from dcgan_cli.training.recipe import Length, ModelChoice, Recipe, resolve
from dcgan_cli.training.run_lock import run_lock
from dcgan_cli.training.rundir import RunDir
from dcgan_cli.training.setup import start_step
from dcgan_cli.training.tensorboard import TensorBoardSink, require_tensorboard, tee

Event = dict[str, Any]
OnEvent = Callable[[Event], None]


def train(opts: TrainOptions, on_event: OnEvent | None = None) -> Event:
    """Run training; returns the final event. Raises DcganError subclasses for everything a user can cause.

    Options are validated again first (they may have been changed since they were made), before anything is
    written. Under torchrun every process calls this; only rank 0's events reach `on_event`.
    """
    if not isinstance(opts, TrainOptions):
        raise OptionError("opts", f"train() takes a TrainOptions, got {type(opts).__name__}")
    opts.validate()
    env = DistEnv.from_env()
    emit = on_event if on_event is not None and env.is_main else _silent
    if opts.dry_run:
        with tempfile.TemporaryDirectory(prefix="dcgan-dry-run-") as tmp:
            dry = dataclasses.replace(opts, out=Path(tmp) / "run", max_steps=2, epochs=None, sample_every=1,
                                      save_every=2, no_cache=True)
            return Trainer(dry, emit, env).run() | {"dry_run": True}
    return Trainer(opts, emit, env).run()


def _silent(event: Event) -> None:
    """The event sink of ranks other than 0, and of callers who pass none."""


class Trainer:
    def __init__(self, opts: TrainOptions, emit: OnEvent, env: DistEnv) -> None:
        self.opts, self.emit, self.env = opts, emit, env
        self.run_dir = RunDir(opts.run_dir)
        self.cache_dir = cache_dir_for(opts.cache_dir, opts.no_cache)
        self.scoring_backbone: tuple[Backbone | None, str | None] = (None, None)  # with eval_every, on rank 0

    def run(self) -> Event:
        opts, rd = self.opts, self.run_dir
        require_images(opts.data, "data")  # before anything is written
        if opts.eval_dir is not None:
            require_images(opts.eval_dir, "eval_dir")
        resumed = None
        if opts.resume:
            if not rd.checkpoint.exists():
                raise UsageError(f"nothing to resume: {rd.checkpoint} does not exist")
            resumed = self._load_for_resume()
            if resumed.header is not None and resumed.header.imported:
                self.emit({"event": "warning", "message": "continuing from imported weights: Adam states and random "
                           "streams start fresh (the imported file has none), so this is not the original run "
                           "carried on bit for bit"})
        elif rd.checkpoint.exists():
            raise OptionError("out", f"{rd.path} already holds a run; continue it with <resume>, or choose another "
                              "<out>")
        model, recipe, length = resolve(opts, resumed.config if resumed else None,
                                        resumed.options if resumed else None, self.env.world_size)
        device = self.env.device(select_device(opts.device))
        if opts.sync_bn and device.type != "cuda":
            raise OptionError("sync_bn", f"needs CUDA (the device is {device})")
        # a resumed run keeps its precision unless told otherwise, or it would not continue bit for bit
        inherited = opts.amp is None and bool(resumed and resumed.options.get("amp"))
        if opts.amp is None:
            self.opts = opts = dataclasses.replace(opts, amp=inherited)
        if opts.amp and not (device.type == "cuda" or (device.type == "cpu" and cpu_has_bf16())):
            where = f"the device is {device}" + (", without them" if device.type == "cpu" else "")
            raise OptionError("amp", f"needs CUDA or a CPU with bfloat16 instructions (AVX512-BF16 or AMX); {where}"
                              + ("; the checkpoint was trained with it: to go on in float32, turn <amp> off "
                                 "(--no-amp)" if inherited else ""))
        if opts.tensorboard:  # a missing extra fails before the run folder, like the scoring backbone below
            require_tensorboard()
        if opts.eval_every is not None and self.env.is_main:  # a missing extra fails before the run folder
            self.scoring_backbone = load_backbone("auto", tuple(opts.eval_metrics), str(device))
        # everything is checked: take the run folder (rank 0 writes it) before anything is written there
        with run_lock(rd.path, self.env.is_main), process_group(self.env, device):
            board = None
            if opts.tensorboard and self.env.is_main:
                # purge what a killed run logged after its last save: this invocation logs those steps again
                board = TensorBoardSink(rd.path, start_step(resumed) + 1 if resumed else 0)
                self.emit = tee(self.emit, board)
            try:
                return self._run(model, recipe, length, device, resumed)
            finally:
                if board is not None:
                    board.close()

    def _load_for_resume(self) -> checkpoint.Checkpoint:
        """last.safetensors, or, if something outside dcgan damaged it, the newest kept snapshot that loads."""
        try:
            return checkpoint.load(self.run_dir.checkpoint, for_resume=True)
        except CheckpointError as damaged:
            for snap in reversed(self.run_dir.snapshots()):
                try:
                    ckpt = checkpoint.load(snap, for_resume=True)
                except CheckpointError:
                    continue
                self.emit({"event": "warning", "message": f"{damaged}; resuming from {snap.name} instead"})
                return ckpt
            raise

    def _load_data(self, model: ModelChoice) -> ImageSet:
        last = [0.0]

        def progress(done: int, total: int) -> None:
            now = time.monotonic()
            if done == total or now - last[0] > 0.25:
                last[0] = now
                self.emit({"event": "decode", "done": done, "total": total})

        # without a cache, the decoded store is an unlinked temp file in the run folder (on the user's disk; /tmp
        # is often memory), freed by the kernel when the run ends, however it ends
        return load_images(Path(self.opts.data), model.image_size, model.channels, workers=self.opts.workers,
                           cache_dir=self.cache_dir, scratch_dir=self.run_dir.path, max_pixels=self.opts.max_pixels,
                           on_progress=progress)

    def _run(self, model: ModelChoice, recipe: Recipe, length: Length, device: torch.device,
             resumed: checkpoint.Checkpoint | None) -> Event:
        rd, env = self.run_dir, self.env
        if env.is_main:
            for stale in rd.create():
                self.emit({"event": "warning", "message": f"removed stale temp file {stale.name} from a killed save"})
            rd.record_data(Path(self.opts.data))
        barrier(env)  # the run folder exists before any rank puts a scratch store in it
        # one process per node (local rank 0) decodes and fills the cache; the others then read it
        builds = self.cache_dir is None or env.local_rank == 0
        data = self._load_data(model) if builds else None
        barrier(env)
        if data is None:
            data = self._load_data(model)
        try:
            return self._train(model, recipe, length, device, resumed, data)
        finally:
            data.close()

    def _train(self, model: ModelChoice, recipe: Recipe, length: Length, device: torch.device,
               resumed: checkpoint.Checkpoint | None, data: ImageSet) -> Event:
        rd, env = self.run_dir, self.env
        self.emit({"event": "data", **data.report.to_dict()})
        try:
            config = model.config(data.report.channels)
        except ValueError as e:
            raise UsageError(str(e)) from None
        if resumed and resumed.dataset.get("fingerprint") not in (None, data.report.fingerprint):
            self.emit({"event": "warning", "message": "the image folder changed since the checkpoint; "
                       "batch order will differ from an uninterrupted run"})
        n = data.images.shape[0]
        if n < recipe.batch_size * env.world_size:
            fit = max(1, n // env.world_size)
            self.emit({"event": "warning", "message": f"only {n} usable images, fewer than a global batch of "
                       f"{recipe.batch_size * env.world_size}: using batch size {fit} per process"})
            recipe = dataclasses.replace(recipe, batch_size=fit)
        return Loop(self.opts, self.emit, env, rd, config, recipe, length, data, device, resumed,
                    self.scoring_backbone).run()
