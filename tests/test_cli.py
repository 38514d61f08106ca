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


def test_completion_is_offered_and_stays_torch_free() -> None:
    r = runner.invoke(app, ["--help"])
    assert "--install-completion" in r.stdout and "--show-completion" in r.stdout
    code = ("import os, sys\n"
            "os.environ.update({'_DCGAN_COMPLETE': 'complete_bash', 'COMP_WORDS': 'dcgan tr', 'COMP_CWORD': '1'})\n"
            "from dcgan_cli.cli.app import main\n"
            "try:\n"
            "    main()\n"
            "except SystemExit:\n"
            "    pass\n"
            "print('torch' in sys.modules, file=sys.stderr)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "train" in out.stdout, (out.stdout, out.stderr)
    assert out.stderr.strip().endswith("False")


def test_click_usage_errors_are_one_line_with_exit_2() -> None:
    for args in (["train", "x", "--channels", "2"], ["sample", "--n", "abc"], ["bogus"], ["train"]):
        r = runner.invoke(app, args)
        lines = r.stderr.strip().splitlines()
        assert r.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (args, r.stderr)
        assert r.stdout == ""


def test_cli_ranges_match_the_library_checks(tmp_path) -> None:
    """Every bound `dcgan train --help` shows is the bound TrainOptions enforces: the value at the bound passes
    the library, the one past it fails there too (so the help cannot promise what the library refuses)."""
    import typer

    from dcgan_cli.errors import OptionError
    from dcgan_cli.training.options import TrainOptions

    command = typer.main.get_command(app).commands["train"]  # type: ignore[attr-defined]
    fields = {f for f in TrainOptions.__dataclass_fields__}
    checked = 0
    for param in command.params:
        bounds = (getattr(param, "min", None), getattr(param, "max", None))  # Typer 0.29 keeps them on the param
        name = {"max_image_pixels": "max_pixels", "compile_": "compile"}.get(param.name, param.name)
        if bounds == (None, None) or name not in fields:
            continue
        extra = {"eval_every": 10} if name.startswith("eval_") else {}
        for bound, step in ((bounds[0], -1), (bounds[1], 1)):
            if bound is None:
                continue
            TrainOptions(data="x", **{**extra, name: bound})  # the bound itself is accepted
            try:
                TrainOptions(data="x", **{**extra, name: bound + step})
            except OptionError as e:
                assert e.field == name
            else:
                raise AssertionError(f"--{name} shows {bound} as a bound but the library takes {bound + step}")
            checked += 1
    assert checked >= 10  # the loop really looked at the ranged options


def test_newest_run_is_used_when_no_checkpoint_is_named(image_dir, tmp_path, monkeypatch) -> None:
    """The design's own usage lines: `dcgan train ./images`, then `dcgan sample --n 64` and
    `dcgan interpolate 3 14` from the same folder."""
    import shutil

    from tests.conftest import TINY

    monkeypatch.chdir(tmp_path)
    none = runner.invoke(app, ["sample", "--n", "64"])
    assert none.exit_code == 2 and len(none.stderr.strip().splitlines()) == 1 and "runs/" in none.stderr
    shutil.move(str(image_dir), tmp_path / "images")
    trained = runner.invoke(app, ["train", "./images", *TINY, "--max-steps", "2"])
    assert trained.exit_code == 0, trained.stderr
    assert (tmp_path / "runs" / "images" / "last.safetensors").is_file()
    sample = runner.invoke(app, ["sample", "--n", "64"])
    assert sample.exit_code == 0, sample.stderr
    assert "using the newest run: runs/images/last.safetensors" in sample.stderr
    assert (tmp_path / "images-samples.png").is_file()
    walk = runner.invoke(app, ["interpolate", "3", "14"])
    assert walk.exit_code == 0, walk.stderr
    assert (tmp_path / "images-interp.gif").is_file()
    assert runner.invoke(app, ["inspect", "--json"]).exit_code == 0
    bad = runner.invoke(app, ["interpolate", "3", "x14"])
    assert bad.exit_code == 2 and "invalid seed or latents file 'x14'" in bad.stderr
