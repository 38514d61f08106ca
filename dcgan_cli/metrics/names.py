"""The names `dcgan evaluate` and `train --eval-metrics` accept, checked without importing torch (a typo costs
a fraction of a second, not the 3-4 s of `import torch`)."""

from __future__ import annotations

from dcgan_cli.errors import UsageError

METRICS = ("swd", "fd", "kid", "prdc")
FEATURE_METRICS = ("fd", "kid", "prdc")  # need a pretrained backbone; swd needs none
EFFICIENTNET = "efficientnet-lite0"
INCEPTION = "inception-v3"
BACKBONES = (EFFICIENTNET, INCEPTION)
BACKBONE_CHOICES = ("auto", "none", *BACKBONES)


def parse_metrics(text: str | None) -> tuple[str, ...]:
    """'swd,kid' -> ('swd', 'kid'); None -> every metric."""
    if text is None:
        return METRICS
    names = [t.strip().lower() for t in text.split(",") if t.strip()]
    unknown = [t for t in names if t not in METRICS]
    if unknown or not names:
        what = f"unknown metric {unknown[0]!r}" if unknown else "no metric given"
        raise UsageError(f"{what}; choose from {', '.join(METRICS)}")
    return tuple(dict.fromkeys(names))


def check_backbone(name: str) -> str:
    if name not in BACKBONE_CHOICES:
        raise UsageError(f"unknown backbone {name!r}; choose from {', '.join(BACKBONE_CHOICES)}")
    return name
