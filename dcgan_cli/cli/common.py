"""What every `dcgan` command shares: the --json/-q options and the mapping of errors to exit codes."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from dcgan_cli.errors import DcganError, UsageError

F = TypeVar("F", bound=Callable[..., Any])

Json = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or messages; errors still go to stderr.")]
Device = Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N or mps.")]


def require_folder(path: Path, what: str = "") -> None:
    """A usage error (exit 2) unless `path` is an existing folder."""
    if not path.is_dir():
        problem = "no such folder" if not path.exists() else "not a folder"
        raise UsageError(f"{what}{': ' if what else ''}{problem}: {path}")


@contextmanager
def progress_bars(silent: bool) -> Iterator[Callable[[str, int, int], None] | None]:
    """update(stage, done, total): one transient bar per stage on stderr when it is a terminal; None otherwise
    (no animation in logs or pipes). stdout is never redirected: it may be carrying PNG bytes."""
    from dcgan_cli.cli.render import err_console

    console = err_console(silent)
    if silent or not console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    tasks: dict[str, Any] = {}
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console, transient=True, redirect_stdout=False, redirect_stderr=False) as bar:

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done)

        yield update


def fail(message: str, code: int) -> typer.Exit:
    """One line on stderr, never a traceback; the caller raises the returned Exit."""
    from dcgan_cli.cli.render import err_console, safe_text

    err_console().print(f"[bold red]error:[/] {safe_text(message)}")
    return typer.Exit(code)


def user_errors(fn: F) -> F:
    """Map library errors to their exit codes; anything unexpected is a bug, reported in one line (exit 1)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DcganError as e:
            raise fail(str(e), e.exit_code) from None
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except Exception as e:  # noqa: BLE001 - the last line of defence against tracebacks
            if os.environ.get("DCGAN_DEBUG"):
                raise
            raise fail(f"internal error: {type(e).__name__}: {e} (set DCGAN_DEBUG=1 for a traceback)", 1) from None

    return wrapper  # type: ignore[return-value]
