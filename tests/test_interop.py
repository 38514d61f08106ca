"""`dcgan export` (ONNX, torch.export, hf folder) and `dcgan import` of tutorial / pytorch/examples weights."""

from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import varied_checkpoint
from hostile import Evil, zipped_pickle
from torch import nn
from typer.testing import CliRunner

import dcgan_cli as dcgan
from dcgan_cli.cli.app import app

runner = CliRunner()
SEEDS = list(range(6))


@pytest.fixture
def ckpt(tmp_path: Path) -> Path:
    return varied_checkpoint(tmp_path / "g.safetensors")


def uint8(x: np.ndarray | torch.Tensor) -> np.ndarray:
    t = torch.as_tensor(x)
    return t.add(1).mul(127.5).round().clamp(0, 255).to(torch.uint8).numpy().astype(int)


def test_onnx_matches_the_generator(tmp_path: Path, ckpt: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    out = tmp_path / "g.onnx"
    result = runner.invoke(app, ["export", str(ckpt), "--format", "onnx", "-o", str(out), "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["opset"] == 18
    gen = dcgan.load(ckpt)
    z = gen.latents(SEEDS)
    session = ort.InferenceSession(str(out))
    assert [i.name for i in session.get_inputs()] == ["z"]
    for n in (1, 6):  # dynamic N
        got = session.run(None, {"z": z[:n].numpy()})[0]
        assert got.shape == (n, 3, 16, 16)
        assert np.abs(uint8(got) - gen.render(z[:n]).numpy().astype(int)).max() <= 1
    props = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert props["checkpoint_sha256"] == gen.sha256 and props["producer"].startswith("dcgan-cli")


def test_pt2_loads_and_matches(tmp_path: Path, ckpt: Path) -> None:
    out = tmp_path / "g.pt2"
    assert runner.invoke(app, ["export", str(ckpt), "--format", "pt2", "-o", str(out)]).exit_code == 0
    program = torch.export.load(str(out))
    gen = dcgan.load(ckpt)
    z = gen.latents(SEEDS)
    got = program.module()(z)
    assert np.abs(uint8(got) - gen.render(z).numpy().astype(int)).max() <= 1


def test_hf_folder_holds_three_files_and_the_grid_and_samples_alike(tmp_path: Path, ckpt: Path) -> None:
    out = tmp_path / "hf"
    result = runner.invoke(app, ["export", str(ckpt), "--format", "hf", "-o", str(out), "--license", "mit"])
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "config.json", "model.safetensors", "samples.png"]
    card = (out / "README.md").read_text()
    assert card.startswith("---\nlicense: mit\n") and "library_name: dcgan-cli" in card
    assert "abc123" in card and str(tmp_path) not in card  # fingerprint, never paths
    from safetensors.torch import load_file

    weights = load_file(out / "model.safetensors")
    assert "main.0.weight" in weights and not any(k.startswith(("G.", "D.")) for k in weights)
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    assert runner.invoke(app, ["sample", str(out), "--seeds", "0-7", "-o", str(a)]).exit_code == 0
    assert runner.invoke(app, ["sample", str(ckpt), "--seeds", "0-7", "-o", str(b)]).exit_code == 0
    assert a.read_bytes() == b.read_bytes()
    again = runner.invoke(app, ["export", str(ckpt), "--format", "hf", "-o", str(out)])
    assert again.exit_code == 2 and "--force" in again.stderr


def test_export_refusals(tmp_path: Path, ckpt: Path) -> None:
    bad = runner.invoke(app, ["export", str(ckpt), "--format", "onnx", "-o", str(tmp_path / "g.pt2")])
    assert bad.exit_code == 2 and ".onnx" in bad.stderr
    (tmp_path / "exists.onnx").write_bytes(b"x")
    again = runner.invoke(app, ["export", str(ckpt), "-o", str(tmp_path / "exists.onnx")])
    assert again.exit_code == 2 and "already exists" in again.stderr
    assert (tmp_path / "exists.onnx").read_bytes() == b"x"


class TutorialGenerator(nn.Module):
    """The PyTorch DCGAN tutorial's Generator, as its page writes it (nz 100, ngf 64, nc 3)."""

    def __init__(self, nz: int = 100, ngf: int = 64, nc: int = 3) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


class TutorialDiscriminator(nn.Module):
    def __init__(self, ndf: int = 64, nc: int = 3) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 8), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


@pytest.fixture
def tutorial_weights(tmp_path: Path) -> tuple[Path, Path, TutorialGenerator]:
    torch.manual_seed(0)
    netg, netd = TutorialGenerator(nz=20, ngf=8), TutorialDiscriminator(ndf=8)
    netg.train()
    with torch.no_grad():  # a few train-mode passes: running statistics that are not the init's
        for _ in range(3):
            netg(torch.randn(8, 20, 1, 1))
    torch.save(netg.state_dict(), tmp_path / "netG_epoch_4.pth")
    torch.save({f"module.{k}": v for k, v in netd.state_dict().items()}, tmp_path / "netD_epoch_4.pth")
    return tmp_path / "netG_epoch_4.pth", tmp_path / "netD_epoch_4.pth", netg.eval()


def test_import_gives_identical_weights_and_images(tmp_path: Path, tutorial_weights) -> None:
    g_path, d_path, netg = tutorial_weights
    out = tmp_path / "imported.safetensors"
    result = runner.invoke(app, ["import", str(g_path), "--netd", str(d_path), "-o", str(out), "--json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["config"] == {**doc["config"], "nz": 20, "ngf": 8, "ndf": 8, "channels": 3, "image_size": 64}
    assert doc["discriminator"] is True
    from dcgan_cli import checkpoint

    loaded = checkpoint.load(out, discriminator=True)
    for k, v in netg.state_dict().items():
        assert torch.equal(loaded.generator[k], v)
    gen = dcgan.load(out, batch_stats=False)
    z = gen.latents(SEEDS)
    with torch.no_grad():
        expected = netg(z.view(-1, 20, 1, 1))
    assert np.abs(uint8(expected) - gen.render(z).numpy().astype(int)).max() <= 1
    assert runner.invoke(app, ["inspect", str(out)]).exit_code == 0


def test_train_resumes_from_imported_weights_with_fresh_adam(tmp_path: Path, tutorial_weights) -> None:
    from conftest import make_images

    from dcgan_cli import checkpoint

    g_path, d_path, _ = tutorial_weights
    run, data = tmp_path / "run", make_images(tmp_path / "data", 8, size=64)
    run.mkdir()
    args = ["train", str(data), "--out", str(run), "--resume", "--batch-size", "4", "--workers", "0", "--no-cache"]
    assert runner.invoke(app, ["import", str(g_path), "-o", str(run / "last.safetensors")]).exit_code == 0
    g_only = runner.invoke(app, [*args, "--max-steps", "2"])
    assert g_only.exit_code == 4 and "import again with --netd NETD.pth" in g_only.stderr, g_only.stderr
    assert runner.invoke(app, ["import", str(g_path), "--netd", str(d_path), "-o", str(run / "last.safetensors"),
                               "--force"]).exit_code == 0
    info = json.loads(runner.invoke(app, ["inspect", str(run / "last.safetensors"), "--json"]).stdout)
    assert info["can_resume"] is True and info["imported"] is True
    other = runner.invoke(app, [*args, "--max-steps", "2", "--ngf", "16"])
    assert other.exit_code == 2 and "--ngf 16 (checkpoint: 8)" in other.stderr, other.stderr
    imported = checkpoint.load(run / "last.safetensors", for_resume=True)
    r = runner.invoke(app, [*args, "--max-steps", "2", "--lr", "0.0001"])  # no recipe to keep: options apply
    assert r.exit_code == 0, r.stderr
    assert "continuing from imported weights: Adam states and random streams start fresh" in r.stderr
    trained = checkpoint.load(run / "last.safetensors", for_resume=True)
    assert trained.progress["step"] == 2 and trained.opt_g is not None and trained.options["lr_g"] == 1e-4
    assert trained.options["preset"] == "tutorial" and not trained.options.get("imported")
    assert trained.discriminator is not None and imported.discriminator is not None
    # two Adam steps of 1e-4 from the imported weights, not from a fresh initialisation (N(0, 0.02))
    moved = max((trained.discriminator[k] - v).abs().max().item() for k, v in imported.discriminator.items()
                if v.is_floating_point() and k.endswith("weight"))
    assert 0 < moved < 1e-3
    again = runner.invoke(app, [*args, "--max-steps", "3"])  # now a run of ours: a plain, bit-exact resume
    assert again.exit_code == 0 and "imported" not in again.stderr, again.stderr


def hostile_pth(kind: str, tmp_path: Path, pwned: Path, good: bytes) -> bytes:
    if kind == "payload":
        return pickle.dumps({"main.0.weight": Evil(pwned)})
    if kind == "zip payload":
        return zipped_pickle(pwned)
    if kind == "zip bomb":
        bomb = tmp_path / "bomb.zip"
        with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as z:
            z.writestr("archive/data/0", b"\0" * (64 << 20))
        return bomb.read_bytes()
    if kind == "another network":
        buf = tmp_path / "other.pth"
        torch.save(nn.Linear(3, 4).state_dict(), buf)
        return buf.read_bytes()
    if kind == "truncated":
        return good[: len(good) // 2]
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["payload", "zip payload", "zip bomb", "another network", "truncated"])
def test_hostile_pth_files_are_refused_without_running(tmp_path: Path, tutorial_weights, kind: str) -> None:
    g_path = tutorial_weights[0]
    pwned = tmp_path / "PWNED"
    bad = tmp_path / "bad.pth"
    bad.write_bytes(hostile_pth(kind, tmp_path, pwned, g_path.read_bytes()))
    result = runner.invoke(app, ["import", str(bad), "-o", str(tmp_path / "x.safetensors")])
    assert result.exit_code == 4, (kind, result.stderr)
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not pwned.exists() and not (tmp_path / "x.safetensors").exists()


def test_import_of_a_mismatched_discriminator(tmp_path: Path, tutorial_weights) -> None:
    g_path = tutorial_weights[0]
    torch.save(TutorialDiscriminator(ndf=8, nc=1).state_dict(), tmp_path / "gray_d.pth")
    result = runner.invoke(app, ["import", str(g_path), "--netd", str(tmp_path / "gray_d.pth"), "-o",
                                 str(tmp_path / "x.safetensors")])
    assert result.exit_code == 4 and "discriminator" in result.stderr


def test_missing_onnx_extra_is_exit_2_with_the_install_command(tmp_path: Path, ckpt: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` now raises ImportError, as without the extra
    result = runner.invoke(app, ["export", str(ckpt), "-o", str(tmp_path / "g.onnx")])
    assert result.exit_code == 2 and "pip install 'dcgan-cli[onnx]'" in result.stderr
    assert not (tmp_path / "g.onnx").exists()
