"""`train --eval-every`: scoring G while it trains, as rows of metrics.jsonl. The scores come from evaluate.py;
this holds what the training loop needs around them (the real side prepared once, the last step scored, the
time spent scoring, which neither img/s nor --max-time counts)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dcgan_cli.data.dataset import ImageSet, load_images
from dcgan_cli.metrics.backbones import Backbone
from dcgan_cli.metrics.evaluate import make_scorer
from dcgan_cli.model import DCGANConfig, Generator
from dcgan_cli.paths import cache_dir_for
from dcgan_cli.training.metrics_log import MetricsLog
from dcgan_cli.training.options import TrainOptions


class TrainingEval:
    def __init__(self, opts: TrainOptions, config: DCGANConfig, data: ImageSet, backbone: Backbone | None,
                 note: str | None, emit: Callable[[dict[str, Any]], None], last_scored: int = -1) -> None:
        """`backbone` and `note` as evaluate.load_backbone gave them (before the run folder was made)."""
        cache_dir = cache_dir_for(opts.cache_dir, opts.no_cache)
        if opts.eval_dir is not None:
            data = load_images(Path(opts.eval_dir), config.image_size, config.channels, workers=opts.workers,
                               cache_dir=cache_dir, max_pixels=opts.max_pixels)
        self.scorer, notes = make_scorer(data.images, n=opts.eval_n, seed=0, metrics=tuple(opts.eval_metrics),
                                         backbone=backbone, cache_dir=cache_dir)
        for message in ([note] if note else []) + notes:
            emit({"event": "warning", "message": message})
        if backbone is not None:
            self.scorer.reference.features(backbone)  # now, not in the middle of the first scoring
        self.emit, self.every = emit, int(opts.eval_every or 0)
        self.last_scored = last_scored  # on resume: the newest score row kept, so no step is scored twice
        self.last_scores: dict[str, Any] | None = None
        self.seconds = 0.0  # spent scoring in this invocation
        emit({"event": "eval_ready", "dir": str(opts.eval_dir or opts.data), "n": self.scorer.reference.n,
              "metrics": list(opts.eval_metrics), "backbone": backbone.name if backbone else None})

    def due(self, step: int) -> bool:
        return step % self.every == 0

    def __call__(self, step: int, netg: Generator, metrics: MetricsLog) -> float:
        """Score `netg` at `step`, log the row and the event; returns the seconds it took."""
        start = time.perf_counter()
        scores = self.scorer(netg)
        seconds = round(time.perf_counter() - start, 3)
        self.last_scored, self.seconds, self.last_scores = step, self.seconds + seconds, scores
        row = {"step": step, "eval": scores, "eval_n": self.scorer.reference.n, "eval_seconds": seconds}
        metrics.write(row)
        self.emit({"event": "eval", "step": step, **scores, "seconds": seconds})
        return seconds
