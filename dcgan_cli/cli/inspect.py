"""`dcgan inspect`: a checkpoint described from its header alone (checkpoint/describe.py), as a table or JSON.

Never imports torch, and rich (~0.1 s) only when a table is drawn, so `--json` never loads it. Every string
shown comes from a file someone may have crafted: control bytes are made visible and rich markup escaped.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from dcgan_cli.cli.common import CkptArg, Json, Quiet, checkpoint_path
from dcgan_cli.io.text import printable

if TYPE_CHECKING:
    from rich.console import Console


def inspect(ckpt: CkptArg = None, json_: Json = False, quiet: Quiet = False) -> None:
    """Describe a checkpoint from its header alone: fast, and safe on hostile files.

    \b
    [bold]Examples[/]
      dcgan inspect                              [dim]# the newest run[/]
      dcgan inspect runs/cats/last.safetensors
      dcgan inspect runs/cats --json | jq .config
    """
    from dcgan_cli.checkpoint.describe import describe

    info = describe(checkpoint_path(ckpt, quiet or json_))
    if json_:  # render.emit_json's format, without importing rich (~0.1 s of a 0.5 s budget)
        sys.stdout.write(json.dumps(info, separators=(",", ":")) + "\n")
        return
    from rich.console import Console

    render(info, Console(highlight=False))  # the facts are data: stdout, even with -q


def _text(value: Any) -> str:
    """Any metadata value as inert one-line text: JSON (ASCII-escaped) for structures, then safe_text."""
    from dcgan_cli.cli.console import safe_text

    if value is None:
        return "-"
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, dict):
        return safe_text(", ".join(f"{k}={json.dumps(v)}" for k, v in value.items()) or "{}")
    return safe_text(json.dumps(value))


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"  # pragma: no cover


def render(info: dict[str, Any], console: Console) -> None:
    """Two rich tables on `console`: the facts, then every tensor."""
    from rich.table import Table

    facts = Table(title=_text(info["path"]), show_header=False, box=None, pad_edge=False)
    facts.add_column("field", style="bold", no_wrap=True)
    facts.add_column("value", overflow="fold")
    params = info["parameters"]
    rows = [
        ("format", f"{_text(info['format'])} v{info['format_version']}"),
        ("written by", f"dcgan {_text(info['dcgan_version'])}, torch {_text(info['torch_version'])}"),
        ("created", _text(info["created"])),
        ("model", _text(info["config"])),
        ("images", f"{_text(info['image_size'])}x{_text(info['image_size'])}, {_text(info['channels'])} channel(s)"),
        ("step / epoch", f"{_text(info['step'])} / {_text(info['epoch'])}"),
        ("training options", _text(info["options"])),
        ("dataset", _text(info["dataset"])),
        ("parameters", f"G {params['G']:,}  D {params['D']:,}"),
        ("EMA generator", "yes (sample uses it)" if info["ema"] else "no"),
        ("can resume", ("yes, from fresh Adam states (imported weights)" if info["imported"] else "yes")
         if info["can_resume"] else "no (generator only: sampling works, training cannot resume)"),
        ("file size", f"{_size(info['file_size'])} ({info['file_size']:,} bytes, header {info['header_bytes']:,})"),
        ("sha256", info["sha256"]),
    ]
    if info["other_metadata"]:
        rows.append(("other metadata", _text(", ".join(info["other_metadata"]))))
    for field, value in rows:
        facts.add_row(field, value)
    console.print(facts)
    # Plain aligned lines, not a rich Table: 100+ rows of Table layout cost ~0.1 s of inspect's 0.5 s budget.
    rows_t = sorted((printable(t["name"]), "x".join(map(str, t["shape"])) or "scalar", printable(t["dtype"]))
                    for t in info["tensors"])
    width = max([len(r[0]) for r in rows_t] + [4])
    shape_width = max([len(r[1]) for r in rows_t] + [5])
    lines = [f"{len(rows_t)} tensors", f"{'name':<{width}}  {'shape':<{shape_width}}  dtype"]
    lines += [f"{name:<{width}}  {shape:<{shape_width}}  {dtype}" for name, shape, dtype in rows_t]
    console.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)
