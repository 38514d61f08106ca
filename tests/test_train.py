"""`dcgan train` end to end on tiny CPU settings: artefacts, JSON events, errors, dry run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from dcgan_cli import checkpoint
from dcgan_cli.cli.app import app
from tests.conftest import TINY, make_images

runner = CliRunner()


def train(data: Path, out: Path, *extra: str):
    return runner.invoke(app, ["train", str(data), "--out", str(out), *TINY, *extra])


def test_short_run_writes_every_artefact(image_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    r = train(image_dir, out, "--max-steps", "6", "--sample-every", "3", "--save-every", "3")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == ""  # data only on stdout, and a plain run produces none
    assert "12 images found" in r.stderr and "12 used, 0 skipped" in r.stderr
    assert "done: step 6" in r.stderr
    assert "epoch 0 done at step 3" in r.stderr and "epoch 1 done at step 6" in r.stderr
    for name in ("last.safetensors", "metrics.jsonl", "loss.png", "progress.gif", "real_samples.png"):
        assert (out / name).stat().st_size > 0, name
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["step_00000003.png", "step_00000006.png"]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert {"loss_d", "loss_g", "d_x", "d_g_z1", "d_g_z2", "img_per_s"} <= set(rows[0])
    with Image.open(out / "progress.gif") as gif:
        assert gif.n_frames == 2
    with Image.open(out / "samples" / "step_00000006.png") as grid:
        assert grid.size == (8 * 18 + 2, 8 * 18 + 2)  # 64 fixed-noise images, 16 px + 2 px padding
    header = checkpoint.read_header(out / "last.safetensors")
    # and the p of the default preset's adaptive R1 penalty (adaptive_r1.py)
    assert header.progress == {"step": 6, "epoch": 2, "position": 0, "r1_p": header.progress["r1_p"]}
    assert 0 <= header.progress["r1_p"] <= 1 and {"r1_gamma"} <= set(rows[0])
    assert header.config == {"nz": 8, "ngf": 8, "ndf": 8, "channels": 3, "image_size": 16}
    assert header.can_resume
    assert {"torch_version", "dcgan_version", "created", "options", "dataset"} <= set(header.metadata)
    assert str(image_dir) not in json.dumps(header.metadata)  # a fingerprint, never raw paths


def test_json_events_are_one_object_per_line(image_dir: Path, tmp_path: Path) -> None:
    r = train(image_dir, tmp_path / "run", "--max-steps", "3", "--json", "-q")
    assert r.exit_code == 0, r.stderr
    assert r.stderr == ""
    events = [json.loads(line) for line in r.stdout.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "data" and "start" in kinds and kinds[-1] == "end"
    assert kinds.count("step") == 3 and kinds.count("epoch") == 1
    step = next(e for e in events if e["event"] == "step")
    assert set(step) >= {"step", "epoch", "loss_d", "loss_g", "d_x", "d_g_z1", "d_g_z2", "img_per_s"}
    assert events[-1]["checkpoint"].endswith("last.safetensors")


def test_grayscale_folder_trains_one_channel(tmp_path: Path) -> None:
    data = tmp_path / "gray"
    data.mkdir()
    for i in range(8):
        Image.new("L", (20, 24), i * 30).save(data / f"{i}.png")
    r = train(data, tmp_path / "run", "--max-steps", "1")
    assert r.exit_code == 0, r.stderr
    assert checkpoint.read_header(tmp_path / "run" / "last.safetensors").config["channels"] == 1


def test_fewer_images_than_batch_clamps_and_still_steps(tmp_path: Path) -> None:
    data = make_images(tmp_path / "three", 3)
    r = train(data, tmp_path / "run", "--max-steps", "2")
    assert r.exit_code == 0, r.stderr
    assert "using batch size 3" in r.stderr
    assert checkpoint.read_header(tmp_path / "run" / "last.safetensors").progress["step"] == 2


def test_dry_run_keeps_nothing(image_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("DCGAN_CACHE_DIR", str(cache))
    r = train(image_dir, tmp_path / "run", "--dry-run")
    assert r.exit_code == 0, r.stderr
    assert "dry run OK: 2 steps" in r.stderr
    assert not (tmp_path / "run").exists() and not cache.exists()


def test_quiet_success_is_silent(image_dir: Path, tmp_path: Path) -> None:
    r = train(image_dir, tmp_path / "run", "--max-steps", "1", "-q")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "", "")


def test_second_run_uses_the_decode_cache(image_dir: Path, tmp_path: Path) -> None:
    assert train(image_dir, tmp_path / "a", "--max-steps", "1", "--json").exit_code == 0
    r = train(image_dir, tmp_path / "b", "--max-steps", "1", "--json")
    data = json.loads(r.stdout.splitlines()[0])
    assert data["event"] == "data" and data["from_cache"] is True


def one_line_error(r, code: int, text: str) -> None:
    assert r.exit_code == code, (r.exit_code, r.stderr)
    assert text in r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    one_line_error(train(tmp_path / "nope", tmp_path / "run"), 2, "no such folder")


def test_empty_folder_exits_3(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    one_line_error(train(tmp_path / "empty", tmp_path / "run"), 3, "no images found")
    assert not (tmp_path / "run" / "last.safetensors").exists()


def test_only_broken_files_exit_3_with_reasons(tmp_path: Path) -> None:
    data = tmp_path / "bad"
    data.mkdir()
    (data / "empty.jpg").write_bytes(b"")
    (data / "text.png").write_text("not an image")
    one_line_error(train(data, tmp_path / "run"), 3, "no usable images")


def test_existing_run_needs_resume(image_dir: Path, tmp_path: Path) -> None:
    assert train(image_dir, tmp_path / "run", "--max-steps", "1").exit_code == 0
    one_line_error(train(image_dir, tmp_path / "run", "--max-steps", "2"), 2, "--resume")


def test_resume_without_checkpoint(image_dir: Path, tmp_path: Path) -> None:
    one_line_error(train(image_dir, tmp_path / "run", "--resume"), 2, "nothing to resume")


def test_resume_refuses_changed_recipe(image_dir: Path, tmp_path: Path) -> None:
    assert train(image_dir, tmp_path / "run", "--max-steps", "1").exit_code == 0
    r = runner.invoke(app, ["train", str(image_dir), "--out", str(tmp_path / "run"), "--resume", "--lr", "0.1"])
    one_line_error(r, 2, "--lr 0.1 (checkpoint: 0.0008)")


@pytest.mark.parametrize(("flag", "value", "text"), [
    ("--image-size", "48", "power of two"),
    ("--channels", "2", "--channels"),
    ("--device", "tpu", "unknown device"),
    ("--device", "cuda:7", "--device: cuda:7"),
])
def test_bad_options_exit_2(image_dir: Path, tmp_path: Path, flag: str, value: str, text: str) -> None:
    r = runner.invoke(app, ["train", str(image_dir), "--out", str(tmp_path / "run"), flag, value])
    one_line_error(r, 2, text)


def test_unwritable_output_exits_5(image_dir: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    one_line_error(train(image_dir, blocker / "run"), 5, "cannot create run folder")


def test_corrupt_checkpoint_on_resume_exits_4(image_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert train(image_dir, out, "--max-steps", "1").exit_code == 0
    data = (out / "last.safetensors").read_bytes()
    (out / "last.safetensors").write_bytes(data[:-5])
    one_line_error(train(image_dir, out, "--resume"), 4, "truncated or corrupt")
