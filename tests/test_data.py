"""Image discovery, decoding, the dataset cache and batch helpers (plan section 4.A). All inputs are made here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageFile

from dcgan_cli.data import decode as decode_mod
from dcgan_cli.data.batches import epoch_permutation, to_model_input
from dcgan_cli.data.dataset import CACHE_UNREADABLE, load_images
from dcgan_cli.data.decode import ANIMATED_WARNING, SkippedImage, decode_image, decode_many
from dcgan_cli.data.scan import scan_folder
from dcgan_cli.errors import DataError, UsageError
from dcgan_cli.io.text import printable

WHITE = (255, 255, 255)


def save(folder: Path, name: str, im: Image.Image, **params: object) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, **params)
    return path


def gray16(mode: str, value: int) -> Image.Image:
    order = "big" if mode.endswith("B") else "little"
    return Image.frombytes(mode, (8, 8), value.to_bytes(2, order) * 64)


def skip_reason(path: Path, **kwargs: object) -> str:
    with pytest.raises(SkippedImage) as info:
        decode_image(path, 4, **kwargs)  # type: ignore[arg-type]
    return info.value.reason


# (image, file name, channels, expected mode, expected pixel): uniform 8x8 sources, so 4x4 output is exact.
MODE_CASES = [
    (Image.new("1", (8, 8), 1), "one.png", None, "L", (255,)),
    (Image.new("1", (8, 8), 0), "zero.png", 3, "RGB", (0, 0, 0)),
    (Image.new("L", (8, 8), 77), "l.png", None, "L", (77,)),
    (Image.new("L", (8, 8), 77), "l3.png", 3, "RGB", (77, 77, 77)),
    (Image.new("LA", (8, 8), (77, 255)), "la_opaque.png", None, "L", (77,)),
    (Image.new("LA", (8, 8), (77, 0)), "la_clear.png", None, "L", (255,)),
    (Image.new("RGB", (8, 8), (10, 20, 30)), "rgb.png", None, "RGB", (10, 20, 30)),
    (Image.new("RGB", (8, 8), (10, 20, 30)), "rgb1.png", 1, "L", (18,)),  # ITU-R 601 luma
    (Image.new("RGB", (8, 8), (90, 90, 90)), "rgb_gray.png", None, "L", (90,)),
    (Image.new("RGBA", (8, 8), (255, 0, 0, 0)), "rgba_clear.png", None, "L", (255,)),
    (Image.new("RGBA", (8, 8), (255, 0, 0, 0)), "rgba_clear3.png", 3, "RGB", WHITE),
    (Image.new("RGBA", (8, 8), (255, 0, 0, 255)), "rgba_red.png", None, "RGB", (255, 0, 0)),
    (Image.new("CMYK", (8, 8), (0, 255, 255, 0)), "cmyk.tif", None, "RGB", (255, 0, 0)),
    (gray16("I;16", 65535), "i16_max.png", None, "L", (255,)),
    (gray16("I;16", 1000), "i16_1000.png", None, "L", (4,)),  # scaled (1000 / 257), not clipped to 255
    (gray16("I;16", 1000), "i16_1000.tif", 3, "RGB", (4, 4, 4)),
    (gray16("I;16B", 65535), "i16b.tif", None, "L", (255,)),
    (Image.new("I", (8, 8), 32896), "i32.tif", None, "L", (128,)),
    (Image.new("F", (8, 8), 0.5), "f_unit.tif", None, "L", (128,)),
    (Image.new("F", (8, 8), 200.0), "f_byte.tif", None, "L", (200,)),
]


@pytest.mark.parametrize(("im", "name", "channels", "mode", "pixel"), MODE_CASES, ids=[c[1] for c in MODE_CASES])
def test_every_mode_is_normalised(tmp_path, im, name, channels, mode, pixel) -> None:
    path = save(tmp_path, name, im)
    assert Image.open(path).mode == im.mode  # the file really holds the mode under test
    out = decode_image(path, 4, channels)
    assert (out.mode, out.data, out.warnings) == (mode, bytes(pixel) * 16, ())


def test_palette_with_and_without_transparency(tmp_path) -> None:
    im = Image.new("P", (8, 8), 0)
    im.putpalette([255, 0, 0, 0, 0, 255])
    assert decode_image(save(tmp_path, "p.png", im), 4).data == bytes((255, 0, 0)) * 16
    assert decode_image(save(tmp_path, "p_trns.png", im, transparency=0), 4, 3).data == bytes(WHITE) * 16
    alpha = decode_image(save(tmp_path, "la.png", Image.new("LA", (8, 8), (77, 0))), 4, None, (255, 0, 0))
    assert (alpha.mode, alpha.data) == ("RGB", bytes((255, 0, 0)) * 16)  # composited on a coloured background


def test_lossy_and_ycbcr_modes(tmp_path) -> None:
    cmyk = decode_image(save(tmp_path, "cmyk.jpg", Image.new("CMYK", (8, 8), (0, 255, 255, 0))), 4)
    assert cmyk.mode == "RGB" and all(abs(a - b) <= 3 for a, b in zip(cmyk.data[:3], (255, 0, 0)))
    ycc = Image.new("YCbCr", (8, 8), (76, 85, 255))  # a red
    path = save(tmp_path, "ycc.tif", ycc)
    assert Image.open(path).mode == "YCbCr" and ycc.convert("RGB").getpixel((0, 0))[0] > 240
    assert decode_image(path, 4).data == ycc.convert("RGB").tobytes()[:48]


def test_bad_files_are_skipped_with_stable_reasons(tmp_path, monkeypatch) -> None:
    noise = Image.effect_noise((64, 64), 80).convert("RGB")
    good = save(tmp_path, "good.jpg", noise)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.png").write_text("not really a png\n")
    assert skip_reason(cut) == "truncated or corrupt"
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    assert skip_reason(tmp_path / "empty.jpg") == "empty file"
    assert skip_reason(tmp_path / "text.png") == "not an image"
    assert skip_reason(tmp_path / "gone.png") == "vanished"
    real_open = open

    def deny(path, *args, **kwargs):  # chmod cannot stop root, so refuse one path at open()
        if Path(path).name == "good.jpg":
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(decode_mod, "open", deny, raising=False)
    assert skip_reason(good) == "permission denied"


def test_pixel_limits(tmp_path, monkeypatch) -> None:
    path = save(tmp_path, "big.png", Image.new("RGB", (64, 64), (1, 2, 3)))
    assert skip_reason(path, max_pixels=4095) == "too large (> 4095 px)"
    assert decode_image(path, 4, max_pixels=4096).data == bytes((1, 2, 3)) * 16
    filters_before = list(warnings.filters)
    for pillow_limit in (4000, 2000):  # Pillow's warning (> limit) and its error (> 2x limit) both become skips
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", pillow_limit)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")  # the bomb must become a skip, not a printed warning
            assert skip_reason(path) == f"too large (> {pillow_limit} px)"
        assert caught == []
    assert warnings.filters == filters_before


def test_animated_gif_uses_first_frame(tmp_path) -> None:
    frames = [Image.new("RGB", (8, 8), colour) for colour in [(255, 0, 0), (0, 255, 0), (0, 0, 255), WHITE]]
    path = save(tmp_path, "anim.gif", frames[0], save_all=True, append_images=frames[1:], duration=50)
    assert Image.open(path).n_frames == 4
    out = decode_image(path, 4)
    assert (out.mode, out.data, out.warnings) == ("RGB", bytes((255, 0, 0)) * 16, (ANIMATED_WARNING,))


@pytest.mark.parametrize("name", ["exif.png", "exif.jpg"])
def test_exif_orientation_is_applied_before_crop(tmp_path, name) -> None:
    im = Image.new("RGB", (40, 20), (255, 0, 0))
    im.paste((0, 0, 255), (20, 0, 40, 20))  # left red, right blue
    exif = Image.Exif()
    exif[0x0112] = 6
    path = save(tmp_path, name, im, exif=exif, **({"quality": 95} if name.endswith("jpg") else {}))
    # By hand: orientation 6 is a 90 degree clockwise turn, giving 20x40, then the centred 20x20 square.
    upright = Image.open(path).transpose(Image.Transpose.ROTATE_270)
    assert upright.size == (20, 40)
    expected = upright.resize((16, 16), Image.Resampling.BILINEAR, box=(0, 10, 20, 30))
    out = decode_image(path, 16, 3)
    assert out.data == expected.tobytes()
    top, bottom = out.data[:3], out.data[-3:]  # after the turn red is on top, blue below
    assert top[0] > 200 > top[2] and bottom[2] > 200 > bottom[0]


def test_mixed_sizes_and_aspect_ratios(tmp_path) -> None:
    for size in [(8, 30), (300, 20), (16, 16), (17, 5), (1, 1)]:
        save(tmp_path, f"{size[0]}x{size[1]}.png", Image.new("RGB", size, (200, 100, 50)))
    result = load_images(tmp_path, 16, None)
    assert result.images.shape == (5, 3, 16, 16) and result.images.is_contiguous()
    assert result.images[:, 0].unique().tolist() == [200] and result.images[:, 2].unique().tolist() == [50]


def test_scan_is_recursive_sorted_and_skips_hidden_and_loops(tmp_path) -> None:
    gray = Image.new("L", (8, 8), 9)
    for rel in ["b.png", "a/c.PNG", "a/deeper/d.jpeg", ".hidden.png", ".git/e.png", "._f.jpg"]:
        save(tmp_path, rel, gray, format="PNG")
    (tmp_path / "._g.jpg").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    (tmp_path / "notes.txt").write_text("hi")
    os.mkfifo(tmp_path / "pipe.png")  # opening a FIFO would block forever: counted, never opened
    os.symlink("..", tmp_path / "a" / "loop")  # a/loop -> root: must not be walked twice or forever
    os.symlink(tmp_path / "a", tmp_path / "alias")
    scan = scan_folder(tmp_path)
    assert [entry.rel for entry in scan.images] == ["a/c.PNG", "a/deeper/d.jpeg", "b.png"]
    assert scan.other_files == 2
    report = load_images(tmp_path, 8, None).report
    assert (report.found, report.used, report.skipped, report.channels) == (3, 3, {}, 1)


def test_non_utf8_and_control_names_are_used_and_printable(tmp_path) -> None:
    folder = os.fsencode(tmp_path)
    Image.new("L", (8, 8), 7).save(os.path.join(folder, b"img_\xff.png"), format="PNG")
    with open(os.path.join(folder, b"bad_\xfe\n.png"), "wb") as handle:
        handle.write(b"garbage")
    result = load_images(tmp_path, 4, None)
    assert (result.report.used, result.report.skipped) == (1, {"not an image": ["bad_\\xfe\\n.png"]})
    json.dumps(result.report.to_dict()).encode("utf-8", "strict")


@given(st.binary(min_size=1, max_size=24))
def test_printable_is_safe_for_any_name(raw: bytes) -> None:
    text = printable(os.fsdecode(raw))
    assert text.isprintable() and text.encode("utf-8", "strict")


def test_channels_auto(tmp_path) -> None:
    save(tmp_path, "a.png", Image.new("L", (8, 8), 40))
    save(tmp_path, "b.png", Image.new("RGB", (8, 8), (60, 60, 60)))  # equal bands count as gray
    assert load_images(tmp_path, 4, None).images.shape == (2, 1, 4, 4)
    save(tmp_path, "c.png", Image.new("RGB", (8, 8), (1, 2, 3)))
    images = load_images(tmp_path, 4, None, workers=1).images
    assert images.shape == (3, 3, 4, 4)
    assert images[0].unique().tolist() == [40] and images[2, :, 0, 0].tolist() == [1, 2, 3]
    assert load_images(tmp_path, 4, 1).images.shape == (3, 1, 4, 4)


def test_threads_match_serial(tmp_path) -> None:
    paths = [save(tmp_path, f"{i}.png", Image.effect_noise((40 + i, 30), 50)) for i in range(40)]
    paths.append(tmp_path / "missing.png")
    serial = dict(decode_many(enumerate(paths), len(paths), 16, None, WHITE, 10**6, workers=1))
    seen: list[int] = []
    threaded = dict(decode_many(enumerate(paths), len(paths), 16, None, WHITE, 10**6, workers=2,
                                on_progress=lambda d, t: seen.append(d)))
    assert sorted(threaded) == list(range(41)) and seen == list(range(1, 42))
    assert all(serial[i] == threaded[i] for i in range(40))
    assert isinstance(threaded[40], SkippedImage) and threaded[40].reason == "vanished"


def test_folder_errors(tmp_path) -> None:
    with pytest.raises(UsageError, match="no such folder"):
        load_images(tmp_path / "nope", 16, None)
    (tmp_path / "file.png").write_bytes(b"")
    with pytest.raises(UsageError, match="not a folder"):
        load_images(tmp_path / "file.png", 16, None)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.md").write_text("no pictures")
    with pytest.raises(DataError, match=r"0 image files found .*1 other files ignored"):
        load_images(empty, 16, None)


def test_only_bad_files_lists_reasons(tmp_path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut short")
    (tmp_path / "b.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut short")
    (tmp_path / "c.png").write_bytes(b"")
    with pytest.raises(DataError) as info:
        load_images(tmp_path, 16, None)
    expected = "3 image files found, skipped: truncated or corrupt 2, empty file 1"
    assert str(info.value) == f"no usable images in {tmp_path}: {expected}"  # one line, reasons by count


def test_cache_hit_miss_and_repair(tmp_path) -> None:
    data, cache = tmp_path / "data", tmp_path / "cache"
    for i in range(3):
        save(data, f"{i}.png", Image.effect_noise((20, 12), 60).convert("RGB"))
    first = load_images(data, 8, None, cache_dir=cache)
    files = list((cache / "datasets").glob("*.dcgan-images"))
    assert not first.report.from_cache and len(files) == 1
    second = load_images(data, 8, None, cache_dir=cache)
    assert second.report.from_cache and torch.equal(first.images, second.images)
    assert second.report.fingerprint == first.report.fingerprint and str(tmp_path) not in json.dumps(
        {k: v for k, v in second.report.to_dict().items() if k != "root"}
    )
    assert not load_images(data, 16, None, cache_dir=cache).report.from_cache  # other settings, other entry

    files[0].write_bytes(b"DCGANIMG" + bytes(56) + b"{garbage")
    repaired = load_images(data, 8, None, cache_dir=cache)
    assert not repaired.report.from_cache and CACHE_UNREADABLE in repaired.report.warnings
    assert torch.equal(repaired.images, first.images)
    assert load_images(data, 8, None, cache_dir=cache).report.from_cache

    changed = save(data, "1.png", Image.new("RGB", (20, 12), (9, 9, 9)))
    os.utime(changed, ns=(changed.stat().st_atime_ns, changed.stat().st_mtime_ns + 10**9))
    after = load_images(data, 8, None, cache_dir=cache)
    assert not after.report.from_cache and after.images[1].unique().tolist() == [9]
    assert not list((cache / "datasets").glob(".*.tmp"))

    blocked = tmp_path / "not_a_dir"
    blocked.write_text("")
    report = load_images(data, 8, None, cache_dir=blocked).report
    assert report.used == 3 and any(note.startswith("cache not written") for note in report.warnings)


def test_decode_module_stays_torch_free() -> None:
    code = "import sys, dcgan_cli.data.decode; assert not {'torch', 'numpy'} & set(sys.modules), sorted(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])


def test_epoch_permutation_is_deterministic_and_private() -> None:
    torch.manual_seed(1)
    state = torch.get_rng_state()
    first = epoch_permutation(50, seed=7, epoch=0)
    assert torch.equal(torch.get_rng_state(), state)
    torch.manual_seed(999)
    assert torch.equal(epoch_permutation(50, seed=7, epoch=0), first)
    assert sorted(first.tolist()) == list(range(50))
    assert not torch.equal(epoch_permutation(50, seed=7, epoch=1), first)
    assert not torch.equal(epoch_permutation(50, seed=8, epoch=0), first)
    assert epoch_permutation(0, 1, 1).numel() == 0


def test_to_model_input_range() -> None:
    batch = torch.tensor([0, 51, 255], dtype=torch.uint8).view(1, 3, 1, 1).expand(2, 3, 4, 4)
    out = to_model_input(batch, torch.device("cpu"))
    assert out.dtype == torch.float32 and out.shape == (2, 3, 4, 4)
    assert out[0, :, 0, 0].tolist() == pytest.approx([-1.0, -0.6, 1.0])
    last = to_model_input(batch, torch.device("cpu"), channels_last=True)
    assert last.is_contiguous(memory_format=torch.channels_last) and torch.equal(last, out)
    with pytest.raises(TypeError):
        to_model_input(batch.float(), torch.device("cpu"))
