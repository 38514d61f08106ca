"""--top-k (issue 11): top-k generator updates. G's loss is over the fakes D scores highest, a share of the batch that
shrinks with the images shown; recorded, kept on resume, resumed bit-exactly with it on."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from dcgan_cli.cli.app import app
from dcgan_cli.training import step as step_module
from dcgan_cli.training.step import TOP_K_DECAY, top_k_count, train_step
from tests.test_r1_penalty import linear_modules
from tests.test_training_options import same_state, train, whole_and_split

runner = CliRunner()


def options(run: Path) -> dict:
    return json.loads(runner.invoke(app, ["inspect", str(run), "--json"]).stdout)["options"]


def test_the_share_starts_whole_shrinks_per_thousand_images_and_stops_at_the_fraction() -> None:
    assert top_k_count(None, 16, 10**9) == 0  # off: every fake
    assert top_k_count(0.5, 16, 0) == 16
    assert top_k_count(0.5, 16, 10_000) == math.ceil(16 * TOP_K_DECAY**10)
    assert top_k_count(0.5, 16, 68_000) == 9 and top_k_count(0.5, 16, 69_000) == 8  # 0.99^68.97 = 0.5
    assert top_k_count(0.5, 16, 10**9) == 8
    assert top_k_count(0.01, 4, 10**9) == 1  # never none


def g_gradient(top_k: int, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """G's weight gradient after one step (learning rates 0, so D is the same in the G step), and D's scores."""
    torch.manual_seed(0)
    m = linear_modules()
    train_step(m, torch.randn(4, 1, 4, 4, generator=torch.Generator().manual_seed(1)), noise, top_k=top_k)
    return m.netg[0].weight.grad.clone(), m.netd(m.netg(noise)).flatten().detach()


def test_g_learns_only_from_the_fakes_d_scores_highest() -> None:
    noise = torch.randn(4, 2, 1, 1, generator=torch.Generator().manual_seed(2))
    grad, scores = g_gradient(2, noise)
    best = scores.topk(2).indices
    torch.manual_seed(0)
    m = linear_modules()  # the same weights: G's loss by hand over the two best fakes only
    logits = m.netd(m.netg(noise[best])).flatten()
    torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.ones_like(logits)).backward()
    assert torch.allclose(grad, m.netg[0].weight.grad)
    everything, _ = g_gradient(0, noise)  # negative control: the whole batch gives another gradient
    assert not torch.allclose(grad, everything)
    assert torch.equal(g_gradient(4, noise)[0], everything)  # k = the batch is every fake


def test_top_k_run_resumes_exactly_is_recorded_and_fixed(image_dir: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # the tiny runs show a few dozen images: shrink at once (0.0 ** 0 is 1, then 0), so that every step after the
    # first, the resumed half's included, learns from 2 of 4 fakes
    monkeypatch.setattr(step_module, "TOP_K_DECAY", 0.0)
    whole_and_split(image_dir, tmp_path, "--top-k", "0.5")
    assert options(tmp_path / "whole")["top_k"] == 0.5
    r = train(image_dir, tmp_path / "whole", "--max-steps", "5", "--resume", "--top-k", "0.25")
    assert r.exit_code == 2 and "--top-k 0.25 (checkpoint: 0.5)" in r.stderr, r.stderr
    assert train(image_dir, tmp_path / "plain", "--max-steps", "4", "--top-k", "1").exit_code == 0
    assert not same_state(tmp_path / "whole", tmp_path / "plain")  # negative control: top-k changed G
    assert options(tmp_path / "plain")["top_k"] is None


def test_a_top_k_of_1_is_off_the_default_has_half_and_the_tutorial_none(image_dir: Path, tmp_path: Path) -> None:
    assert train(image_dir, tmp_path / "one", "--max-steps", "2", "--top-k", "1").exit_code == 0
    assert options(tmp_path / "one")["top_k"] is None
    for preset, share in (("default", 0.5), ("tutorial", None)):
        assert train(image_dir, tmp_path / preset, "--max-steps", "1", "--preset", preset).exit_code == 0
        assert options(tmp_path / preset)["top_k"] == share, preset
