"""Multi-process training under torchrun: 2 gloo processes on the CPU, as on a multi-GPU box."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dcgan_cli import checkpoint
from tests.conftest import REPO, TINY, make_images, run_cli

pytestmark = pytest.mark.slow


def torchrun(*args: str, nproc: int = 2) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
           "-m", "dcgan_cli", *args]
    env = {**os.environ, "NO_COLOR": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run(cmd, capture_output=True, cwd=REPO, timeout=300, env=env)


def events(stdout: bytes) -> list[dict]:
    return [json.loads(line) for line in stdout.decode().splitlines() if line.startswith("{")]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return make_images(tmp_path / "images", 16)


def test_two_processes_one_run(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    r = torchrun("train", str(data), "--out", str(out), *TINY, "--max-steps", "3", "--json", "--sample-every", "2")
    assert r.returncode == 0, r.stderr.decode()[-3000:]
    evs = events(r.stdout)
    kinds = [e["event"] for e in evs]
    assert kinds.count("start") == 1 and kinds.count("end") == 1  # rank 0 alone speaks
    start = next(e for e in evs if e["event"] == "start")
    end = evs[-1]
    assert start["world_size"] == 2 and start["global_batch"] == 8
    assert start["weights_in_sync"] is True and end["weights_in_sync"] is True
    # 16 images at a global batch of 8 is 2 steps per epoch: the same as one process at batch 8
    single = run_cli("train", str(data), "--out", str(tmp_path / "single"), *TINY, "--batch-size", "8",
                     "--max-steps", "3", "--json")
    assert single.returncode == 0, single.stderr
    single_start = next(e for e in events(single.stdout) if e["event"] == "start")
    assert start["steps_per_epoch"] == single_start["steps_per_epoch"] == 2
    assert start["total_steps"] == single_start["total_steps"] == 3
    # exactly one checkpoint and one set of artefacts
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [".lock", "run.json", "last.safetensors", "metrics.jsonl", "samples", "loss.png", "progress.gif",
         "real_samples.png"])
    assert [json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()] == [1, 2, 3]
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["step_00000002.png", "step_00000003.png"]
    header = checkpoint.read_header(out / checkpoint.LAST)
    assert header.progress["step"] == 3
    assert not any(name.startswith(("G.module.", "D.module.")) for name in header.tensors)  # unwrapped weights


def test_checkpoints_cross_world_sizes(data: Path, tmp_path: Path) -> None:
    ddp, single = tmp_path / "ddp", tmp_path / "single"
    r = torchrun("train", str(data), "--out", str(ddp), *TINY, "--max-steps", "2", "-q")
    assert r.returncode == 0, r.stderr.decode()[-3000:]
    r = run_cli("train", str(data), "--out", str(ddp), *TINY, "--max-steps", "4", "--resume", "-q")
    assert r.returncode == 0, r.stderr
    assert checkpoint.read_header(ddp / checkpoint.LAST).progress["step"] == 4

    r = run_cli("train", str(data), "--out", str(single), *TINY, "--max-steps", "2", "-q")
    assert r.returncode == 0, r.stderr
    r = torchrun("train", str(data), "--out", str(single), *TINY, "--max-steps", "4", "--resume", "-q")
    assert r.returncode == 0, r.stderr.decode()[-3000:]
    assert checkpoint.read_header(single / checkpoint.LAST).progress["step"] == 4


def test_sync_bn_and_amp_need_cuda(data: Path, tmp_path: Path) -> None:
    for flag in ("--sync-bn", "--amp"):
        r = run_cli("train", str(data), "--out", str(tmp_path / "x"), *TINY, "--device", "cpu", flag)
        assert r.returncode == 2 and b"CUDA" in r.stderr and b"Traceback" not in r.stderr, r.stderr


def test_torchrun_cpu_example(tmp_path: Path) -> None:
    r = subprocess.run(["bash", str(REPO / "examples" / "torchrun_cpu.sh"), str(tmp_path)], capture_output=True,
                       cwd=REPO, timeout=300, env={**os.environ, "NO_COLOR": "1"})
    assert r.returncode == 0, (r.stdout + r.stderr).decode()[-3000:]
    assert (tmp_path / "run" / checkpoint.LAST).exists()
