"""The package's imports, read with ``ast``: dependencies run one way.

No module imports another module's underscore (private) names, and the
module-level imports form no cycle. Imports inside functions count too: a
cycle hidden in a function body is still a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "dataprep"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(name: str) -> list[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for every import in module ``name``."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((a.name, [], node.lineno) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            names = [a.name for a in node.names]
            # ``from pkg import module`` imports the module
            sub = [n for n in names if f"{base}.{n}" in MODULES]
            out.extend((f"{base}.{n}", [], node.lineno) for n in sub)
            out.append((base, [n for n in names if n not in sub], node.lineno))
    return [(m, n, line) for m, n, line in out if m == "dataprep" or m.startswith("dataprep.")]


def test_no_module_imports_private_names_of_another():
    bad = [f"{name}:{line} imports {n} from {target}" for name in MODULES for target, names, line in imports(name)
           for n in names if n.startswith("_") and not n.startswith("__") and target != name]
    assert bad == []


def test_no_import_cycles():
    graph = {name: sorted({t for t, _, _ in imports(name) if t in MODULES and t != name}) for name in MODULES}
    # A package's __init__ re-exporting its modules is not a cycle through them.
    for name in graph:
        graph[name] = [t for t in graph[name] if not name.startswith(t + ".")]
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node)
    assert cycles == []


def test_the_walk_sees_the_imports():
    """The walker itself: it finds known imports and resolves ``from pkg import module``."""
    targets = {t for t, _, _ in imports("dataprep.convert.pipeline")}
    assert {"dataprep.convert.work", "dataprep.records.output", "dataprep.validate.annotations"} <= targets
    assert "dataprep.convert.work" in {t for t, _, _ in imports("dataprep.convert.executor")}  # from pkg import mod
    assert "dataprep.cli.options" in {t for t, _, _ in imports("dataprep.cli.convert")}
