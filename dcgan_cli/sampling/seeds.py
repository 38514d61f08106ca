"""Seeds as users write them (`--seeds 0-35,40,42`, `--seed S --n N`), parsed and checked without torch."""

from __future__ import annotations

import re
from collections.abc import Iterable

from dcgan_cli.errors import OptionError
from dcgan_cli.seeding import MAX_SEED

MAX_SEEDS = 1_000_000
_RANGE = re.compile(r"^(\d+)-(\d+)$")

__all__ = ["MAX_SEED", "MAX_SEEDS", "check_seeds", "parse_seeds", "seed_range"]


def parse_seeds(text: str, limit: int = MAX_SEEDS, field: str = "seeds") -> list[int]:
    """'0-35,40,42' -> [0, ..., 35, 40, 42]; ranges are inclusive, order and repeats are kept."""
    parts = [p.strip() for p in text.split(",")]
    spans: list[tuple[int, int]] = []
    for part in parts:
        if not part:
            raise OptionError(field, f"invalid seed list {text!r}: empty item (write e.g. 0-35,40,42)")
        match = _RANGE.match(part)
        if match:
            start, end = int(match.group(1)), int(match.group(2))
            if start > end:
                raise OptionError(field, f"invalid seed range {part!r}: start > end")
        elif part.isdigit():
            start = end = int(part)
        elif re.fullmatch(r"-\d+", part):
            raise OptionError(field, f"invalid seed {part!r}: seeds cannot be negative")
        else:
            raise OptionError(field, f"invalid seed {part!r} (write seeds as N or N-M, separated by commas)")
        if end > MAX_SEED:
            raise OptionError(field, f"invalid seed {part!r}: seeds go up to {MAX_SEED}")
        spans.append((start, end))
    total = sum(end - start + 1 for start, end in spans)  # counted before expanding: 0-4294967295 is cheap
    if total > limit:
        raise OptionError(field, f"too many seeds in {text!r}: {total} (at most {limit})")
    return [s for start, end in spans for s in range(start, end + 1)]


def seed_range(start: int, n: int, limit: int = MAX_SEEDS) -> list[int]:
    """`seed=S, n=N` -> S .. S+N-1, checked like parse_seeds."""
    if not 1 <= n <= limit:
        raise OptionError("n", f"must be from 1 to {limit}, got {n}")
    if start < 0 or start + n - 1 > MAX_SEED:
        raise OptionError("seed", f"seeds {start}..{start + n - 1} are outside 0..{MAX_SEED}")
    return list(range(start, start + n))


def check_seeds(seeds: Iterable[int], field: str = "seeds", limit: int = MAX_SEEDS) -> list[int]:
    """Seeds given as numbers (a range, a list): whole numbers from 0 to MAX_SEED, at most `limit` of them."""
    out = list(seeds)
    bad = [s for s in out if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= MAX_SEED]
    if bad:
        raise OptionError(field, f"invalid seed {bad[0]!r}: seeds are whole numbers from 0 to {MAX_SEED}")
    if len(out) > limit:
        raise OptionError(field, f"too many seeds: {len(out)} (at most {limit})")
    return out
