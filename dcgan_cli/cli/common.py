"""What every `dcgan` command shares: common options, the checkpoint argument, progress bars, and the mapping of
library errors to one line on stderr and an exit code (an OptionError's field shown as its --flag)."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from dcgan_cli.errors import DcganError, OptionError, RecipeConflict, UsageError

F = TypeVar("F", bound=Callable[..., Any])

def json_option(panel: str | None = None) -> Any:
    return typer.Option("--json", help="Machine-readable JSON on stdout.", rich_help_panel=panel)


def quiet_option(panel: str | None = None) -> Any:
    return typer.Option("--quiet", "-q", help="No progress or messages; errors still go to stderr.",
                        rich_help_panel=panel)


def device_option(panel: str | None = None) -> Any:
    return typer.Option(metavar="[auto|cpu|cuda|cuda:N|mps]", rich_help_panel=panel,
                        help="Where to compute; auto picks CUDA, then MPS, then the CPU.")


Json = Annotated[bool, json_option()]
Quiet = Annotated[bool, quiet_option()]
Device = Annotated[str, device_option()]
CkptArg = Annotated[Path | None, typer.Argument(help="A checkpoint file, or a run folder (its last.safetensors).  "
                                                "\\[default: the newest run under ./runs/]", show_default=False)]
NoEma = Annotated[bool, typer.Option("--no-ema", help="Use the raw generator even if the checkpoint holds an "
                                     "EMA one (from train --ema).")]

# Library field names whose flag is not simply --field-with-dashes.
_FLAGS = {"max_pixels": "--max-image-pixels", "data": "DATA", "real": "REAL_DIR", "ckpt": "CKPT",
          "z": "latents", "keys": "KEY", "images": "IMAGE", "expression": "EXPRESSION"}


def flag_for(field: str) -> str:
    """TrainOptions.label_smoothing -> --label-smoothing (the spelling a shell user typed)."""
    return _FLAGS.get(field, "--" + field.replace("_", "-"))


def checkpoint_path(ckpt: Path | None, quiet: bool) -> Path:
    """The checkpoint a command means; without one, the newest run under ./runs/, named on stderr."""
    from dcgan_cli.checkpoint.locate import find

    path = find(ckpt)
    if ckpt is None:
        from dcgan_cli.cli.console import err_console, safe_text

        err_console(quiet).print(f"using the newest run: {safe_text(str(path))}")
    return path


def stdout_is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def refuse_binary_to_terminal(output: str | None, json_: bool) -> None:
    """`-o -` writes PNG bytes to stdout: not into --json, and never onto a terminal (what gzip does)."""
    if output != "-":
        return
    if json_:
        raise UsageError("-o - writes PNG bytes to stdout, so it cannot be combined with --json")
    if stdout_is_terminal():
        raise UsageError("refusing to write binary PNG data to a terminal; redirect stdout (-o - > grid.png) "
                         "or give a file name with -o")


@contextmanager
def progress_bars(silent: bool) -> Iterator[Callable[[str, int, int], None] | None]:
    """update(stage, done, total): one transient bar per stage on stderr when it is a terminal; None otherwise
    (no animation in logs or pipes). stdout is never redirected: it may be carrying PNG bytes."""
    from dcgan_cli.cli.console import err_console

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


@contextmanager
def counting_bar(total: int, label: str, quiet: bool) -> Iterator[Callable[[int], None] | None]:
    """advance(n) on one progress_bars bar, or None when there is no bar to draw."""
    with progress_bars(quiet) as update:
        if update is None:
            yield None
            return
        done = 0
        update(label, done, total)

        def advance(n: int) -> None:
            nonlocal done
            done += n
            update(label, done, total)

        yield advance


def fail(message: str, code: int) -> typer.Exit:
    """One line on stderr, never a traceback; the caller raises the returned Exit."""
    from dcgan_cli.cli.console import err_console, safe_text

    err_console().print(f"[bold red]error:[/] {safe_text(message)}")
    return typer.Exit(code)


@contextmanager
def library_warnings(quiet: bool) -> Iterator[None]:
    """The library's DcganWarning as one `warning:` line on stderr (none with -q); other warnings as Python
    shows them."""
    import warnings

    from dcgan_cli.errors import DcganWarning

    original = warnings.showwarning

    def show(message: Warning | str, category: type[Warning], *rest: Any, **kw: Any) -> None:
        if not issubclass(category, DcganWarning):
            original(message, category, *rest, **kw)
        elif not quiet:
            from dcgan_cli.cli.console import err_console, safe_text

            err_console().print(f"[yellow]warning:[/] {safe_text(str(message))}")

    with warnings.catch_warnings():
        warnings.simplefilter("always", DcganWarning)
        warnings.showwarning = show
        yield


def user_errors(fn: F) -> F:
    """Map library errors to their exit codes; anything unexpected is a bug, reported in one line (exit 1)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with library_warnings(bool(kwargs.get("quiet"))):
                return fn(*args, **kwargs)
        except OptionError as e:
            raise fail(e.render(flag_for), e.exit_code) from None
        except RecipeConflict as e:
            raise fail(e.render(lambda name: flag_for(name) + " "), e.exit_code) from None
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
