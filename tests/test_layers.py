"""The package's layers import one way, top to bottom; no import circle.

    __main__ -> (cli, compat.core) -> api -> engine -> (attacks, report) -> targets -> (store, data, compat)
    -> measures -> (records, registry, textdiff) -> (errors, config)

``feint.compat.core`` (Counterfit's ``Counterfit`` class, which builds and runs attacks
through the library of commands) is a part of its own beside the command line; the rest of
``feint.compat`` (Counterfit's target and attack classes) sits under the targets.

Every ``import`` and ``from ... import`` in every module counts, at module level or inside a
function (a lazy import is still a dependency). The graph is read from the source, so a new
module is held to the same rule as soon as it exists.
"""

from __future__ import annotations

import ast
from pathlib import Path

import feint

ROOT = Path(feint.__file__).parent

# Each layer may import itself and anything below it; a layer's members do not import each other.
LAYERS: list[set[str]] = [
    {"__main__"},
    {"cli", "compat.core"},
    {"api"},
    {"engine"},
    {"attacks", "report"},
    {"targets"},
    {"store", "data", "compat"},
    {"measures"},
    {"records", "registry", "textdiff"},
    {"errors", "config", "__init__"},
]
LEVEL = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    mod = _module_name(path)
    package = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                out.add(".".join(base + ([node.module] if node.module else [])))
            elif node.module:
                out.add(node.module)
    return {name for name in out if name == "feint" or name.startswith("feint.")}


# Modules that are a part of their own, apart from the rest of their package.
OWN_PARTS = {"feint.compat.core": "compat.core"}


def _part(module: str) -> str:
    """The part of the package a module belongs to: its top-level package (``feint``
    itself: ``__init__``), or a part of its own (:data:`OWN_PARTS`)."""
    if module in OWN_PARTS:
        return OWN_PARTS[module]
    bits = module.split(".")
    return bits[1] if len(bits) > 1 else "__init__"


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in sorted(ROOT.rglob("*.py"))}


def test_every_part_of_the_package_has_a_layer():
    parts = {_part(m) for m in _graph()}
    assert parts <= set(LEVEL), f"parts with no layer: {sorted(parts - set(LEVEL))}"


def test_imports_run_one_way():
    wrong = []
    for mod, deps in _graph().items():
        for dep in deps:
            a, b = _part(mod), _part(dep)
            if a != b and LEVEL[b] <= LEVEL[a]:
                wrong.append(f"{mod} -> {dep}")
    assert not wrong, "imports against the layers:\n" + "\n".join(sorted(wrong))


def test_no_import_circle_between_modules():
    graph = _graph()
    names = set(graph)

    def resolve(dep: str) -> str | None:
        while dep and dep not in names:
            dep = dep.rpartition(".")[0]
        return dep or None

    edges = {m: {r for d in deps if (r := resolve(d)) and r != m} for m, deps in graph.items()}
    # Packages import their own submodules to re-export them; a circle through a package's
    # __init__ and its own member is not a dependency circle.
    edges = {m: {d for d in ds if not d.startswith(m + ".")} for m, ds in edges.items()}
    state: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in sorted(edges[m]):
            if state.get(d) == 1:
                circles.append(stack[stack.index(d) :] + [d])
            elif d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m)
    assert not circles, "import circles:\n" + "\n".join(" -> ".join(c) for c in circles)
