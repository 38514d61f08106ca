"""The README documents the command as it is: every command has a section and help, every option of every command
is named in its section, and the exit codes it lists are the ones the errors carry (sqlite-utils' test_docs)."""

from __future__ import annotations

import re

import pytest
import typer

from dcgan_cli import errors
from dcgan_cli.cli.app import app
from tests.conftest import REPO

README = (REPO / "README.md").read_text()
COMMANDS = typer.main.get_command(app).commands  # type: ignore[attr-defined]
SKIP = {"--help"}


def section(command: str) -> str:
    """The README section whose heading names `dcgan COMMAND`."""
    parts = re.split(r"^## ", README, flags=re.M)
    found = [p for p in parts if re.search(rf"`dcgan {command}\b", p.splitlines()[0])]
    assert found, f"README has no section headed `dcgan {command}`"
    return found[0]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help_and_a_readme_section(name: str) -> None:
    command = COMMANDS[name]
    assert command.help and command.help.strip(), f"{name} has no help"
    assert "Examples" in command.help, f"{name} --help shows no examples"
    section(name)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_option_is_documented_in_its_section(name: str) -> None:
    text = section(name)
    missing = [opt for param in COMMANDS[name].params for opt in param.opts
               if opt.startswith("--") and opt not in SKIP and not re.search(rf"`[^`]*{re.escape(opt)}\b", text)]
    assert missing == [], f"README section for `dcgan {name}` does not mention {missing}"


def test_the_docs_check_can_fail() -> None:
    with pytest.raises(AssertionError):
        section("nonexistent")


def test_exit_code_table_matches_the_errors() -> None:
    table = README.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    documented = {int(m) for m in re.findall(r"^\| (\d+) \|", table, flags=re.M)}
    raised = {cls.exit_code for cls in vars(errors).values()
              if isinstance(cls, type) and issubclass(cls, errors.DcganError)}
    assert raised <= documented and {0, 1, 2} <= documented
    assert "missing" not in table.split("| 4 |", 1)[1].split("\n", 1)[0]  # a missing checkpoint is a usage error
