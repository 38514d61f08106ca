"""--r1 (issue 11): the R1 gradient penalty on D's real inputs, its value, its schedule, and a run that records it,
keeps it on resume and resumes bit-exactly with it on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from dcgan_cli.cli.app import app
from tests.test_training_options import same_state, train, whole_and_split

runner = CliRunner()


def linear_modules():
    """G and D small enough to differentiate by hand: D(x) = w . x, so dD/dx = w for every image."""
    from dcgan_cli.training.step import GanModules

    netg = torch.nn.Sequential(torch.nn.ConvTranspose2d(2, 1, 4), torch.nn.Tanh())  # 2x1x1 noise -> 1x4x4
    netd = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 1, bias=False))
    return GanModules(netg, netd, torch.optim.SGD(netg.parameters(), 0.0), torch.optim.SGD(netd.parameters(), 0.0))


def test_the_penalty_is_gamma_over_two_times_the_squared_input_gradient_weighted_by_its_interval() -> None:
    from dcgan_cli.training.step import R1_EVERY

    m = linear_modules()
    real = torch.randn(3, 1, 4, 4, requires_grad=True)
    penalty = m.r1_penalty(m.netd(real), real, 0.5)
    w = m.netd[1].weight
    expected = 0.5 / 2 * R1_EVERY * w.square().sum()
    assert torch.allclose(penalty, expected)
    penalty.backward()  # a double backward: the penalty trains D's weights, d/dw of c |w|^2 = 2 c w
    assert torch.allclose(w.grad, 2 * 0.5 / 2 * R1_EVERY * w.detach())


def test_under_float16_loss_scaling_the_penalty_is_the_unscaled_one() -> None:
    """With loss scaling the input gradient is taken of the scaled sum (no underflow) and unscaled before squaring."""
    m = linear_modules()
    real = torch.randn(3, 1, 4, 4, requires_grad=True)
    plain = m.r1_penalty(m.netd(real), real, 0.5)
    m.scalers = (torch.amp.GradScaler("cpu", init_scale=2.0**12), torch.amp.GradScaler("cpu"))
    scaled = m.r1_penalty(m.netd(real), real, 0.5)
    assert torch.allclose(scaled, plain)
    m.scalers[0].get_scale = lambda: 1.0  # negative control: a gradient left scaled is 2^24 times too large
    assert not torch.allclose(m.r1_penalty(m.netd(real), real, 0.5), plain)


@pytest.mark.parametrize("r1,changes", [(1.0, True), (0.0, False)])
def test_a_step_adds_the_penalty_only_when_on(r1: float, changes: bool) -> None:
    """D's gradient after a step with the penalty differs from the plain step's by the penalty's gradient."""
    from dcgan_cli.training.step import train_step

    grads = []
    for gamma in (0.0, r1):
        torch.manual_seed(0)
        m = linear_modules()
        train_step(m, torch.randn(3, 1, 4, 4, generator=torch.Generator().manual_seed(1)),
                   torch.randn(3, 2, 1, 1, generator=torch.Generator().manual_seed(2)), r1=gamma)
        grads.append(m.netd[1].weight.grad.clone())
    assert (not torch.equal(grads[0], grads[1])) is changes


def test_r1_run_resumes_exactly_is_recorded_and_fixed(image_dir: Path, tmp_path: Path) -> None:
    from dcgan_cli.training.step import R1_EVERY

    assert R1_EVERY <= 4  # whole_and_split's 4 steps then include a penalised step, in the resumed half
    whole, _ = whole_and_split(image_dir, tmp_path, "--r1", "0.5", "--r1-target", "0")
    info = json.loads(runner.invoke(app, ["inspect", str(tmp_path / "whole"), "--json"]).stdout)
    assert info["options"]["r1"] == 0.5
    r = train(image_dir, tmp_path / "whole", "--max-steps", "5", "--resume", "--r1", "0")
    assert r.exit_code == 2 and "--r1 0.0 (checkpoint: 0.5)" in r.stderr, r.stderr
    assert train(image_dir, tmp_path / "plain", "--max-steps", "4", "--r1", "0").exit_code == 0
    plain = load_file(tmp_path / "plain" / "last.safetensors")
    assert not torch.equal(plain["D.main.0.weight"], whole["D.main.0.weight"])  # the penalty changed D
    assert json.loads(runner.invoke(app, ["inspect", str(tmp_path / "plain"), "--json"]).stdout)["options"]["r1"] == 0


def test_r1_is_adaptive_in_the_default_preset_and_off_in_the_tutorial(image_dir: Path, tmp_path: Path) -> None:
    for preset, expected in (("default", (1.0, 0.6)), ("tutorial", (0.0, None))):
        assert train(image_dir, tmp_path / preset, "--max-steps", "1", "--preset", preset).exit_code == 0
        info = json.loads(runner.invoke(app, ["inspect", str(tmp_path / preset), "--json"]).stdout)
        assert (info["options"]["r1"], info["options"]["r1_target"]) == expected, preset


def test_r1_is_lazy_the_steps_between_penalties_are_plain(image_dir: Path, tmp_path: Path) -> None:
    from dcgan_cli.training.step import R1_EVERY

    for steps in (R1_EVERY - 1, R1_EVERY):
        for name, gamma in (("r1", "1"), ("plain", "0")):
            r = train(image_dir, tmp_path / f"{name}{steps}", "--max-steps", str(steps), "--r1", gamma,
                      "--r1-target", "0")
            assert r.exit_code == 0, r.stderr
        same = same_state(tmp_path / f"r1{steps}", tmp_path / f"plain{steps}")
        assert same is (steps < R1_EVERY), steps  # equal before the first penalised step, not after it


@pytest.mark.slow
def test_r1_with_compile_runs_its_penalised_steps_eagerly(image_dir: Path, tmp_path: Path) -> None:
    """Compiled graphs do not differentiate twice (aot_autograd refuses a double backward): without the eager
    detour the 4th step fails with an internal error."""
    r = train(image_dir, tmp_path / "run", "--max-steps", "4", "--r1", "1", "--r1-target", "0", "--compile")
    assert r.exit_code == 0, r.stderr
    assert json.loads(runner.invoke(app, ["inspect", str(tmp_path / "run"), "--json"]).stdout)["options"]["r1"] == 1


@pytest.mark.parametrize("value", ["-1", "nan", "inf"])
def test_a_bad_r1_is_one_line_and_exit_2(image_dir: Path, tmp_path: Path, value: str) -> None:
    r = train(image_dir, tmp_path / "run", "--r1", value)
    assert r.exit_code == 2 and "--r1" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "run").exists()
