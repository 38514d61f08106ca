"""The `dcgan` command: one Typer app, each command in a module of its own, every one wrapped so library errors
become one line on stderr and their exit code.

Nothing here imports torch at module level: `dcgan --help`, completion and `dcgan inspect` must answer in well
under a second, and `import torch` alone costs 3-4 s on a small machine. Commands import the library lazily.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import typer
from typer import _click as click  # Typer vendors Click (since 0.26); its exceptions live here
from typer.core import TyperGroup

from dcgan_cli import __version__
from dcgan_cli.cli.arithmetic import arithmetic
from dcgan_cli.cli.common import fail, user_errors
from dcgan_cli.cli.doctor import doctor
from dcgan_cli.cli.evaluate import evaluate
from dcgan_cli.cli.export import export, import_
from dcgan_cli.cli.inspect import inspect
from dcgan_cli.cli.interpolate import interpolate
from dcgan_cli.cli.project import project
from dcgan_cli.cli.sample import sample
from dcgan_cli.cli.train import train

HELP = ("Train a DCGAN on a folder of images, then sample, interpolate, project, inspect and evaluate what it "
        "learned.")



class OneLineErrors(TyperGroup):
    """Click's own usage errors (an unknown option, a value that is not a number, a choice not offered) as one line
    on stderr with exit 2, like every other user mistake, instead of a boxed usage block."""

    def main(  # TyperGroup.main's own parameters, so standalone_mode is bound exactly once below
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False,
                                windows_expand_args=windows_expand_args, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False,
                                windows_expand_args=windows_expand_args, **extra)
        except click.exceptions.ClickException as e:
            ctx = getattr(e, "ctx", None)
            hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
            message = e.format_message().replace("Value error, ", "")  # Typer's wording of a bad choice
            raise SystemExit(fail(message + hint, e.exit_code).exit_code) from None
        except typer.Abort:
            raise SystemExit(fail("aborted", 1).exit_code) from None
        raise SystemExit(code if isinstance(code, int) else 0)


app = typer.Typer(
    name="dcgan",
    cls=OneLineErrors,
    help=HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dcgan {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Train a DCGAN on a folder of images, then sample, interpolate, project, inspect and evaluate what it
    learned."""


for command in (train, sample, interpolate, project, arithmetic, inspect, evaluate, doctor, export, import_):
    app.command(command.__name__.rstrip("_"))(user_errors(command))


def main() -> None:
    app(prog_name="dcgan")


if __name__ == "__main__":  # pragma: no cover
    main()  # exits itself: OneLineErrors.main always raises SystemExit in standalone mode
