"""The package layering of :mod:`dataprep.layers`: no package imports one above it, and the
packages' imports form no cycle. Imports inside functions count (``tests/test_imports.py``'s walk).
"""

from __future__ import annotations

import re
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

from dataprep.layers import LAYERS, RANK, package_of
from test_imports import MODULES, imports

README = Path(__file__).resolve().parents[1] / "README.md"

# Package edges that break the layering, each with the reason it is tolerated for now. Empty since
# the records branch (RecordSet, dataprep/protos.py) removed records<->formats and records<->label_map.
ALLOWED: set[tuple[str, str]] = set()


@lru_cache(maxsize=None)
def package_edges() -> dict[tuple[str, str], list[str]]:
    """(importer, imported) package -> the ``module:line`` of each import making that edge (read once)."""
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for name in MODULES:
        for target, names, line in imports(name):
            a, b = package_of(name), package_of(target)
            # dataprep/__init__.py defines __version__ before anything and imports nothing at module
            # level: reading the version, or a submodule (``from dataprep import stats``), is not a
            # dependency on the public API's layer.
            if b == "dataprep" and names in ([], ["__version__"]):
                continue
            if a != b:
                edges[(a, b)].append(f"{name}:{line}")
    return edges


def test_every_package_is_in_the_layer_table():
    packages = {package_of(name) for name in MODULES}
    assert sorted(packages - set(RANK)) == [], "declare the package's layer in dataprep/layers.py"
    assert len(RANK) == sum(len(p) for _, p, _ in LAYERS), "a package is declared twice"


def test_no_package_imports_one_above_it():
    upward = [f"{a} ({LAYERS[RANK[a]][0]}) imports {b} ({LAYERS[RANK[b]][0]}) at {', '.join(where)}"
              for (a, b), where in sorted(package_edges().items())
              if RANK[b] > RANK[a] and (a, b) not in ALLOWED]
    assert upward == []


def test_no_package_level_cycles():
    graph: dict[str, set[str]] = defaultdict(set)
    for a, b in package_edges():
        if (a, b) not in ALLOWED:
            graph[a].add(b)
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        for nxt in sorted(graph[node]):
            if nxt in path:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in seen:
                seen.add(nxt)
                visit(nxt, path + [nxt])

    seen: set[str] = set()
    for start in sorted(graph):
        if start not in seen:
            seen.add(start)
            visit(start, [start])
    assert cycles == []


def test_the_checks_see_a_violation():
    """The walk finds real package edges, and an edge against the table would be reported."""
    edges = package_edges()
    assert ("convert", "records") in edges and ("stats", "models") in edges and ("models", "anchors") in edges
    assert RANK["records"] < RANK["convert"] and not RANK["anchors"] > RANK["models"]
    assert ("locations", "beam") not in edges and ("dataset", "validate") not in edges  # the cycles fixed here
    assert ("balance", "convert") not in edges


def test_readme_architecture_lists_the_layers():
    """The README's layer table is this one (same layers, same packages, same order)."""
    text = README.read_text(encoding="utf-8")
    block = text.split("<!-- layers:", 1)[1].split("```", 2)[1]
    rows = [re.match(r"\s*(\d+)\s+(\S+)\s+(.*?)\s{2,}", line + "  ") for line in block.strip().splitlines()]
    got = [(m.group(2), tuple(m.group(3).split())) for m in rows if m]
    assert got == [(name, packages) for name, packages, _ in LAYERS][::-1]


# -- no function over 100 lines (issue 21): a long function is several jobs in one ----------------------

MAX_FUNCTION_LINES = 100


def long_functions(source: str, limit: int = MAX_FUNCTION_LINES) -> list[tuple[str, int]]:
    """(name, lines) of the functions in ``source`` longer than ``limit`` lines, signature and docstring included."""
    import ast

    return [(node.name, node.end_lineno - node.lineno + 1) for node in ast.walk(ast.parse(source))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > limit]


def test_no_function_is_over_100_lines():
    root = Path(__file__).resolve().parents[1] / "dataprep"
    found = {f"{path.relative_to(root.parent)}:{name}": lines for path in sorted(root.rglob("*.py"))
             for name, lines in long_functions(path.read_text(encoding="utf-8"))}
    assert not found, f"functions over {MAX_FUNCTION_LINES} lines (split them): {found}"


def test_the_length_check_sees_a_long_function():
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    assert long_functions(f"def f():\n{body}\n") == [("f", MAX_FUNCTION_LINES + 1)]
    assert long_functions(f"def f():\n{body}\n", limit=MAX_FUNCTION_LINES + 1) == []


# -- one module name, one job (issue 21) ----------------------------------------------------------------
# Allowed repeats: the CLI's modules are named after the commands they implement (cli/stats.py is `dataprep
# stats`), and a few names say the same job for different things in their package.
SAME_JOB = {"executor.py": "who runs the per-image work (convert: local processes; beam: Beam)",
            "registry.py": "the registry of formats / of models",
            "options.py": "declared options (dataprep/options.py), and each layer's own: convert's groups, "
                          "cli's option types, beam's pipeline flags"}


def repeated_module_names(paths: list[str]) -> dict[str, list[str]]:
    """Module file names used by more than one module outside cli/ (``__init__.py`` aside), not in SAME_JOB."""
    by_name = defaultdict(list)
    for path in paths:
        name = path.rsplit("/", 1)[-1]
        if name != "__init__.py" and "/cli/" not in f"/{path}":
            by_name[name].append(path)
    return {n: sorted(p) for n, p in by_name.items() if len(p) > 1 and n not in SAME_JOB}


def test_module_names_say_one_job():
    root = Path(__file__).resolve().parents[1]
    paths = [p.relative_to(root).as_posix() for p in sorted((root / "dataprep").rglob("*.py"))]
    assert repeated_module_names(paths) == {}


def test_the_name_check_sees_a_repeat():
    assert repeated_module_names(["dataprep/a/x.py", "dataprep/b/x.py", "dataprep/cli/y.py", "dataprep/y.py",
                                  "dataprep/a/__init__.py", "dataprep/b/__init__.py"]) == {
        "x.py": ["dataprep/a/x.py", "dataprep/b/x.py"]}
