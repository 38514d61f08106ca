"""--augment-p (issue 11): DiffAugment applied to each image D sees with a probability. Each image is either
left as it is or augmented as at p 1; p 1 draws nothing more, so it is the paper's DiffAugment to the bit; recorded,
kept on resume, resumed bit-exactly with it on."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dcgan_cli.training.augment import DiffAugment
from tests.test_top_k import options  # the run's options as `dcgan inspect --json` shows them
from tests.test_training_options import same_state, train, whole_and_split


def augmented(p: float, x: torch.Tensor) -> torch.Tensor:
    return DiffAugment(("color", "translation"), torch.Generator().manual_seed(3), p)(x)


def test_each_image_is_either_untouched_or_augmented_as_at_p_1() -> None:
    x = torch.rand(64, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    full = augmented(1.0, x)
    half = augmented(0.5, x)
    untouched = [torch.equal(half[i], x[i]) for i in range(64)]
    as_full = [torch.equal(half[i], full[i]) for i in range(64)]
    assert all(a != b for a, b in zip(untouched, as_full))  # every image is one or the other, never both
    assert 16 < sum(untouched) < 48  # about half (the draw is seeded: 64 images, p 0.5)
    assert sum(as_full) == 64 - sum(untouched)
    assert sum(torch.equal(augmented(0.05, x)[i], x[i]) for i in range(64)) > 55  # a low p leaves most alone
    assert torch.equal(full, DiffAugment(("color", "translation"), torch.Generator().manual_seed(3))(x))


def test_gradients_reach_g_through_the_augmented_images_only_where_chosen() -> None:
    x = (torch.rand(32, 3, 8, 8, generator=torch.Generator().manual_seed(1)) * 2 - 1).requires_grad_(True)
    augmented(0.5, x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    # untouched images pass their gradient through as is (ones); augmented ones get the transforms' gradient
    ones = [torch.equal(x.grad[i], torch.ones_like(x.grad[i])) for i in range(32)]
    assert 0 < sum(ones) < 32


def test_augment_p_run_resumes_exactly_is_recorded_and_fixed(image_dir: Path, tmp_path: Path) -> None:
    whole_and_split(image_dir, tmp_path, "--augment-p", "0.5")
    assert options(tmp_path / "whole")["augment_p"] == 0.5
    r = train(image_dir, tmp_path / "whole", "--max-steps", "5", "--resume", "--augment-p", "0.25")
    assert r.exit_code == 2 and "--augment-p 0.25 (checkpoint: 0.5)" in r.stderr, r.stderr
    assert train(image_dir, tmp_path / "all", "--max-steps", "4", "--augment-p", "1").exit_code == 0
    assert not same_state(tmp_path / "whole", tmp_path / "all")  # negative control: p changed what D saw
    assert options(tmp_path / "all")["augment_p"] == 1.0


def test_the_default_augments_a_quarter_and_the_tutorial_nothing(image_dir: Path, tmp_path: Path) -> None:
    for preset, policy, p in (("default", "color,translation", 0.25), ("tutorial", None, 1.0)):
        assert train(image_dir, tmp_path / preset, "--max-steps", "1", "--preset", preset).exit_code == 0
        assert (options(tmp_path / preset)["diffaugment"], options(tmp_path / preset)["augment_p"]) == (policy, p)


def test_a_share_without_a_policy_is_refused_in_one_line(image_dir: Path, tmp_path: Path) -> None:
    r = train(image_dir, tmp_path / "run", "--preset", "tutorial", "--augment-p", "0.5")
    assert r.exit_code == 2 and "--augment-p needs a policy to apply: this recipe has no --diffaugment" in r.stderr
    assert r.stderr.strip().count("\n") == 0 and not (tmp_path / "run").exists(), r.stderr
    r = train(image_dir, tmp_path / "off", "--diffaugment", "none", "--augment-p", "0.25")
    assert r.exit_code == 2 and "--augment-p" in r.stderr, r.stderr
    fine = (["--preset", "tutorial", "--augment-p", "1"],
            ["--preset", "tutorial", "--diffaugment", "translation", "--augment-p", "0.5"])
    for k, flags in enumerate(fine):  # 1 asks for nothing; a policy given with the share is what it is for
        assert train(image_dir, tmp_path / f"ok{k}", "--max-steps", "1", *flags).exit_code == 0, flags


@pytest.mark.parametrize("flag", ["--augment-p", "--top-k"])  # the two options that take a share from above 0 to 1
@pytest.mark.parametrize("value", ["0", "1.5", "-0.5", "nan"])
def test_a_bad_share_is_one_line_and_exit_2(image_dir: Path, tmp_path: Path, flag: str, value: str) -> None:
    r = train(image_dir, tmp_path / "run", flag, value)
    assert r.exit_code == 2 and flag in r.stderr and "Traceback" not in r.stderr
    assert r.stderr.strip().count("\n") == 0, r.stderr
    assert not (tmp_path / "run").exists()


def test_from_python_the_share_is_an_option_and_is_recorded(image_dir: Path, tmp_path: Path) -> None:
    import dcgan_cli as dcgan

    opts = dcgan.TrainOptions(data=image_dir, out=tmp_path / "py", max_steps=2, image_size=16, ngf=8, ndf=8, nz=8,
                              batch_size=4, workers=0, augment_p=0.5)
    assert dcgan.train(opts)["event"] == "end"
    assert options(tmp_path / "py")["augment_p"] == 0.5
