"""One writer per run folder: a second trainer is refused while the first runs; a killed one never blocks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, TINY, make_images, run_cli

from dcgan_cli.errors import OptionError
from dcgan_cli.training.run_lock import LOCK, run_lock


def start_trainer(data: Path, out: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "dcgan_cli", "train", str(data), "--out", str(out), *TINY, "--max-steps",
           "100000", "--save-every", "5", *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
                            env={**os.environ, "NO_COLOR": "1"})


def wait_for(path: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.2)


def test_second_trainer_is_refused_and_the_first_finishes(tmp_path: Path) -> None:
    data, out = make_images(tmp_path / "images", 8), tmp_path / "run"
    first = start_trainer(data, out, "--max-time", "15s")  # long enough for the second to be refused
    try:
        wait_for(out / "last.safetensors")
        second = run_cli("train", str(data), "--out", str(out), *TINY, "--resume", "--max-steps", "3")
        assert second.returncode == 2, second.stderr
        line = second.stderr.decode().strip()
        assert "being written by another trainer" in line and f"pid {first.pid}" in line
        assert len(line.splitlines()) == 1
        stdout, stderr = first.communicate(timeout=180)
    finally:
        first.kill()
    assert first.returncode == 0, stderr.decode()
    assert run_cli("inspect", str(out)).returncode == 0
    import dcgan_cli

    dcgan_cli.load(out).sample([0])  # the first trainer's checkpoint is whole


def test_a_killed_trainers_lock_does_not_block(tmp_path: Path) -> None:
    data, out = make_images(tmp_path / "images", 8), tmp_path / "run"
    first = start_trainer(data, out)
    wait_for(out / "last.safetensors")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    assert (out / LOCK).exists()  # the file stays; the kernel dropped the lock with the process
    again = run_cli("train", str(data), "--out", str(out), *TINY, "--resume", "--max-steps", "200000",
                    "--max-time", "2s")
    assert again.returncode == 0, again.stderr


def test_lock_in_process(tmp_path: Path) -> None:
    with run_lock(tmp_path / "run"):
        with pytest.raises(OptionError, match="another trainer"):
            with run_lock(tmp_path / "run"):
                pass  # flock locks are per open file, so a second open in one process conflicts too
    with run_lock(tmp_path / "run"):  # released at the end of the block
        pass
