"""Untrusted text (file names, checkpoint metadata) made safe to print: the one sanitiser every module shares."""

from __future__ import annotations

import os


def printable(text: str) -> str:
    """Escape undecodable bytes and control characters so a strict UTF-8 terminal can always print the text and no
    escape sequence reaches it: a file name's raw byte 0xff shows as \\xff, ESC as \\x1b."""
    try:
        text = os.fsencode(text).decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate no file name decodes to (it came from JSON): escaped below
        pass
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)
