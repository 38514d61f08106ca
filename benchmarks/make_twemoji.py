#!/usr/bin/env python3
"""Build a second, held-out colour benchmark set from Twemoji: every emoji as a SIZExSIZE RGB PNG on white.

Why: every default of `dcgan train` was chosen on OpenMoji (make_openmoji.py) and checked on Fashion-MNIST. Issue 11
asks for defaults that generalise to folders nobody here has seen; Twemoji is one: the same subjects drawn in
another style (flat fills, no black outlines), on which nothing was ever tuned. The SVGs come from the npm package
@twemoji/svg (the graphics are Twitter's and other contributors', CC BY 4.0); this script never downloads at run
time unless asked to: give it the package's folder, or `--npm` to fetch the pinned version with `npm pack`.
Rendering is make_openmoji.py's: resvg at 4x, alpha composited on white, shrunk with LANCZOS.

    python benchmarks/make_twemoji.py OUT_DIR (--svgs DIR | --npm) [--size 64] [--limit N]

writes OUT_DIR/<codepoints>.png (e.g. 1f600.png) in sorted order, plus OUT_DIR/LICENSE.txt. The same package
version gives the same files. Files that cannot be read or rendered are skipped and counted.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from make_openmoji import render_all, require_renderer

PACKAGE = "@twemoji/svg@15.0.0"
LICENCE = [
    "Twemoji. https://github.com/jdecked/twemoji",
    "Graphics copyright 2020 Twitter, Inc and other contributors. License: CC BY 4.0",
    "(https://creativecommons.org/licenses/by/4.0/)",
]


def fetch_svgs(into: Path) -> Path:
    """`npm pack` the pinned package into `into` and unpack it; the folder of SVGs, or exit with one line."""
    if shutil.which("npm") is None:
        sys.exit("make_twemoji: --npm needs npm; or pass --svgs with an unpacked copy of " + PACKAGE)
    done = subprocess.run(["npm", "pack", PACKAGE, "--silent"], cwd=into, capture_output=True, text=True,
                          timeout=300, check=False)
    tarballs = sorted(into.glob("*.tgz"))
    if done.returncode != 0 or not tarballs:
        sys.exit(f"make_twemoji: npm pack {PACKAGE} failed: {done.stderr.strip().splitlines()[-1:]}")
    with tarfile.open(tarballs[0]) as tar:
        tar.extractall(into, filter="data")  # "data": no links, devices or paths outside `into`
    return into / "package"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, help="folder for <codepoints>.png and LICENSE.txt (created if missing)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--svgs", type=Path, help=f"a folder of Twemoji SVGs (an unpacked {PACKAGE})")
    source.add_argument("--npm", action="store_true", help=f"fetch {PACKAGE} with npm pack (needs the registry)")
    parser.add_argument("--size", type=int, default=64, help="side in pixels (default 64)")
    parser.add_argument("--limit", type=int, default=None, help="write only the first N emoji in sorted order")
    args = parser.parse_args(argv)
    if args.size < 1 or (args.limit is not None and args.limit < 0):
        parser.error("--size must be >= 1 and --limit >= 0")

    require_renderer("make_twemoji")  # before any download
    with tempfile.TemporaryDirectory(prefix="twemoji-") as tmp:
        folder = fetch_svgs(Path(tmp)) if args.npm else args.svgs
        files = sorted(folder.glob("*.svg"))[: args.limit]
        if not files:
            sys.exit(f"make_twemoji: no .svg files in {folder}")
        start = time.perf_counter()
        written, skipped = render_all(files, args.out_dir, args.size, "make_twemoji")
    lines = [*LICENCE, "", f"These {written} PNGs are adapted from the SVGs of the npm package {PACKAGE}: rendered",
             f"with resvg, composited on a white background and resized to {args.size}x{args.size} pixels. They are",
             "shared under the same licence, CC BY 4.0. Made by benchmarks/make_twemoji.py in dcgan-cli."]
    (args.out_dir / "LICENSE.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"make_twemoji: wrote {written} {args.size}x{args.size} RGB PNGs to {args.out_dir} from {PACKAGE}, "
          f"skipped {skipped} unreadable, in {time.perf_counter() - start:.1f}s", file=sys.stderr)
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main())
