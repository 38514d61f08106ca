"""Opt-in training options of issue 6 (--ema, --loss, --label-smoothing): saved, resumed exactly, recorded."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from dcgan_cli.cli import app
from tests.conftest import TINY

runner = CliRunner()


def train(data: Path, out: Path, *extra: str):
    return runner.invoke(app, ["train", str(data), "--out", str(out), *TINY, *extra])


def test_ema_is_saved_resumed_exactly_and_sampled(image_dir: Path, tmp_path: Path) -> None:
    assert train(image_dir, tmp_path / "whole", "--max-steps", "4", "--ema", "0.9").exit_code == 0
    assert train(image_dir, tmp_path / "split", "--max-steps", "2", "--ema", "0.9").exit_code == 0
    r = train(image_dir, tmp_path / "split", "--max-steps", "4", "--resume")
    assert r.exit_code == 0, r.stderr
    whole = load_file(tmp_path / "whole" / "last.safetensors")
    split = load_file(tmp_path / "split" / "last.safetensors")
    ema_keys = [k for k in whole if k.startswith("G_ema.")]
    assert len(ema_keys) == len([k for k in whole if k.startswith("G.")])
    assert all(torch.equal(whole[k], split[k]) for k in ema_keys)
    # the average lags the live weights: after 4 steps at decay 0.9 they differ
    assert not torch.equal(whole["G_ema.main.0.weight"], whole["G.main.0.weight"])

    ckpt = tmp_path / "whole"
    with_ema = runner.invoke(app, ["sample", str(ckpt), "--seeds", "3", "-o", "-"])
    without = runner.invoke(app, ["sample", str(ckpt), "--seeds", "3", "-o", "-", "--no-ema"])
    assert with_ema.exit_code == 0 and without.exit_code == 0
    assert with_ema.stdout_bytes != without.stdout_bytes
    info = json.loads(runner.invoke(app, ["inspect", str(ckpt), "--json"]).stdout)
    assert info["ema"] is True and info["options"]["ema"] == 0.9


def test_ema_cannot_change_on_resume_and_is_off_by_default(image_dir: Path, tmp_path: Path) -> None:
    assert train(image_dir, tmp_path / "run", "--max-steps", "1").exit_code == 0
    assert not any(k.startswith("G_ema.") for k in load_file(tmp_path / "run" / "last.safetensors"))
    r = train(image_dir, tmp_path / "run", "--max-steps", "2", "--resume", "--ema", "0.99")
    assert r.exit_code == 2 and "--ema 0.99 (checkpoint: None)" in r.stderr
    r = train(image_dir, tmp_path / "other", "--ema", "1.5")
    assert r.exit_code == 2


def test_loss_options_train_resume_exactly_and_are_recorded(image_dir: Path, tmp_path: Path) -> None:
    opts = ["--loss", "hinge", "--label-smoothing", "0.1"]
    assert train(image_dir, tmp_path / "whole", "--max-steps", "4", *opts).exit_code == 0
    assert train(image_dir, tmp_path / "split", "--max-steps", "2", *opts).exit_code == 0
    r = train(image_dir, tmp_path / "split", "--max-steps", "4", "--resume")
    assert r.exit_code == 0, r.stderr
    whole = load_file(tmp_path / "whole" / "last.safetensors")
    split = load_file(tmp_path / "split" / "last.safetensors")
    assert all(torch.equal(whole[k], split[k]) for k in whole if k.startswith(("G.", "D.")))
    assert train(image_dir, tmp_path / "bce", "--max-steps", "4").exit_code == 0
    bce = load_file(tmp_path / "bce" / "last.safetensors")
    assert not torch.equal(bce["G.main.0.weight"], whole["G.main.0.weight"])  # the option changes training
    info = json.loads(runner.invoke(app, ["inspect", str(tmp_path / "whole"), "--json"]).stdout)
    assert info["options"]["loss"] == "hinge" and info["options"]["label_smoothing"] == 0.1
    r = train(image_dir, tmp_path / "whole", "--max-steps", "5", "--resume", "--loss", "bce")
    assert r.exit_code == 2 and "--loss bce (checkpoint: hinge)" in r.stderr
    assert train(image_dir, tmp_path / "x", "--loss", "wasserstein").exit_code == 2
