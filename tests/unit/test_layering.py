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


IMPORT_PROBE = r"""
import json, os, sys, tempfile

class Recording(dict):
    seen = set()
    def __getitem__(self, k):
        Recording.seen.add(k); return super().__getitem__(k)
    def get(self, k, default=None):
        Recording.seen.add(k); return super().get(k, default)
    def __contains__(self, k):
        Recording.seen.add(k); return super().__contains__(k)

probe_load = os.environ.pop("BK_TEST_PROBE_LOAD", "")
tmp = tempfile.gettempdir()
before = set(os.listdir(tmp)) | set(os.listdir("."))
os.environ = Recording(os.environ)
import brightkitchen.settings as bs
built = []
real_settings_init = bs.Settings.__init__
def counting_settings(self, *a, **k):
    built.append(1); real_settings_init(self, *a, **k)
bs.Settings.__init__ = counting_settings
import faust
made = []
real_init = faust.App.__init__
def counting_init(self, *a, **k):
    made.append(a[:1]); real_init(self, *a, **k)
faust.App.__init__ = counting_init
import stream_apps.shells.cameras, stream_apps.agents.ops, stream_apps.app
import stream_apps.sink.consumer
if probe_load:  # the probe's own check: building settings is seen
    bs.load()
after = set(os.listdir(tmp)) | set(os.listdir("."))
print(json.dumps({
    "bk_env_read": sorted(k for k in Recording.seen if k.startswith("BK_")),
    "apps": len(made),
    "settings_built": len(built),
    "new_files": sorted(after - before),
}))
"""


def test_importing_the_shells_does_no_work(tmp_path):
    """No app is built, no BK_* variable read, no file made when a shell is imported."""
    import json
    import subprocess

    env = {**__import__("os").environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got == {"bk_env_read": [], "apps": 0, "settings_built": 0, "new_files": []}
    # ...and the probe would see it if one did: building the settings is counted.
    env["BK_TEST_PROBE_LOAD"] = "1"
    probed = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert json.loads(probed.stdout.strip().splitlines()[-1])["settings_built"] == 1
