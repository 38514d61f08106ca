"""`train --keep-best`: best.safetensors is the best-scoring step, across a resume, and `RUN/best` names it."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import TINY, make_images
from typer.testing import CliRunner

from dcgan_cli import checkpoint
from dcgan_cli.cli.app import app

runner = CliRunner()
EVAL = ["--eval-every", "2", "--eval-metrics", "swd", "--eval-n", "8", "--keep-best", "--diffaugment", "none"]


def swd_by_step(run: Path) -> dict[int, float]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["eval"]["swd"]["mean"] for r in rows if "eval" in r}


def test_best_is_the_best_score_across_a_resume(tmp_path: Path) -> None:
    data, run = make_images(tmp_path / "images", 12), tmp_path / "run"
    first = runner.invoke(app, ["train", str(data), "--out", str(run), *TINY, "--max-steps", "6", *EVAL])
    assert first.exit_code == 0, first.stderr
    again = runner.invoke(app, ["train", str(data), "--out", str(run), *TINY, "--max-steps", "12", "--resume",
                                *EVAL])
    assert again.exit_code == 0, again.stderr
    scores = swd_by_step(run)
    assert sorted(scores) == [2, 4, 6, 8, 10, 12]
    header = checkpoint.read_header(run / "best.safetensors")
    best_step = min(scores, key=lambda s: scores[s])
    assert header.progress["step"] == best_step
    assert header.progress["score"] == {"metric": "swd", "value": scores[best_step]}
    assert header.can_resume  # a full checkpoint
    assert not list(run.glob(".*.tmp"))  # nothing torn left behind
    shown = runner.invoke(app, ["inspect", str(run / "best"), "--json"])
    assert shown.exit_code == 0 and json.loads(shown.stdout)["progress"]["score"]["metric"] == "swd"
    sampled = runner.invoke(app, ["sample", str(run / "best"), "--n", "4", "-o", str(tmp_path / "b.png")])
    assert sampled.exit_code == 0, sampled.stderr


def test_keep_best_needs_eval_every(tmp_path: Path) -> None:
    data = make_images(tmp_path / "images", 4)
    result = runner.invoke(app, ["train", str(data), "--out", str(tmp_path / "r"), *TINY, "--keep-best"])
    assert result.exit_code == 2 and "--keep-best" in result.stderr and "--eval-every" in result.stderr
    assert not (tmp_path / "r").exists()
