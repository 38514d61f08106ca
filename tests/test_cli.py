"""The command itself: help, version, module entry point, and no torch on the cheap paths."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from dcgan_cli import __version__
from dcgan_cli.cli.app import app
from tests.conftest import run_cli

runner = CliRunner()


def test_help_lists_every_command() -> None:
    r = runner.invoke(app, ["--help"])
    assert r.exit_code == 0
    for command in ("train", "sample", "interpolate", "inspect", "evaluate"):
        assert command in r.stdout


def test_version() -> None:
    r = runner.invoke(app, ["--version"])
    assert (r.exit_code, r.stdout) == (0, f"dcgan {__version__}\n")


def test_every_command_has_help() -> None:
    for command in ("train", "sample", "interpolate", "inspect", "evaluate"):
        r = runner.invoke(app, [command, "--help"])
        assert r.exit_code == 0 and "Usage" in r.stdout, command


def test_python_dash_m_works() -> None:
    r = run_cli("--version")
    assert r.returncode == 0 and r.stdout.decode().strip() == f"dcgan {__version__}"


def test_help_does_not_import_torch() -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from dcgan_cli.cli.app import app\n"
        "r = CliRunner().invoke(app, ['--help'])\n"
        "assert r.exit_code == 0\n"
        "for command in ('train', 'evaluate'):\n"
        "    assert CliRunner().invoke(app, [command, '--help']).exit_code == 0\n"
        "print('torch' in sys.modules, 'torchvision' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False False"
