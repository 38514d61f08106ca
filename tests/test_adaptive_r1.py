"""--r1-target (issue 11): the R1 penalty's gamma scaled by a p that follows D's confidence on the real images.
Its controller, a run that records p and resumes bit-exactly through it, and a D that never runs ahead never paying."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dcgan_cli import checkpoint
from dcgan_cli.cli.app import app
from tests.test_training_options import same_state, train

runner = CliRunner()


def test_p_rises_while_d_is_above_the_target_falls_below_it_and_stays_in_0_1() -> None:
    from dcgan_cli.training.adaptive_r1 import ADJUST_KIMG, R1Strength

    r1 = R1Strength(2.0, 0.6, global_batch=32, every=4)
    assert r1.step_size == pytest.approx(128 / (ADJUST_KIMG * 1000))  # 1 over ADJUST_KIMG thousand images
    assert r1.adaptive and r1.gamma_now == 0.0 and r1.progress() == {"r1_p": 0.0}
    r1.observe(0.4)
    assert r1.p == 0.0  # never below 0
    for _ in range(3):
        r1.observe(0.9)
    assert r1.p == pytest.approx(3 * r1.step_size) and r1.gamma_now == pytest.approx(2.0 * r1.p)
    r1.observe(0.59)
    assert r1.p == pytest.approx(2 * r1.step_size)
    r1.observe(0.6)  # at the target: p stays
    assert r1.p == pytest.approx(2 * r1.step_size)
    r1.step_size = 0.7
    r1.observe(0.9), r1.observe(0.9)
    assert r1.p == 1.0 and r1.gamma_now == 2.0  # never above 1: gamma is the most it applies


def test_without_a_target_gamma_is_fixed_and_nothing_is_recorded() -> None:
    from dcgan_cli.training.adaptive_r1 import R1Strength

    for target in (None, 0.6):
        off = R1Strength(0.0, target, 32, 4)
        off.observe(0.99)
        assert not off.adaptive and off.gamma_now == 0.0 and off.progress() == {}
    fixed = R1Strength(1.5, None, 32, 4)
    fixed.observe(0.99)
    assert fixed.gamma_now == 1.5 and fixed.p == 0.0 and fixed.progress() == {}


def test_adaptive_r1_resumes_exactly_through_a_p_above_0(image_dir: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Penalised steps are 4 and 8: step 4 observes D (p 0 -> 1 with the fast controller) at gamma 0, step 8 is
    penalised at gamma x 1. The resume at 6 must restore p, or its step 8 would run plain."""
    from dcgan_cli.training import adaptive_r1

    monkeypatch.setattr(adaptive_r1, "ADJUST_KIMG", 0.01)  # p moves by 1.6 per observation: 0 or 1
    flags = ("--r1", "0.5", "--r1-target", "0.05")
    for run, steps in (("whole", 8), ("split", 6)):
        assert train(image_dir, tmp_path / run, "--max-steps", str(steps), *flags).exit_code == 0
    assert checkpoint.read_header(tmp_path / "split" / "last.safetensors").progress["r1_p"] == 1.0
    r = train(image_dir, tmp_path / "split", "--max-steps", "8", "--resume")
    assert r.exit_code == 0, r.stderr
    assert same_state(tmp_path / "whole", tmp_path / "split")
    # what made the run: not the fixed penalty (also at step 4), not the plain run (none at step 8)
    for run, extra in (("fixed", ("--r1", "0.5", "--r1-target", "0")), ("plain", ("--r1", "0"))):
        assert train(image_dir, tmp_path / run, "--max-steps", "8", *extra).exit_code == 0
        assert not same_state(tmp_path / "whole", tmp_path / run), run
    rows = [json.loads(line) for line in (tmp_path / "whole" / "metrics.jsonl").read_text().splitlines()]
    assert [row["r1_gamma"] for row in rows] == [0.0] * 3 + [0.5] * 5  # what the next penalised step applies
    info = json.loads(runner.invoke(app, ["inspect", str(tmp_path / "whole"), "--json"]).stdout)
    assert info["options"]["r1_target"] == 0.05 and info["progress"]["r1_p"] == 1.0
    r = train(image_dir, tmp_path / "whole", "--max-steps", "9", "--resume", "--r1-target", "0.7")
    assert r.exit_code == 2 and "--r1-target 0.7 (checkpoint: 0.05)" in r.stderr, r.stderr


def test_a_d_that_never_runs_ahead_never_pays_the_run_is_the_plain_one(image_dir: Path, tmp_path: Path) -> None:
    """With the target out of reach p stays 0: no penalised step, bit for bit the run without R1."""
    assert train(image_dir, tmp_path / "adaptive", "--max-steps", "8", "--r1", "1", "--r1-target", "0.99"
                 ).exit_code == 0
    assert train(image_dir, tmp_path / "plain", "--max-steps", "8", "--r1", "0").exit_code == 0
    assert same_state(tmp_path / "adaptive", tmp_path / "plain")
    assert checkpoint.read_header(tmp_path / "adaptive" / "last.safetensors").progress["r1_p"] == 0.0


def test_a_target_of_0_is_the_fixed_penalty(image_dir: Path, tmp_path: Path) -> None:
    """Step 4 is the first penalised step: the fixed penalty applies gamma there, the adaptive one p = 0."""
    for run, extra in (("fixed", ("--r1", "1", "--r1-target", "0")), ("adaptive", ("--r1", "1")),
                       ("plain", ("--r1", "0"))):
        assert train(image_dir, tmp_path / run, "--max-steps", "4", *extra).exit_code == 0
    assert not same_state(tmp_path / "fixed", tmp_path / "plain")
    assert same_state(tmp_path / "adaptive", tmp_path / "plain")  # the default's target, p still 0
    header = checkpoint.read_header(tmp_path / "fixed" / "last.safetensors")
    assert header.json_field("options")["r1_target"] is None and "r1_p" not in header.progress
    assert checkpoint.read_header(tmp_path / "adaptive" / "last.safetensors").json_field("options")["r1_target"] == 0.6


@pytest.mark.parametrize("value", ["1", "-0.1", "nan"])
def test_a_bad_r1_target_is_one_line_and_exit_2(image_dir: Path, tmp_path: Path, value: str) -> None:
    r = train(image_dir, tmp_path / "run", "--r1", "1", "--r1-target", value)
    assert r.exit_code == 2 and "--r1-target" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "run").exists()


def test_a_hostile_r1_p_in_a_checkpoint_is_one_line_and_exit_4(image_dir: Path, tmp_path: Path) -> None:
    assert train(image_dir, tmp_path / "run", "--max-steps", "2", "--r1", "1", "--r1-target", "0.6").exit_code == 0
    path = tmp_path / "run" / "last.safetensors"
    for bad in (1e9, -0.5, "x", float("nan"), True):
        ckpt = checkpoint.load(path, for_resume=True)
        ckpt.progress["r1_p"] = bad
        checkpoint.save(path, ckpt)
        r = train(image_dir, tmp_path / "run", "--max-steps", "3", "--resume")
        assert r.exit_code == 4 and "r1_p must be a number from 0 to 1" in r.stderr, (bad, r.stderr)
        assert "Traceback" not in r.stderr


def test_from_python_the_same_options_record_p(image_dir: Path, tmp_path: Path) -> None:
    import dcgan_cli as dcgan

    events: list[dict] = []
    end = dcgan.train(dcgan.TrainOptions(data=image_dir, out=tmp_path / "run", max_steps=8, image_size=16, nz=8,
                                         ngf=8, ndf=8, batch_size=4, workers=0, r1=1.0, r1_target=0.05),
                     on_event=events.append)
    assert end["step"] == 8
    start = next(e for e in events if e["event"] == "start")
    assert (start["options"]["r1"], start["options"]["r1_target"]) == (1.0, 0.05)
    gammas = [e["r1_gamma"] for e in events if e["event"] == "step"]
    assert gammas[:3] == [0.0] * 3 and gammas[3] > 0  # step 4 saw D above 0.05 and raised p
    assert checkpoint.read_header(tmp_path / "run" / "last.safetensors").progress["r1_p"] > 0
