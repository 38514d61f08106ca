"""The perceptual half of the projection loss: distances between images in the checkpoint's own discriminator.

D was trained to tell this data set's images apart from G's, so its intermediate activations describe exactly the
structure that matters here, and they come with the checkpoint: nothing is downloaded (stylegan2-ada's projector
fetches VGG16). Each LeakyReLU output is normalised per position across channels (as LPIPS does) so every layer
counts alike whatever its scale; the distance is the mean squared difference, averaged over layers.
"""

from __future__ import annotations

import torch
from torch import nn

from dcgan_cli import checkpoint
from dcgan_cli.config import DCGANConfig
from dcgan_cli.model import Discriminator


def load_discriminator(ckpt: checkpoint.Checkpoint, config: DCGANConfig,
                       device: torch.device) -> Discriminator | None:
    """D of a checkpoint in eval mode (BatchNorm's running statistics), frozen; None when it holds no D."""
    if not ckpt.discriminator:
        return None
    with torch.device("meta"):
        netd = Discriminator(config)
    netd.load_state_dict(ckpt.discriminator, strict=True, assign=True)
    netd = netd.to(device).eval()
    for p in netd.parameters():
        p.requires_grad_(False)
    return netd


class DFeatures(nn.Module):
    """Image batch in [-1, 1] -> the list of D's hidden activations (after each LeakyReLU)."""

    def __init__(self, netd: Discriminator) -> None:
        super().__init__()
        self.layers = netd.main

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        out: list[torch.Tensor] = []
        x = images
        for layer in self.layers:
            if isinstance(layer, nn.LeakyReLU):
                x = nn.functional.leaky_relu(x, layer.negative_slope)  # not in place: x is kept
                out.append(x)
            else:
                x = layer(x)
        return out


def normalise(features: list[torch.Tensor]) -> list[torch.Tensor]:
    return [f / (f.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-8) for f in features]


def distance(a: list[torch.Tensor], b: list[torch.Tensor]) -> torch.Tensor:
    """Per-image distance (N,) between two normalised feature lists (b may hold one entry per image of a, or be
    broadcast)."""
    return torch.stack([(x - y).pow(2).sum(dim=1).mean(dim=(1, 2)) for x, y in zip(a, b)]).mean(dim=0)
