"""The doctor's checks on a run's history and recipe. Each returns a Check: a status (ok, warn, fail, skip), the
value judged, what it means and concrete advice.

Thresholds, and where they come from:
- D overpowers G: the live warning's (training/health.py): mean D(G(z)) < 0.05 with D(x) > 0.9 over the last
  50 logged steps is `fail`; < 0.15 with D(x) > 0.8 is `warn`. The tutorial's recipe on a few thousand images
  sits at D(G(z)) ~ 0.001 (issue 11); the default preset's healthy runs stay around 0.2-0.4.
- Instability: any non-finite statistic is `fail`; a Loss_G in the recent window above 4x the run's median, or
  above 8 (BCE; G then gets almost no gradient), is `warn`.
- Length: benchmarks/quality.py shows recognisable images after about 50 kimg (Fashion-MNIST 32 px at 2 minutes
  has seen 88 kimg; OpenMoji shows emoji shapes at 5 minutes, 52 kimg): fewer is `warn`. A folder under 5,000
  images without DiffAugment is `warn` (without it D wins on OpenMoji's 4,495: FD 384 against 253).
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from typing import Any

from dcgan_cli.doctor.history import History
from dcgan_cli.metrics.names import score

WINDOW = 50
RECOGNISABLE_KIMG = 50
SMALL_FOLDER = 5000


@dataclass
class Check:
    name: str
    status: str  # ok, warn, fail, skip
    value: Any
    detail: str
    advice: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def d_overpowers(history: History) -> Check:
    recent = history.rows[-WINDOW:]
    if len(recent) < 10:
        return Check("d_overpowers_g", "skip", None, f"only {len(recent)} logged steps")
    fake = statistics.fmean(r["d_g_z2"] for r in recent)
    real = statistics.fmean(r["d_x"] for r in recent)
    loss_g = statistics.fmean(r["loss_g"] for r in recent)
    value = {"d_g_z": round(fake, 4), "d_x": round(real, 4), "loss_g": round(loss_g, 3)}
    detail = f"D(G(z)) {fake:.3f}, D(x) {real:.3f}, Loss_G {loss_g:.2f} over the last {len(recent)} logged steps"
    advice = ("G gets almost no gradient: use the default preset (a narrower D, --ndf 16, batch 16, and an R1 "
              "penalty on D that grows while D is ahead), or add --diffaugment color,translation and --r1 1 "
              "--r1-target 0.6 (which measured better on a small folder over 10-20 minutes)")
    if fake < 0.05 and real > 0.9:
        return Check("d_overpowers_g", "fail", value, "D is winning: " + detail, advice)
    if fake < 0.15 and real > 0.8:
        return Check("d_overpowers_g", "warn", value, "D is ahead: " + detail, advice)
    return Check("d_overpowers_g", "ok", value, detail)


def instability(history: History) -> Check:
    if history.non_finite:
        return Check("instability", "fail", {"non_finite_steps": history.non_finite[:10]},
                     f"non-finite statistics at step {history.non_finite[0]}",
                     "resume from the last good checkpoint with a lower --lr-d/--lr-g, or use --loss hinge")
    if len(history.rows) < 10:
        return Check("instability", "skip", None, f"only {len(history.rows)} logged steps")
    median = statistics.median(r["loss_g"] for r in history.rows)
    peak = max(r["loss_g"] for r in history.rows[-WINDOW:])
    value = {"loss_g_median": round(median, 3), "loss_g_recent_max": round(peak, 3)}
    if peak > 8 or peak > 4 * max(median, 0.25):
        return Check("instability", "warn", value, f"Loss_G spikes to {peak:.2f} (median {median:.2f})",
                     "lower --lr-g, or add --diffaugment color,translation so D cannot run away")
    return Check("instability", "ok", value, f"Loss_G peaks at {peak:.2f} recently (median {median:.2f})")


def progress(history: History) -> Check:
    if not history.evals:
        return Check("progress", "skip", None, "no scores: train with --eval-every N to follow the score",
                     "add --eval-every 500 (and --keep-best to keep the best checkpoint)")
    metric = next((m for m in ("fd", "swd") if score(history.evals[0][1], m) is not None), None)
    if metric is None:
        return Check("progress", "skip", None, "the scores hold neither fd nor swd")
    scored = [(step, s) for step, e in history.evals if (s := score(e, metric)) is not None]
    best_step, best = min(scored, key=lambda t: t[1])
    last_step, last = scored[-1]
    value = {"metric": metric, "best": best, "best_step": best_step, "last": last, "last_step": last_step}
    if last > best * 1.1 and last_step != best_step:
        return Check("progress", "warn", value, f"{metric} {last:.2f} at step {last_step} is worse than the best, "
                     f"{best:.2f} at step {best_step}", "use RUN/best (train with --keep-best), or the kept "
                     "checkpoint nearest that step (ckpt-STEP.safetensors, --keep N)")
    return Check("progress", "ok", value, f"{metric} {last:.2f} at step {last_step} (best {best:.2f} at step "
                 f"{best_step})")


def length(step: int, options: dict[str, Any], images: int | None) -> list[Check]:
    batch = options.get("batch_size") if isinstance(options.get("batch_size"), int) else None
    world = options.get("world_size") if isinstance(options.get("world_size"), int) else 1
    out = []
    if batch is None:
        out.append(Check("too_short", "skip", None, "the checkpoint does not record its batch size"))
    else:
        kimg = step * batch * world / 1000
        if kimg < RECOGNISABLE_KIMG:
            out.append(Check("too_short", "warn", {"kimg": round(kimg, 1)}, f"{kimg:.1f} kimg shown; the benchmark's "
                             f"runs show recognisable images after about {RECOGNISABLE_KIMG} kimg",
                             "train longer: dcgan train ... --resume --kimg 200"))
        else:
            out.append(Check("too_short", "ok", {"kimg": round(kimg, 1)}, f"{kimg:.1f} kimg shown"))
    augment = options.get("diffaugment")
    if images is None:
        out.append(Check("small_folder", "skip", None, "the checkpoint does not record the folder's size"))
    elif images < SMALL_FOLDER and not augment:
        out.append(Check("small_folder", "warn", {"images": images}, f"{images} images and no augmentation",
                         "add --diffaugment color,translation (the default preset has it)"))
    else:
        share = options.get("augment_p", 1.0)  # absent from checkpoints written before --augment-p: every image
        on = f", DiffAugment {augment}" + (f" on {share:.0%} of D's images" if share < 1 else "") if augment else ""
        out.append(Check("small_folder", "ok", {"images": images, "diffaugment": augment or None,
                                                "augment_p": share if augment else None}, f"{images} images{on}"))
    return out
