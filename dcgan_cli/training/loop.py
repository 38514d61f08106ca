"""The training loop: epochs of global batches, statistics, previews, checkpoints, scores, and the three ways a
run ends (schedule or time budget, a signal after saving, a non-finite loss with the last good checkpoint kept).

Every rank takes its slice of each global batch of one epoch permutation (a function of seed and epoch), so a
resume replays the same order, and N processes at batch B take the steps one process takes at batch N x B.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import time
from pathlib import Path
from typing import Any

import torch

from dcgan_cli import checkpoint, faults
from dcgan_cli.checkpoint.state import capture
from dcgan_cli.config import DCGANConfig
from dcgan_cli.data.batches import batch_indices, epoch_permutation, to_model_input
from dcgan_cli.data.dataset import ImageSet
from dcgan_cli.errors import DivergedError, Interrupted
from dcgan_cli.metrics.backbones import Backbone
from dcgan_cli.training.adaptive_r1 import R1Strength, stored_p
from dcgan_cli.training.best import BestKeeper
from dcgan_cli.training.distributed import DistEnv, any_rank, barrier, mean_over_ranks, same_on_all_ranks
from dcgan_cli.training.health import HealthMonitor
from dcgan_cli.training.interrupt import StopFlag
from dcgan_cli.training.metrics_log import MetricsLog
from dcgan_cli.training.options import TrainOptions
from dcgan_cli.training.recipe import FIXED_NOISE_SIZE, Length, Recipe
from dcgan_cli.training.rundir import RunDir
from dcgan_cli.training.scoring import TrainingEval
from dcgan_cli.training.setup import build_state, start_step
from dcgan_cli.training.step import R1_EVERY, STATS, top_k_count, train_step, update_ema

Event = dict[str, Any]


class Loop:
    def __init__(self, opts: TrainOptions, emit: Any, env: DistEnv, run_dir: RunDir, config: DCGANConfig,
                 recipe: Recipe, length: Length, data: ImageSet, device: torch.device,
                 resumed: checkpoint.Checkpoint | None, backbone: tuple[Backbone | None, str | None]) -> None:
        self.opts, self.emit, self.env, self.rd = opts, emit, env, run_dir
        self.config, self.recipe, self.data, self.device, self.resumed = config, recipe, data, device, resumed
        self.length = length
        self.backbone = backbone
        self.state = build_state(config, recipe, opts, env, device, resumed)
        self.r1 = R1Strength(recipe.r1, recipe.r1_target, recipe.batch_size * env.world_size, R1_EVERY,
                             p=stored_p(resumed))
        self.stop = StopFlag()
        self.last_saved: tuple[int, Path] | None = None
        if resumed is not None:
            self.last_saved = (start_step(resumed), resumed.header.path if resumed.header else run_dir.checkpoint)
        n, batch = data.images.shape[0], recipe.batch_size
        self.per_epoch = n // (batch * env.world_size)  # global batches: every rank takes its slice of each
        self.epochs = length.epochs
        self.total = length.steps(self.per_epoch, batch * env.world_size)
        progress = dict(resumed.progress) if resumed else {"step": 0, "epoch": 0, "position": 0}
        # the global batch is kept on resume (recipe.resolve), so the position in global batches carries over as is
        self.step, self.epoch, position = progress["step"], progress["epoch"], progress["position"]
        if position >= self.per_epoch:
            self.epoch, position = self.epoch + 1, 0
        self.position = position
        self.options = {**recipe.to_dict(), **length.to_dict(), "channels_last": self.state.channels_last,
                        "compile": opts.compile,
                        "sample_every": opts.sample_every, "save_every": opts.save_every,
                        "world_size": env.world_size, "global_batch": batch * env.world_size, "amp": opts.amp,
                        "sync_bn": opts.sync_bn}
        self.bad = torch.zeros((), dtype=torch.bool, device=device)  # a non-finite step between host syncs
        self.best = BestKeeper(run_dir.path, emit) if opts.keep_best and env.is_main else None

    def run(self) -> Event:
        opts, rd, env, st = self.opts, self.rd, self.env, self.state
        if env.is_main and self.resumed:
            rd.truncate_metrics(self.step)
        if env.is_main and not rd.real_png.exists():  # a run resumed from imported weights has none yet
            rd.save_real(self.data.images[:64])
        scoring = None
        if opts.eval_every is not None and env.is_main:
            scoring = TrainingEval(opts, self.config, self.data, *self.backbone, self.emit,
                                   rd.last_eval_step() if self.resumed else -1)
        nan_step, sigint_step = faults.value("nan_at_step"), faults.value("sigint_at_step")
        n, batch, nz = self.data.images.shape[0], self.recipe.batch_size, self.config.nz
        epoch_sum = torch.zeros(len(STATS), device=self.device)
        epoch_steps, t_log, step_log = 0, time.perf_counter(), self.step
        t_start, step_start = t_log, self.step
        metrics_file = rd.open_metrics() if env.is_main else contextlib.nullcontext(None)
        stopping = timed_out = False
        health = self.health = HealthMonitor(self.data.images[:FIXED_NOISE_SIZE])
        with self.stop.installed(), metrics_file as file:
            metrics = MetricsLog(file)
            # emitted once the signal handlers are in place: a parent that signals after it is safe
            self.emit({"event": "start", "run_dir": str(rd.path), "device": str(self.device),
                       "config": self.config.to_dict(), "options": self.options, "images": n,
                       "steps_per_epoch": self.per_epoch, "total_steps": self.total, "start_step": self.step,
                       "epochs": self.epochs, "resumed": self.resumed is not None, "world_size": env.world_size,
                       "global_batch": batch * env.world_size,
                       "weights_in_sync": same_on_all_ranks(env, st.raw.netg, st.raw.netd)})
            while self.step < self.total and not stopping and not timed_out:
                perm = epoch_permutation(n, self.recipe.seed, self.epoch)
                t_epoch = time.perf_counter()
                while self.position < self.per_epoch and self.step < self.total and not stopping and not timed_out:
                    mine = batch_indices(perm, self.position, env.rank, env.world_size, batch)
                    real = to_model_input(self.data.images[mine], self.device, st.channels_last)
                    if st.mirror is not None:  # each real image flipped left-right with probability 1/2
                        flip = (torch.rand(batch, generator=st.mirror) < 0.5).to(self.device).view(-1, 1, 1, 1)
                        real = torch.where(flip, real.flip(3), real)
                    noise = torch.randn(batch, nz, 1, 1, generator=st.noise).to(self.device)
                    penalised = (self.step + 1) % R1_EVERY == 0
                    stats = train_step(st.fast, real, noise, poison=self.step + 1 == nan_step,
                                       r1=self.r1.gamma_now if penalised else 0.0,
                                       top_k=top_k_count(self.recipe.top_k, batch, self.step * batch * env.world_size))
                    if penalised and self.r1.adaptive:  # one host sync per penalised step
                        self.r1.observe(mean_over_ranks(env, stats[STATS.index("d_x")]))
                    self.step, self.position, epoch_steps = self.step + 1, self.position + 1, epoch_steps + 1
                    if st.ema is not None and self.recipe.ema is not None:
                        update_ema(st.ema, st.raw.netg, self.recipe.ema, self.step)
                    epoch_sum += stats
                    if self.step % opts.log_every == 0 or self.step == self.total:
                        now = time.perf_counter()
                        values = dict(zip(STATS, stats.tolist()))
                        if any_rank(env, not all(map(math.isfinite, values.values())) or bool(self.bad),
                                    self.device):
                            raise self._diverged(values)
                        row = {"step": self.step, "epoch": self.epoch, **{k: round(v, 6) for k, v in values.items()},
                               "img_per_s": round((self.step - step_log) * batch / max(now - t_log, 1e-9), 2),
                               "elapsed": round(now - t_start, 3),
                               **({"r1_gamma": round(self.r1.gamma_now, 6)} if self.recipe.r1 else {})}
                        metrics.write(row)
                        self.emit({"event": "step", "total_steps": self.total, **row})
                        for warning in health.observe(self.step, values):
                            self.emit(warning)
                        t_log, step_log = now, self.step
                    else:
                        self.bad |= ~torch.isfinite(stats).all()
                    if self.step == sigint_step:
                        os.kill(os.getpid(), signal.SIGINT)
                    stopping = any_rank(env, self.stop.signum is not None, self.device)  # all ranks stop together
                    if opts.max_time is not None:  # the budget is for training: scoring time is not counted
                        trained = time.perf_counter() - t_start - (scoring.seconds if scoring else 0.0)
                        timed_out = any_rank(env, trained >= float(opts.max_time), self.device)
                    if self.step % opts.sample_every == 0 and self.step < self.total:
                        self.sample()
                    if self.step % opts.save_every == 0 and self.step < self.total:
                        self.save()
                    if scoring is not None and scoring.due(self.step) and not stopping:
                        spent = scoring(self.step, st.scored_generator, metrics)  # not counted in img/s
                        spent += self.keep_best(scoring.last_scores)
                        t_log, t_epoch = t_log + spent, t_epoch + spent
                if self.position >= self.per_epoch:
                    means = dict(zip(STATS, (epoch_sum / max(epoch_steps, 1)).tolist()))
                    seconds = time.perf_counter() - t_epoch
                    self.emit({"event": "epoch", "epoch": self.epoch, "step": self.step,
                               **{k: round(v, 6) for k, v in means.items()}, "seconds": round(seconds, 3),
                               "img_per_s": round(epoch_steps * batch / max(seconds, 1e-9), 2)})
                    self.epoch, self.position, epoch_steps = self.epoch + 1, 0, 0
                    epoch_sum.zero_()
            if stopping:
                path = self.save()
                barrier(env)
                name = signal.Signals(self.stop.signum or signal.SIGTERM).name
                self.emit({"event": "interrupted", "signal": name, "step": self.step, "checkpoint": str(path)})
                raise Interrupted(f"interrupted ({name}) at step {self.step}; saved {path}", step=self.step,
                                  checkpoint=path, data=Path(opts.data), run_dir=rd.path)
            saved_now = self.last_saved is not None and self.last_saved[0] == self.step
            path = rd.checkpoint if saved_now else self.save()
            if self.step > 0 and env.is_main and not rd.sample_path(self.step).exists():
                self.sample()
            if scoring is not None and self.step > 0 and scoring.last_scored != self.step:
                scoring(self.step, st.scored_generator, metrics)
                self.keep_best(scoring.last_scores)
            in_sync = same_on_all_ranks(env, st.raw.netg, st.raw.netd)
            barrier(env)
        if not env.is_main:
            return {"event": "end", "step": self.step, "rank": env.rank}
        seconds = time.perf_counter() - t_start
        loss_plot, gif = rd.write_loss_plot(), rd.write_progress_gif()
        return {
            "event": "end", "step": self.step, "epoch": self.epoch, "seconds": round(seconds, 3),
            "img_per_s": round((self.step - step_start) * batch / max(seconds, 1e-9), 2), "checkpoint": str(path),
            "loss_plot": str(loss_plot) if loss_plot else None, "progress_gif": str(gif) if gif else None,
            "run_dir": str(rd.path), "world_size": env.world_size, "weights_in_sync": in_sync,
            "stopped_by": "max_time" if timed_out and self.step < self.total else "schedule",
        }

    def sample(self) -> None:
        """The fixed-noise preview grid of this step (rank 0)."""
        if not self.env.is_main:
            return
        netg = self.state.raw.netg
        netg.eval()  # running BatchNorm statistics: the grid does not depend on what else is in the batch
        with torch.no_grad():
            images = netg(self.state.fixed)
        netg.train()
        path = self.rd.save_grid(images, self.rd.sample_path(self.step))
        self.emit({"event": "sample", "step": self.step, "path": str(path)})
        for warning in self.health.observe_samples(self.step, images):
            self.emit(warning)

    def capture(self, extra_progress: dict[str, Any] | None = None) -> checkpoint.Checkpoint:
        st = self.state
        return capture(config=self.config.to_dict(), netg=st.raw.netg, netd=st.raw.netd, opt_g=st.raw.opt_g,
                       opt_d=st.raw.opt_d, noise=st.noise, fixed_noise=st.fixed, ema=st.ema, streams=st.streams,
                       scalers=st.fast.scalers,
                       progress={"step": self.step, "epoch": self.epoch, "position": self.position,
                                 **self.r1.progress(), **(extra_progress or {})},
                       options=self.options,
                       dataset={"fingerprint": self.data.report.fingerprint, "images": self.data.report.used})

    def keep_best(self, scores: dict[str, Any] | None) -> float:
        """With --keep-best, save this step as best.safetensors if its score is the best yet; returns seconds."""
        if self.best is None or scores is None:
            return 0.0
        if bool(self.bad):  # never keep a step whose weights may be non-finite
            raise self._diverged({"loss_d": float("nan"), "loss_g": float("nan")})
        start = time.perf_counter()
        self.best.offer(self.step, scores, self.capture)
        return time.perf_counter() - start

    def save(self) -> Path:
        """Checkpoint this step (rank 0; a pending non-finite step stops the run instead)."""
        if bool(self.bad):
            raise self._diverged({"loss_d": float("nan"), "loss_g": float("nan")})
        path = self.rd.checkpoint
        if not self.env.is_main:
            return path
        size = checkpoint.save(path, self.capture())
        self.last_saved = (self.step, path)
        snapshot = self.rd.keep_snapshot(self.step, self.opts.keep)
        self.emit({"event": "checkpoint", "step": self.step, "path": str(path), "bytes": size,
                   "snapshot": str(snapshot) if snapshot else None})
        return path

    def _diverged(self, values: dict[str, float]) -> DivergedError:
        self.emit({"event": "diverged", "step": self.step, **values})
        if self.last_saved:
            where = f"last good checkpoint: {self.last_saved[1]} (step {self.last_saved[0]})"
        else:
            where = "no checkpoint was written yet (try a lower learning rate)"
        return DivergedError(f"training diverged at step {self.step} (loss_D={values['loss_d']:.4g}, "
                             f"loss_G={values['loss_g']:.4g}); {where}")
