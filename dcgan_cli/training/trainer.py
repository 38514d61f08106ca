"""`dcgan train`: the tutorial's training loop, resumable bit-for-bit and safe to interrupt.

The library never prints. It reports through `on_event(dict)`; the CLI renders those events as a rich
display, plain lines or JSON Lines. Determinism comes from one generator per purpose: weights from the seed,
the batch order of each epoch from (seed, epoch), the noise from a generator whose state is checkpointed,
so 3 steps + resume + 3 steps gives exactly the weights of 6 steps.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import math
import os
import shlex
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from dcgan_cli import checkpoint, faults
from dcgan_cli.training.augment import DiffAugment, parse_policy
from dcgan_cli.data.dataset import ImageSet, epoch_permutation, load_images, to_model_input
from dcgan_cli.device import select_device
from dcgan_cli.training.distributed import DistEnv, any_rank, barrier, process_group, same_on_all_ranks, wrap
from dcgan_cli.errors import CheckpointError, DivergedError, Interrupted, UsageError
from dcgan_cli.metrics.evaluate import load_backbone
from dcgan_cli.metrics.backbones import Backbone
from dcgan_cli.training.interrupt import StopFlag
from dcgan_cli.model import DCGANConfig, build_models
from dcgan_cli.training.options import DEFAULT_EPOCHS, FIXED_NOISE_SIZE, TrainOptions, derive_seed, resolve
from dcgan_cli.training.rundir import RunDir
from dcgan_cli.training.step import STATS, GanModules, train_step, update_ema
from dcgan_cli.training.scoring import TrainingEval

Event = dict[str, Any]
OnEvent = Callable[[Event], None]

def train(opts: TrainOptions, on_event: OnEvent) -> Event:
    """Run training; returns the final event. Raises DcganError subclasses for everything a user can cause.

    Under torchrun every process calls this; only rank 0's events reach `on_event`.
    """
    env = DistEnv.from_env()
    if not env.is_main:
        on_event = _silent
    if opts.dry_run:
        if opts.resume:
            raise UsageError("--dry-run cannot be combined with --resume")
        with tempfile.TemporaryDirectory(prefix="dcgan-dry-run-") as tmp:
            dry = dataclasses.replace(
                opts, out=Path(tmp) / "run", max_steps=2, epochs=None, sample_every=1, save_every=2, cache_dir=None
            )
            return _Trainer(dry, on_event, env).run() | {"dry_run": True}
    return _Trainer(opts, on_event, env).run()


def _silent(event: Event) -> None:
    """The event sink of ranks other than 0."""


class _Trainer:
    def __init__(self, opts: TrainOptions, on_event: OnEvent, env: DistEnv) -> None:
        self.opts, self.env = opts, env
        self.emit = on_event
        self.run_dir = RunDir(opts.out)
        self.stop = StopFlag()
        self.last_saved: tuple[int, Path] | None = None
        self.ema: torch.nn.Module | None = None  # with --ema: the averaged copy of G
        self.augment_gen: torch.Generator | None = None  # with --diffaugment: its random numbers
        self.scoring_backbone: tuple[Backbone | None, str | None] = (None, None)  # with --eval-every, on rank 0

    # --- set-up ----------------------------------------------------------------------------------------

    def _load_data(self, model: dict[str, Any]) -> ImageSet:
        last = [0.0]

        def progress(done: int, total: int) -> None:
            now = time.monotonic()
            if done == total or now - last[0] > 0.25:
                last[0] = now
                self.emit({"event": "decode", "done": done, "total": total})

        return load_images(
            self.opts.data, model["image_size"], model["channels"], workers=self.opts.workers,
            cache_dir=self.opts.cache_dir, max_pixels=self.opts.max_pixels, on_progress=progress,
        )

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

    def run(self) -> Event:
        opts, rd = self.opts, self.run_dir
        resumed = None
        if opts.resume:
            if not rd.checkpoint.exists():
                raise UsageError(f"nothing to resume: {rd.checkpoint} does not exist")
            resumed = self._load_for_resume()
            self.last_saved = (int(resumed.progress["step"]), resumed.header.path if resumed.header else rd.checkpoint)
        elif rd.checkpoint.exists():
            raise UsageError(f"{rd.path} already holds a run; pass --resume to continue it, or pick another --out")
        model, recipe = resolve(opts, resumed)
        device = self.env.device(select_device(opts.device))
        if (opts.amp or opts.sync_bn) and device.type != "cuda":
            raise UsageError(f"--{'amp' if opts.amp else 'sync-bn'} needs CUDA (the device is {device})")
        if opts.eval_every is not None and self.env.is_main:  # a missing extra fails before the run folder
            self.scoring_backbone = load_backbone("auto", opts.eval_metrics, str(device))
        with process_group(self.env, device):
            return self._run(model, recipe, device, resumed)

    def _run(self, model: dict[str, Any], recipe: dict[str, Any], device: torch.device,
             resumed: checkpoint.Checkpoint | None) -> Event:
        rd, env = self.run_dir, self.env
        if env.is_main:
            for stale in rd.create():
                self.emit({"event": "warning", "message": f"removed stale temp file {stale.name} from a killed save"})
        if env.enabled and self.opts.cache_dir is not None:
            # rank 0 decodes and fills the cache; the others then read it instead of decoding too
            if env.is_main:
                data = self._load_data(model)
            barrier(env)
            if not env.is_main:
                data = self._load_data(model)
        else:
            data = self._load_data(model)
        self.emit({"event": "data", **data.report.to_dict()})
        model["channels"] = data.report.channels
        try:
            config = DCGANConfig(**model)
        except ValueError as e:
            raise UsageError(str(e)) from None
        if resumed and resumed.dataset.get("fingerprint") not in (None, data.report.fingerprint):
            self.emit({"event": "warning", "message": "the image folder changed since the checkpoint; "
                       "batch order will differ from an uninterrupted run"})
        n = data.images.shape[0]
        if n < recipe["batch_size"] * env.world_size:
            fit = max(1, n // env.world_size)
            self.emit({"event": "warning", "message": f"only {n} usable images, fewer than a global batch of "
                       f"{recipe['batch_size'] * env.world_size}: using batch size {fit} per process"})
            recipe["batch_size"] = fit
        return self._loop(config, recipe, data, device, resumed)

    def _build(self, config: DCGANConfig, recipe: dict[str, Any], device: torch.device,
               resumed: checkpoint.Checkpoint | None) -> tuple[GanModules, GanModules, torch.Generator, torch.Tensor]:
        netg, netd = build_models(config, seed=derive_seed(recipe["seed"], "weights"))
        if self.opts.sync_bn:
            netg = torch.nn.SyncBatchNorm.convert_sync_batchnorm(netg)
            netd = torch.nn.SyncBatchNorm.convert_sync_batchnorm(netd)
        noise_gen = torch.Generator().manual_seed(derive_seed(recipe["seed"], "noise"))
        fixed = torch.randn(FIXED_NOISE_SIZE, config.nz, 1, 1,
                            generator=torch.Generator().manual_seed(derive_seed(recipe["seed"], "fixed")))
        fmt = torch.channels_last if self.opts.channels_last else torch.contiguous_format
        netg.to(device, memory_format=fmt)
        netd.to(device, memory_format=fmt)
        betas = (recipe["beta1"], 0.999)
        raw = GanModules(netg, netd, torch.optim.Adam(netg.parameters(), recipe["lr"], betas=betas),
                         torch.optim.Adam(netd.parameters(), recipe["lr"], betas=betas))
        if recipe["ema"] is not None:
            self.ema = copy.deepcopy(netg).requires_grad_(False)
        if recipe["diffaugment"]:
            # rank 0's stream is checkpointed; other ranks start their own, as for the noise
            rank = f":{self.env.rank}:{self._start_step(resumed)}" if self.env.rank else ""
            self.augment_gen = torch.Generator().manual_seed(derive_seed(recipe["seed"], "augment" + rank))
            raw.augment = DiffAugment(parse_policy(recipe["diffaugment"]), self.augment_gen)
        if resumed is not None:
            # skip_rng_restore is the negative control of the resume test: without the RNG, no bit-exactness
            stored = checkpoint.restore(resumed, netg, netd, raw.opt_g, raw.opt_d, noise_gen,
                                        rng=not faults.active("skip_rng_restore"), ema=self.ema,
                                        augment=self.augment_gen if self.env.is_main else None)
            fixed = stored if stored is not None else fixed
        if self.env.enabled and self.env.rank > 0:
            # other ranks draw their own noise (rank 0's stream is the checkpointed one)
            noise_gen.manual_seed(derive_seed(recipe["seed"], f"noise:{self.env.rank}:{self._start_step(resumed)}"))
        raw.loss, raw.real_label = recipe["loss"], 1.0 - recipe["label_smoothing"]
        fast = dataclasses.replace(raw, netg=wrap(netg, self.env, device), netd=wrap(netd, self.env, device),
                                   netd_for_g=netd if self.env.enabled else None)
        if self.opts.amp:
            bf16 = torch.cuda.is_bf16_supported()
            fast.amp_dtype = torch.bfloat16 if bf16 else torch.float16
            fast.scalers = None if bf16 else (torch.amp.GradScaler("cuda"), torch.amp.GradScaler("cuda"))
        if self.opts.compile:
            fast.netg, fast.netd = torch.compile(fast.netg), torch.compile(fast.netd)
            if fast.netd_for_g is not None:
                fast.netd_for_g = torch.compile(fast.netd_for_g)
        return raw, fast, noise_gen, fixed.to(device)

    @staticmethod
    def _start_step(resumed: checkpoint.Checkpoint | None) -> int:
        return int(resumed.progress["step"]) if resumed else 0

    # --- the loop --------------------------------------------------------------------------------------

    def _loop(self, config: DCGANConfig, recipe: dict[str, Any], data: ImageSet, device: torch.device,
              resumed: checkpoint.Checkpoint | None) -> Event:
        opts, rd = self.opts, self.run_dir
        raw, fast, noise_gen, fixed = self._build(config, recipe, device, resumed)
        env = self.env
        n, batch = data.images.shape[0], recipe["batch_size"]
        per_epoch = n // (batch * env.world_size)  # global batches: every rank takes its slice of each
        epochs = opts.epochs if opts.epochs is not None else (None if opts.max_steps else DEFAULT_EPOCHS)
        total = min(x for x in (opts.max_steps, epochs * per_epoch if epochs else None) if x is not None)
        progress = dict(resumed.progress) if resumed else {"step": 0, "epoch": 0, "position": 0}
        step, epoch, position = progress["step"], progress["epoch"], progress["position"]
        old_world = int((resumed.options if resumed else {}).get("world_size", 1))
        if old_world != env.world_size:  # same images seen so far, counted in the new global batches
            position = position * old_world // env.world_size
        if position >= per_epoch:
            epoch, position = epoch + 1, 0
        options = {**recipe, "epochs": epochs, "max_steps": opts.max_steps, "channels_last": opts.channels_last,
                   "compile": opts.compile, "sample_every": opts.sample_every, "save_every": opts.save_every,
                   "world_size": env.world_size, "amp": opts.amp, "sync_bn": opts.sync_bn}
        state = _LoopState(self, raw, config, options, noise_gen, fixed, data)
        if env.is_main and resumed:
            rd.truncate_metrics(step)
        elif env.is_main:
            rd.save_real(data.images)
        scoring = None
        if opts.eval_every is not None and env.is_main:
            scoring = TrainingEval(opts, config, data, *self.scoring_backbone, self.emit,
                                   rd.last_eval_step() if resumed else -1)
        nan_step = faults.value("nan_at_step")
        sigint_step = faults.value("sigint_at_step")
        epoch_sum = torch.zeros(len(STATS), device=device)
        bad = torch.zeros((), dtype=torch.bool, device=device)
        epoch_steps, t_log, step_log = 0, time.perf_counter(), step
        t_start, step_start = t_log, step
        metrics_file = rd.open_metrics() if env.is_main else contextlib.nullcontext(None)
        stopping = timed_out = False
        with self.stop.installed(), metrics_file as metrics:
            # emitted once the signal handlers are in place: a parent that signals after it is safe
            self.emit({"event": "start", "run_dir": str(rd.path), "device": str(device),
                       "config": config.to_dict(), "options": options, "images": n, "steps_per_epoch": per_epoch,
                       "total_steps": total, "start_step": step, "epochs": epochs, "resumed": resumed is not None,
                       "world_size": env.world_size, "global_batch": batch * env.world_size,
                       "weights_in_sync": same_on_all_ranks(env, raw.netg, raw.netd)})
            while step < total and not stopping and not timed_out:
                perm = epoch_permutation(n, recipe["seed"], epoch)
                t_epoch = time.perf_counter()
                while position < per_epoch and step < total and not stopping and not timed_out:
                    first = (position * env.world_size + env.rank) * batch
                    idx = perm[first : first + batch]
                    real = to_model_input(data.images[idx], device, opts.channels_last)
                    noise = torch.randn(batch, config.nz, 1, 1, generator=noise_gen).to(device)
                    stats = train_step(fast, real, noise, poison=step + 1 == nan_step)
                    step, position, epoch_steps = step + 1, position + 1, epoch_steps + 1
                    if self.ema is not None:
                        update_ema(self.ema, raw.netg, recipe["ema"], step)
                    epoch_sum += stats
                    state.position = (step, epoch, position)
                    if step % opts.log_every == 0 or step == total:
                        now = time.perf_counter()
                        values = dict(zip(STATS, stats.tolist()))
                        if any_rank(env, not all(map(math.isfinite, values.values())) or bool(bad), device):
                            raise self._diverged(step, values)
                        row = {"step": step, "epoch": epoch, **{k: round(v, 6) for k, v in values.items()},
                               "img_per_s": round((step - step_log) * batch / max(now - t_log, 1e-9), 2),
                               "elapsed": round(now - t_start, 3)}
                        if metrics is not None:
                            metrics.write(json.dumps(row, separators=(",", ":")) + "\n")
                            metrics.flush()
                        self.emit({"event": "step", "total_steps": total, **row})
                        t_log, step_log = now, step
                    else:
                        bad |= ~torch.isfinite(stats).all()
                    if step == sigint_step:
                        os.kill(os.getpid(), signal.SIGINT)
                    stopping = any_rank(env, self.stop.signum is not None, device)  # all ranks stop together
                    if opts.max_time is not None:  # the budget is for training: scoring time is not counted
                        trained = time.perf_counter() - t_start - (scoring.seconds if scoring else 0.0)
                        timed_out = any_rank(env, trained >= opts.max_time, device)
                    if step % opts.sample_every == 0 and step < total:
                        state.sample(step)
                    if step % opts.save_every == 0 and step < total:
                        state.save(bad)
                    if scoring is not None and scoring.due(step) and not stopping:
                        spent = scoring(step, self._scored_generator(raw), metrics)  # not counted in img/s
                        t_log, t_epoch = t_log + spent, t_epoch + spent
                if position >= per_epoch:
                    means = dict(zip(STATS, (epoch_sum / max(epoch_steps, 1)).tolist()))
                    seconds = time.perf_counter() - t_epoch
                    self.emit({"event": "epoch", "epoch": epoch, "step": step,
                               **{k: round(v, 6) for k, v in means.items()}, "seconds": round(seconds, 3),
                               "img_per_s": round(epoch_steps * batch / max(seconds, 1e-9), 2)})
                    epoch, position, epoch_steps = epoch + 1, 0, 0
                    epoch_sum.zero_()
                    state.position = (step, epoch, position)
            if stopping:
                path = state.save(bad)
                barrier(env)
                name = signal.Signals(self.stop.signum or signal.SIGTERM).name
                self.emit({"event": "interrupted", "signal": name, "step": step, "checkpoint": str(path)})
                raise Interrupted(
                    f"interrupted ({name}) at step {step}; saved {path}; resume with: dcgan train "
                    f"{shlex.quote(str(opts.data))} --out {shlex.quote(str(rd.path))} --resume"
                )
            path = state.save(bad) if self.last_saved is None or self.last_saved[0] != step else rd.checkpoint
            if step > 0 and env.is_main and not rd.sample_path(step).exists():
                state.sample(step)
            if scoring is not None and step > 0 and scoring.last_scored != step:
                scoring(step, self._scored_generator(raw), metrics)
            in_sync = same_on_all_ranks(env, raw.netg, raw.netd)
            barrier(env)
        seconds = time.perf_counter() - t_start
        return {
            "event": "end", "step": step, "epoch": epoch, "seconds": round(seconds, 3),
            "img_per_s": round((step - step_start) * batch / max(seconds, 1e-9), 2), "checkpoint": str(path),
            "loss_plot": _str(rd.write_loss_plot()), "progress_gif": _str(rd.write_progress_gif()),
            "run_dir": str(rd.path), "world_size": env.world_size, "weights_in_sync": in_sync,
            "stopped_by": "max_time" if timed_out and step < total else "schedule",
        } if env.is_main else {"event": "end", "step": step, "rank": env.rank}

    def _scored_generator(self, raw: GanModules) -> torch.nn.Module:
        """What `sample` would use: the EMA copy when there is one."""
        return self.ema if self.ema is not None else raw.netg

    def _diverged(self, step: int, values: dict[str, float]) -> DivergedError:
        self.emit({"event": "diverged", "step": step, **values})
        if self.last_saved:
            where = f"last good checkpoint: {self.last_saved[1]} (step {self.last_saved[0]})"
        else:
            where = "no checkpoint was written yet (try a lower --lr)"
        return DivergedError(
            f"training diverged at step {step} (loss_D={values['loss_d']:.4g}, loss_G={values['loss_g']:.4g}); {where}"
        )


class _LoopState:
    """What a save or a preview grid needs from the loop, kept in one place."""

    def __init__(self, trainer: _Trainer, raw: GanModules, config: DCGANConfig, options: dict[str, Any],
                 noise_gen: torch.Generator, fixed: torch.Tensor, data: ImageSet) -> None:
        self.trainer, self.raw, self.config, self.options = trainer, raw, config, options
        self.noise_gen, self.fixed, self.data = noise_gen, fixed, data
        self.position = (0, 0, 0)

    def sample(self, step: int) -> None:
        if not self.trainer.env.is_main:
            return
        netg = self.raw.netg
        netg.eval()  # running BatchNorm statistics: the grid does not depend on what else is in the batch
        with torch.no_grad():
            images = netg(self.fixed)
        netg.train()
        path = self.trainer.run_dir.save_grid(images, self.trainer.run_dir.sample_path(step))
        self.trainer.emit({"event": "sample", "step": step, "path": str(path)})

    def save(self, bad: torch.Tensor) -> Path:
        step, epoch, position = self.position
        if bool(bad):
            raise self.trainer._diverged(step, {"loss_d": float("nan"), "loss_g": float("nan")})
        path = self.trainer.run_dir.checkpoint
        if not self.trainer.env.is_main:
            return path
        ckpt = checkpoint.Checkpoint(
            config=self.config.to_dict(),
            generator=self.raw.netg.state_dict(),
            discriminator=self.raw.netd.state_dict(),
            generator_ema=self.trainer.ema.state_dict() if self.trainer.ema is not None else None,
            opt_g=self.raw.opt_g.state_dict(),
            opt_d=self.raw.opt_d.state_dict(),
            rng={"noise": self.noise_gen.get_state(),
                 **({"augment": self.trainer.augment_gen.get_state()} if self.trainer.augment_gen else {})},
            fixed_noise=self.fixed,
            progress={"step": step, "epoch": epoch, "position": position},
            options=self.options,
            dataset={"fingerprint": self.data.report.fingerprint, "images": self.data.report.used},
        )
        size = checkpoint.save(path, ckpt)
        self.trainer.last_saved = (step, path)
        snapshot = self.trainer.run_dir.keep_snapshot(step, self.trainer.opts.keep)
        self.trainer.emit({"event": "checkpoint", "step": step, "path": str(path), "bytes": size,
                           "snapshot": str(snapshot) if snapshot else None})
        return path


def _str(p: Path | None) -> str | None:
    return str(p) if p else None
