"""Imports point down: cli -> apps -> pipelines -> engines -> schemas; no cycles.

Read from the source (ast), not by importing, so a module that would do work
at import cannot hide an edge.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("brightkitchen", "stream_apps", "inference_workers", "schemas", "clickhouse")
# Lower layers never import higher ones (brightkitchen is the CLI and runtime).
LAYER = {
    "brightkitchen": 3,
    "stream_apps": 2,
    "inference_workers": 2,
    "clickhouse": 1,
    "schemas": 0,
}
STDLIB = set(sys.stdlib_module_names)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imports(path: Path, own: str) -> set[str]:
    """Project modules a file imports anywhere (lazy imports count too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):  # `if TYPE_CHECKING:` imports are annotations only
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            node.body = []
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = own.split(".")
                base = base[: len(base) - node.level + (1 if path.name == "__init__.py" else 0)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            out.add(module)
            out.update(f"{module}.{alias.name}" for alias in node.names)
    return {m for m in out if m.split(".")[0] in PACKAGES}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for target in _imports(path, name):
            # Resolve "pkg.mod.Name" to the module "pkg.mod".
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                graph[name].add(target)
    return graph


def test_lower_layers_never_import_higher_ones():
    """``python -m stream_apps`` (a ``__main__``) is an entry point like the CLI."""
    bad = [
        f"{src} -> {dst}"
        for src, targets in _graph().items()
        for dst in targets
        if LAYER[dst.split(".")[0]] > LAYER[src.split(".")[0]] and not src.endswith("__main__")
    ]
    assert bad == []


def test_engines_import_only_schemas_and_the_standard_library():
    modules = _modules()
    bad = []
    for name, path in modules.items():
        if not name.startswith("stream_apps.engines"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                roots = [(node.module or "").split(".")[0]]
            else:
                continue
            for root in roots:
                if root not in STDLIB and root not in ("schemas", "stream_apps", "msgspec"):
                    bad.append(f"{name} imports {root}")
                if root == "stream_apps" and not (
                    isinstance(node, ast.ImportFrom)
                    and node.module.startswith("stream_apps.engines")
                ):
                    bad.append(f"{name} imports {node.module}")
    assert bad == []


def test_no_import_cycle_between_modules():
    graph = _graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    # A package's __init__ re-exporting its own modules is not a cycle of roles.
    real = [c for c in cycles if not all(m == c[0] or m.startswith(c[0] + ".") for m in c)]
    assert real == []
