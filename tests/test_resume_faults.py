"""Resume, interruption and crash safety: nothing is lost, and a resumed run equals an uninterrupted one.

Faults are injected deterministically (DCGAN_FAULT, read by dcgan_cli/faults.py): a kill at a random
instant almost never lands inside the few milliseconds of a save.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dcgan_cli import checkpoint
from dcgan_cli.cli.app import app
from tests.conftest import REPO, TINY, run_cli, same, state_tensors

runner = CliRunner()


def train(data: Path, out: Path, *extra: str):
    return runner.invoke(app, ["train", str(data), "--out", str(out), *TINY, *extra])


def test_resume_mid_epoch_is_bit_exact_with_negative_control(
    image_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 12 images at batch 4 = 3 steps per epoch, so stopping at 4 stops one batch into the second epoch.
    assert train(image_dir, tmp_path / "whole", "--max-steps", "6").exit_code == 0
    whole = state_tensors(tmp_path / "whole" / "last.safetensors")

    # the split run decodes with 2 worker threads: parallel decoding must not change a single bit either
    assert train(image_dir, tmp_path / "split", "--max-steps", "4", "--workers", "2", "--no-cache").exit_code == 0
    r = train(image_dir, tmp_path / "split", "--max-steps", "6", "--resume", "--workers", "2", "--no-cache")
    assert r.exit_code == 0, r.stderr
    assert "resuming" in r.stderr and "from step 4" in r.stderr
    assert same(whole, state_tensors(tmp_path / "split" / "last.safetensors"))
    rows = [json.loads(x) for x in (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()]
    assert [row["step"] for row in rows] == [1, 2, 3, 4, 5, 6]

    # Negative control: the same split without restoring the noise RNG must NOT match, so the test has teeth.
    assert train(image_dir, tmp_path / "control", "--max-steps", "4").exit_code == 0
    monkeypatch.setenv("DCGAN_FAULT", "skip_rng_restore")
    assert train(image_dir, tmp_path / "control", "--max-steps", "6", "--resume").exit_code == 0
    assert not same(whole, state_tensors(tmp_path / "control" / "last.safetensors"))


def test_sigint_saves_then_resume_finishes(image_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["train", str(image_dir), "--out", str(out), *TINY, "--max-steps", "5"]
    r = run_cli(*args, env={"DCGAN_FAULT": "sigint_at_step:2"})
    assert r.returncode == 130, r.stderr
    assert b"interrupted (SIGINT) at step 2" in r.stderr and b"--resume" in r.stderr
    assert b"Traceback" not in r.stderr
    assert checkpoint.read_header(out / "last.safetensors").progress["step"] == 2
    r = run_cli(*args, "--resume")
    assert r.returncode == 0, r.stderr
    assert checkpoint.read_header(out / "last.safetensors").progress["step"] == 5


def test_sigterm_from_outside_saves(image_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "dcgan_cli", "train", str(image_dir), "--out", str(out), *TINY,
           "--max-steps", "100000", "--json", "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    assert proc.stdout is not None
    for line in proc.stdout:  # handlers are installed before "start" is emitted, so this is not a race
        if json.loads(line)["event"] == "start":
            proc.send_signal(signal.SIGTERM)
            break
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert b"interrupted (SIGTERM)" in err
    step = checkpoint.read_header(out / "last.safetensors").progress["step"]
    assert 0 <= step < 100000  # it may stop before its first step: that state is saved too
    checkpoint.load(out / "last.safetensors", for_resume=True)


@pytest.mark.parametrize("point", ["save:mid_write", "save:before_replace"])
def test_crash_during_save_leaves_previous_checkpoint_intact(image_dir: Path, tmp_path: Path, point: str) -> None:
    out = tmp_path / "run"
    assert train(image_dir, out, "--max-steps", "3").exit_code == 0
    before = (out / "last.safetensors").read_bytes()
    args = ["train", str(image_dir), "--out", str(out), *TINY, "--max-steps", "6", "--resume"]
    r = run_cli(*args, env={"DCGAN_FAULT": point})
    assert r.returncode == -signal.SIGKILL
    assert (out / "last.safetensors").read_bytes() == before
    assert list(out.glob(".last.safetensors.*.tmp")), "the killed save should have left its temp file"
    assert checkpoint.load(out / "last.safetensors", for_resume=True).progress["step"] == 3
    r = train(image_dir, out, "--max-steps", "6", "--resume")
    assert r.exit_code == 0, r.stderr
    assert "removed stale temp file" in r.stderr
    assert not list(out.glob(".*.tmp"))
    assert checkpoint.read_header(out / "last.safetensors").progress["step"] == 6


def test_nan_stops_with_last_good_checkpoint(image_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "run"
    monkeypatch.setenv("DCGAN_FAULT", "nan_at_step:3")
    r = train(image_dir, out, "--max-steps", "6", "--save-every", "2")
    assert r.exit_code == 6, r.stderr
    assert "training diverged at step 3" in r.stderr
    assert "last good checkpoint" in r.stderr and "(step 2)" in r.stderr
    ckpt = checkpoint.load(out / "last.safetensors", for_resume=True)  # loads: finite values only
    assert ckpt.progress["step"] == 2


def test_nan_is_caught_between_log_steps(image_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DCGAN_FAULT", "nan_at_step:1")
    r = train(image_dir, tmp_path / "run", "--max-steps", "6", "--save-every", "2", "--log-every", "5")
    assert r.exit_code == 6, r.stderr
    assert "no checkpoint was written yet" in r.stderr
    assert not (tmp_path / "run" / "last.safetensors").exists()


def test_checkpoint_refuses_non_finite_weights(tmp_path: Path) -> None:
    from dcgan_cli.errors import DivergedError
    from dcgan_cli.model import DCGANConfig, build_models

    netg, _ = build_models(DCGANConfig(nz=8, ngf=8, ndf=8, image_size=16), seed=0)
    sd = netg.state_dict()
    sd["main.0.weight"][0, 0, 0, 0] = float("inf")
    ckpt = checkpoint.Checkpoint(config=DCGANConfig(nz=8, ngf=8, ndf=8, image_size=16).to_dict(), generator=sd,
                                 progress={"step": 0, "epoch": 0, "position": 0})
    with pytest.raises(DivergedError):
        checkpoint.save(tmp_path / "x.safetensors", ckpt)
    assert not list(tmp_path.iterdir())
