"""The DCGAN of Radford et al. (2016), laid out exactly as the PyTorch tutorial at 64x64.

Both networks are `nn.Sequential` named `main`, so at image_size=64 the state-dict keys and shapes are the
tutorial's (`main.0.weight` ... `main.12.weight`). Other sizes add or remove stride-2 blocks; channel widths
stop growing at 8x ngf/ndf so that 128 and 256 stay trainable (at 64 the cap is exactly the tutorial's 8x).
D returns logits: the tutorial's final Sigmoid is folded into BCE-with-logits, which is the same function
computed without the log(0) hazard. Its absence changes no parameter, so the key layout is untouched.

`spectral_norm=True` (opt-in, Miyato et al. 2018) divides each of D's conv weights by its largest singular value
and drops D's BatchNorm, as SN-GAN's discriminator does: BN rescales by batch statistics after the conv and
would undo the Lipschitz bound SN sets. BN becomes Identity, so every conv keeps its index in `main`.

`mbstd=True` (opt-in, ProGAN's minibatch standard deviation, Karras et al. 2018) appends to D's last 4x4 features
one channel: how much the images of a small group differ from each other. A G that makes the same picture for
every z then stands out to D at once, so it is pushed back towards variety. The layer has no parameters; D's last
conv takes one input channel more and moves up one index in `main`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, cast

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from dcgan_cli.config import MAX_WIDTH_MULT, DCGANConfig

if TYPE_CHECKING:
    from torch.nn.utils.parametrizations import _SpectralNorm


def _widths(config: DCGANConfig) -> list[int]:
    """Width multipliers of the hidden layers from the 4x4 end outwards: [8, 4, 2, 1] at 64x64."""
    hidden = config.upsamplings
    return [min(MAX_WIDTH_MULT, 2 ** (hidden - 1 - i)) for i in range(hidden)]


class Generator(nn.Module):
    """z (N, nz, 1, 1) -> image (N, channels, S, S) in [-1, 1]."""

    def __init__(self, config: DCGANConfig) -> None:
        super().__init__()
        self.config = config
        mults = _widths(config)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(config.nz, config.ngf * mults[0], 4, 1, 0, bias=False),
            nn.BatchNorm2d(config.ngf * mults[0]),
            nn.ReLU(True),
        ]
        for m_in, m_out in zip(mults, mults[1:]):
            layers += [
                nn.ConvTranspose2d(config.ngf * m_in, config.ngf * m_out, 4, 2, 1, bias=False),
                nn.BatchNorm2d(config.ngf * m_out),
                nn.ReLU(True),
            ]
        layers += [nn.ConvTranspose2d(config.ngf * mults[-1], config.channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z)


class MinibatchStd(nn.Module):
    """(N, C, H, W) -> (N, C + 1, H, W): the extra channel is the standard deviation across a group of up to
    `group` images, averaged over features and positions, the same for every image of the group."""

    def __init__(self, group: int = 4) -> None:
        super().__init__()
        self.group = group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        g = math.gcd(self.group, n)  # groups of g images i, i + n/g, ... (StyleGAN's grouping); any batch size
        y = x.float().reshape(g, n // g, *x.shape[1:])
        std = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # (n/g,): one per group
        extra = std.to(x.dtype).view(1, n // g, 1, 1, 1).expand(g, -1, 1, h, w).reshape(n, 1, h, w)
        return torch.cat([x, extra], dim=1)


class Discriminator(nn.Module):
    """image (N, channels, S, S) -> one logit per image, shape (N,)."""

    def __init__(self, config: DCGANConfig) -> None:
        super().__init__()
        self.config = config
        mults = list(reversed(_widths(config)))  # [1, 2, 4, 8] at 64x64
        layers: list[nn.Module] = [
            nn.Conv2d(config.channels, config.ndf * mults[0], 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        for m_in, m_out in zip(mults, mults[1:]):
            layers += [
                nn.Conv2d(config.ndf * m_in, config.ndf * m_out, 4, 2, 1, bias=False),
                nn.Identity() if config.spectral_norm else nn.BatchNorm2d(config.ndf * m_out),
                nn.LeakyReLU(0.2, inplace=True),
            ]
        if config.mbstd:
            layers.append(MinibatchStd())
        layers.append(nn.Conv2d(config.ndf * mults[-1] + int(config.mbstd), 1, 4, 1, 0, bias=False))
        if config.spectral_norm:
            layers = [_spectral_norm(m) if isinstance(m, nn.Conv2d) else m for m in layers]
        self.main = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.main(image).view(-1)


def init_weights(module: nn.Module, generator: torch.Generator | None = None) -> None:
    """The paper's init: conv weights N(0, 0.02), BatchNorm gamma N(1, 0.02) and beta 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d) and parametrize.is_parametrized(m, "weight"):
            _init_spectral_norm(m, generator)
        elif isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02, generator=generator)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02, generator=generator)
            nn.init.zeros_(m.bias)


@torch.no_grad()
def _init_spectral_norm(conv: nn.Conv2d, generator: torch.Generator | None) -> None:
    """N(0, 0.02) weights and power-iteration vectors from `generator`, so seeded runs stay reproducible.

    spectral_norm() drew u and v from the global RNG when it wrapped the conv; they are redrawn here and
    iterated 15 times on the new weights (what spectral_norm does at wrap time) so step 1 starts with a good
    estimate of the largest singular value.
    """
    # conv.parametrizations.weight, spelled so that mypy sees the types __getattr__ hides
    weights = cast(parametrize.ParametrizationList, conv.get_submodule("parametrizations.weight"))
    sn = cast("_SpectralNorm", weights[0])
    weight = weights.original
    nn.init.normal_(weight, 0.0, 0.02, generator=generator)
    for vec in (sn.get_buffer("_u"), sn.get_buffer("_v")):
        vec.copy_(nn.functional.normalize(torch.randn(vec.shape, generator=generator), dim=0, eps=sn.eps))
    sn._power_method(sn._reshape_weight_to_matrix(weight), 15)


def build_models(config: DCGANConfig, seed: int | None = None) -> tuple[Generator, Discriminator]:
    """Fresh G and D; with a seed, the same weights on every machine and run."""
    netg, netd = Generator(config), Discriminator(config)
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    init_weights(netg, gen)
    init_weights(netd, gen)
    return netg, netd


@torch.no_grad()
def fold_batchnorm(netg: Generator) -> Generator:
    """An inference copy of G with each eval-mode BatchNorm folded into the transposed conv before it.

    BN with running statistics is an affine map per channel, so it can live in the conv's weights and a bias:
    one memory pass fewer per block, ~15% faster sampling on a CPU. Mathematically the same function; in float32
    about one pixel in a million lands one uint8 level away from the unfolded network.
    """
    layers, i = list(netg.main), 0
    out: list[nn.Module] = []
    while i < len(layers):
        conv = layers[i]
        bn = layers[i + 1] if i + 1 < len(layers) else None
        if isinstance(conv, nn.ConvTranspose2d) and isinstance(bn, nn.BatchNorm2d):
            assert bn.running_var is not None and bn.running_mean is not None
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            # a 2-d transposed conv's kernel_size, stride and padding are pairs (it has no string padding modes)
            fused = nn.ConvTranspose2d(conv.in_channels, conv.out_channels, cast("tuple[int, int]", conv.kernel_size),
                                       cast("tuple[int, int]", conv.stride), cast("tuple[int, int]", conv.padding),
                                       bias=True, device=conv.weight.device)
            assert fused.bias is not None  # bias=True
            fused.weight.copy_(conv.weight * scale.view(1, -1, 1, 1))
            fused.bias.copy_(bn.bias - bn.running_mean * scale)
            out.append(fused)
            i += 2
        else:
            out.append(conv)
            i += 1
    folded = Generator.__new__(Generator)
    nn.Module.__init__(folded)
    folded.config, folded.main = netg.config, nn.Sequential(*out)
    return folded.eval()
