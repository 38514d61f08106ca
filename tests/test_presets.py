"""Presets and the recipe options of issue 11 (--preset, --kimg, --lr-d/--lr-g, --beta2, --mirror, --ema 0,
--diffaugment none, channels-last by default on the CPU) and the live health warnings: resolved, recorded, fixed
on resume, resumed bit-exactly."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
import typer
from safetensors.torch import load_file
from typer.testing import CliRunner

from dcgan_cli.checkpoint import read_header
from dcgan_cli.cli.app import app
from dcgan_cli.errors import RecipeConflict
from dcgan_cli.model import build_models
from dcgan_cli.training.health import HealthMonitor
from dcgan_cli.training.options import TrainOptions
from dcgan_cli.training.presets import DEFAULT_PRESET, PRESETS
from dcgan_cli.training.recipe import Length, ModelChoice, Recipe, _off, resolve
from tests.conftest import TINY
from tests.test_model import TUTORIAL_D, TUTORIAL_G

runner = CliRunner()
NEW = ["--lr-d", "0.0001", "--lr-g", "0.0003", "--beta2", "0.99", "--mirror"]


def train(data: Path, out: Path, *extra: str):
    return runner.invoke(app, ["train", str(data), "--out", str(out), *TINY, *extra])


def options_of(run: Path) -> dict:
    return read_header(run / "last.safetensors").json_field("options")


def test_tutorial_preset_is_the_tutorial_exactly() -> None:
    model, recipe, length = resolve(TrainOptions(data="x", preset="tutorial"))
    assert model == ModelChoice(nz=100, ngf=64, ndf=64, image_size=64, spectral_norm=False, channels=None)
    assert recipe == Recipe(batch_size=128, lr_d=2e-4, lr_g=2e-4, beta1=0.5, beta2=0.999, seed=999, ema=None,
                            loss="bce", label_smoothing=0.0, diffaugment=None, mirror=False, preset="tutorial")
    assert length == Length(epochs=5)
    netg, netd = build_models(model.config(3), seed=0)
    assert {k: tuple(v.shape) for k, v in netg.named_parameters()} == TUTORIAL_G
    assert {k: tuple(v.shape) for k, v in netd.named_parameters()} == TUTORIAL_D


def test_no_flags_mean_the_default_preset_and_flags_override_it() -> None:
    model, recipe, length = resolve(TrainOptions(data="x"))
    preset = PRESETS[DEFAULT_PRESET]
    assert recipe.preset == DEFAULT_PRESET and length == Length(**preset.length)
    assert {k: getattr(recipe, k) for k in preset.recipe} == preset.recipe
    assert {k: getattr(model, k) for k in preset.model} == preset.model
    model, recipe, length = resolve(TrainOptions(data="x", ngf=16, ema=0, diffaugment="none", lr=1e-3,
                                                 lr_g=5e-4, max_steps=7))
    assert model.ngf == 16 and recipe.ema is None and recipe.diffaugment is None
    assert (recipe.lr_d, recipe.lr_g) == (1e-3, 5e-4) and length == Length(max_steps=7)


def test_the_default_batch_follows_the_image_size() -> None:
    # batch 16 from 64x64 up; 32 for small images, where a step of 16 leaves the CPU idle (presets.py)
    sizes = {size: resolve(TrainOptions(data="x", image_size=size))[1].batch_size for size in (16, 32, 64, 128)}
    assert sizes == {16: 32, 32: 32, 64: 16, 128: 16}
    assert resolve(TrainOptions(data="x"))[1].batch_size == 16  # 64 when no size is given
    assert resolve(TrainOptions(data="x", image_size=32, batch_size=16))[1].batch_size == 16  # a flag wins
    assert resolve(TrainOptions(data="x", image_size=32, preset="tutorial"))[1].batch_size == 128
    # imported weights continued with a preset: the rule follows the file's size, not the 64 of no option
    imported = {"nz": 100, "ngf": 32, "ndf": 16, "channels": 3}
    for size, batch in ((32, 32), (64, 16)):
        _, recipe, _ = resolve(TrainOptions(data="x", resume=True, preset="default"),
                               {**imported, "image_size": size}, {"imported": "tutorial.pth"})
        assert recipe.batch_size == batch, size


def help_default(help_text: str) -> tuple[str, str] | None:
    """(the default preset's value, the tutorial's) as `train --help` states them, or None."""
    found = re.search(r"the preset's: ([^,\]]+?)(?: \(.*?\))?, tutorial ([^\]]+)\]", " ".join(help_text.split()))
    return (found[1], found[2]) if found else None


def test_train_help_states_each_presets_own_values() -> None:
    # a preset's value changed without its --help line (as --top-k's "[default: 1]" once was) fails here
    command = typer.main.get_command(app).commands["train"]  # type: ignore[attr-defined]
    checked = []
    for param in command.params:
        stated = help_default(param.help or "")
        if stated is None:
            continue
        field = "lr_d" if param.name == "lr" else param.name
        for name, text in zip((DEFAULT_PRESET, "tutorial"), stated):
            preset = PRESETS[name]
            # the help spells "off" as the option does (ema 0 or "off", r1-target 0, top-k 1): _off reads it as stored
            value = _off(field, None if text == "off" else float(text))
            assert value == {**preset.model, **preset.recipe}[field], (field, name, text)
        checked.append(field)
    assert {"ngf", "ndf", "batch_size", "lr_d", "ema", "r1", "r1_target", "top_k"} <= set(checked)
    assert help_default("x [default: the preset's: 0.5, tutorial 1]") == ("0.5", "1")  # the parser itself
    assert help_default("x [default: 0.5]") is None


def test_every_preset_keeps_the_seed_layer_structure() -> None:
    for name in PRESETS:
        model, _, _ = resolve(TrainOptions(data="x", preset=name))
        netg, netd = build_models(model.config(3), seed=0)
        kinds_g = [type(m).__name__ for m in netg.main]
        kinds_d = [type(m).__name__ for m in netd.main]
        assert kinds_g == ["ConvTranspose2d", "BatchNorm2d", "ReLU"] * 4 + ["ConvTranspose2d", "Tanh"], name
        assert kinds_d == ["Conv2d", "LeakyReLU"] + ["Conv2d", "BatchNorm2d", "LeakyReLU"] * 3 + ["Conv2d"], name


def test_a_checkpoint_from_before_presets_resumes_as_the_tutorial() -> None:
    legacy = {"batch_size": 128, "lr": 2e-4, "beta1": 0.5, "seed": 999, "ema": None, "loss": "bce",
              "label_smoothing": 0.0, "diffaugment": None, "epochs": 5, "max_steps": None}
    config = {"nz": 100, "ngf": 64, "ndf": 64, "channels": 3, "image_size": 64}
    _, recipe, length = resolve(TrainOptions(data="x", resume=True), config, legacy)
    assert recipe == Recipe() and recipe.preset == "tutorial" and length == Length(epochs=5)
    with pytest.raises(RecipeConflict, match="preset"):
        resolve(TrainOptions(data="x", resume=True, preset="default"), config, legacy)


def test_new_options_are_recorded_refused_on_change_and_resume_bit_exactly(image_dir: Path, tmp_path: Path) -> None:
    assert train(image_dir, tmp_path / "whole", "--max-steps", "6", *NEW).exit_code == 0
    assert train(image_dir, tmp_path / "split", "--max-steps", "3", *NEW).exit_code == 0
    r = train(image_dir, tmp_path / "split", "--max-steps", "6", "--resume")
    assert r.exit_code == 0, r.stderr
    whole = load_file(tmp_path / "whole" / "last.safetensors")
    split = load_file(tmp_path / "split" / "last.safetensors")
    assert "rng.mirror" in whole
    assert all(torch.equal(whole[k], split[k]) for k in whole if k.startswith(("G.", "D.", "G_ema.", "opt")))
    o = options_of(tmp_path / "whole")
    assert (o["lr_d"], o["lr_g"], o["beta2"], o["mirror"], o["preset"]) == (1e-4, 3e-4, 0.99, True, "default")
    assert o["channels_last"] is True  # the CPU's layout by default
    info = json.loads(runner.invoke(app, ["inspect", str(tmp_path / "whole"), "--json"]).stdout)
    assert info["options"]["lr_g"] == 3e-4  # inspect shows every resolved value
    for flag, value, stored in (("--beta2", "0.9", "0.99"), ("--lr-g", "0.001", "0.0003"),
                                ("--preset", "tutorial", "default"), ("--no-mirror", None, "True")):
        r = train(image_dir, tmp_path / "split", "--max-steps", "7", "--resume", flag, *([value] if value else []))
        assert r.exit_code == 2 and "cannot change these when resuming" in r.stderr and stored in r.stderr, flag
    assert train(image_dir, tmp_path / "nomirror", "--max-steps", "6", *NEW[:-1], "--no-mirror").exit_code == 0
    plain = load_file(tmp_path / "nomirror" / "last.safetensors")
    assert not torch.equal(plain["G.main.0.weight"], whole["G.main.0.weight"])  # negative control: mirror matters


def test_kimg_counts_images_shown_whatever_the_folder_size(image_dir: Path, tmp_path: Path) -> None:
    r = train(image_dir, tmp_path / "run", "--kimg", "0.024", "--json")  # 24 images at batch 4: 6 steps
    assert r.exit_code == 0, r.stderr
    end = json.loads(r.stdout.strip().splitlines()[-1])
    assert end["step"] == 6 and options_of(tmp_path / "run")["kimg"] == 0.024
    r = train(image_dir, tmp_path / "run", "--resume", "--json")  # no length given: the checkpoint's, so done
    assert r.exit_code == 0 and json.loads(r.stdout.strip().splitlines()[-1])["step"] == 6
    r = train(image_dir, tmp_path / "run", "--resume", "--kimg", "0.04", "--json")  # the length may grow
    assert r.exit_code == 0 and json.loads(r.stdout.strip().splitlines()[-1])["step"] == 10


def test_channels_last_can_be_turned_off(image_dir: Path, tmp_path: Path) -> None:
    assert train(image_dir, tmp_path / "run", "--max-steps", "1", "--no-channels-last").exit_code == 0
    assert options_of(tmp_path / "run")["channels_last"] is False


STATS = {"loss_d": 1.0, "loss_g": 1.5, "d_x": 0.6, "d_g_z1": 0.4, "d_g_z2": 0.35}


def test_health_warns_once_when_d_overpowers_g() -> None:
    monitor = HealthMonitor(torch.randint(0, 256, (16, 3, 16, 16), dtype=torch.uint8))
    assert [w for step in range(1, 400) for w in monitor.observe(step, STATS)] == []  # healthy
    losing = {**STATS, "d_x": 0.99, "d_g_z2": 0.002, "loss_g": 9.0}
    warnings = [w for step in range(400, 700) for w in monitor.observe(step, losing)]
    assert len(warnings) == 1 and warnings[0]["check"] == "d_wins" and "--diffaugment" in warnings[0]["message"]


def test_health_warns_when_samples_collapse() -> None:
    real = torch.randint(0, 256, (32, 3, 16, 16), dtype=torch.uint8)
    monitor = HealthMonitor(real)
    assert monitor.observe_samples(500, real.float() / 127.5 - 1) == []  # real images are not collapsed
    same = torch.rand(1, 3, 16, 16).repeat(32, 1, 1, 1) * 2 - 1
    warnings = monitor.observe_samples(500, same + 0.01 * torch.randn_like(same))
    assert len(warnings) == 1 and warnings[0]["check"] == "collapse"


def test_a_frozen_generator_is_flagged_live(image_dir: Path, tmp_path: Path) -> None:
    r = train(image_dir, tmp_path / "run", "--max-steps", "320", "--lr-g", "1e-12", "--diffaugment", "none",
              "--json")
    assert r.exit_code == 0, r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines()]
    assert any(e["event"] == "warning" and e.get("check") == "d_wins" for e in events)
