"""The decoded set on disk (data/store) and training images read straight from zip and tar archives."""

from __future__ import annotations

import os
import shutil
import struct
import tarfile
import zipfile
from pathlib import Path

import pytest
import torch
from conftest import TINY, make_images
from PIL import Image
from typer.testing import CliRunner

import dcgan_cli as dcgan
from dcgan_cli import checkpoint
from dcgan_cli.cli.app import app
from dcgan_cli.data.archive import ArchiveLimits
from dcgan_cli.data.dataset import CACHE_UNREADABLE, load_images
from dcgan_cli.data.store import DiskImages
from dcgan_cli.errors import DataError

runner = CliRunner()


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """Colour and gray images, one broken file, a dotfile and a text file, in two folders."""
    folder = make_images(tmp_path / "mixed", 6, size=12)
    Image.new("L", (20, 10), 77).save(folder / "sub" / "gray.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut short")
    (folder / ".hidden.png").write_bytes(b"never read")
    (folder / "notes.txt").write_text("not a picture")
    return folder


def test_the_store_reads_what_memory_holds(mixed: Path) -> None:
    held = load_images(mixed, 8, None)
    disk = load_images(mixed, 8, None, in_memory_max=0)
    assert isinstance(held.images, torch.Tensor) and isinstance(disk.images, DiskImages)
    assert held.report.used == disk.report.used == 7 and disk.images.shape == (7, 3, 8, 8)
    assert held.report.skipped == {"truncated or corrupt": ["broken.jpg"]} and held.report.other_files == 1
    assert torch.equal(disk.images[:], held.images)
    order = sorted(p.relative_to(mixed).as_posix() for p in mixed.rglob("*.png") if not p.name.startswith("."))
    gray = order.index("sub/gray.png")
    assert disk.images[gray].unique().tolist() == [77]  # gray broadcast to RGB in a colour set
    picks = torch.tensor([5, 0, 5, -1])
    assert torch.equal(disk.images[picks], held.images[picks])
    assert torch.equal(disk.images[[2, 3]], held.images[[2, 3]])
    assert torch.equal(disk.images[1:6:2], held.images[1:6:2]) and torch.equal(disk.images[-2], held.images[-2])
    assert disk.images[3:3].shape == (0, 3, 8, 8)
    with pytest.raises(IndexError):
        disk.images[7]
    with pytest.raises(IndexError):
        disk.images[torch.tensor([0, 9])]
    disk.close()


def test_an_uncached_store_leaves_no_file(mixed: Path, tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    data = load_images(mixed, 8, None, scratch_dir=scratch, in_memory_max=0)
    assert isinstance(data.images, DiskImages) and list(scratch.iterdir()) == []  # unlinked while in use
    assert data.images[0].shape == (3, 8, 8)
    fd = data.images.fd
    data.close()
    with pytest.raises(OSError):
        os.fstat(fd)


def test_a_torn_or_foreign_store_is_rebuilt(mixed: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = load_images(mixed, 8, None, cache_dir=cache)
    (store,) = (cache / "datasets").glob("*.dcgan-images")
    whole = store.read_bytes()
    for damage in (whole[: len(whole) // 2], b"\0" * 64 + whole[64:], whole[:-1]):
        store.write_bytes(damage)
        again = load_images(mixed, 8, None, cache_dir=cache)
        assert not again.report.from_cache and CACHE_UNREADABLE in again.report.warnings
        assert torch.equal(again.images, first.images)
    hit = load_images(mixed, 8, None, cache_dir=cache, in_memory_max=0)
    assert hit.report.from_cache and torch.equal(hit.images[:], first.images)
    hit.close()


def test_training_from_the_store_is_training_from_memory(image_dir: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    args = ["train", str(image_dir), *TINY, "--max-steps", "4", "-q", "--mirror", "--no-cache"]
    assert runner.invoke(app, [*args, "--out", str(tmp_path / "memory")]).exit_code == 0
    monkeypatch.setenv("DCGAN_FAULT", "in_memory_max:0")  # every set read from the store, however small
    assert runner.invoke(app, [*args, "--out", str(tmp_path / "disk")]).exit_code == 0
    a, b = (checkpoint.load(tmp_path / run / "last.safetensors") for run in ("memory", "disk"))
    assert all(torch.equal(a.generator[k], b.generator[k]) for k in a.generator)
    assert sorted(p.name for p in (tmp_path / "disk").iterdir() if p.name.startswith(".")) == [".lock"]


# --- archives ----------------------------------------------------------------------------------------------


def zip_of(folder: Path, out: Path, method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(out, "w", method) as archive:
        archive.writestr("top/", "")  # a directory entry
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return out


def tar_of(folder: Path, out: Path) -> Path:
    with tarfile.open(out, "w:gz") as archive:
        archive.add(folder, arcname=".")
    return out


def test_zip_and_tar_give_the_folders_images(mixed: Path, tmp_path: Path) -> None:
    folder = load_images(mixed, 8, None)
    for archive in (zip_of(mixed, tmp_path / "set.zip"), tar_of(mixed, tmp_path / "set.tar.gz")):
        got = load_images(archive, 8, None, cache_dir=tmp_path / "cache")
        assert torch.equal(got.images, folder.images), archive.name
        assert got.report.skipped == folder.report.skipped and got.report.other_files == folder.report.other_files
        again = load_images(archive, 8, None, cache_dir=tmp_path / "cache")
        assert again.report.from_cache and again.report.fingerprint == got.report.fingerprint
    # the fingerprint follows the contents, not the file's name or place
    moved = shutil.copy(tmp_path / "set.zip", tmp_path / "copy.zip")
    assert load_images(Path(moved), 8, None, cache_dir=tmp_path / "cache").report.from_cache


def test_train_from_a_zip_from_the_shell_and_from_python(image_dir: Path, tmp_path: Path) -> None:
    archive = zip_of(image_dir, tmp_path / "images.zip", zipfile.ZIP_STORED)
    r = runner.invoke(app, ["train", str(archive), "--out", str(tmp_path / "run"), *TINY, "--max-steps", "2"])
    assert r.exit_code == 0, r.stderr
    assert checkpoint.read_header(tmp_path / "run" / "last.safetensors").progress["step"] == 2
    end = dcgan.train(dcgan.TrainOptions(data=str(archive), out=str(tmp_path / "py"), image_size=16, ngf=8, ndf=8,
                                         nz=8, batch_size=4, workers=0, max_steps=2))
    assert end["step"] == 2
    images = dcgan.load_images(archive, 16, None)
    assert isinstance(images, dcgan.ImageSet) and images.images.shape == (12, 3, 16, 16)


def bomb_by_declared_size(path: Path, members: int = 300) -> Path:
    """Tiny members whose central directory declares 4 GiB each: 1.2 TiB in all, in a few kilobytes."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(members):
            archive.writestr(f"{i}.png", b"x")
    data = bytearray(path.read_bytes())
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        struct.pack_into("<I", data, at + 24, 0xFFFFFFFE)  # uncompressed size
        at = data.find(b"PK\x01\x02", at + 4)
    path.write_bytes(bytes(data))
    return path


def bomb_by_overlap(path: Path, copies: int = 200) -> Path:
    """One compressed megabyte named 200 times by the central directory: every entry the same local data."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.bmp", bytes(1 << 20))
    data = path.read_bytes()
    central = data.find(b"PK\x01\x02")
    end = data.find(b"PK\x05\x06")
    entry = data[central:end]
    eocd = bytearray(data[end:])
    struct.pack_into("<HHII", eocd, 8, copies, copies, len(entry) * copies, central)
    path.write_bytes(data[:central] + entry * copies + bytes(eocd))
    return path


@pytest.mark.parametrize("make, says", [
    (bomb_by_declared_size, "it unpacks to more than 1024 GiB"),
    (bomb_by_overlap, "its members overlap"),
])
def test_zip_bombs_are_one_line_and_exit_3(tmp_path: Path, make, says: str) -> None:
    bomb = make(tmp_path / "bomb.zip")
    assert bomb.stat().st_size < 600_000
    r = runner.invoke(app, ["train", str(bomb), "--out", str(tmp_path / "run"), *TINY, "--max-steps", "1"])
    assert r.exit_code == 3 and says in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and r.stdout == ""


def test_junk_archives_and_members(tmp_path: Path, image_dir: Path) -> None:
    junk = tmp_path / "junk.zip"
    junk.write_bytes(os.urandom(4096))
    r = runner.invoke(app, ["train", str(junk), "--out", str(tmp_path / "a"), *TINY, "--max-steps", "1"])
    assert r.exit_code == 3 and "cannot read the archive" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    junk_tar = tmp_path / "junk.tar.gz"
    junk_tar.write_bytes(b"\x1f\x8b" + os.urandom(4096))
    with pytest.raises(DataError, match="cannot read the archive"):
        load_images(junk_tar, 8, None)
    words = tmp_path / "words.zip"
    with zipfile.ZipFile(words, "w") as archive:
        archive.writestr("a.txt", "hello")
        archive.writestr("b.png", "not a png")
    with pytest.raises(DataError, match="no usable images .*not an image 1"):
        load_images(words, 8, None)
    # caps of the library call: members, and one member's size (a skip, not a refusal)
    archive = zip_of(image_dir, tmp_path / "images.zip")
    with pytest.raises(DataError, match="more than 5 members"):
        load_images(archive, 8, None, limits=ArchiveLimits(members=5))
    big = image_dir / "big.bmp"
    Image.new("RGB", (64, 64)).save(big)
    capped = load_images(zip_of(image_dir, tmp_path / "with-big.zip"), 8, None,
                         limits=ArchiveLimits(member_bytes=4000))
    assert capped.report.skipped == {"too large (> 4000 bytes uncompressed)": ["big.bmp"]}
    assert capped.report.used == 12
