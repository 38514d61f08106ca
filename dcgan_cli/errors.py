"""Errors a user can cause, each with the exit code the README documents.

The library raises these and never mentions a command-line flag; only `cli/` turns them into one line on stderr
and an exit code (and an `OptionError`'s field into its `--flag` spelling).
"""

from __future__ import annotations

import re
from collections.abc import Callable


class DcganError(Exception):
    """A failure the user can act on. Anything else reaching the CLI is a bug (exit 1)."""

    exit_code = 1


class UsageError(DcganError):
    """Bad option or argument (the Click convention: exit 2)."""

    exit_code = 2


class OptionError(UsageError):
    """An option with a value the library refuses. It names the field (`TrainOptions.loss`, `sample(n=...)`) so the
    CLI can say `--loss` instead; other fields the message mentions are written `<name>` in `problem` and spelled
    the same way. `str()` spells them as field names: "loss must be bce or hinge, got 'wgan'"."""

    _VERBS = ("must ", "needs ", "cannot ", "has ", "is ")

    def __init__(self, field: str, problem: str) -> None:
        self.field, self.problem = field, problem
        super().__init__(self.render(lambda name: name))

    def render(self, spell: Callable[[str], str]) -> str:
        """The message with every field named as `spell(field)` says it (a flag, a keyword argument)."""
        text = re.sub(r"<([a-z_]+)>", lambda m: spell(m.group(1)), self.problem)
        return f"{spell(self.field)}{' ' if text.startswith(self._VERBS) else ': '}{text}"


class RecipeConflict(UsageError):
    """Options that would change a resumed run's recipe or model: (field, requested, stored) for each."""

    def __init__(self, conflicts: list[tuple[str, object, object]]) -> None:
        self.conflicts = conflicts
        super().__init__(self.render(lambda name: name + "="))

    def render(self, spell: Callable[[str], str]) -> str:
        """spell(field) is what stands before the requested value: 'lr=' here, '--lr ' in the CLI."""
        shown = ", ".join(f"{spell(name)}{value} (checkpoint: {stored})" for name, value, stored in self.conflicts)
        return f"cannot change these when resuming: {shown}"


class DataError(DcganError):
    """No usable input images."""

    exit_code = 3


class CheckpointError(DcganError):
    """A checkpoint that is missing, corrupt, unsafe or incompatible."""

    exit_code = 4


class LatentsError(CheckpointError):
    """A latents file that is missing, corrupt, unsafe, or made for a generator with another nz (exit 4, like a
    checkpoint: both are files of weights-like tensors a user hands in)."""


class DcganWarning(UserWarning):
    """Something the user should know that does not stop the work (the CLI prints it as one `warning:` line)."""


class OutputError(DcganError):
    """Could not write an output (unwritable folder, disk full)."""

    exit_code = 5


class DivergedError(DcganError):
    """Training produced a non-finite loss; the last good checkpoint is kept."""

    exit_code = 6


class Interrupted(DcganError):
    """Stopped by SIGINT/SIGTERM after saving (128 + SIGINT, like a shell); says what to resume."""

    exit_code = 130

    def __init__(self, message: str, *, step: int = 0, checkpoint: object = None, data: object = None,
                 run_dir: object = None) -> None:
        super().__init__(message)
        self.step, self.checkpoint, self.data, self.run_dir = step, checkpoint, data, run_dir
