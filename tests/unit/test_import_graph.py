"""The import graph of engine/ and web/, read with ``ast`` (nothing is imported): engine/ is the core and knows
nothing of Flask or of web/ (docs/architecture.md, "Layers"), and no engine module imports, however indirectly,
one that imports it: the imports run one way (docs/architecture.md, "Packages").

An import inside a function counts (it is a dependency all the same, only deferred); one under
``if TYPE_CHECKING:`` is never run, so it makes no cycle — but engine/ may not name web/ even there.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[2]

# Packages only the web layer may import. Jinja is not among them: engine/documents/ fills a service's document
# templates with it, in its sandbox, so documents are made the same way from a page, the API or the command line.
WEB_ONLY = frozenset({"web", "flask", "flask_babel", "flask_wtf", "werkzeug"})

class Import(NamedTuple):
    target: str  # the module imported (for ``from a import b``: a.b when that is a module, else a)
    line: int
    type_only: bool  # under ``if TYPE_CHECKING:``


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(source: str, module: str, is_package: bool, modules: set[str]) -> list[Import]:
    found: list[Import] = []

    def walk(node: ast.AST, type_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:
                    walk_one(stmt, True)
                for stmt in child.orelse:
                    walk_one(stmt, type_only)
            else:
                walk_one(child, type_only)

    def walk_one(node: ast.AST, type_only: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend(Import(alias.name, node.lineno, type_only) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the module's package, one level up per extra dot
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[:len(package) - (node.level - 1)]
                base = ".".join(package + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.append(Import(submodule if submodule in modules else base, node.lineno, type_only))
        else:
            walk(node, type_only)

    walk(ast.parse(source), False)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return ((isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
            or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _sources() -> dict[str, Path]:
    return {module_name(p): p for package in ("engine", "web") for p in sorted((ROOT / package).rglob("*.py"))}


def _all_imports() -> dict[str, list[Import]]:
    sources = _sources()
    modules = set(sources)
    return {name: imports_of(path.read_text(encoding="utf-8"), name, path.name == "__init__.py", modules)
            for name, path in sources.items()}


def test_the_graph_covers_both_packages():
    found = _all_imports()
    assert {"engine.runtime.advance", "engine.sandbox", "engine.sandbox.checker", "web.app", "web.api"} <= set(found)
    assert len(found) > 80 and sum(len(i) for i in found.values()) > 500


def test_engine_imports_neither_web_nor_flask():
    offenders = [f"{name.replace('.', '/')}.py:{imp.line} imports {imp.target}"
                 for name, found in _all_imports().items() if name.split(".")[0] == "engine"
                 for imp in found if imp.target.split(".")[0] in WEB_ONLY]
    assert not offenders, "engine/ is the core and knows nothing of Flask or web/:\n" + "\n".join(offenders)


def test_no_import_cycles_among_engine_modules():
    graph = {name: {imp.target for imp in found if not imp.type_only and imp.target.startswith("engine")}
             for name, found in _all_imports().items() if name.startswith("engine")}
    found = [sorted(c) for c in cycles(graph)]
    assert not found, f"import cycles among engine modules (docs/architecture.md, 'Packages'): {found}"


# The modules allowed to import packages above their own, each with why. Every other import between packages
# runs one way: store <- speedups, sandbox <- people <- forms <- definitions <- packages <- runtime <- cases
# <- timers <- reports, audit, studio <- setup, cli (docs/architecture.md, "Packages").
REACHES_UP = {
    # The one list of what every command runs besides the workflow: observers (timers, indicator facts) and
    # service operations (client registration), so that advance.py names no package above the runtime.
    "engine.runtime.observers",
    # Alembic's environment imports every module with tables, so that autogenerate sees all of them.
    "engine.store.migrations.env",
}


def _package(module: str) -> str:
    return module.split(".")[1] if "." in module else module


def test_imports_between_engine_packages_run_one_way():
    """Packages (and the modules directly in engine/, each on its own) import each other without a cycle."""
    graph: dict[str, set[str]] = {}
    for name, found in _all_imports().items():
        if not name.startswith("engine.") or name in REACHES_UP:
            continue
        for imp in found:
            if not imp.type_only and imp.target.startswith("engine.") and _package(imp.target) != _package(name):
                graph.setdefault(_package(name), set()).add(_package(imp.target))
    assert "runtime" in graph and "store" in graph["runtime"]
    found = [sorted(c) for c in cycles(graph)]
    assert not found, f"packages importing each other (docs/architecture.md, 'Packages'): {found}"


def test_every_engine_package_opens_with_a_line_saying_its_job():
    for init in sorted((ROOT / "engine").rglob("__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and doc.strip(), f"{init.relative_to(ROOT)} has no docstring"
        first = doc.splitlines()[0]
        assert first.endswith(".") and len(first) <= 116, f"{init.relative_to(ROOT)}: {first!r}"


def test_the_checks_see_relative_deferred_and_type_only_imports():
    modules = {"engine", "engine.a", "engine.b", "engine.pkg", "engine.pkg.a", "engine.pkg.b", "engine.pkg.c"}
    source = ("from . import a\nfrom .b import thing\nfrom .. import pkg as limits\nimport flask\n"
              "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from web.app import create_app\n"
              "def later():\n    from .c import x\n")
    assert imports_of(source, "engine.pkg.c", False, modules) == [
        Import("engine.pkg.a", 1, False), Import("engine.pkg.b", 2, False), Import("engine.pkg", 3, False),
        Import("flask", 4, False), Import("typing", 5, False), Import("web.app", 7, True),
        Import("engine.pkg.c", 9, False)]
    assert imports_of("from . import a, b\n", "engine", True, modules) == [
        Import("engine.a", 1, False), Import("engine.b", 1, False)]


def test_cycles_are_found_and_only_cycles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e", "d"}, "f": {"g"}, "g": {"f"}}
    assert sorted(sorted(c) for c in cycles(graph)) == [["a", "b", "c"], ["f", "g"]]
