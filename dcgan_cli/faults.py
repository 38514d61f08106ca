"""Deterministic fault injection for the test suite, off unless DCGAN_FAULT is set.

Tests need crashes at exact instants (a kill between the temp write and the rename, a NaN at step 3);
random-timing kills almost never land in the window. `DCGAN_FAULT` holds comma-separated points, each
`name` or `name:value`, for example `save:mid_write` or `nan_at_step:3,save_count:2`.
"""

from __future__ import annotations

import os
import signal

ENV = "DCGAN_FAULT"
POINT_GROUPS = ("save", "rotate")


def _points() -> dict[str, str]:
    spec = os.environ.get(ENV, "")
    points: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in spec.split(","))):
        name, _, value = item.partition(":")
        # `save:mid_write` and `rotate:mid` name points inside an operation; everything else is `name:value`.
        if name in POINT_GROUPS:
            points[item] = ""
        else:
            points[name] = value
    return points


def active(name: str) -> bool:
    return name in _points()


def value(name: str) -> int | None:
    raw = _points().get(name)
    return int(raw) if raw else None


def signal_if(name: str, signum: int = signal.SIGINT) -> None:
    """Deliver a signal to ourselves at this point, as a user pressing Ctrl-C exactly then would."""
    if active(name):
        os.kill(os.getpid(), signum)


def crash_if(name: str) -> None:
    """Die at this point as a power cut would: SIGKILL, no cleanup, no finally blocks."""
    if active(name):
        os.kill(os.getpid(), signal.SIGKILL)
