"""`train --tensorboard`: event files tensorboard's own reader accepts, holding the scalars and the grid; continued
on resume without duplicate steps; nothing imported or written without the flag."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import TINY, make_images
from typer.testing import CliRunner

from dcgan_cli.cli.app import app

runner = CliRunner()
pytest.importorskip("tensorboard")


def read_events(folder: Path):  # type: ignore[no-untyped-def]
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return acc


def test_scalars_and_grid_and_resume(tmp_path: Path) -> None:
    data, run = make_images(tmp_path / "images", 8), tmp_path / "run"
    args = ["train", str(data), "--out", str(run), *TINY, "--tensorboard", "--sample-every", "2", "--eval-every",
            "4", "--eval-metrics", "swd", "--eval-n", "8"]
    first = runner.invoke(app, [*args, "--max-steps", "4"])
    assert first.exit_code == 0, first.stderr
    again = runner.invoke(app, [*args, "--max-steps", "6", "--resume"])
    assert again.exit_code == 0, again.stderr
    acc = read_events(run / "tensorboard")
    tags = acc.Tags()
    assert {"train/loss_d", "train/loss_g", "train/d_x", "train/d_g_z1", "train/d_g_z2", "train/img_per_s",
            "train/r1_gamma", "eval/swd/mean"} <= set(tags["scalars"])  # r1_gamma: the default's adaptive R1
    assert [e.step for e in acc.Scalars("train/loss_g")] == [1, 2, 3, 4, 5, 6]  # one stream, no step twice
    assert [e.step for e in acc.Scalars("eval/swd/mean")] == [4, 6]
    assert "samples/fixed_noise" in tags["images"]
    assert [e.step for e in acc.Images("samples/fixed_noise")][:2] == [2, 4]


def test_missing_extra_is_exit_2_before_anything_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    data, run = make_images(tmp_path / "images", 4), tmp_path / "run"
    result = runner.invoke(app, ["train", str(data), "--out", str(run), *TINY, "--tensorboard", "--max-steps", "2"])
    assert result.exit_code == 2 and "pip install 'dcgan-cli[tensorboard]'" in result.stderr
    assert not run.exists()


def test_no_flag_no_folder(tmp_path: Path) -> None:
    data, run = make_images(tmp_path / "images", 4), tmp_path / "run"
    assert runner.invoke(app, ["train", str(data), "--out", str(run), *TINY, "--max-steps", "2"]).exit_code == 0
    assert not (run / "tensorboard").exists()
