"""Opt-in training options of issue 6 (--ema, --loss, --label-smoothing, --diffaugment, --spectral-norm, --max-time)
and issue 11 (--mbstd, --amp on a CPU): saved, resumed exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from dcgan_cli import checkpoint
from dcgan_cli.cli.app import app
from dcgan_cli.device import cpu_has_bf16
from tests.conftest import TINY, run_cli, same, state_tensors

runner = CliRunner()


def train(data: Path, out: Path, *extra: str):
    return runner.invoke(app, ["train", str(data), "--out", str(out), *TINY, *extra])


def whole_and_split(data: Path, tmp_path: Path, *flags: str) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """4 steps in one run, and 2 steps resumed to 4 (the flags come from the checkpoint): both final state dicts,
    whose G and D are checked to be bit-identical."""
    assert train(data, tmp_path / "whole", "--max-steps", "4", *flags).exit_code == 0
    assert train(data, tmp_path / "split", "--max-steps", "2", *flags).exit_code == 0
    r = train(data, tmp_path / "split", "--max-steps", "4", "--resume")
    assert r.exit_code == 0, r.stderr
    whole, split = (load_file(tmp_path / run / "last.safetensors") for run in ("whole", "split"))
    assert all(torch.equal(whole[k], split[k]) for k in whole if k.startswith(("G.", "D.")))
    return whole, split


def test_ema_is_saved_resumed_exactly_and_sampled(image_dir: Path, tmp_path: Path) -> None:
    whole, split = whole_and_split(image_dir, tmp_path, "--ema", "0.9")
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


def test_ema_cannot_change_on_resume_and_is_off_in_the_tutorial_preset(image_dir: Path, tmp_path: Path) -> None:
    assert train(image_dir, tmp_path / "run", "--max-steps", "1", "--preset", "tutorial").exit_code == 0
    assert not any(k.startswith("G_ema.") for k in load_file(tmp_path / "run" / "last.safetensors"))
    assert train(image_dir, tmp_path / "default", "--max-steps", "1").exit_code == 0  # the default preset has one
    assert any(k.startswith("G_ema.") for k in load_file(tmp_path / "default" / "last.safetensors"))
    r = train(image_dir, tmp_path / "default", "--max-steps", "2", "--resume", "--ema", "0")
    assert r.exit_code == 2 and "--ema 0.0 (checkpoint: 0.99)" in r.stderr
    r = train(image_dir, tmp_path / "run", "--max-steps", "2", "--resume", "--ema", "0.99")
    assert r.exit_code == 2 and "--ema 0.99 (checkpoint: None)" in r.stderr
    r = train(image_dir, tmp_path / "other", "--ema", "1.5")
    assert r.exit_code == 2


def test_loss_options_train_resume_exactly_and_are_recorded(image_dir: Path, tmp_path: Path) -> None:
    whole, split = whole_and_split(image_dir, tmp_path, "--loss", "hinge", "--label-smoothing", "0.1")
    assert train(image_dir, tmp_path / "bce", "--max-steps", "4").exit_code == 0
    bce = load_file(tmp_path / "bce" / "last.safetensors")
    assert not torch.equal(bce["G.main.0.weight"], whole["G.main.0.weight"])  # the option changes training
    info = json.loads(runner.invoke(app, ["inspect", str(tmp_path / "whole"), "--json"]).stdout)
    assert info["options"]["loss"] == "hinge" and info["options"]["label_smoothing"] == 0.1
    r = train(image_dir, tmp_path / "whole", "--max-steps", "5", "--resume", "--loss", "bce")
    assert r.exit_code == 2 and "--loss bce (checkpoint: hinge)" in r.stderr
    assert train(image_dir, tmp_path / "x", "--loss", "wasserstein").exit_code == 2


def test_diffaugment_is_differentiable_deterministic_and_shape_preserving() -> None:
    from dcgan_cli.errors import OptionError
    from dcgan_cli.training.augment import POLICIES, DiffAugment
    from dcgan_cli.training.options import DIFFAUGMENT_POLICIES, parse_policy

    assert set(DIFFAUGMENT_POLICIES) == set(POLICIES)  # the torch-free names are the implemented transforms

    x = torch.rand(4, 3, 16, 16, requires_grad=True)
    a = DiffAugment(parse_policy("color,translation,cutout"), torch.Generator().manual_seed(1))(x)
    b = DiffAugment(parse_policy("color,translation,cutout"), torch.Generator().manual_seed(1))(x)
    assert a.shape == x.shape and torch.equal(a, b)
    a.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0  # G learns through the augmentation
    cut = DiffAugment(parse_policy("cutout"), torch.Generator().manual_seed(2))(torch.ones(2, 1, 16, 16))
    assert 0 < int((cut == 0).sum()) <= 2 * 8 * 8  # one square of half the side, per image
    with pytest.raises(OptionError, match="unknown DiffAugment policy"):
        parse_policy("color,blur")


def _gather_translation(x: torch.Tensor, gen: torch.Generator, ratio: float = 0.125) -> torch.Tensor:
    """The DiffAugment paper's translation, an index-grid gather: the reference for ours."""
    n, _, h, w = x.shape
    sx, sy = int(h * ratio + 0.5), int(w * ratio + 0.5)
    shift_x = torch.randint(-sx, sx + 1, (n, 1, 1), generator=gen)
    shift_y = torch.randint(-sy, sy + 1, (n, 1, 1), generator=gen)
    gb, gx, gy = torch.meshgrid(torch.arange(n), torch.arange(h), torch.arange(w), indexing="ij")
    gx = torch.clamp(gx + shift_x + 1, 0, h + 1)
    gy = torch.clamp(gy + shift_y + 1, 0, w + 1)
    return torch.nn.functional.pad(x, [1, 1, 1, 1]).permute(0, 2, 3, 1)[gb, gx, gy].permute(0, 3, 1, 2)


@pytest.mark.parametrize("shape", [(16, 3, 16, 16), (5, 1, 32, 32), (3, 3, 64, 64)])
def test_translation_equals_the_papers_gather_values_and_gradients(shape: tuple[int, ...]) -> None:
    from dcgan_cli.training.augment import translation

    x = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    weights = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    results = []
    for fn in (translation, _gather_translation):
        xi = x.clone().requires_grad_(True)
        out = fn(xi, torch.Generator().manual_seed(7))
        (out * weights).sum().backward()
        results.append((out.detach(), xi.grad))
    (ours, ours_grad), (ref, ref_grad) = results
    assert torch.equal(ours, ref) and torch.equal(ours_grad, ref_grad)
    assert ours.is_contiguous(memory_format=torch.channels_last) or shape[1] == 1
    assert not torch.equal(ours, x)  # negative control: the shift moved something (seed 7 draws non-zero shifts)


def test_diffaugment_run_resumes_exactly(image_dir: Path, tmp_path: Path) -> None:
    whole, split = whole_and_split(image_dir, tmp_path, "--diffaugment", "color,translation,cutout")
    assert "rng.augment" in whole
    assert train(image_dir, tmp_path / "plain", "--max-steps", "4").exit_code == 0
    plain = load_file(tmp_path / "plain" / "last.safetensors")
    assert not torch.equal(plain["D.main.0.weight"], whole["D.main.0.weight"])
    r = train(image_dir, tmp_path / "bad", "--diffaugment", "blur")
    assert r.exit_code == 2 and "unknown DiffAugment policy" in r.stderr


def test_ema_warms_up_then_keeps_the_requested_decay() -> None:
    from dcgan_cli.training.step import ema_decay

    assert ema_decay(0.999, 1) == pytest.approx(2 / 11)  # early on the average follows G
    assert ema_decay(0.999, 100) == pytest.approx(101 / 110)
    assert ema_decay(0.999, 20_000) == 0.999  # long runs: exactly the requested decay
    assert ema_decay(0.5, 100) == 0.5


def test_spectral_norm_run_resumes_exactly_and_is_recorded(image_dir: Path, tmp_path: Path) -> None:
    whole, split = whole_and_split(image_dir, tmp_path, "--spectral-norm")
    assert "D.main.0.parametrizations.weight.original" in whole and "D.main.0.parametrizations.weight.0._u" in whole
    assert not any(k.startswith("D.") and "running_mean" in k for k in whole)  # no BatchNorm in an SN-GAN D
    info = json.loads(runner.invoke(app, ["inspect", str(tmp_path / "whole"), "--json"]).stdout)
    assert info["config"]["spectral_norm"] is True
    r = runner.invoke(app, ["sample", str(tmp_path / "whole"), "--n", "4", "-o", str(tmp_path / "g.png")])
    assert r.exit_code == 0, r.stderr


def test_spectral_norm_is_off_by_default_and_fixed_on_resume(image_dir: Path, tmp_path: Path) -> None:
    assert train(image_dir, tmp_path / "run", "--max-steps", "2").exit_code == 0
    info = json.loads(runner.invoke(app, ["inspect", str(tmp_path / "run"), "--json"]).stdout)
    assert "spectral_norm" not in info["config"]  # default checkpoints stay readable by earlier dcgan versions
    r = train(image_dir, tmp_path / "run", "--max-steps", "3", "--resume", "--spectral-norm")
    assert r.exit_code == 2 and "--spectral-norm True (checkpoint: False)" in r.stderr


def test_spectral_norm_bounds_each_layer_and_is_reproducible() -> None:
    from dcgan_cli.model import DCGANConfig, build_models

    config = DCGANConfig(nz=8, ngf=8, ndf=8, image_size=16, spectral_norm=True)
    _, d1 = build_models(config, seed=3)
    _, d2 = build_models(config, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(d1.state_dict().values(), d2.state_dict().values()))
    for conv in (m for m in d1.modules() if isinstance(m, torch.nn.Conv2d)):
        sigma = torch.linalg.matrix_norm(conv.weight.detach().flatten(1), ord=2)
        assert float(sigma) == pytest.approx(1.0, abs=0.1)  # a power-iteration estimate of the largest singular value


def test_mbstd_run_resumes_exactly_is_recorded_and_fixed(image_dir: Path, tmp_path: Path) -> None:
    whole, split = whole_and_split(image_dir, tmp_path, "--mbstd")
    last = max((k for k in whole if k.startswith("D.") and k.endswith(".weight")), key=lambda k: int(k.split(".")[2]))
    assert whole[last].shape[1] == 8 * 2 + 1  # TINY's ndf 8 at 16x16: 2x ndf features and the std channel
    info = json.loads(runner.invoke(app, ["inspect", str(tmp_path / "whole"), "--json"]).stdout)
    assert info["config"]["mbstd"] is True
    r = train(image_dir, tmp_path / "whole", "--max-steps", "5", "--resume", "--no-mbstd")
    assert r.exit_code == 2 and "--mbstd False (checkpoint: True)" in r.stderr, r.stderr
    for cmd in (["sample", str(tmp_path / "whole"), "--n", "4", "-o", str(tmp_path / "g.png")],
                ["doctor", str(tmp_path / "whole"), "--json"]):  # D with the layer read back by its readers
        r = runner.invoke(app, cmd)
        assert r.exit_code in (0, 7), r.stderr  # doctor: 7 when a check fails on a 4-step run, never a crash
        assert "Traceback" not in r.stderr


def test_mbstd_channel_measures_variety_within_each_group() -> None:
    from dcgan_cli.model import MinibatchStd

    layer = MinibatchStd(group=4)
    same = torch.ones(8, 3, 4, 4)
    varied = torch.randn(8, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(layer(same)[:, 3], torch.full((8, 4, 4), 1e-4))  # identical images: no spread
    out = layer(varied)
    assert out.shape == (8, 4, 4, 4) and torch.equal(out[:, :3], varied)
    assert float(out[:, 3].min()) > 0.5  # unit-variance noise: a spread near 1 (negative control of the above)
    assert torch.equal(out[0, 3], out[2, 3]) and torch.equal(out[0, 3], out[6, 3])  # group {0, 2, 4, 6}
    assert not torch.equal(out[0, 3], out[1, 3])  # another group, another value
    assert layer(torch.randn(6, 3, 4, 4)).shape == (6, 4, 4, 4)  # a batch that 4 does not divide: groups of 2


def test_max_time_ends_the_run_normally_with_a_checkpoint(image_dir: Path, tmp_path: Path) -> None:
    r = train(image_dir, tmp_path / "run", "--epochs", "100000", "--max-time", "1s", "--json", "-q")
    assert r.exit_code == 0, r.stderr
    end = json.loads(r.stdout.strip().splitlines()[-1])
    assert end["stopped_by"] == "max_time" and end["step"] > 0 and end["seconds"] < 30
    header = json.loads(runner.invoke(app, ["inspect", str(tmp_path / "run"), "--json"]).stdout)
    assert header["step"] == end["step"]
    for bad in ("0", "-5m", "soon", "inf"):
        r = train(image_dir, tmp_path / "bad", "--max-time", bad)
        assert r.exit_code == 2 and "--max-time must be a positive duration" in r.stderr


def interrupted_and_resumed(data: Path, out: Path, steps: int, at: int, *flags: str) -> None:
    """A `steps`-step run stopped by Ctrl-C after step `at` (saved), then resumed with no flags to the end: unlike
    whole_and_split, the run's length never changes, as when a user interrupts a run and picks it up again."""
    r = run_cli("train", str(data), "--out", str(out), *TINY, "--max-steps", str(steps), *flags,
                env={"DCGAN_FAULT": f"sigint_at_step:{at}"})
    assert r.returncode == 130, r.stderr
    r2 = train(data, out, "--max-steps", str(steps), "--resume")
    assert r2.exit_code == 0, r2.stderr


def same_state(a: Path, b: Path) -> bool:
    """G, D, the EMA and both Adam states of two runs' last checkpoints, bit for bit."""
    return same(state_tensors(a / "last.safetensors"), state_tensors(b / "last.safetensors"))


needs_cpu_bf16 = pytest.mark.skipif(not cpu_has_bf16(), reason="this CPU has no bfloat16 instructions")


@needs_cpu_bf16
def test_amp_on_a_cpu_trains_in_bf16_resumes_exactly_and_is_kept_on_resume(image_dir: Path, tmp_path: Path) -> None:
    assert train(image_dir, tmp_path / "whole", "--max-steps", "6", "--amp").exit_code == 0
    interrupted_and_resumed(image_dir, tmp_path / "split", 6, 3, "--amp")  # the resume names no --amp
    assert same_state(tmp_path / "whole", tmp_path / "split")
    assert checkpoint.read_header(tmp_path / "whole" / "last.safetensors").json_field("options")["amp"] is True
    # resumed where the CPU lacks bf16: one line that says how to go on
    r = runner.invoke(app, ["train", str(image_dir), "--out", str(tmp_path / "whole"), *TINY, "--max-steps", "7",
                            "--resume"], env={"DCGAN_FAULT": "no_cpu_bf16"})
    assert r.exit_code == 2 and "(--no-amp)" in r.stderr and "Traceback" not in r.stderr, r.stderr
    # negative control: float32 computes something else, and --no-amp on resume switches back to it
    assert train(image_dir, tmp_path / "fp32", "--max-steps", "6").exit_code == 0
    assert not same_state(tmp_path / "whole", tmp_path / "fp32")
    r = train(image_dir, tmp_path / "split", "--max-steps", "7", "--resume", "--no-amp")
    assert r.exit_code == 0, r.stderr
    assert checkpoint.read_header(tmp_path / "split" / "last.safetensors").json_field("options")["amp"] is False


def test_amp_on_a_cpu_without_bf16_is_one_line_and_exit_2(image_dir: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DCGAN_FAULT", "no_cpu_bf16")
    r = train(image_dir, tmp_path / "run", "--max-steps", "2", "--amp", "--device", "cpu")
    assert r.exit_code == 2 and "bfloat16 instructions" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "run").exists()  # refused before the run folder
    monkeypatch.delenv("DCGAN_FAULT")
    assert train(image_dir, tmp_path / "fp32", "--max-steps", "2", "--device", "cpu").exit_code == 0
