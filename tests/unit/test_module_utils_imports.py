"""The collection stands alone: no module_utils imports the product package (``netoss``), and
the module_utils import each other without a cycle (each concern in its own room, arrows
pointing one way). Both read the sources' imports (top-level and inside functions) with ast;
each is also run on a small made-up tree that breaks it, so the checks are shown to fail."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODULE_UTILS = REPO / "plugins" / "module_utils"
PACKAGE = "ansible_collections.netoss.core.plugins.module_utils"
PRODUCT = "netoss"


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, dotted name) of every module ``path`` imports, at any depth; ``from P import x``
    gives ``P.x`` (x may be a module of P), and importlib.import_module("...") its argument."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
            found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
    return found


def product_imports(directory: Path) -> list[str]:
    """``file:line: name`` of each import of the product package by a module of ``directory``."""
    return [
        f"{path.name}:{line}: {name}"
        for path in sorted(directory.glob("*.py"))
        for line, name in _imports(path)
        if name == PRODUCT or name.startswith(PRODUCT + ".")
    ]


def import_cycle(directory: Path, package: str = PACKAGE) -> list[str] | None:
    """A cycle of imports among the modules of ``directory`` (``package``), as the module names
    round it (first == last), or None."""
    modules = {path.stem: path for path in directory.glob("*.py")}
    graph = {
        name: sorted(
            {
                imported[len(package) + 1 :].split(".")[0]
                for _line, imported in _imports(path)
                if imported.startswith(package + ".")
            }
            & (set(modules) - {name})
        )
        for name, path in modules.items()
    }
    state: dict[str, str] = {}  # name -> "open" (on the path) or "done"

    def visit(name: str, path: list[str]) -> list[str] | None:
        state[name] = "open"
        for other in graph[name]:
            if state.get(other) == "open":
                return [*path[path.index(other) :], other] if other in path else [name, other]
            if other not in state:
                cycle = visit(other, [*path, other])
                if cycle:
                    return cycle
        state[name] = "done"
        return None

    for name in sorted(graph):
        if name not in state:
            cycle = visit(name, [name])
            if cycle:
                return cycle
    return None


def test_no_module_utils_imports_the_product_package():
    assert MODULE_UTILS.is_dir()
    found = product_imports(MODULE_UTILS)
    assert found == [], "the collection must stand alone; these module_utils import netoss:\n" + "\n".join(found)


def test_module_utils_import_each_other_without_a_cycle():
    cycle = import_cycle(MODULE_UTILS)
    assert cycle is None, "module_utils import each other in a cycle: " + " -> ".join(cycle or [])


def test_the_split_module_utils_are_in_the_graph():
    """The import graph is read at all: the service order and intent modules import each other."""
    imported = {name for _line, name in _imports(MODULE_UTILS / "service_reservation.py")}
    assert f"{PACKAGE}.service_journal" in imported
    imported = {name for _line, name in _imports(MODULE_UTILS / "intent_load.py")}
    assert f"{PACKAGE}.intent_checks" in imported


@pytest.mark.parametrize(
    "source",
    [
        "from netoss.data.db import db\n",
        "import netoss\n",
        "def later():\n    from netoss.domain import jobs\n",
        "import importlib\nmodule = importlib.import_module('netoss.web')\n",
    ],
)
def test_a_product_import_is_found(tmp_path, source):
    (tmp_path / "fine.py").write_text(f"from {PACKAGE}.other import x\nimport ipaddress\n")
    (tmp_path / "bad.py").write_text(source)
    found = product_imports(tmp_path)
    assert len(found) >= 1 and all(f.startswith("bad.py:") for f in found)


def test_a_cycle_is_found(tmp_path):
    (tmp_path / "a.py").write_text(f"from {PACKAGE}.b import x\n")
    (tmp_path / "b.py").write_text(f"def f():\n    from {PACKAGE} import c\n")
    (tmp_path / "c.py").write_text(f"from {PACKAGE}.a import y\nfrom {PACKAGE}.d import z\n")
    (tmp_path / "d.py").write_text("import ipaddress\n")
    assert import_cycle(tmp_path) == ["a", "b", "c", "a"]
    (tmp_path / "c.py").write_text(f"from {PACKAGE}.d import z\n")
    assert import_cycle(tmp_path) is None
