"""The package's shape, checked: layers imported one way, imports at module top, small modules.

The layers (docs/architecture.md), lowest first::

    core -> audio -> data -> protocols -> features -> llm -> models -> train
         -> systems/<name> -> experiment -> api -> apps (cli, web, demo)

A module may import its own layer and the layers below it, never one above. Inside ``systems``
a system (a subpackage) may use the shared modules of ``systems`` (its files: the
protocol, the registry, the fold context) but not another system. Imports sit at module top;
heavy optional packages are reached through :func:`spokenemo.core.lazy.optional_import`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "spokenemo"
LAYERS = ["core", "audio", "data", "protocols", "features", "llm", "models", "train", "systems", "experiment",
          "api", "apps"]
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "__pycache__" not in p.parts)


def _dotted(path: Path) -> list[str]:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def _layer(parts: list[str]) -> str | None:
    return parts[0] if parts and parts[0] in LAYERS else None


def _imported(tree: ast.AST) -> list[tuple[int, list[str], bool]]:
    """(line, spokenemo module parts, at module top) of every import of spokenemo."""
    top = {id(n) for n in getattr(tree, "body", [])}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            if name == "spokenemo" or name.startswith("spokenemo."):
                out.append((node.lineno, name.split(".")[1:], id(node) in top))
    return out


def test_layers_are_imported_one_way_only():
    wrong = []
    for path in _modules():
        here = _dotted(path)
        layer = _layer(here)
        if layer is None:
            continue
        for line, target, _ in _imported(ast.parse(path.read_text(encoding="utf-8"))):
            there = _layer(target)
            if there is None:
                continue
            if LAYERS.index(there) > LAYERS.index(layer):
                wrong.append(f"{path.relative_to(SRC)}:{line} ({layer}) imports {'.'.join(target)} ({there})")
            elif layer == there == "systems" and len(here) > 1 and len(target) > 1 \
                    and here[1] != target[1] and not (SRC / "systems" / f"{target[1]}.py").is_file():
                wrong.append(f"{path.relative_to(SRC)}:{line}: system {here[1]} imports system {target[1]}")
    assert not wrong, "imports that run back up a layer:\n" + "\n".join(wrong)


def test_imports_are_at_module_top():
    inside = []
    for path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = {id(n) for n in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in top \
                    and getattr(node, "module", None) != "__future__":
                inside.append(f"{path.relative_to(SRC)}:{node.lineno}")
    # imports guarded by `if TYPE_CHECKING:` or try/except at module level are still module top
    guarded = set()
    for path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for stmt in tree.body:
            if isinstance(stmt, ast.If | ast.Try):
                for node in ast.walk(stmt):
                    if isinstance(node, ast.Import | ast.ImportFrom):
                        guarded.add(f"{path.relative_to(SRC)}:{node.lineno}")
    inside = [x for x in inside if x not in guarded]
    assert not inside, ("imports inside functions (use core.lazy.optional_import for heavy optional packages):\n"
                        + "\n".join(inside))


@pytest.mark.parametrize("limit", [MAX_MODULE_LINES])
def test_modules_are_small(limit):
    big = [f"{p.relative_to(SRC)} ({n})" for p in _modules()
           if (n := len(p.read_text(encoding="utf-8").splitlines())) > limit]
    assert not big, f"modules over {limit} lines: {big}"


def test_functions_are_short():
    long = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name} ({n})")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"
