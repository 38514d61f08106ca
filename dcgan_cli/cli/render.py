"""Rendering training events for people: a rich live display on a terminal, plain lines otherwise (stderr), or
JSON Lines for programs (stdout). The same event dicts the library emits feed all three."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from dcgan_cli.cli.console import emit_json, safe_text

Event = dict[str, Any]


def _fmt_stats(e: Event) -> str:
    return (f"Loss_D {e['loss_d']:.4f}  Loss_G {e['loss_g']:.4f}  D(x) {e['d_x']:.4f}  "
            f"D(G(z)) {e['d_g_z1']:.4f} / {e['d_g_z2']:.4f}")


def describe_data(e: Event) -> list[str]:
    skipped = sum(len(v) for v in e["skipped"].values())
    source = "from cache" if e.get("from_cache") else f"decoded in {e['seconds']:.1f} s"
    lines = [f"{e['found']} images found in {safe_text(e['root'])}: {e['used']} used, {skipped} skipped "
             f"({e['channels']} channel{'s' if e['channels'] > 1 else ''}, {e['image_size']}x{e['image_size']}, "
             f"{source})"]
    for reason, paths in sorted(e["skipped"].items(), key=lambda kv: -len(kv[1])):
        shown = ", ".join(safe_text(p) for p in paths[:3]) + (" ..." if len(paths) > 3 else "")
        lines.append(f"  skipped {len(paths)} ({safe_text(reason)}): {shown}")
    for warning, paths in e.get("warnings", {}).items():
        lines.append(f"  note: {len(paths)} {safe_text(warning)}")
    return lines


def describe_scores(scores: dict[str, Any]) -> str:
    """'SWD 12.34, efficientnet-lite0 FD 45.6 KID 0.0123 ...' from an evaluation result."""
    parts = [f"SWD {scores['swd']['mean']:.2f}"] if "swd" in scores else []
    for backbone, values in scores.get("features", {}).items():
        shown = " ".join(f"{k if k in ('precision', 'recall', 'density', 'coverage') else k.upper()} {v:.4g}"
                         for k, v in values.items() if k not in ("dim", "resolution", "kid_std"))
        parts.append(f"{backbone} {shown}")
    return ", ".join(parts)


class _TrainProgress(Progress):
    """A progress bar with the tutorial's statistics on a line of their own (they don't fit beside it in 80 columns)."""

    stats_line = ""

    def get_renderables(self):  # noqa: ANN201 - rich's own signature
        yield self.make_tasks_table(self.tasks)
        if self.stats_line:
            yield self.stats_line


class Renderer(AbstractContextManager["Renderer"]):
    """Turns events into output. A rich live display on a terminal; plain lines otherwise."""

    def __init__(self, console: Console, *, json_lines: bool, quiet: bool) -> None:
        self.console, self.json_lines, self.quiet = console, json_lines, quiet
        self.live = console.is_terminal and not quiet
        self.progress: _TrainProgress | None = None
        self.task: Any = None
        self.decode_task: Any = None
        self.epochs: int | None = None

    def __enter__(self) -> Renderer:
        if self.live:
            self.progress = _TrainProgress(
                TextColumn("[bold]{task.description}"), BarColumn(bar_width=24), MofNCompleteColumn(),
                TextColumn("{task.fields[speed]}"), TimeRemainingColumn(),
                console=self.console, transient=True, redirect_stdout=False, redirect_stderr=False,
            )
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def say(self, text: str) -> None:
        if not self.quiet:
            self.console.print(text)

    def __call__(self, e: Event) -> None:
        kind = e["event"]
        if self.json_lines and kind != "decode":
            emit_json(e)
        handler: Callable[[Event], None] | None = getattr(self, f"_on_{kind}", None)
        if handler is not None and not self.quiet:
            handler(e)

    def _on_decode(self, e: Event) -> None:
        if self.progress is None:
            return
        if self.decode_task is None:
            self.decode_task = self.progress.add_task("decoding", total=e["total"], speed="")
        self.progress.update(self.decode_task, completed=e["done"])
        if e["done"] >= e["total"]:
            self.progress.remove_task(self.decode_task)

    def _on_data(self, e: Event) -> None:
        for line in describe_data(e):
            self.say(line)

    def _on_warning(self, e: Event) -> None:
        self.say(f"[yellow]warning:[/] {safe_text(e['message'])}")

    def _on_start(self, e: Event) -> None:
        verb = f"resuming {safe_text(e['run_dir'])} from step {e['start_step']}" if e["resumed"] else \
            f"training into {safe_text(e['run_dir'])}"
        o = e["options"]
        self.epochs = e["epochs"]
        lr = f"lr {o['lr_d']:g}" if o["lr_d"] == o["lr_g"] else f"lr D {o['lr_d']:g} G {o['lr_g']:g}"
        self.say(f"{verb} on {e['device']}: preset {o['preset']}, {e['total_steps']} steps "
                 f"({e['steps_per_epoch']} per epoch), batch {o['batch_size']}, {lr}, seed {o['seed']}")
        if self.progress is not None:
            self.task = self.progress.add_task("training", total=e["total_steps"], completed=e["start_step"],
                                               speed="")

    def _on_step(self, e: Event) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.stats_line = _fmt_stats(e)
            of = f"/{self.epochs}" if self.epochs else ""
            self.progress.update(self.task, completed=e["step"], description=f"epoch {e['epoch']}{of}",
                                 speed=f"{e['img_per_s']:.1f} img/s")

    def _on_epoch(self, e: Event) -> None:
        self.say(f"epoch {e['epoch']} done at step {e['step']}: {_fmt_stats(e)}  "
                 f"{e['img_per_s']:.1f} img/s, {e['seconds']:.1f} s")

    def _on_eval_ready(self, e: Event) -> None:
        feats = f" on {e['backbone']} features" if e["backbone"] else ""
        self.say(f"scoring against {e['n']} images of {safe_text(e['dir'])}: {', '.join(e['metrics'])}{feats}")

    def _on_eval(self, e: Event) -> None:
        self.say(f"eval at step {e['step']}: {describe_scores(e)} ({e['seconds']:.1f} s)")

    def _on_checkpoint(self, e: Event) -> None:
        if self.live:
            self.say(f"[dim]saved {safe_text(e['path'])} at step {e['step']}[/]")
