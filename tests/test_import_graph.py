"""The import graph of src/crlcli, read with `ast` (every import statement, at any depth: inside functions too,
where the heavy or optional ones live): no circle between modules or between units (a subpackage, or a module
directly under crlcli), and no import of a unit from a lower layer than its own. The layer order is the one
docs/architecture.md writes down; a new unit must be given a layer here and there."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "crlcli"

# Bottom to top (docs/architecture.md, "Layers"). A unit imports units of its own layer or of lower ones, never of
# a higher one; within a layer, the no-circle rule alone applies.
LAYERS: list[tuple[str, set[str]]] = [
    (
        "core",
        {
            "crlcli",
            "errors",
            "log",
            "jsonx",
            "locks",
            "progress",
            "extract",
            "verdicts",
            "asserts",
            "tokens",
            "options",
        },
    ),
    ("files", {"resume", "io", "rundir"}),
    ("sandbox", {"sandbox"}),
    (
        "stages",
        {"records", "prompts", "sources", "filtering", "judging", "mixing", "generation", "reward", "provenance"},
    ),
    ("applications", {"evaluation", "decontam", "training", "tts"}),
    ("cluster", {"distributed"}),
    ("commands", {"commands"}),
    ("cli", {"cli"}),
]
LAYER = {unit: k for k, (_, units) in enumerate(LAYERS) for unit in units}


def modules(root: Path = SRC) -> dict[str, tuple[Path, bool]]:
    """Dotted name -> (file, is a package's __init__)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_pkg else parts)] = (path, is_pkg)
    return out


def imports(mods: dict[str, tuple[Path, bool]]) -> dict[str, dict[str, int]]:
    """Module -> {crlcli module it imports: first line}. `from X import name` counts as an import of X.name when
    that is a module, else of X; a name that is no module is cut back to the nearest module that is."""
    graph: dict[str, dict[str, int]] = defaultdict(dict)
    for name, (path, is_pkg) in mods.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".") if is_pkg else name.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    origin = ".".join(base + ([node.module] if node.module else []))
                else:
                    origin = node.module or ""
                targets = [f"{origin}.{a.name}" if f"{origin}.{a.name}" in mods else origin for a in node.names]
            for target in targets:
                if target != "crlcli" and not target.startswith("crlcli."):
                    continue
                while target not in mods:
                    target = target.rsplit(".", 1)[0]
                if target != name:
                    graph[name].setdefault(target, node.lineno)
    return graph


def unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "crlcli"


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one member (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
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

    for v in sorted(set(graph) | {w for ws in graph.values() for w in ws}):
        if v not in index:
            visit(v)
    return sorted(found)


def shown(mods, module: str, line: int) -> str:
    return f"{mods[module][0].relative_to(SRC.parent)}:{line}"


def test_every_unit_has_a_layer():
    units = {unit(m) for m in modules()}
    assert units - set(LAYER) == set(), "give these a layer (here and in docs/architecture.md)"
    assert set(LAYER) - units == set(), "these are gone: take them out of the layers"


def test_no_circles_between_modules():
    mods = modules()
    graph = imports(mods)
    found = circles({a: set(bs) for a, bs in graph.items()})
    assert found == [], "\n".join(
        " <-> ".join(c)
        + ":"
        + "".join(
            f"\n    {shown(mods, a, line)} imports {b}" for a in c for b, line in sorted(graph[a].items()) if b in c
        )
        for c in found
    )


def test_no_circles_between_units():
    mods = modules()
    graph = imports(mods)
    units: dict[str, set[str]] = defaultdict(set)
    for a, bs in graph.items():
        units[unit(a)] |= {unit(b) for b in bs if unit(b) != unit(a)}
    found = circles(units)
    assert found == [], "\n".join(
        " <-> ".join(c)
        + ":"
        + "".join(
            f"\n    {shown(mods, a, line)} imports {b}"
            for a, bs in sorted(graph.items())
            for b, line in sorted(bs.items())
            if unit(a) in c and unit(b) in c and unit(a) != unit(b)
        )
        for c in found
    )


def test_imports_only_go_down_the_layers():
    mods = modules()
    graph = imports(mods)
    upward = [
        f"{shown(mods, a, line)}: {unit(a)} ({LAYERS[LAYER[unit(a)]][0]}) imports {b} ({LAYERS[LAYER[unit(b)]][0]})"
        for a, bs in sorted(graph.items())
        for b, line in sorted(bs.items())
        if unit(a) in LAYER and unit(b) in LAYER and LAYER[unit(b)] > LAYER[unit(a)]
    ]
    assert upward == [], "\n".join(upward)


def test_the_graph_reader_sees_every_kind_of_import(tmp_path):
    """The reader itself: absolute, relative (from a package and from a module), names that are modules and names
    that are not, and imports nested in functions all count; a circle and an upward import are both found."""
    pkg = tmp_path / "crlcli"
    (pkg / "sandbox").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "errors.py").write_text("def f():\n    from .sandbox import pool\n")
    (pkg / "sandbox" / "__init__.py").write_text("from .pool import Pool\n")
    (pkg / "sandbox" / "pool.py").write_text("import crlcli.errors\nfrom ..errors import CrlError\n")
    mods = modules(pkg)
    graph = imports(mods)
    assert set(mods) == {"crlcli", "crlcli.errors", "crlcli.sandbox", "crlcli.sandbox.pool"}
    assert graph["crlcli.errors"] == {"crlcli.sandbox.pool": 2}
    assert graph["crlcli.sandbox"] == {"crlcli.sandbox.pool": 1}
    assert graph["crlcli.sandbox.pool"] == {"crlcli.errors": 1}
    assert circles({a: set(bs) for a, bs in graph.items()}) == [["crlcli.errors", "crlcli.sandbox.pool"]]
    assert LAYER["errors"] < LAYER["sandbox"]  # so errors -> sandbox.pool is an upward import


def test_asserts_knows_the_sandboxs_numpy_stand_ins_without_importing_it():
    """asserts.py (core) names sandbox.runner_child's NumpyValue by module and class name: that name must stay
    true, and a lookalike class from anywhere else is not taken for it."""
    from crlcli import asserts
    from crlcli.sandbox.runner_child import NumpyValue

    value = NumpyValue("int64", 3, None)
    assert asserts._is_stand_in(value) and asserts.python_equal(value, 3) and not asserts.python_equal(value, 4)

    class Lookalike:
        dtype, value, shape = "int64", 3, None

    Lookalike.__name__ = "NumpyValue"
    assert not asserts._is_stand_in(Lookalike())
