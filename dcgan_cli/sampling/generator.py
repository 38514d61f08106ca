"""Images from a trained generator: G loaded for inference, latents -> uint8 images, streamed in batches.

Every image's latent comes from its own CPU generator seeded with the image's seed, so image k never depends on
the batch it was computed in, on how many images were asked for, or on the device. G runs in eval mode by
default: BatchNorm then uses the running statistics saved in the checkpoint, so a sample is a pure function of
its seed (reproducible, and `--seeds 7` is exactly image 7 of `--seeds 0-63`). `batch_stats=True` puts G in
train mode instead, normalising with each batch's own statistics. That is how the PyTorch DCGAN tutorial shows
its samples (and often looks a little sharper early in training), but an image then depends on the other images
in its batch, so it is neither reproducible across batch sizes nor composable.

Byte equality between a batch of 1 and a batch of 256 is a property of the CPU kernels, which compute each
sample independently (tests check it on every run); on CUDA, cuDNN may pick other algorithms per batch size.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import torch

from dcgan_cli import checkpoint
from dcgan_cli.errors import CheckpointError, OptionError
from dcgan_cli.io.images import to_uint8
from dcgan_cli.model import DCGANConfig, Generator, fold_batchnorm
from dcgan_cli.sampling.latents import latents


def read_generator_header(path: Path) -> checkpoint.Header:
    """The header of a checkpoint file or of a Hugging Face-style folder (`dcgan export --format hf`)."""
    from dcgan_cli.interop import hf

    return hf.read_header(path) if hf.is_folder(path) else checkpoint.read_header(path)


def raw_generator_weights(path: Path, ema: bool = True
                          ) -> tuple[dict[str, torch.Tensor], DCGANConfig, checkpoint.Header]:
    """G's state dict (the tutorial's key names), config and header, from a checkpoint (the EMA G unless `ema` is
    False or there is none) or an hf folder; validated, finite. The header is read once."""
    from dcgan_cli.interop import hf

    if hf.is_folder(path):
        header = hf.read_header(path)
        try:
            config = DCGANConfig.from_dict(header.config)
        except (ValueError, TypeError) as e:
            raise CheckpointError(f"{path}: bad model config ({e})") from None
        with torch.device("meta"):
            expected = {k: tuple(v.shape) for k, v in Generator(config).state_dict().items()}
        return hf.load_weights(path, header, expected), config, header
    ckpt = checkpoint.load(path)
    assert ckpt.header is not None  # load() sets it
    config = DCGANConfig.from_dict(ckpt.config)  # load() already turned a bad config into CheckpointError
    return (ckpt.generator_ema if ema and ckpt.generator_ema is not None else ckpt.generator), config, ckpt.header


def load_generator(
    path: Path, device: torch.device | str = "cpu", batch_stats: bool = False, ema: bool = True
) -> tuple[Generator, DCGANConfig, checkpoint.Header]:
    """G from a checkpoint or hf folder (validated, finite), on `device`, in eval mode unless batch_stats.

    A checkpoint trained with --ema holds an averaged G too; it is used unless `ema` is False.
    """
    weights, config, header = raw_generator_weights(path, ema)
    with torch.device("meta"):  # no random init of weights that are replaced at once
        netg = Generator(config)
    try:
        netg.load_state_dict(weights, strict=True, assign=True)
    except RuntimeError as e:  # e.g. an extra G.* tensor the shape check lets through
        first = str(e).strip().splitlines()[-1].strip() if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path}: generator weights do not fit the model ({first})") from None
    device = torch.device(device)
    netg = netg.to(device)
    netg.train(batch_stats)
    if not batch_stats:
        netg = fold_batchnorm(netg)
    if device.type in ("cpu", "cuda"):  # NHWC: 1.4-2.4x faster transposed convs on CPU (measured)
        netg = netg.to(memory_format=torch.channels_last)
    for p in netg.parameters():
        p.requires_grad_(False)
    return netg, config, header


def check_batch_size(batch_size: int) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise OptionError("batch_size", f"must be a whole number of at least 1, got {batch_size!r}")


def render(netg: Generator, z: torch.Tensor) -> torch.Tensor:
    """Latents (N, nz) -> uint8 images (N, C, H, W) on the CPU."""
    device = next(netg.parameters()).device
    z = z.to(device).view(z.shape[0], -1, 1, 1)
    with torch.inference_mode():
        return to_uint8(netg(z))


def generate(
    netg: Generator, seeds: Sequence[int], *, batch_size: int = 256, truncation: float | None = None
) -> Iterator[tuple[list[int], torch.Tensor]]:
    """Yield (seeds, uint8 images) one batch at a time: memory holds one batch, whatever len(seeds) is."""
    check_batch_size(batch_size)
    nz = netg.config.nz
    for i in range(0, len(seeds), batch_size):
        chunk = list(seeds[i : i + batch_size])
        yield chunk, render(netg, latents(chunk, nz, truncation))


def render_all(netg: Generator, z: torch.Tensor, batch_size: int = 256) -> Iterator[tuple[int, torch.Tensor]]:
    """Render many latents (frames of a walk) in batches: yield (index of the first, uint8 images)."""
    check_batch_size(batch_size)
    for i in range(0, z.shape[0], batch_size):
        yield i, render(netg, z[i : i + batch_size])
