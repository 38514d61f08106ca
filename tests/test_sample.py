"""`dcgan sample` and `dcgan interpolate`: determinism, seed composability, outputs, refusals.

Commands run through typer.testing.CliRunner on the app; the cross-process test runs it in fresh interpreters.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from dcgan_cli import checkpoint
from dcgan_cli.cli import common as cli_common
from dcgan_cli.cli.app import app
from dcgan_cli.errors import UsageError
from dcgan_cli.sampling.latents import frame_count, latents, slerp, walk
from dcgan_cli.sampling.seeds import parse_seeds
from tests.conftest import tiny_checkpoint

PNG_SIG = b"\x89PNG\r\n\x1a\n"
runner = CliRunner()


@pytest.fixture(scope="session")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "faces"
    run.mkdir()
    return tiny_checkpoint(run / checkpoint.LAST)


def invoke(*args: str | Path):
    return runner.invoke(app, [str(a) for a in args])


def ok(*args: str | Path):
    result = invoke(*args)
    assert result.exit_code == 0, result.stderr
    return result


def one_error_line(result, code: int) -> str:
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# --- library ---------------------------------------------------------------------------------------------


def test_parse_seeds() -> None:
    assert parse_seeds("0-35,40,42") == list(range(36)) + [40, 42]
    assert parse_seeds("3-3") == [3]
    assert parse_seeds(" 7 , 1-2") == [7, 1, 2]
    assert parse_seeds(str(2**32 - 1)) == [2**32 - 1]


@pytest.mark.parametrize("text, fragment", [
    ("5-2", "start > end"), ("a-b", "invalid seed"), ("1-", "invalid seed"), ("-3", "negative"),
    ("1-2-3", "invalid seed"), ("4294967296", "up to"), ("0-4294967295", "too many"), ("1,,2", "empty"),
    ("", "empty"), ("1.5", "invalid seed"),
])
def test_parse_seeds_rejects(text: str, fragment: str) -> None:
    with pytest.raises(UsageError, match=fragment):
        parse_seeds(text)


def test_latents_are_per_seed_and_truncation_bounds() -> None:
    z = latents([3, 4, 3], 8)
    assert torch.equal(z[0], z[2]) and not torch.equal(z[0], z[1])
    assert torch.equal(latents([4], 8)[0], z[1])
    t = latents(list(range(50)), 64, truncation=0.5)
    assert float(t.abs().max()) <= 0.5 and torch.equal(t[7], latents([7], 64, truncation=0.5)[0])


def test_walk_keyframes_and_slerp_fallback() -> None:
    keys = latents([1, 2, 3], 8)
    frames, at = walk(keys, 4, "slerp", loop=False)
    assert frames.shape[0] == frame_count(3, 4, False) == 9 and at == [0, 4, 8]
    assert all(torch.equal(frames[i], keys[k]) for k, i in enumerate(at))
    frames, at = walk(keys, 4, "lerp", loop=True)
    assert frames.shape[0] == frame_count(3, 4, True) == 12 and at == [0, 4, 8]
    a = keys[0]
    assert torch.allclose(slerp(a, a * 2, 0.5), a * 1.5)  # angle 0: lerp, no NaN
    mid = slerp(keys[0], keys[1], 0.5)
    assert torch.isfinite(mid).all() and not torch.allclose(mid, (keys[0] + keys[1]) / 2)


# --- sample ----------------------------------------------------------------------------------------------


def test_same_seeds_same_bytes_across_processes(ckpt: Path) -> None:
    cmd = [sys.executable, "-m", "dcgan_cli", "sample", str(ckpt), "--seeds", "0-3", "-o", "-", "--device", "cpu"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs[0][1]
    assert outs[0][0].startswith(PNG_SIG) and outs[0][0] == outs[1][0]
    same = ok("sample", ckpt, "--seeds", "0-3", "-o", "-", "--device", "cpu")
    assert same.stdout_bytes == outs[0][0]  # in-process equals a fresh interpreter too
    other = ok("sample", ckpt, "--seeds", "1-4", "-o", "-", "--device", "cpu")
    assert other.stdout_bytes.startswith(PNG_SIG) and other.stdout_bytes != outs[0][0]


def test_stdout_is_exactly_one_png(ckpt: Path) -> None:
    result = ok("sample", ckpt, "--n", "5", "--nrow", "5", "-o", "-")
    data = result.stdout_bytes
    assert data.startswith(PNG_SIG) and data.count(b"IEND") == 1 and data.endswith(b"IEND\xaeB`\x82")
    with Image.open(io.BytesIO(data)) as im:
        assert im.size == (5 * 18 + 2, 18 + 2) and im.mode == "RGB"
    assert PNG_SIG not in result.stderr.encode()


def test_stdout_refuses_terminal_and_json(ckpt: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "--json" in one_error_line(invoke("sample", ckpt, "-o", "-", "--json"), 2)
    monkeypatch.setattr(cli_common, "stdout_is_terminal", lambda: True)
    assert "terminal" in one_error_line(invoke("sample", ckpt, "-o", "-"), 2)


def test_single_seed_equals_image_of_a_range(ckpt: Path, tmp_path: Path) -> None:
    ok("sample", ckpt, "--seeds", "0-9", "-o", f"{tmp_path}/all/", "--batch-size", "3", "--device", "cpu")
    ok("sample", ckpt, "--seeds", "7", "-o", f"{tmp_path}/one/", "--device", "cpu")
    ok("sample", ckpt, "--seed", "5", "--n", "4", "-o", f"{tmp_path}/mid/", "--device", "cpu")
    seven = (tmp_path / "one" / "seed0007.png").read_bytes()
    assert seven == (tmp_path / "all" / "seed0007.png").read_bytes() == (tmp_path / "mid" / "seed0007.png").read_bytes()
    assert seven != (tmp_path / "all" / "seed0006.png").read_bytes()
    manifest = json.loads((tmp_path / "all" / "manifest.json").read_text())
    assert manifest["files"] == {str(s): f"seed{s:04d}.png" for s in range(10)} and manifest["step"] == 2
    made = sorted(p.name for p in (tmp_path / "all").iterdir())
    assert made == sorted([*manifest["files"].values(), "manifest.json"])


def test_json_default_name_and_run_folder(ckpt: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = ok("sample", ckpt.parent, "--n", "3", "--json", "--truncation", "0.7")  # a run folder
    doc = json.loads(result.stdout)
    assert doc["files"] == ["faces-samples.png"] and doc["seeds"] == [0, 1, 2] and doc["step"] == 2
    assert doc["checkpoint"].endswith(checkpoint.LAST) and result.stdout.count("\n") == 1
    with Image.open(tmp_path / "faces-samples.png") as im:
        assert im.size == (2 * 18 + 2, 2 * 18 + 2)  # 3 images, nrow = ceil(sqrt(3)) = 2
    assert ok("sample", ckpt, "-q", "--n", "2", "-o", "q.png").stderr == ""


def test_batch_stats_differs_from_eval(ckpt: Path) -> None:
    base = ok("sample", ckpt, "--n", "8", "-o", "-").stdout_bytes
    assert ok("sample", ckpt, "--n", "8", "-o", "-", "--batch-stats").stdout_bytes != base


def test_overwrite_refused_without_force(ckpt: Path, tmp_path: Path) -> None:
    target = tmp_path / "grid.png"
    target.write_bytes(b"keep me")
    assert "--force" in one_error_line(invoke("sample", ckpt, "--n", "2", "-o", target), 2)
    assert target.read_bytes() == b"keep me"
    ok("sample", ckpt, "--n", "2", "-o", target, "--force")
    assert target.read_bytes().startswith(PNG_SIG)
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "seed0001.png").write_bytes(b"old")
    one_error_line(invoke("sample", ckpt, "--n", "3", "-o", f"{folder}/"), 2)
    assert sorted(p.name for p in folder.iterdir()) == ["seed0001.png"]


@pytest.mark.parametrize("args, fragment", [
    (["--seeds", "5-2"], "start > end"), (["--seeds", "a-b"], "invalid seed"), (["--seeds=-3"], "negative"),
    (["--seeds", "1-2-3"], "invalid seed"), (["--seeds", "4294967296"], "4294967295"),
    (["--seeds", "0-2000000"], "too many"), (["--seeds", "1", "--n", "3"], "either"),
    (["--n", "0"], ""), (["--n", "abc"], ""), (["--n", "2000000"], "--n"), (["--seed", "4294967295", "--n", "2"],
                                                                             "outside"),
    (["-o", "grid.jpg"], ".png"), (["--truncation", "0"], ""), (["--device", "tpu"], "device"),
])
def test_bad_arguments_exit_2(ckpt: Path, args: list[str], fragment: str) -> None:
    result = invoke("sample", ckpt, *args)
    assert result.exit_code == 2 and "Traceback" not in result.stderr and result.stdout == ""
    assert fragment in result.stderr


def test_missing_checkpoint_and_unwritable_output(ckpt: Path, tmp_path: Path) -> None:
    assert "no such checkpoint" in one_error_line(invoke("sample", tmp_path / "nope.safetensors"), 2)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    one_error_line(invoke("sample", ckpt, "--n", "1", "-o", f"{blocker}/sub/"), 5)
    one_error_line(invoke("sample", ckpt, "--n", "1", "-o", blocker / "grid.png"), 5)


# --- interpolate -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("loop", [False, True])
def test_interpolation_keyframes_equal_samples(ckpt: Path, tmp_path: Path, loop: bool) -> None:
    flags = ["--loop"] if loop else []
    result = ok("interpolate", ckpt, "5", "9", "2", "--steps", "3", "-o", f"{tmp_path}/walk/", "--json", *flags)
    doc = json.loads(result.stdout)
    assert doc["frames"] == (9 if loop else 7) and doc["keyframes"] == [0, 3, 6]
    ok("sample", ckpt, "--seeds", "5,9,2", "-o", f"{tmp_path}/keys/")
    for seed, frame in zip([5, 9, 2], doc["keyframes"]):
        frame_png = (tmp_path / "walk" / f"frame{frame:04d}.png").read_bytes()
        assert frame_png == (tmp_path / "keys" / f"seed{seed:04d}.png").read_bytes()
    assert len(list((tmp_path / "walk").glob("frame*.png"))) == doc["frames"]


@pytest.mark.parametrize("seeds, steps, loop", [(["1", "2"], 4, False), (["1", "2", "3"], 3, True)])
def test_gif_frame_count(ckpt: Path, tmp_path: Path, seeds: list[str], steps: int, loop: bool) -> None:
    out = tmp_path / "walk.gif"
    ok("interpolate", ckpt, *seeds, "--steps", str(steps), "-o", out, "--fps", "10", *(["--loop"] if loop else []))
    pairs = len(seeds) if loop else len(seeds) - 1
    with Image.open(out) as im:
        assert im.format == "GIF" and im.is_animated and im.info.get("loop") == 0
        assert im.n_frames == steps * pairs + (0 if loop else 1)
        assert im.info["duration"] == 100


def test_interpolate_png_grid_and_errors(ckpt: Path, tmp_path: Path) -> None:
    ok("interpolate", ckpt, "1", "2", "--steps", "4", "--mode", "lerp", "-o", tmp_path / "strip.png", "--nrow", "5")
    with Image.open(tmp_path / "strip.png") as im:
        assert im.size == (5 * 18 + 2, 18 + 2)
    assert "two keyframes" in one_error_line(invoke("interpolate", ckpt, "1"), 2)
    assert invoke("interpolate", ckpt, "1", "2", "--steps", "1").exit_code == 2
    assert invoke("interpolate", ckpt, "1", "2", "--mode", "cubic").exit_code == 2
    assert "--force" in one_error_line(invoke("interpolate", ckpt, "1", "2", "-o", tmp_path / "strip.png"), 2)
    assert ".gif" in one_error_line(invoke("interpolate", ckpt, "1", "2", "-o", tmp_path / "x.mp4"), 2)
