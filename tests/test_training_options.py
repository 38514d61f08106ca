"""Opt-in training options of issue 6 (--ema, --loss, --label-smoothing, --diffaugment): saved, resumed exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
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


def test_diffaugment_is_differentiable_deterministic_and_shape_preserving() -> None:
    from dcgan_cli.augment import DiffAugment, parse_policy

    x = torch.rand(4, 3, 16, 16, requires_grad=True)
    a = DiffAugment(parse_policy("color,translation,cutout"), torch.Generator().manual_seed(1))(x)
    b = DiffAugment(parse_policy("color,translation,cutout"), torch.Generator().manual_seed(1))(x)
    assert a.shape == x.shape and torch.equal(a, b)
    a.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0  # G learns through the augmentation
    cut = DiffAugment(parse_policy("cutout"), torch.Generator().manual_seed(2))(torch.ones(2, 1, 16, 16))
    assert 0 < int((cut == 0).sum()) <= 2 * 8 * 8  # one square of half the side, per image
    with pytest.raises(ValueError, match="unknown DiffAugment policy"):
        parse_policy("color,blur")


def test_diffaugment_run_resumes_exactly(image_dir: Path, tmp_path: Path) -> None:
    opts = ["--diffaugment", "color,translation,cutout"]
    assert train(image_dir, tmp_path / "whole", "--max-steps", "4", *opts).exit_code == 0
    assert train(image_dir, tmp_path / "split", "--max-steps", "2", *opts).exit_code == 0
    assert train(image_dir, tmp_path / "split", "--max-steps", "4", "--resume").exit_code == 0
    whole = load_file(tmp_path / "whole" / "last.safetensors")
    split = load_file(tmp_path / "split" / "last.safetensors")
    assert "rng.augment" in whole
    assert all(torch.equal(whole[k], split[k]) for k in whole if k.startswith(("G.", "D.")))
    assert train(image_dir, tmp_path / "plain", "--max-steps", "4").exit_code == 0
    plain = load_file(tmp_path / "plain" / "last.safetensors")
    assert not torch.equal(plain["D.main.0.weight"], whole["D.main.0.weight"])
    r = train(image_dir, tmp_path / "bad", "--diffaugment", "blur")
    assert r.exit_code == 2 and "unknown DiffAugment policy" in r.stderr
