"""`dcgan evaluate` and `train --eval-every`: metrics that rank real > blurred > collapsed/noise, deterministically,
offline; backbone weights refused unless they match their pinned hash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from typer.testing import CliRunner

from dcgan_cli.cli.app import app
from dcgan_cli.metrics import backbones as features
from dcgan_cli.metrics.distances import frechet_distance, kid, precision_recall_density_coverage
from dcgan_cli.metrics.evaluate import Reference
from dcgan_cli.metrics.swd import level_sizes, swd
from tests.conftest import TINY, make_images, tiny_checkpoint

runner = CliRunner()
HAS_LITE0 = features.efficientnet_weights() is not None
needs_lite0 = pytest.mark.skipif(not HAS_LITE0,
                                 reason=f"EfficientNet-Lite0 extra not installed: {features.INSTALL_HINT}")


def shapes(n: int, seed: int, size: int = 32) -> torch.Tensor:
    """n uint8 RGB images of one distribution: a random background and three soft-edged coloured discs."""
    gen = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    images = torch.rand(n, 3, 1, 1, generator=gen).expand(n, 3, size, size).clone()
    for _ in range(3):
        cy, cx = (torch.rand(2, n, 1, 1, generator=gen) * size).unbind(0)
        radius = 3 + torch.rand(n, 1, 1, generator=gen) * size / 4
        mask = torch.sigmoid(radius - ((yy - cy) ** 2 + (xx - cx) ** 2).sqrt()).unsqueeze(1)
        images = images * (1 - mask) + torch.rand(n, 3, 1, 1, generator=gen) * mask
    return (images * 255).round().to(torch.uint8)


def blurred(images: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(images.float(), 5, 1, 2, count_include_pad=False).round().to(torch.uint8)


@pytest.fixture(scope="module")
def sets() -> dict[str, torch.Tensor]:
    real, other = shapes(256, seed=1), shapes(256, seed=2)
    return {
        "real": other,
        "blurred": blurred(other),
        "collapsed": other[:1].expand_as(other).contiguous(),
        "noise": torch.randint(0, 256, other.shape, generator=torch.Generator().manual_seed(3), dtype=torch.uint8),
        "reference": real,
    }


# --- SWD --------------------------------------------------------------------------------------------------


def test_swd_ranks_real_below_blurred_collapsed_and_noise(sets: dict[str, torch.Tensor]) -> None:
    score = {k: swd(sets["reference"], v, seed=0)["mean"] for k, v in sets.items() if k != "reference"}
    # two samples of one distribution are not 0 apart at n = 256 (the metric's noise floor), but well below the rest
    assert 1.3 * score["real"] < score["blurred"] < score["noise"], score
    assert 3 * score["real"] < score["collapsed"], score
    # a set against itself still samples different patches on each side (as ProGAN does): the floor
    assert swd(sets["reference"], sets["reference"], seed=0)["mean"] < score["real"]


def test_swd_is_deterministic_for_a_seed_and_has_one_score_per_level(sets: dict[str, torch.Tensor]) -> None:
    a = swd(sets["reference"], sets["blurred"], seed=5)
    assert a == swd(sets["reference"], sets["blurred"], seed=5)
    assert a != swd(sets["reference"], sets["blurred"], seed=6)
    assert list(a) == ["32", "16", "mean"]
    assert level_sizes(64) == [64, 32, 16] and level_sizes(16) == [16]
    with pytest.raises(ValueError, match="same shape"):
        swd(sets["reference"], sets["reference"][:10])


# --- metrics on features ------------------------------------------------------------------------------------


def test_feature_metrics_on_gaussians() -> None:
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(600, 16, generator=gen), torch.randn(600, 16, generator=gen)
    shifted = b + 1.0
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(a, b) < 1.0 < 10 < frechet_distance(a, shifted)  # |shift|^2 = 16
    assert frechet_distance(a, shifted) == pytest.approx(16.0, rel=0.15)
    same, _ = kid(a, b, seed=0, subset_size=200)
    assert abs(same) < 0.01 < kid(a, shifted, seed=0, subset_size=200)[0]
    assert kid(a, shifted, seed=1, subset_size=200) == kid(a, shifted, seed=1, subset_size=200)
    prdc = precision_recall_density_coverage(a, b)
    assert prdc["precision"] > 0.8 and prdc["recall"] > 0.8 and prdc["coverage"] > 0.8
    collapsed = precision_recall_density_coverage(a, a[:1].expand(600, 16))
    assert collapsed["precision"] == 1.0 and collapsed["recall"] < 0.05 and collapsed["coverage"] < 0.05


@needs_lite0
def test_efficientnet_features_rank_the_sets(sets: dict[str, torch.Tensor]) -> None:
    small = {k: v[:48] for k, v in sets.items()}
    backbone = features.load(features.EFFICIENTNET)
    reference = Reference(small["reference"], 48, seed=0)
    scores = {k: reference.score(v, ("fd", "kid", "prdc"), backbone)["features"][features.EFFICIENTNET]
              for k, v in small.items() if k != "reference"}
    fd = {k: s["fd"] for k, s in scores.items()}
    assert fd["real"] < fd["blurred"] < fd["noise"] and fd["real"] < fd["collapsed"], fd
    kids = {k: s["kid"] for k, s in scores.items()}
    assert abs(kids["real"]) < kids["blurred"] and kids["real"] < kids["collapsed"] and kids["real"] < kids["noise"]
    assert scores["collapsed"]["recall"] < scores["real"]["recall"]
    assert scores["collapsed"]["coverage"] < scores["real"]["coverage"]
    assert scores["noise"]["precision"] <= scores["real"]["precision"]
    assert torch.equal(backbone(small["real"][:4]), backbone(small["real"][:4]))  # deterministic features


# --- backbone weights: pinned, never unpickled freely -----------------------------------------------------------


def test_weights_with_another_hash_are_refused(tmp_path: Path) -> None:
    fake = tmp_path / features.INCEPTION_FILE
    fake.write_bytes(b"not the weights")
    with pytest.raises(features.CheckpointError, match="is not the pinned"):
        features.verified_bytes(fake, features.INCEPTION_SHA256_PREFIX)
    ckpt = tiny_checkpoint(tmp_path / "c.safetensors")
    images = make_images(tmp_path / "real", 8)
    r = runner.invoke(app, ["evaluate", str(ckpt), str(images), "--n", "8", "--inception-weights", str(fake)])
    assert r.exit_code == 4 and "refusing to load these weights" in r.stderr and r.stdout == ""


class _Boom:
    def __reduce__(self) -> tuple:
        return (Path.touch, (Path(_Boom.target),))


def test_a_pickle_that_runs_code_is_not_executed_even_when_its_hash_is_pinned(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _Boom.target = str(tmp_path / "pwned")
    evil = tmp_path / "evil.pth"
    torch.save({"x": _Boom()}, evil)
    import hashlib

    monkeypatch.setattr(features, "INCEPTION_SHA256_PREFIX", hashlib.sha256(evil.read_bytes()).hexdigest())
    with pytest.raises(features.CheckpointError, match="not a plain tensor state dict"):
        features._state_dict(evil, features.INCEPTION_SHA256_PREFIX)
    assert not (tmp_path / "pwned").exists()


def test_inception_backbone_loads_pinned_weights_from_a_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real file is a 100 MB download; a randomly initialised one with its hash pinned exercises the path."""
    import hashlib

    from torchvision.models import inception_v3

    weights = tmp_path / "inception.pth"
    torch.save(inception_v3(weights=None, aux_logits=True, init_weights=False).state_dict(), weights)
    monkeypatch.setattr(features, "INCEPTION_SHA256_PREFIX", hashlib.sha256(weights.read_bytes()).hexdigest())
    features.load.cache_clear()
    ckpt = tiny_checkpoint(tmp_path / "c.safetensors")
    images = make_images(tmp_path / "real", 8)
    r = runner.invoke(app, ["evaluate", str(ckpt), str(images), "--n", "8", "--metrics", "fd,kid",
                            "--inception-weights", str(weights), "--json"])
    assert r.exit_code == 0, r.stderr
    result = json.loads(r.stdout)
    assert list(result["features"]) == ["inception-v3"]  # one backbone, named; never mixed with another
    assert result["features"]["inception-v3"]["dim"] == 2048 and "fd" in result["features"]["inception-v3"]
    features.load.cache_clear()


# --- the command ------------------------------------------------------------------------------------------


@pytest.fixture
def ckpt_and_real(tmp_path: Path) -> tuple[Path, Path]:
    return tiny_checkpoint(tmp_path / "c.safetensors"), make_images(tmp_path / "real", 12)


def test_evaluate_json_is_deterministic_and_complete(ckpt_and_real: tuple[Path, Path]) -> None:
    ckpt, real = ckpt_and_real
    args = ["evaluate", str(ckpt), str(real), "--n", "10", "--metrics", "swd", "--json"]
    first, second = runner.invoke(app, args), runner.invoke(app, args)
    assert first.exit_code == 0, first.stderr
    a, b = json.loads(first.stdout), json.loads(second.stdout)
    assert a["swd"] == b["swd"] and a["n"] == 10 and a["step"] == 2 and a["real"]["images"] == 12
    assert "features" not in a and a["notes"] == []
    other = json.loads(runner.invoke(app, [*args, "--seed", "1"]).stdout)
    assert other["swd"] != a["swd"]


def test_evaluate_prints_a_table_on_stdout_and_lowers_n_to_the_real_images(ckpt_and_real: tuple[Path, Path]) -> None:
    ckpt, real = ckpt_and_real
    r = runner.invoke(app, ["evaluate", str(ckpt), str(real), "--n", "100", "--backbone", "none"])
    assert r.exit_code == 0, r.stderr
    assert "SWD x1e3" in r.stdout and "none (pixels)" in r.stdout
    assert "only 12 real images: n lowered from 100" in r.stderr


@needs_lite0
def test_evaluate_names_the_backbone_of_every_feature_metric(ckpt_and_real: tuple[Path, Path]) -> None:
    ckpt, real = ckpt_and_real
    r = runner.invoke(app, ["evaluate", str(ckpt), str(real), "--n", "12", "--json"])
    assert r.exit_code == 0, r.stderr
    scores = json.loads(r.stdout)["features"]["efficientnet-lite0"]
    assert set(scores) == {"dim", "resolution", "fd", "kid", "kid_std", "precision", "recall", "density", "coverage"}
    table = runner.invoke(app, ["evaluate", str(ckpt), str(real), "--n", "12"])
    assert table.exit_code == 0 and table.stdout.count("efficientnet-lite0") == 6


def test_without_the_extra_feature_metrics_are_skipped_or_refused(
        ckpt_and_real: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    ckpt, real = ckpt_and_real
    monkeypatch.setattr(features, "efficientnet_weights", lambda: None)
    monkeypatch.setattr(features, "inception_weights", lambda path=None: path)
    r = runner.invoke(app, ["evaluate", str(ckpt), str(real), "--n", "8", "--json"])
    assert r.exit_code == 0 and "fd, kid and prdc skipped" in r.stderr and "dcgan-cli[metrics]" in r.stderr
    assert "features" not in json.loads(r.stdout) and "swd" in json.loads(r.stdout)
    features.load.cache_clear()  # a backbone loaded by an earlier test would still be in memory
    r = runner.invoke(app, ["evaluate", str(ckpt), str(real), "--backbone", "efficientnet-lite0"])
    assert r.exit_code == 2 and "pip install 'dcgan-cli[metrics]'" in r.stderr
    r = runner.invoke(app, ["evaluate", str(ckpt), str(real), "--metrics", "fd,kid"])  # nothing left to compute
    assert r.exit_code == 2 and "fd, kid and prdc skipped" in r.stderr
    r = runner.invoke(app, ["train", str(real), "--out", str(ckpt.parent / "run"), *TINY, "--eval-every", "2",
                            "--eval-metrics", "fd"])
    assert r.exit_code == 2 and "dcgan-cli[metrics]" in r.stderr and not (ckpt.parent / "run").exists()


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--metrics", "fid"], 2, "unknown metric 'fid'"),
    (["--backbone", "resnet"], 2, "'resnet' is not one of"),
    (["--n", "4"], 2, ""),
    (["--inception-weights", "/nonexistent.pth"], 2, "no such file"),
    (["--seed", str(2**32 - 5)], 2, "go past"),
])
def test_evaluate_usage_errors(ckpt_and_real: tuple[Path, Path], args: list[str], code: int, message: str) -> None:
    ckpt, real = ckpt_and_real
    r = runner.invoke(app, ["evaluate", str(ckpt), str(real), *args])
    assert r.exit_code == code and message in r.stderr and r.stdout == ""


def test_evaluate_bad_inputs_get_their_exit_codes(tmp_path: Path, ckpt_and_real: tuple[Path, Path]) -> None:
    ckpt, real = ckpt_and_real
    r = runner.invoke(app, ["evaluate", str(ckpt), str(tmp_path / "missing")])
    assert r.exit_code == 2 and "no such folder" in r.stderr
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 64)
    r = runner.invoke(app, ["evaluate", str(junk), str(real)])
    assert r.exit_code == 4 and "Traceback" not in r.stderr
    few = make_images(tmp_path / "few", 3)
    r = runner.invoke(app, ["evaluate", str(ckpt), str(few), "--backbone", "none"])
    assert r.exit_code == 3 and "at least 8" in r.stderr


# --- train --eval-every ----------------------------------------------------------------------------------------


def test_train_eval_every_logs_scores_into_metrics_jsonl(image_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    base = ["train", str(image_dir), "--out", str(out), *TINY, "--eval-every", "2", "--eval-n", "8"]
    r = runner.invoke(app, [*base, "--max-steps", "3", "--json"])
    assert r.exit_code == 0, r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines()]
    assert [e["step"] for e in events if e["event"] == "eval"] == [2, 3]  # every 2 steps, and at the end
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    evals = [row for row in rows if "eval" in row]
    assert [row["step"] for row in evals] == [2, 3] and "mean" in evals[0]["eval"]["swd"]
    assert (out / "loss.png").exists()  # the plot ignores score rows
    r = runner.invoke(app, [*base, "--max-steps", "4", "--resume"])
    assert r.exit_code == 0, r.stderr
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [row["step"] for row in rows if "eval" in row] == [2, 3, 4]
    assert "eval at step 4: SWD" in r.stderr


def test_train_eval_options_need_eval_every(image_dir: Path, tmp_path: Path) -> None:
    r = runner.invoke(app, ["train", str(image_dir), "--out", str(tmp_path / "r"), "--eval-dir", str(image_dir)])
    assert r.exit_code == 2 and "needs --eval-every" in r.stderr
    r = runner.invoke(app, ["train", str(image_dir), "--out", str(tmp_path / "r"), "--eval-every", "2",
                            "--eval-dir", str(tmp_path / "nope")])
    assert r.exit_code == 2 and "--eval-dir: no such folder" in r.stderr
    r = runner.invoke(app, ["train", str(image_dir), "--out", str(tmp_path / "r"), "--eval-every", "2",
                            "--eval-metrics", "is"])
    assert r.exit_code == 2 and "unknown metric 'is'" in r.stderr
