"""The package's import graph has no cycles, counting imports inside functions.

Every ``import`` and ``from ... import`` statement of every module is an edge, wherever it
stands (a function-level import is a dependency deferred, not removed). ``from pkg import
name`` is an edge to ``pkg.name`` when that is a module, else to ``pkg``. A cycle means two
layers of the architecture each know the other; the docs' table (docs/architecture.md)
orders them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import backprop

PACKAGE_ROOT = Path(backprop.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_modules() -> dict:
    """``{module name: path}`` for every module of the package."""
    return {_module_name(path): path for path in sorted(PACKAGE_ROOT.rglob("*.py"))}


def _resolve(base: str, level: int, module_name: str, is_package: bool) -> str:
    if level == 0:
        return base
    parts = module_name.split(".")
    anchor = parts if is_package else parts[:-1]
    anchor = anchor[:len(anchor) - (level - 1)]
    return ".".join(anchor + ([base] if base else []))


def import_edges(modules: dict) -> dict:
    """``{module: set of package modules it imports}``, every import statement counted."""
    edges = {}
    for name, path in modules.items():
        targets = set()
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                found = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(node.module or "", node.level, name, is_package)
                found = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                         for alias in node.names]
            else:
                continue
            targets.update(target for target in found if target in modules and target != name)
        edges[name] = targets
    return edges


def cycles(edges: dict) -> list:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_graph_is_read():
    edges = import_edges(package_modules())
    assert "backprop.layers.module" in edges["backprop.layers.dense"]
    assert len(edges) > 50


def test_no_import_cycles():
    found = cycles(import_edges(package_modules()))
    assert not found, "import cycles (function-level imports counted):\n" + "\n".join(
        " <-> ".join(component) for component in found)


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
