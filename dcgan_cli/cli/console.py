"""Consoles and safe text: stderr for people, stdout for data.

Consoles are built per command, never at import: rich reads NO_COLOR and the terminal state when a Console is
constructed, and tests change both. Only rich.console and rich.markup are imported here, so `inspect` can use it
without paying for rich.progress.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape

from dcgan_cli.io.text import printable


def err_console(quiet: bool = False) -> Console:
    return Console(stderr=True, quiet=quiet, highlight=False, soft_wrap=True)


def safe_text(text: str) -> str:
    """Untrusted text (file names, checkpoint metadata) for rich markup: no control bytes, markup escaped."""
    return escape(printable(text))


def emit_json(obj: Any) -> None:
    """One JSON object on one line of stdout."""
    sys.stdout.write(json.dumps(obj, separators=(",", ":"), default=str) + "\n")
    sys.stdout.flush()
