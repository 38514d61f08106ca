"""Shared fixtures: tiny generated image folders and an isolated environment for every test.

Nothing is downloaded and nothing from the repo's examples is used: every image is made here.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PIL import Image

if TYPE_CHECKING:
    import torch

REPO = Path(__file__).resolve().parent.parent
TINY = ["--image-size", "16", "--ngf", "8", "--ndf", "8", "--nz", "8", "--batch-size", "4", "--workers", "0"]


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DCGAN_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("DCGAN_FAULT", raising=False)


def make_images(folder: Path, count: int, size: int = 16, seed: int = 0) -> Path:
    """`count` random RGB PNGs, half in a subfolder (the scan is recursive), half at the top."""
    rng = random.Random(seed)
    (folder / "sub").mkdir(parents=True, exist_ok=True)
    for i in range(count):
        pixels = bytes(rng.randrange(256) for _ in range(size * size * 3))
        target = folder / "sub" if i % 2 else folder
        Image.frombytes("RGB", (size, size), pixels).save(target / f"img_{i:03d}.png")
    return folder


@pytest.fixture
def image_dir(tmp_path: Path) -> Path:
    return make_images(tmp_path / "images", 12)


def tiny_checkpoint(path: Path, resumable: bool = True) -> Path:
    """A 16x16 checkpoint after one real optimizer step (non-trivial BatchNorm running stats), made directly."""
    import torch

    from dcgan_cli import checkpoint
    from dcgan_cli.model import DCGANConfig, build_models

    config = DCGANConfig(nz=8, ngf=8, ndf=8, channels=3, image_size=16)
    netg, netd = build_models(config, seed=0)
    opt_g, opt_d = (torch.optim.Adam(m.parameters(), lr=2e-4, betas=(0.5, 0.999)) for m in (netg, netd))
    z = torch.randn(4, 8, 1, 1, generator=torch.Generator().manual_seed(1))
    netd(netg(z)).mean().backward()
    opt_g.step()
    opt_d.step()
    ckpt = checkpoint.Checkpoint(
        config=config.to_dict(), generator=netg.state_dict(), progress={"step": 2, "epoch": 0, "position": 2},
        options={"batch_size": 4, "lr": 2e-4, "seed": 0}, dataset={"fingerprint": "abc123", "images": 8},
    )
    if resumable:
        ckpt.discriminator, ckpt.opt_g, ckpt.opt_d = netd.state_dict(), opt_g.state_dict(), opt_d.state_dict()
        ckpt.rng, ckpt.fixed_noise = {"noise": torch.Generator().get_state()}, z
    checkpoint.save(path, ckpt)
    return path


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """`python -m dcgan_cli ...` in a child: for signals, kills and anything that must be a real process."""
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "dcgan_cli", *args], capture_output=True, env=full_env,
                          timeout=timeout, cwd=REPO)


def state_tensors(path: Path) -> dict[str, torch.Tensor]:
    """Weights, their EMA and the optimizer moments: what must be identical for two runs to be the same run."""
    from safetensors.torch import load_file

    return {k: v for k, v in load_file(path).items() if k.startswith(("G.", "G_ema.", "D.", "optG.", "optD."))}


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    import torch

    return bool(a) and a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def varied_checkpoint(path: Path, seed: int = 0, nz: int = 8, discriminator: bool = True) -> Path:
    """A 16x16 checkpoint whose G's images differ clearly from latent to latent (a fresh G at the paper's init
    paints nearly the same grey for every z): the transposed-conv weights are scaled up 4x."""
    import torch

    from dcgan_cli import checkpoint
    from dcgan_cli.model import DCGANConfig, build_models

    config = DCGANConfig(nz=nz, ngf=8, ndf=8, channels=3, image_size=16)
    netg, netd = build_models(config, seed=seed)
    with torch.no_grad():
        for m in netg.modules():
            if isinstance(m, torch.nn.ConvTranspose2d):
                m.weight.mul_(4.0)
    ckpt = checkpoint.Checkpoint(
        config=config.to_dict(), generator=netg.state_dict(), progress={"step": 1, "epoch": 0, "position": 1},
        options={"batch_size": 4, "seed": seed}, dataset={"fingerprint": "abc123", "images": 8},
        discriminator=netd.state_dict() if discriminator else None)
    checkpoint.save(path, ckpt)
    return path
