"""The hand-written PNG encoder and the grid layout: Pillow must read back exactly the pixels given."""

from __future__ import annotations

import io

import pytest
import torch
from PIL import Image

from dcgan_cli.io.images import encode_pngs, grid, tensor_png


@pytest.mark.parametrize("channels", [1, 3])
def test_pngs_round_trip_through_pillow(channels: int) -> None:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (5, channels, 7, 9), dtype=torch.uint8, generator=g)
    for original, data in zip(images, encode_pngs(images)):
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            assert im.mode == ("L" if channels == 1 else "RGB") and im.size == (9, 7)
            back = torch.frombuffer(bytearray(im.tobytes()), dtype=torch.uint8).view(7, 9, channels)
        assert torch.equal(back.permute(2, 0, 1), original)


def test_an_image_has_the_same_bytes_alone_and_in_a_batch() -> None:
    images = torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8)
    assert encode_pngs(images)[2] == tensor_png(images[2])
    assert encode_pngs(images)[2] != tensor_png(images[1])


def test_grid_layout_and_single_image() -> None:
    images = torch.arange(6, dtype=torch.uint8).view(6, 1, 1, 1).expand(6, 1, 2, 2).contiguous()
    out = grid(images, nrow=4, padding=1)
    assert out.shape == (1, 2 * 3 + 1, 4 * 3 + 1)
    assert out[0, 1, 1] == 0 and out[0, 1, 4] == 1 and out[0, 4, 1] == 4 and out[0, 4, 4] == 5
    assert torch.equal(grid(images[:1], padding=2), images[0])  # a grid of one is the image itself
