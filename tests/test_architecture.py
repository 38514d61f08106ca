"""The house rules, read from the source: boundaries between the rooms, no import cycles, no module over 300 lines.

Imports are read with ast, not by importing, so the rules hold for every code path, not only the ones a test
happens to run. `import torch` inside a function is allowed anywhere (that is how the CLI stays fast); at module
level it is what the torch-free modules must never reach, directly or through another module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "dcgan_cli"
MAX_LINES = 300
# Modules that `dcgan --help`, completion, `inspect` and `import dcgan_cli` load: no torch at module level.
TORCH_FREE = ("dcgan_cli", "dcgan_cli.cli.*", "dcgan_cli.checkpoint", "dcgan_cli.checkpoint.header",
              "dcgan_cli.checkpoint.format", "dcgan_cli.checkpoint.describe", "dcgan_cli.checkpoint.locate",
              "dcgan_cli.metrics.names", "dcgan_cli.training.options", "dcgan_cli.training.recipe",
              "dcgan_cli.config", "dcgan_cli.errors", "dcgan_cli.seeding", "dcgan_cli.paths", "dcgan_cli.device",
              "dcgan_cli.io.atomic", "dcgan_cli.io.text", "dcgan_cli.sampling.seeds", "dcgan_cli.data.scan",
              "dcgan_cli.data.decode")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def imports(path: Path, module_level: bool) -> set[str]:
    """Names imported by the file (module-level statements only, or every statement)."""
    tree = ast.parse(path.read_text(), str(path))
    if module_level:
        nodes: list[ast.AST] = []
        stack: list[ast.AST] = list(tree.body)
        while stack:
            node = stack.pop()
            nodes.append(node)
            if isinstance(node, ast.If) and not _is_type_checking(node):
                stack += node.body + node.orelse
            elif isinstance(node, ast.Try):
                stack += node.body + node.orelse + node.finalbody + [h for hs in node.handlers for h in hs.body]
    else:
        nodes = list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from dcgan_cli.cli import common` imports the module dcgan_cli.cli.common (its package is a parent,
            # imported first anyway); `from dcgan_cli.config import X` imports dcgan_cli.config itself
            subs = {f"{node.module}.{alias.name}" for alias in node.names} & set(MODULES)
            found |= subs if len(subs) == len(node.names) else subs | {node.module}
    return found


def internal(names: set[str]) -> set[str]:
    return {n for n in names if n in MODULES}


def reachable(start: str) -> set[str]:
    """Every module (ours and third-party roots) that importing `start` imports at module level."""
    seen, todo, external = set(), [start], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        found = imports(MODULES[name], module_level=True)
        external |= {n.split(".")[0] for n in found if not n.startswith("dcgan_cli")}
        parents = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
        todo += sorted((internal(found) | parents) - seen)
    return seen | external


def _matches(name: str, pattern: str) -> bool:
    return name == pattern or (pattern.endswith(".*") and name.startswith(pattern[:-1]))


@pytest.mark.parametrize("name", sorted(n for n in MODULES if any(_matches(n, p) for p in TORCH_FREE)))
def test_torch_free_modules_reach_no_torch_at_module_level(name: str) -> None:
    reached = reachable(name)
    assert not {"torch", "torchvision", "safetensors", "numpy"} & reached, sorted(reached)


def test_the_torch_check_can_fail() -> None:
    assert "torch" in reachable("dcgan_cli.model")  # negative control: the model does import torch
    assert "torch" in reachable("dcgan_cli.training.trainer")


def test_nothing_outside_cli_imports_cli_or_rich() -> None:
    offenders = {name: sorted(n for n in imports(path, module_level=False)
                              if n.startswith(("dcgan_cli.cli", "rich")))
                 for name, path in MODULES.items()
                 if not name.startswith("dcgan_cli.cli") and name != "dcgan_cli.__main__"}  # the entry point
    assert {k: v for k, v in offenders.items() if v} == {}


def test_no_import_cycles() -> None:
    graph = {name: internal(imports(path, module_level=True)) - {name} for name, path in MODULES.items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(trail[trail.index(nxt):] + [nxt] if nxt in trail else [node, nxt])
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_cycle_detection_can_fail(tmp_path: Path) -> None:
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("from dcgan_cli.config import DCGANConfig\nimport b\n")
    b.write_text("import a\n")
    assert imports(a, module_level=True) >= {"b", "dcgan_cli.config"} and imports(b, True) == {"a"}


def test_no_module_over_300_lines() -> None:
    long = {name: n for name, path in MODULES.items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_every_subpackage_is_a_room_with_a_docstring() -> None:
    for name, path in MODULES.items():
        assert ast.get_docstring(ast.parse(path.read_text())), f"{name} has no module docstring"
