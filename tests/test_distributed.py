"""Multi-process training under torchrun: 2 gloo processes on the CPU, as on a multi-GPU box."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dcgan_cli import checkpoint
from tests.conftest import REPO, TINY, make_images, run_cli

pytestmark = pytest.mark.slow
UNBATCHED = [a for i, a in enumerate(TINY) if "--batch-size" not in TINY[max(i - 1, 0) : i + 1]]


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


def test_adaptive_r1_penalty_under_two_processes(data: Path, tmp_path: Path) -> None:
    """Adaptive R1: step 4 averages D(x) over the ranks to move p (each rank sees other images), step 8 runs the
    penalty's double backward through a DDP-wrapped D: one reduction, the ranks' weights still equal."""
    r = torchrun("train", str(data), "--out", str(tmp_path / "ddp"), *TINY, "--max-steps", "8", "--r1", "1",
                 "--r1-target", "0.05", "--json")
    assert r.returncode == 0, r.stderr.decode()[-3000:]
    end = events(r.stdout)[-1]
    assert end["event"] == "end" and end["weights_in_sync"] is True
    header = checkpoint.read_header(tmp_path / "ddp" / checkpoint.LAST)
    assert header.json_field("options")["r1"] == 1.0 and header.progress["r1_p"] > 0


def test_checkpoints_cross_world_sizes(data: Path, tmp_path: Path) -> None:
    single = tmp_path / "single"
    r = run_cli("train", str(data), "--out", str(single), *TINY, "--max-steps", "2", "-q")
    assert r.returncode == 0, r.stderr
    # one process at batch 4 is a global batch of 4: two processes carry it on at 2 each
    r = torchrun("train", str(data), "--out", str(single), *UNBATCHED, "--max-steps", "4", "--resume", "--json")
    assert r.returncode == 0, r.stderr.decode()[-3000:]
    start = next(e for e in events(r.stdout) if e["event"] == "start")
    assert start["global_batch"] == 4 and start["options"]["batch_size"] == 2
    assert checkpoint.read_header(single / checkpoint.LAST).progress["step"] == 4


def test_the_global_batch_carries_over_to_one_process(tmp_path: Path) -> None:
    """2 processes at batch 8, resumed by one: a global batch of 16, where a one-process run at 16 would be."""
    data = make_images(tmp_path / "images", 40)  # 2 global batches of 16 per epoch, 8 images left over
    ddp, single = tmp_path / "ddp", tmp_path / "single"
    r = torchrun("train", str(data), "--out", str(ddp), *UNBATCHED, "--batch-size", "8", "--max-steps", "3", "-q")
    assert r.returncode == 0, r.stderr.decode()[-3000:]
    refused = run_cli("train", str(data), "--out", str(ddp), *UNBATCHED, "--batch-size", "8", "--max-steps", "5",
                      "--resume")
    assert refused.returncode == 2 and "--batch-size 8 (checkpoint: 16, a global batch of 16 over 1 process)" \
        in refused.stderr.decode(), refused.stderr
    r = run_cli("train", str(data), "--out", str(ddp), *UNBATCHED, "--max-steps", "5", "--resume", "--json")
    assert r.returncode == 0, r.stderr
    resumed = next(e for e in events(r.stdout) if e["event"] == "start")
    r = run_cli("train", str(data), "--out", str(single), *UNBATCHED, "--batch-size", "16", "--max-steps", "5",
                "--json")
    assert r.returncode == 0, r.stderr
    fresh = next(e for e in events(r.stdout) if e["event"] == "start")
    for key in ("global_batch", "steps_per_epoch", "total_steps"):
        assert resumed[key] == fresh[key], key
    assert resumed["options"]["batch_size"] == 16 and resumed["start_step"] == 3
    a, b = (checkpoint.read_header(run / checkpoint.LAST) for run in (ddp, single))
    place = {"step": 5, "epoch": 2, "position": 1}  # the same place in the same epoch
    assert a.progress == {**place, "r1_p": a.progress["r1_p"]} and b.progress == {**place, "r1_p": b.progress["r1_p"]}
    assert a.json_field("options")["global_batch"] == b.json_field("options")["global_batch"] == 16
    # the weights differ only where the maths does: BatchNorm saw 8 images per process, not 16, for 3 steps,
    # and ranks other than 0 drew their own noise (test_ranks_share_out_the_single_process_batches: same images)


def test_sync_bn_needs_cuda_and_amp_cuda_or_a_cpu_with_bf16(data: Path, tmp_path: Path) -> None:
    r = run_cli("train", str(data), "--out", str(tmp_path / "x"), *TINY, "--device", "cpu", "--sync-bn")
    assert r.returncode == 2 and b"CUDA" in r.stderr and b"Traceback" not in r.stderr, r.stderr
    r = run_cli("train", str(data), "--out", str(tmp_path / "x"), *TINY, "--device", "cpu", "--amp",
                env={"DCGAN_FAULT": "no_cpu_bf16"})
    assert r.returncode == 2 and b"CUDA or a CPU with bfloat16" in r.stderr and b"Traceback" not in r.stderr


def test_torchrun_cpu_example(tmp_path: Path) -> None:
    r = subprocess.run(["bash", str(REPO / "examples" / "torchrun_cpu.sh"), str(tmp_path)], capture_output=True,
                       cwd=REPO, timeout=300, env={**os.environ, "NO_COLOR": "1"})
    assert r.returncode == 0, (r.stdout + r.stderr).decode()[-3000:]
    assert (tmp_path / "run" / checkpoint.LAST).exists()


@pytest.mark.parametrize("fails", [False, True])
def test_ranks_leave_the_group_together_unless_the_run_failed(monkeypatch: pytest.MonkeyPatch, fails: bool) -> None:
    """After a run every rank waits for the others before tearing gloo down (a rank that left early while rank 0
    still wrote files was seen to abort at exit); after a failure none waits for ranks that may never come."""
    import torch

    from dcgan_cli.training import distributed

    calls: list[str] = []
    monkeypatch.setattr(distributed.dist, "init_process_group", lambda **_: calls.append("init"))
    monkeypatch.setattr(distributed.dist, "barrier", lambda: calls.append("barrier"))
    monkeypatch.setattr(distributed.dist, "destroy_process_group", lambda: calls.append("destroy"))
    with pytest.raises(RuntimeError) if fails else contextlib.nullcontext():
        with distributed.process_group(distributed.DistEnv(rank=1, local_rank=1, world_size=2), torch.device("cpu")):
            calls.append("run")
            if fails:
                raise RuntimeError("a rank failed")
    assert calls == (["init", "run", "destroy"] if fails else ["init", "run", "barrier", "destroy"])
