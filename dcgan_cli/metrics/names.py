"""The names and limits `dcgan evaluate` and `train --eval-metrics` accept, checked without importing torch (a typo
costs a fraction of a second, not the 3-4 s of `import torch`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dcgan_cli.errors import OptionError

METRICS = ("swd", "fd", "kid", "prdc")
FEATURE_METRICS = ("fd", "kid", "prdc")  # need a pretrained backbone; swd needs none
EFFICIENTNET = "efficientnet-lite0"
INCEPTION = "inception-v3"
BACKBONES = (EFFICIENTNET, INCEPTION)
BACKBONE_CHOICES = ("auto", "none", *BACKBONES)
MIN_IMAGES = 8  # precision/recall need k + 1 = 6 per set; SWD and FD mean little below this anyway
MAX_N = 100_000
DEFAULT_N = 1000  # `dcgan evaluate`
DEFAULT_TRAINING_N = 500  # `train --eval-every`: cheaper, scored many times
DEFAULT_TRAINING_METRICS = ("swd",)  # the network-free one


def parse_metrics(value: str | Iterable[str] | None, field: str = "metrics") -> tuple[str, ...]:
    """'swd,kid' or ['swd', 'kid'] -> ('swd', 'kid'); None -> every metric."""
    if value is None:
        return METRICS
    items = value.split(",") if isinstance(value, str) else list(value)
    names = [str(t).strip().lower() for t in items if str(t).strip()]
    unknown = [t for t in names if t not in METRICS]
    if unknown or not names:
        what = f"unknown metric {unknown[0]!r}" if unknown else "no metric given"
        raise OptionError(field, f"{what}; choose from {', '.join(METRICS)}")
    return tuple(dict.fromkeys(names))


def check_backbone(name: str) -> str:
    if name not in BACKBONE_CHOICES:
        raise OptionError("backbone", f"unknown backbone {name!r}; choose from {', '.join(BACKBONE_CHOICES)}")
    return name


def score(scores: dict[str, Any], metric: str) -> float | None:
    """One number from an evaluate result: `fd`/`kid` from the first backbone's features, `swd` its mean."""
    if metric == "swd":
        swd = scores.get("swd")
        value = swd.get("mean") if isinstance(swd, dict) else swd
    else:
        feats = scores.get("features")
        first: Any = next(iter(feats.values()), {}) if isinstance(feats, dict) and feats else {}
        value = first.get(metric) if isinstance(first, dict) else None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def headline(scores: dict[str, Any]) -> tuple[str, float] | None:
    """What a run is judged by (lower is better): FD when the scores have it, else SWD."""
    for metric in ("fd", "swd"):
        value = score(scores, metric)
        if value is not None:
            return metric, value
    return None
