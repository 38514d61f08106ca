from __future__ import annotations

import pytest
import torch
from torch import nn

from dcgan_cli.model import DCGANConfig, Discriminator, Generator, build_models

# The PyTorch DCGAN tutorial's networks (nz=100, ngf=ndf=64, nc=3), parameter names and shapes as its
# `netG.state_dict()` / `netD.state_dict()` list them (BatchNorm buffers left out).
TUTORIAL_G = {
    "main.0.weight": (100, 512, 4, 4), "main.1.weight": (512,), "main.1.bias": (512,),
    "main.3.weight": (512, 256, 4, 4), "main.4.weight": (256,), "main.4.bias": (256,),
    "main.6.weight": (256, 128, 4, 4), "main.7.weight": (128,), "main.7.bias": (128,),
    "main.9.weight": (128, 64, 4, 4), "main.10.weight": (64,), "main.10.bias": (64,),
    "main.12.weight": (64, 3, 4, 4),
}
TUTORIAL_D = {
    "main.0.weight": (64, 3, 4, 4),
    "main.2.weight": (128, 64, 4, 4), "main.3.weight": (128,), "main.3.bias": (128,),
    "main.5.weight": (256, 128, 4, 4), "main.6.weight": (256,), "main.6.bias": (256,),
    "main.8.weight": (512, 256, 4, 4), "main.9.weight": (512,), "main.9.bias": (512,),
    "main.11.weight": (1, 512, 4, 4),
}


def _parameters(module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_tutorial_layout_at_64() -> None:
    netg, netd = build_models(DCGANConfig(), seed=0)
    assert {k: tuple(v.shape) for k, v in netg.named_parameters()} == TUTORIAL_G
    assert {k: tuple(v.shape) for k, v in netd.named_parameters()} == TUTORIAL_D
    # the tutorial's layer order: ConvT, BN, ReLU ... ConvT, Tanh / Conv, LeakyReLU ... Conv (Sigmoid folded)
    assert [type(m).__name__ for m in netg.main][-2:] == ["ConvTranspose2d", "Tanh"]
    assert [type(m).__name__ for m in netd.main][:2] == ["Conv2d", "LeakyReLU"]
    convs = [m for m in [*netg.main, *netd.main] if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    assert len(convs) == 10 and all(m.bias is None for m in convs)
    assert _parameters(netg) == 3_576_704 and _parameters(netd) == 2_765_568


@pytest.mark.parametrize("size", [16, 32, 64, 128])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_follow_image_size(size: int, channels: int) -> None:
    cfg = DCGANConfig(nz=8, ngf=8, ndf=8, channels=channels, image_size=size)
    netg, netd = Generator(cfg), Discriminator(cfg)
    images = netg(torch.randn(2, 8, 1, 1))
    assert images.shape == (2, channels, size, size)
    assert images.min() >= -1 and images.max() <= 1
    assert netd(images).shape == (2,)


def test_init_is_the_papers_and_seeded() -> None:
    netg, _ = build_models(DCGANConfig(), seed=1)
    w = netg.main[3].weight
    assert abs(w.mean().item()) < 1e-3 and abs(w.std().item() - 0.02) < 1e-3
    gamma = netg.main[1].weight
    assert abs(gamma.mean().item() - 1) < 0.01 and abs(gamma.std().item() - 0.02) < 0.01
    assert torch.equal(netg.main[1].bias, torch.zeros(512))
    again, _ = build_models(DCGANConfig(), seed=1)
    other, _ = build_models(DCGANConfig(), seed=2)
    assert torch.equal(again.main[3].weight, w) and not torch.equal(other.main[3].weight, w)


@pytest.mark.parametrize("bad", [{"image_size": 48}, {"image_size": 8}, {"image_size": 512}, {"channels": 2},
                                 {"nz": 0}, {"ngf": -1}, {"ndf": 1.5}])
def test_config_rejects_bad_values(bad: dict) -> None:
    with pytest.raises(ValueError):
        DCGANConfig(**bad)


def test_config_round_trip_rejects_unknown_keys() -> None:
    cfg = DCGANConfig(nz=8, image_size=32)
    assert DCGANConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown"):
        DCGANConfig.from_dict({**cfg.to_dict(), "extra": 1})
