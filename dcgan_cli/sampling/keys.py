"""Where a latent comes from, as users write it: a seed (`7`), a latents file (`me.safetensors`), or one row of
one (`me.safetensors:2`); and the latent-arithmetic expressions built from groups of them
(`"1,2,3 - 4,5,6 + 7,8,9"`). Parsed without torch, so a typo costs nothing.

In an expression, `+` and `-` are words of their own (spaces around them): without spaces, `3-5` is the seed
range 3, 4, 5, as everywhere else a seed list is written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dcgan_cli.errors import OptionError
from dcgan_cli.sampling.seeds import parse_seeds

MAX_GROUP = 1024  # seeds per arithmetic group: the grid shows every one of them
LATENTS_FORMAT = "dcgan-cli/latents"  # the `format` metadata of a latents file
_INDEXED = re.compile(r"^(.*):(\d+)$")


@dataclass(frozen=True)
class Key:
    """One source of latents: a seed, or a latents file (all of it, or its row `index`)."""

    seed: int | None = None
    file: Path | None = None
    index: int | None = None

    def __str__(self) -> str:
        if self.file is None:
            return str(self.seed)
        return f"{self.file}" + ("" if self.index is None else f":{self.index}")


def parse_key(text: str, field: str = "keys") -> list[Key]:
    """'7' -> [seed 7]; '3-5' -> seeds 3, 4, 5; 'me.safetensors' or 'me.safetensors:2' -> that file."""
    text = text.strip()
    if not text:
        raise OptionError(field, "empty keyframe")
    if re.fullmatch(r"[\d,-]+", text) and text[0].isdigit():
        return [Key(seed=s) for s in parse_seeds(text, limit=MAX_GROUP, field=field)]
    if re.fullmatch(r"-\d+", text):
        raise OptionError(field, f"invalid seed {text!r}: seeds cannot be negative")
    name, index = split_index(text)
    if not name or (not name.endswith(".safetensors") and not Path(name).is_file()):
        raise OptionError(field, f"invalid seed or latents file {text!r}: write a seed (7), a latents file "
                          "(me.safetensors) or one latent of it (me.safetensors:2)")
    return [Key(file=Path(name), index=index)]


def as_keys(items: Sequence[int | str | Path | Key], field: str = "keys") -> list[Key]:
    """Python-side keyframes: ints are seeds, str/Path are latents files (with an optional ':index')."""
    out: list[Key] = []
    for item in items:
        if isinstance(item, Key):
            out.append(item)
        elif isinstance(item, bool) or not isinstance(item, (int, str, Path)):
            raise OptionError(field, f"a keyframe is a seed or a latents file, got {item!r}")
        elif isinstance(item, int):
            out += parse_key(str(item), field)
        else:
            out += parse_key(str(item), field) if isinstance(item, str) else [Key(file=item)]
    return out


@dataclass(frozen=True)
class Term:
    """One group of an expression and its sign: +1 or -1."""

    sign: int
    keys: tuple[Key, ...]
    text: str


def parse_expression(text: str, field: str = "expression") -> list[Term]:
    """'1,2,3 - 4,5,6 + 7' -> three terms; every group non-empty, operators between groups."""
    words = text.split()
    if not words:
        raise OptionError(field, "is empty; write groups of seeds joined by + and -, e.g. \"1,2,3 - 4,5,6 + 7,8,9\"")
    terms: list[Term] = []
    sign, group = 1, ""
    for word in words + ["+"]:  # a trailing '+' closes the last group
        if word in ("+", "-"):
            if not group:
                if terms or word == "+" or sign != 1:
                    raise OptionError(field, f"{text!r}: an operator needs a group of seeds on each side")
                sign = -1  # a leading '-': the first group is subtracted
                continue
            terms.append(Term(sign, tuple(_group(group, text, field)), group))
            sign, group = (1 if word == "+" else -1), ""
        elif word[0] in "+-" or word[-1] in "+-":
            raise OptionError(field, f"{text!r}: put spaces around + and - (without them, 3-5 is a seed range)")
        else:
            group += word  # '1, 2, 3' is the group '1,2,3'
    return terms


def _group(group: str, text: str, field: str) -> list[Key]:
    items = group.split(",")
    if any(not item for item in items):
        raise OptionError(field, f"{text!r}: empty item in group {group!r}")
    keys = [k for item in items for k in parse_key(item, field)]
    if len(keys) > MAX_GROUP:
        raise OptionError(field, f"group {group!r} has {len(keys)} seeds (at most {MAX_GROUP})")
    return keys


def split_index(text: str) -> tuple[str, int | None]:
    """'me.safetensors:2' -> ('me.safetensors', 2); a name that exists as written is never split."""
    match = _INDEXED.match(text)
    if match is None or Path(text).exists():
        return text, None
    return match.group(1), int(match.group(2))


def is_latents_file(text: str) -> bool:
    """Whether a command-line word names a latents file (as opposed to a checkpoint): by its header, torch-free."""
    from dcgan_cli.checkpoint.header import format_of

    return format_of(Path(split_index(text)[0])) == LATENTS_FORMAT


def count_latents(keys: Sequence[Key]) -> int:
    """How many latents the keys stand for, from file headers only (for a progress bar's total; a file that
    cannot be read counts 1 here and fails properly when it is read)."""
    from dcgan_cli.checkpoint import header
    from dcgan_cli.errors import CheckpointError

    total = 0
    for key in keys:
        if key.file is None or key.index is not None:
            total += 1
            continue
        try:
            shape = header.read(key.file)[2]["latents"].shape
            total += shape[0] if len(shape) == 2 else 1
        except (CheckpointError, KeyError):
            total += 1
    return total
