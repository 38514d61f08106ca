"""The public Python API: the README's example runs as written, names load lazily, and the library checks its own
options (every refused value fails before anything is written, with the field named)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import dcgan_cli as dcgan
from tests.conftest import REPO, make_images


def readme_python_example() -> str:
    text = (REPO / "README.md").read_text()
    section = text.split("## Python API", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.slow
def test_readme_python_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "examples").mkdir()
    shutil.copytree(REPO / "examples" / "fashion-mnist", tmp_path / "examples" / "fashion-mnist")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(readme_python_example(), "README.md", "exec"), namespace)  # noqa: S102 - our own README
    images, same, walk = namespace["images"], namespace["same"], namespace["walk"]
    assert len(images) == 16 and len(walk) == 9
    assert same[0].tobytes() == images[3].tobytes() and walk[0].tobytes() == images[3].tobytes()
    assert (tmp_path / "seed3.png").is_file() and (tmp_path / "grid.png").is_file()
    assert namespace["end"]["step"] == 30 and namespace["scores"]["swd"]["mean"] > 0


def test_import_is_torch_free_and_names_are_lazy() -> None:
    code = ("import sys, dcgan_cli as d\n"
            "assert 'torch' not in sys.modules\n"
            "o = d.TrainOptions(data='x', loss='hinge')\n"
            "assert 'torch' not in sys.modules, 'TrainOptions needs no torch'\n"
            "d.load\n"
            "assert 'torch' in sys.modules\n"
            "print(sorted(n for n in d.__all__ if not hasattr(d, n)))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"  # every advertised name resolves


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        dcgan.nope  # noqa: B018


# (field, bad value, fragment of the problem): one for every check TrainOptions makes
BAD_OPTIONS = [
    ("loss", "wgan", "must be bce or hinge"),
    ("lr", 0.0, "above 0"),
    ("lr", float("nan"), "above 0"),
    ("beta1", 1.0, "below 1"),
    ("label_smoothing", 0.5, "below 0.5"),
    ("ema", 1.0, "below 1"),
    ("ema", -0.1, "at least 0"),
    ("preset", "fast", "must be one of tutorial, default"),
    ("kimg", 0, "above 0"),
    ("lr_d", -1.0, "above 0"),
    ("lr_g", 0, "above 0"),
    ("beta2", 1.0, "below 1"),
    ("mirror", "yes", "True, False or None"),
    ("channels_last", 1, "True, False or None"),
    ("image_size", 48, "power of two"),
    ("image_size", 512, "power of two"),
    ("channels", 2, "must be 1, 3"),
    ("batch_size", 0, "at least 1"),
    ("epochs", 0, "at least 1"),
    ("max_steps", -1, "at least 1"),
    ("nz", 0, "at least 1"),
    ("ngf", 1.5, "whole number"),
    ("seed", -1, "from 0"),
    ("seed", 2**32, "from 0"),
    ("workers", -1, "at least 0"),
    ("sample_every", 0, "at least 1"),
    ("save_every", 0, "at least 1"),
    ("log_every", 0, "at least 1"),
    ("keep", 0, "at least 1"),
    ("max_pixels", 0, "at least 1"),
    ("eval_every", 0, "at least 1"),
    ("eval_n", 4, "from 8"),
    ("eval_metrics", "fid", "unknown metric"),
    ("diffaugment", "color,blur", "unknown DiffAugment policy"),
    ("max_time", "soon", "positive duration"),
    ("max_time", 0, "positive duration"),
    ("device", "tpu", "unknown device"),
    ("spectral_norm", "yes", "True, False or None"),
    ("mbstd", 1, "True, False or None"),
    ("r1", -1, "at least 0"),
    ("r1_target", 1.0, "below 1"),
    ("top_k", 0, "above 0"),
    ("top_k", 1.5, "at most 1"),
    ("augment_p", 0, "above 0"),
    ("augment_p", True, "a number"),
    ("resume", 1, "True or False"),
]


@pytest.mark.parametrize(("field", "value", "fragment"), BAD_OPTIONS, ids=[f"{f}={v!r}" for f, v, _ in BAD_OPTIONS])
def test_every_bad_option_fails_in_the_library_naming_its_field(tmp_path: Path, field: str, value: object,
                                                                fragment: str) -> None:
    data = make_images(tmp_path / "images", 4)
    with pytest.raises(dcgan.OptionError) as caught:
        dcgan.TrainOptions(data=data, out=tmp_path / "run", **{field: value})
    assert caught.value.field == field and fragment in caught.value.problem
    assert "--" not in str(caught.value)  # library messages name fields, not flags
    assert not (tmp_path / "run").exists()


def test_options_changed_after_creation_are_checked_again_before_anything_is_written(tmp_path: Path) -> None:
    opts = dcgan.TrainOptions(data=make_images(tmp_path / "images", 4), out=tmp_path / "run")
    opts.loss = "wgan"  # a dataclass can be changed after it was checked
    with pytest.raises(dcgan.OptionError, match="loss"):
        dcgan.train(opts)
    assert not (tmp_path / "run").exists()


def test_combinations_and_normalised_forms(tmp_path: Path) -> None:
    with pytest.raises(dcgan.OptionError, match="eval_every"):
        dcgan.TrainOptions(data="x", eval_n=100)
    with pytest.raises(dcgan.OptionError, match="resume"):
        dcgan.TrainOptions(data="x", dry_run=True, resume=True)
    opts = dcgan.TrainOptions(data="x", max_time="1h30m", diffaugment=["color", "cutout"], eval_every=5,
                              eval_metrics=["swd", "kid"])
    assert opts.max_time == 5400.0 and opts.diffaugment == "color,cutout" and opts.eval_metrics == ("swd", "kid")
    assert isinstance(opts.data, Path) and opts.run_dir == Path("runs") / "x"


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("90s", 90), ("20m", 1200), ("1.5h", 5400),
                                               ("1h30m", 5400), ("1h 30m 10s", 5410)])
def test_durations(text: str, seconds: float) -> None:
    from dcgan_cli.training.options import parse_duration

    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "m", "1h1h", "30m1h2", "-5m", "inf", "1d"])
def test_bad_durations(text: str) -> None:
    from dcgan_cli.training.options import parse_duration

    with pytest.raises(dcgan.OptionError):
        parse_duration(text)


def test_generator_handle_checks_its_inputs(tmp_path: Path) -> None:
    import torch

    from tests.conftest import tiny_checkpoint

    g = dcgan.load(tiny_checkpoint(tmp_path / "c.safetensors"), device="cpu")
    assert g.config.nz == 8 and g.latents([1, 2]).shape == (2, 8)
    for call, field in [(lambda: g.latents([-1]), "seeds"), (lambda: g.sample([1], truncation=0.01), "truncation"),
                        (lambda: g.from_latents(torch.zeros(2, 7)), "z"),
                        (lambda: g.interpolate([1]), "keys"), (lambda: g.interpolate([1, 2], mode="cubic"), "mode"),
                        (lambda: g.write_samples([1], tmp_path / "x.jpg"), "output"),
                        (lambda: g.render(torch.zeros(1, 8), batch_size=0), "batch_size")]:
        with pytest.raises(dcgan.OptionError) as caught:
            call()
        assert caught.value.field == field
    assert not (tmp_path / "x.jpg").exists()


def test_library_and_cli_show_the_same_sample(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from dcgan_cli.cli.app import app
    from tests.conftest import tiny_checkpoint

    ckpt = tiny_checkpoint(tmp_path / "c.safetensors")
    result = CliRunner().invoke(app, ["sample", str(ckpt), "--seeds", "5", "-o", str(tmp_path / "cli.png")])
    assert result.exit_code == 0, result.stderr
    from PIL import Image

    with Image.open(tmp_path / "cli.png") as im:
        assert dcgan.load(ckpt).sample([5])[0].tobytes() == im.convert(im.mode).tobytes()


def test_newest_run_is_found_and_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import tiny_checkpoint

    monkeypatch.chdir(tmp_path)
    with pytest.raises(dcgan.UsageError, match="no run under runs"):
        dcgan.load()
    for name in ("old", "new"):
        (tmp_path / "runs" / name).mkdir(parents=True)
        tiny_checkpoint(tmp_path / "runs" / name / "last.safetensors")
    os.utime(tmp_path / "runs" / "old" / "last.safetensors", (1, 1))
    assert dcgan.load().path == Path("runs/new/last.safetensors")
