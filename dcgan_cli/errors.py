"""Errors a user can cause, each with the exit code the README documents.

The library raises these; only `cli.py` turns them into one line on stderr and an exit code.
"""

from __future__ import annotations


class DcganError(Exception):
    """A failure the user can act on. Anything else reaching the CLI is a bug (exit 1)."""

    exit_code = 1


class UsageError(DcganError):
    """Bad option or argument (the Click convention: exit 2)."""

    exit_code = 2


class DataError(DcganError):
    """No usable input images."""

    exit_code = 3


class CheckpointError(DcganError):
    """A checkpoint that is missing, corrupt, unsafe or incompatible."""

    exit_code = 4


class OutputError(DcganError):
    """Could not write an output (unwritable folder, disk full)."""

    exit_code = 5


class DivergedError(DcganError):
    """Training produced a non-finite loss; the last good checkpoint is kept."""

    exit_code = 6


class Interrupted(DcganError):
    """Stopped by SIGINT/SIGTERM after saving (128 + SIGINT, like a shell)."""

    exit_code = 130
