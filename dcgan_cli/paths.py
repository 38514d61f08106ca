"""Where dcgan keeps things between runs when nobody says otherwise. Standard library only."""

from __future__ import annotations

import os
from pathlib import Path

from dcgan_cli.errors import OptionError
from dcgan_cli.io.text import printable


def default_cache_dir() -> Path:
    """Decoded datasets and real-image features: $DCGAN_CACHE_DIR, else $XDG_CACHE_HOME/dcgan or ~/.cache/dcgan."""
    if os.environ.get("DCGAN_CACHE_DIR"):
        return Path(os.environ["DCGAN_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dcgan"


def cache_dir_for(cache_dir: str | Path | None, no_cache: bool) -> Path | None:
    """The cache folder a library call uses: None when caching is off, the default when none is named."""
    if no_cache:
        return None
    return Path(cache_dir) if cache_dir is not None else default_cache_dir()


def require_images(path: str | Path, field: str) -> Path:
    """`path` as a Path, or an OptionError naming `field` unless it is a folder or an archive of images."""
    from dcgan_cli.data.scan import ARCHIVE_SUFFIXES, is_archive  # standard library only, like this module

    where = Path(path)
    if not where.exists():
        raise OptionError(field, f"no such folder or archive: {printable(str(where))}")
    if not where.is_dir() and not is_archive(where):
        raise OptionError(field, f"not a folder or an archive ({', '.join(ARCHIVE_SUFFIXES)}): "
                          f"{printable(str(where))}")
    return where
