"""The pictures to project, decoded exactly as training decodes its folder (size, channels, alpha on white,
EXIF orientation, the pixel limit), so a training image comes back as the tensor G was trained against."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image

from dcgan_cli.data.decode import SkippedImage, decode_image, fit
from dcgan_cli.errors import DataError, OptionError

MAX_IMAGES = 10_000


def load_targets(images: Sequence[str | Path | Image.Image], size: int,
                 channels: int) -> tuple[torch.Tensor, list[str]]:
    """uint8 (N, channels, size, size) and a name for each image (its path, or 'image <k>' for PIL images)."""
    if isinstance(images, (str, Path, Image.Image)):
        images = [images]
    if not images:
        raise OptionError("images", "needs at least one image")
    if len(images) > MAX_IMAGES:
        raise OptionError("images", f"at most {MAX_IMAGES} images per call, got {len(images)}")
    out: list[torch.Tensor] = []
    names: list[str] = []
    for k, item in enumerate(images):
        if isinstance(item, Image.Image):
            try:
                im = fit(item, size, channels)
            except SkippedImage as e:
                raise DataError(f"image {k}: {e}") from None
            data, mode, name = im.tobytes(), im.mode, f"image {k}"
        elif isinstance(item, (str, Path)):
            if Path(item).is_dir():
                raise DataError(f"{item}: is a folder; name the image files (e.g. {item}/*.png)")
            try:
                decoded = decode_image(item, size, channels)
            except SkippedImage as e:
                raise DataError(f"{item}: {e}") from None
            data, mode, name = decoded.data, decoded.mode, str(item)
        else:
            raise OptionError("images", f"an image is a file path or a PIL image, got {type(item).__name__}")
        depth = 1 if mode == "L" else 3
        pixels = torch.frombuffer(bytearray(data), dtype=torch.uint8).view(size, size, depth)
        out.append(pixels.permute(2, 0, 1).contiguous())
        names.append(name)
    return torch.stack(out), names
