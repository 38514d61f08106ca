"""Latents as inputs: latents files, `sample --latents`, latents keyframes in `interpolate`, and `arithmetic`."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch
from conftest import varied_checkpoint
from hostile import Evil, zipped_pickle
from PIL import Image
from typer.testing import CliRunner

import dcgan_cli as dcgan
from dcgan_cli.cli.app import app
from dcgan_cli.sampling.keys import Key, parse_expression, parse_key

runner = CliRunner()


@pytest.fixture
def ckpt(tmp_path: Path) -> Path:
    return varied_checkpoint(tmp_path / "g.safetensors")


@pytest.fixture
def zfile(tmp_path: Path, ckpt: Path) -> Path:
    """Three latents made for `ckpt`: seeds 20-22's latents scaled a little (so they are not any seed's)."""
    gen = dcgan.load(ckpt)
    return dcgan.save_latents(tmp_path / "z.safetensors", gen.latents([20, 21, 22]) * 0.9,
                              checkpoint_sha256=gen.sha256, sources=["a.png", "b.png", "c.png"])


def pixels(path: Path) -> torch.Tensor:
    with Image.open(path) as im:
        return torch.frombuffer(bytearray(im.convert("RGB").tobytes()), dtype=torch.uint8)


def test_file_round_trip(zfile: Path, ckpt: Path) -> None:
    file = dcgan.read_latents(zfile)
    assert file.latents.shape == (3, 8) and file.nz == 8 and file.sources == ["a.png", "b.png", "c.png"]
    assert file.checkpoint_sha256 == dcgan.load(ckpt).sha256


def test_sample_latents_renders_every_row(tmp_path: Path, ckpt: Path, zfile: Path) -> None:
    out = tmp_path / "rows"
    result = runner.invoke(app, ["sample", str(ckpt), "--latents", str(zfile), "-o", f"{out}/", "--json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["count"] == 3 and doc["latents"] == str(zfile)
    assert sorted(p.name for p in out.iterdir()) == ["latent0000.png", "latent0001.png", "latent0002.png",
                                                     "manifest.json"]
    expected = dcgan.load(ckpt).from_latents(dcgan.read_latents(zfile).latents)
    assert pixels(out / "latent0001.png").numpy().tobytes() == expected[1].convert("RGB").tobytes()
    both = runner.invoke(app, ["sample", str(ckpt), "--latents", str(zfile), "--seeds", "1"])
    assert both.exit_code == 2 and "not both" in both.stderr


def test_keyframe_frame_equals_sample_latents(tmp_path: Path, ckpt: Path, zfile: Path) -> None:
    frames, rows = tmp_path / "frames", tmp_path / "rows"
    walk = runner.invoke(app, ["interpolate", str(ckpt), "3", f"{zfile}:2", "7", "--steps", "4", "-o",
                               f"{frames}/", "--json"])
    assert walk.exit_code == 0, walk.stderr
    doc = json.loads(walk.stdout)
    assert doc["keys"] == ["3", f"{zfile}:2", "7"] and doc["keyframes"] == [0, 4, 8]
    assert runner.invoke(app, ["sample", str(ckpt), "--latents", str(zfile), "-o", f"{rows}/"]).exit_code == 0
    assert (frames / "frame0004.png").read_bytes() == (rows / "latent0002.png").read_bytes()
    seeds = tmp_path / "seeds"
    assert runner.invoke(app, ["sample", str(ckpt), "--seeds", "7", "-o", f"{seeds}/"]).exit_code == 0
    assert (frames / "frame0008.png").read_bytes() == (seeds / "seed0007.png").read_bytes()


def test_a_whole_file_is_every_row_and_newest_run_works(tmp_path: Path, ckpt: Path, zfile: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "runs" / "mine").mkdir(parents=True)
    (tmp_path / "runs" / "mine" / "last.safetensors").write_bytes(ckpt.read_bytes())
    monkeypatch.chdir(tmp_path)
    walk = runner.invoke(app, ["interpolate", "z.safetensors", "5", "--steps", "2", "-o", "w.gif", "--json"])
    assert walk.exit_code == 0, walk.stderr
    assert json.loads(walk.stdout)["keys"] == ["z.safetensors:0", "z.safetensors:1", "z.safetensors:2", "5"]


def test_python_api_takes_files_and_seeds(ckpt: Path, zfile: Path) -> None:
    gen = dcgan.load(ckpt)
    frames = gen.interpolate([f"{zfile}:0", 4], steps=3)
    assert len(frames) == 4
    z, labels = gen.keyframes([zfile, 4])
    assert labels[-1] == "4" and torch.equal(z[-1], gen.latents([4])[0])
    assert torch.equal(z[:3], dcgan.read_latents(zfile).latents)


def test_arithmetic_a_minus_a_plus_c_is_c(tmp_path: Path, ckpt: Path) -> None:
    out, grid = tmp_path / "r.safetensors", tmp_path / "r.png"
    result = runner.invoke(app, ["arithmetic", str(ckpt), "1,2,3 - 1,2,3 + 9", "-o", str(grid), "-o", str(out),
                                 "--json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    gen = dcgan.load(ckpt)
    assert torch.equal(dcgan.read_latents(out).latents[0], gen.latents([9])[0])
    assert doc["signs"] == [1, -1, 1] and doc["groups"] == [["1", "2", "3"], ["1", "2", "3"], ["9"]]
    with Image.open(grid) as im:  # 4 rows (3 groups + result) of 9 columns (result and 8 neighbours)
        assert im.size == (9 * 18 + 2, 4 * 18 + 2)
        result_cell = im.crop((2, 3 * 18 + 2, 18, 4 * 18)).convert("RGB")
    assert result_cell.tobytes() == gen.sample([9])[0].convert("RGB").tobytes()


def test_arithmetic_means_and_mixed_sources(ckpt: Path, zfile: Path) -> None:
    gen = dcgan.load(ckpt)
    from dcgan_cli.sampling.arithmetic import evaluate

    done = evaluate(f"1,2 - {zfile}:0 + 5", 8, gen.sha256, neighbours=3, noise=0.25, seed=1)
    expected = gen.latents([1, 2]).mean(0) - dcgan.read_latents(zfile).latents[0] + gen.latents([5])[0]
    assert torch.allclose(done.result, expected, atol=1e-6)
    assert done.neighbours.shape == (3, 8) and float((done.neighbours - done.result).abs().max()) <= 0.25


@pytest.mark.parametrize("expr, message", [
    ("", "empty"), ("1,2 -", "each side"), ("1,2 -3", "spaces around"), ("1,,2 + 3", "empty item"),
    ("1 + x14", "invalid seed or latents file"), ("1 + + 2", "each side"),
])
def test_malformed_expressions(ckpt: Path, expr: str, message: str) -> None:
    result = runner.invoke(app, ["arithmetic", str(ckpt), expr])
    assert result.exit_code == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_parse_keys() -> None:
    assert parse_key("3-5") == [Key(seed=3), Key(seed=4), Key(seed=5)]
    assert parse_key("me.safetensors:2") == [Key(file=Path("me.safetensors"), index=2)]
    terms = parse_expression("- 1, 2 + 3")
    assert [(t.sign, [k.seed for k in t.keys]) for t in terms] == [(-1, [1, 2]), (1, [3])]


def test_another_nz_is_an_error_and_another_checkpoint_a_warning(tmp_path: Path, ckpt: Path, zfile: Path) -> None:
    wide = varied_checkpoint(tmp_path / "wide.safetensors", nz=16)
    result = runner.invoke(app, ["sample", str(wide), "--latents", str(zfile), "-o", str(tmp_path / "x.png")])
    assert result.exit_code == 4 and "nz 16" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    other = varied_checkpoint(tmp_path / "other.safetensors", seed=3)
    result = runner.invoke(app, ["sample", str(other), "--latents", str(zfile), "-o", str(tmp_path / "y.png")])
    assert result.exit_code == 0 and "warning:" in result.stderr and "another checkpoint" in result.stderr
    same = runner.invoke(app, ["sample", str(ckpt), "--latents", str(zfile), "-o", str(tmp_path / "z.png")])
    assert same.exit_code == 0 and "warning" not in same.stderr  # negative control


HOSTILE = {
    "pickle": lambda pwned, good: pickle.dumps({"latents": Evil(pwned)}),
    "zip": lambda pwned, good: zipped_pickle(pwned),
    "truncated": lambda pwned, good: good[:-3],
    "nan": lambda pwned, good: nan_latents(good),
    "a checkpoint": lambda pwned, good: good_checkpoint(pwned),
}


def nan_latents(good: bytes) -> bytes:
    import struct

    from hostile import join, split

    header, body = split(good)
    return join(header, struct.pack("<f", float("nan")) + body[4:])


def good_checkpoint(pwned: Path) -> bytes:
    return varied_checkpoint(pwned.parent / "c.safetensors").read_bytes()


@pytest.mark.parametrize("kind", sorted(HOSTILE))
@pytest.mark.parametrize("command", ["sample", "interpolate", "arithmetic"])
def test_hostile_latents_files_are_refused(tmp_path: Path, ckpt: Path, zfile: Path, kind: str, command: str) -> None:
    pwned = tmp_path / "PWNED"
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(HOSTILE[kind](pwned, zfile.read_bytes()))
    args = {"sample": ["--latents", str(bad), "-o", str(tmp_path / "o.png")],
            "interpolate": ["3", f"{bad}", "-o", str(tmp_path / "o.gif")],
            "arithmetic": [f"3 + {bad}", "-o", str(tmp_path / "o.png")]}[command]
    result = runner.invoke(app, [command, str(ckpt), *args])
    assert result.exit_code == 4, (result.exit_code, result.stderr)
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not pwned.exists() and not (tmp_path / "o.png").exists()


def test_missing_file_and_bad_index(tmp_path: Path, ckpt: Path, zfile: Path) -> None:
    missing = runner.invoke(app, ["sample", str(ckpt), "--latents", str(tmp_path / "nope.safetensors")])
    assert missing.exit_code == 2 and "no such latents file" in missing.stderr
    index = runner.invoke(app, ["interpolate", str(ckpt), "3", f"{zfile}:3", "-o", str(tmp_path / "o.gif")])
    assert index.exit_code == 4 and "holds 3 latent(s)" in index.stderr
