"""`dcgan inspect` (and the loaders of `sample`/`interpolate`) against good and hostile checkpoints."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from dcgan_cli import checkpoint
from dcgan_cli.cli.app import app
from dcgan_cli.model import DCGANConfig, build_models
from tests.conftest import tiny_checkpoint
from tests.hostile import BAD, edit_meta, join, nan_tensor, split

runner = CliRunner()
HOSTILE = "\x1b]0;pwn\x07[bold red]x[/]"


def _parameters(module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(scope="session")
def ckpts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("inspect")
    (root / "run").mkdir()
    return {"full": tiny_checkpoint(root / "run" / checkpoint.LAST, True),
            "g_only": tiny_checkpoint(root / "g.safetensors", False)}


@pytest.mark.parametrize("command", ["inspect", "sample"])
@pytest.mark.parametrize("case", sorted(BAD))
def test_hostile_checkpoint_exit_4(ckpts: dict[str, Path], tmp_path: Path, command: str, case: str) -> None:
    pwned = tmp_path / "PWNED"
    bad = tmp_path / "model.safetensors"
    bad.write_bytes(BAD[case](ckpts["full"].read_bytes(), pwned))
    args = [command, str(bad)] + (["-o", str(tmp_path / "g.png")] if command == "sample" else [])
    result = runner.invoke(app, args)
    assert result.exit_code == 4, (result.stdout, result.stderr)
    assert result.stdout == "" and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("error:")
    assert not pwned.exists() and not (tmp_path / "g.png").exists()


def test_nan_weights_refused_by_sample_but_inspectable(ckpts: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "nan.safetensors"
    bad.write_bytes(nan_tensor(ckpts["full"].read_bytes()))
    result = runner.invoke(app, ["sample", str(bad), "-o", str(tmp_path / "g.png")])
    assert result.exit_code == 4 and "non-finite" in result.stderr and len(result.stderr.splitlines()) == 1
    result = runner.invoke(app, ["interpolate", str(bad), "1", "2", "-o", str(tmp_path / "w.gif")])
    assert result.exit_code == 4 and "Traceback" not in result.stderr
    assert runner.invoke(app, ["inspect", str(bad)]).exit_code == 0  # the header itself is fine


def test_json_facts(ckpts: dict[str, Path]) -> None:
    path = ckpts["full"]
    result = runner.invoke(app, ["inspect", str(path.parent), "--json"])  # a run folder
    assert result.exit_code == 0 and result.stderr == ""
    info = json.loads(result.stdout)
    netg, netd = build_models(DCGANConfig(nz=8, ngf=8, ndf=8, channels=3, image_size=16))
    assert info["parameters"] == {"G": _parameters(netg), "D": _parameters(netd)}
    assert info["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert info["file_size"] == path.stat().st_size and info["can_resume"] is True
    assert (info["format_version"], info["step"], info["epoch"]) == (1, 2, 0)
    assert info["image_size"] == 16 and info["channels"] == 3 and info["dataset_fingerprint"] == "abc123"
    assert info["options"]["batch_size"] == 4 and info["torch_version"] == torch.__version__
    shapes = {t["name"]: t["shape"] for t in info["tensors"]}
    assert shapes["G.main.0.weight"] == [8, 16, 4, 4] and {t["dtype"] for t in info["tensors"]} >= {"F32", "I64"}
    g_only = json.loads(runner.invoke(app, ["inspect", str(ckpts["g_only"]), "--json"]).stdout)
    assert g_only["can_resume"] is False and g_only["parameters"]["D"] == 0


def test_table(ckpts: dict[str, Path]) -> None:
    result = runner.invoke(app, ["inspect", str(ckpts["full"])], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and result.stderr == ""
    for text in ("sha256", "16x16, 3 channel(s)", "2 / 0", "G.main.0.weight", "8x16x4x4", "abc123", "yes"):
        assert text in result.stdout
    g_only = runner.invoke(app, ["inspect", str(ckpts["g_only"]), "-q"], env={"COLUMNS": "200"})
    assert g_only.exit_code == 0 and "cannot resume" in g_only.stdout


def test_hostile_metadata_is_escaped(ckpts: dict[str, Path], tmp_path: Path) -> None:
    def poison(m: dict[str, str]) -> None:
        m.update(created=HOSTILE, dcgan_version=HOSTILE, options=json.dumps({"name": HOSTILE}), extra=HOSTILE)

    header, body = split(edit_meta(ckpts["full"].read_bytes(), poison))
    header[HOSTILE] = header.pop("fixed_noise")  # an untrusted tensor name too
    bad = tmp_path / "hostile.safetensors"
    bad.write_bytes(join(header, body))
    result = runner.invoke(app, ["inspect", str(bad)], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.stderr
    out = result.stdout_bytes
    assert b"\x1b" not in out and b"\x07" not in out
    assert "[bold red]x[/]" in result.stdout and "\\x1b]0;pwn\\x07" in result.stdout
    doc = runner.invoke(app, ["inspect", str(bad), "--json"])
    assert b"\x1b" not in doc.stdout_bytes and json.loads(doc.stdout)["created"] == HOSTILE


def test_inspect_never_imports_torch(ckpts: dict[str, Path]) -> None:
    code = (
        "import sys, time, typer\n"
        "t = time.perf_counter()\n"
        "from dcgan_cli.cli.app import app\n"
        "try:\n"
        "    app(args=['inspect', sys.argv[1]], prog_name='dcgan')\n"
        "except SystemExit as e:\n"
        "    assert e.code in (0, None), e.code\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "assert 'safetensors' not in sys.modules\n"
        "sys.stderr.write(f'{time.perf_counter() - t:.3f}')\n"
    )
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, str(ckpts["full"])], capture_output=True, text=True,
                          timeout=60)
    wall = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr
    assert "G.main.0.weight" in proc.stdout
    assert wall < 5.0  # the target is 0.5 s; loose here because the suite shares the CPUs


def test_header_length_128_mod_256(ckpts: dict[str, Path], tmp_path: Path) -> None:
    header, body = split(ckpts["full"].read_bytes())
    raw = json.dumps(header)
    raw += " " * ((0x80 - len(raw)) % 256)  # trailing JSON whitespace: same header, length = 128 mod 256
    path = tmp_path / "x.safetensors"
    path.write_bytes(join(raw, body))
    assert path.read_bytes()[:1] == b"\x80"
    assert runner.invoke(app, ["inspect", str(path), "--json"]).exit_code == 0
