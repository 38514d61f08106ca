"""`dcgan project` and `TrainedGenerator.project`: images back to latents.

The bars come from measurement on `varied_checkpoint` (16x16, nz 8): a seed's own image projects back at 50-61 dB
PSNR after 100 steps; the same images rendered from random latents score 37-41 dB, the screened starting point
(steps 0) 39-43 dB, and another checkpoint 35-37 dB.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from conftest import run_cli, varied_checkpoint
from PIL import Image
from typer.testing import CliRunner

import dcgan_cli as dcgan
from dcgan_cli.cli.app import app

runner = CliRunner()
SEEDS = [11, 12, 13, 14]
STEPS = 100


@pytest.fixture
def ckpt(tmp_path: Path) -> Path:
    return varied_checkpoint(tmp_path / "g.safetensors")


@pytest.fixture
def targets(tmp_path: Path, ckpt: Path) -> list[Path]:
    """PNGs of seeds 11-14 from `ckpt`: images the generator can make exactly."""
    files = []
    for seed, image in zip(SEEDS, dcgan.load(ckpt).sample(SEEDS)):
        image.save(tmp_path / f"seed{seed}.png")
        files.append(tmp_path / f"seed{seed}.png")
    return files


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return 10 * math.log10(255.0**2 / float((a.float() - b.float()).pow(2).mean()))


def test_generated_images_project_back(ckpt: Path, targets: list[Path]) -> None:
    gen = dcgan.load(ckpt)
    found = gen.project(targets, steps=STEPS)
    assert min(found.psnr) >= 48
    random = gen.render(gen.latents([99, 98, 97, 96]))
    assert max(psnr(t, r) for t, r in zip(found.targets, random)) <= 43  # the bar is far above chance
    true = gen.latents(SEEDS)
    closer = (found.latents - true).norm(dim=1) < (gen.latents([99, 98, 97, 96]) - true).norm(dim=1)
    assert bool(closer.all())  # each latent lands near its true one, not just on a look-alike
    assert torch.equal(found.reconstructions, gen.render(found.latents))  # PSNR is of what sample renders


def test_negative_controls_score_clearly_worse(tmp_path: Path, ckpt: Path, targets: list[Path]) -> None:
    gen = dcgan.load(ckpt)
    good = gen.project(targets, steps=STEPS).psnr
    unoptimised = gen.project(targets, steps=0).psnr
    other = dcgan.load(varied_checkpoint(tmp_path / "other.safetensors", seed=5)).project(targets, steps=STEPS).psnr
    for g, u, o in zip(good, unoptimised, other):
        assert g >= u + 5 and g >= o + 8


def test_result_does_not_depend_on_the_batch(ckpt: Path, targets: list[Path]) -> None:
    gen = dcgan.load(ckpt)
    together = gen.project(targets[:2], steps=20, batch_size=2)
    alone = gen.project(targets[:1], steps=20, batch_size=1)
    assert torch.allclose(together.latents[0], alone.latents[0], atol=1e-5)


def test_deterministic_across_processes(tmp_path: Path, ckpt: Path, targets: list[Path]) -> None:
    outs = []
    for k in range(2):
        out = tmp_path / f"z{k}.safetensors"
        done = run_cli("project", str(ckpt), str(targets[0]), str(targets[1]), "-o", str(out), "--steps", "20",
                       "--seed", "3", "-q")
        assert done.returncode == 0, done.stderr
        outs.append(dcgan.read_latents(out).latents)
    assert torch.equal(outs[0], outs[1])
    third = tmp_path / "z2.safetensors"
    assert run_cli("project", str(ckpt), str(targets[0]), str(targets[1]), "-o", str(third), "--steps", "20",
                   "--seed", "4", "-q").returncode == 0
    assert not torch.equal(outs[0], dcgan.read_latents(third).latents)  # the seed matters: the test can fail


def test_cli_writes_latents_preview_and_json(tmp_path: Path, ckpt: Path, targets: list[Path]) -> None:
    out, preview = tmp_path / "us.safetensors", tmp_path / "us.png"
    result = runner.invoke(app, ["project", str(ckpt), *map(str, targets[:3]), "-o", str(out), "--preview",
                                 str(preview), "--steps", "30", "--json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["latents"] == str(out) and doc["steps"] == 30 and doc["discriminator"] is True
    assert [row["file"] for row in doc["images"]] == [str(t) for t in targets[:3]]
    assert all({"psnr", "pixel", "feature", "prior", "total"} <= set(row) for row in doc["images"])
    file = dcgan.read_latents(out)
    assert file.latents.shape == (3, 8) and file.sources == [str(t) for t in targets[:3]]
    assert file.checkpoint_sha256 == doc["checkpoint_sha256"] == dcgan.load(ckpt).sha256
    assert [round(i["psnr"], 3) for i in file.info] == [row["psnr"] for row in doc["images"]]
    with Image.open(preview) as im:  # two rows (targets, reconstructions) of three 16x16 images
        assert im.size == (3 * 18 + 2, 2 * 18 + 2)
    again = runner.invoke(app, ["project", str(ckpt), str(targets[0]), "-o", str(out)])
    assert again.exit_code == 2 and "already exists" in again.stderr and "--force" in again.stderr


def test_pil_images_and_pixels_only_without_d(tmp_path: Path) -> None:
    ckpt = varied_checkpoint(tmp_path / "g.safetensors", discriminator=False)
    gen = dcgan.load(ckpt)
    images = gen.sample([11])
    found = gen.project(images, steps=STEPS)
    assert found.settings["discriminator"] is False and found.losses[0]["feature"] == 0
    assert found.psnr[0] > gen.project(images, steps=0).psnr[0] + 1 and found.sources == ["image 0"]


@pytest.mark.parametrize("make, code, message", [
    (lambda d: (d / "notes.txt").write_text("hello") and d / "notes.txt", 3, "not an image"),
    (lambda d: d / "missing.png", 3, "vanished"),
    (lambda d: d, 3, "is a folder"),
])
def test_bad_images_are_one_line(tmp_path: Path, ckpt: Path, make, code: int, message: str) -> None:
    bad = make(tmp_path)
    result = runner.invoke(app, ["project", str(ckpt), str(bad), "-o", str(tmp_path / "z.safetensors")])
    assert result.exit_code == code, result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "z.safetensors").exists()


@pytest.mark.parametrize("args, message", [
    (["--steps", "-1"], "--steps"),
    (["--restarts", "0"], "--restarts"),
    (["-o", "z.png"], ".safetensors"),
    (["--preview", "p.gif"], ".png"),
])
def test_bad_options(tmp_path: Path, ckpt: Path, targets: list[Path], args: list[str], message: str) -> None:
    result = runner.invoke(app, ["project", str(ckpt), str(targets[0]), *args])
    assert result.exit_code == 2 and message in result.stderr


def test_library_checks_its_settings(ckpt: Path, targets: list[Path]) -> None:
    gen = dcgan.load(ckpt)
    for bad in ({"steps": -1}, {"restarts": 0}, {"lr": float("nan")}, {"feature_weight": -1}, {"seed": True}):
        with pytest.raises(dcgan.OptionError, match=next(iter(bad))):
            gen.project(targets[:1], **bad)
    with pytest.raises(dcgan.OptionError, match="at least one image"):
        gen.project([])
