"""The layout of ``xqg_core`` (docs/ARCHITECTURE.md) holds: small rooms, one-way arrows.

- no module over 400 lines, no function or class over 150;
- no import cycle between modules (lazy imports inside functions count too; imports for
  type annotations only, under ``if TYPE_CHECKING:``, do not run and do not count);
- a package imports only packages below it: the base modules, then ``data``, ``models``,
  ``retrieval``, ``study``; ``pipeline`` (the precompute) and ``explore`` (the dashboard's
  core) sit side by side on top and never import each other;
- the dashboard (``app.py``, ``pages/``) imports only the dashboard's core, the artifacts
  reader, the models and the base modules, never the precompute.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "xqg_core"
# a package may import its own modules and those of every package of a lower rank
RANK = {"base": 0, "data": 1, "models": 2, "retrieval": 3, "study": 4, "pipeline": 5, "explore": 5, "cli": 6}
DASHBOARD_ALLOWED = ("xqg_core.explore.", "xqg_core.study.artifacts", "xqg_core.models.", "xqg_core.errors",
                     "xqg_core.paths", "xqg_core.paper")


def module_name(path: Path) -> str:
    return ".".join(("xqg_core", *path.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__")


def package_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in ("cli", "__main__"):
        return "cli"
    return "base" if len(parts) == 2 else parts[1]


def runtime_nodes(tree: ast.AST):
    """Every node but those under ``if TYPE_CHECKING:`` (annotations only, never imported)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            continue
        yield node
        yield from runtime_nodes(node)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """Every xqg_core module ``path`` imports when it runs, at module level or inside a function."""
    out = set()
    for node in runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("xqg_core"):
            for alias in node.names:  # `from xqg_core.study import artifacts` imports a module
                sub = f"{node.module}.{alias.name}"
                out.add(sub if sub in known else node.module)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("xqg_core")}
    return {m for m in out if m in known}


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
GRAPH = {name: imported_modules(path, set(MODULES)) - {name} for name, path in MODULES.items()}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_rooms_are_small(name):
    source = MODULES[name].read_text(encoding="utf-8")
    assert len(source.splitlines()) <= 400, f"{name} has {len(source.splitlines())} lines"
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            length = node.end_lineno - node.lineno + 1
            assert length <= 150, f"{name}.{node.name} has {length} lines"


def test_no_import_cycle():
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(GRAPH[node]):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [name])


def test_packages_import_only_downwards():
    wrong = []
    for name, targets in GRAPH.items():
        source = package_of(name)
        for target in targets:
            dest = package_of(target)
            if source == dest or (source == "base" and dest == "base"):
                continue
            if source == "base" or RANK[dest] >= RANK[source]:
                wrong.append(f"{name} -> {target}")
    assert not wrong, "imports against the layering: " + "; ".join(sorted(wrong))


def test_the_dashboard_never_imports_the_precompute():
    files = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]
    known = set(MODULES)
    wrong = [f"{path.relative_to(ROOT)} -> {m}" for path in files for m in imported_modules(path, known)
             if not m.startswith(DASHBOARD_ALLOWED)]
    assert not wrong, "; ".join(wrong)
    # and what the dashboard's core reads never reaches the pipeline, however indirectly
    reach, todo = set(), [m for path in files for m in imported_modules(path, known)]
    while todo:
        m = todo.pop()
        if m not in reach:
            reach.add(m)
            todo += GRAPH[m]
    assert not [m for m in reach if m.startswith("xqg_core.pipeline")], sorted(reach)
