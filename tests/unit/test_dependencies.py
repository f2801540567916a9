"""Every third-party package the code imports is declared in pyproject.toml, and pinned.

- netoss/ and plugins/ (what runs in production) import only the runtime dependencies
  ([project] dependencies); bench/, scripts/ and tests/ may also import the dev tools
  ([project.optional-dependencies] dev).
- requirements/runtime.txt pins every distribution the runtime dependencies need (transitively,
  as the installed metadata says), requirements/dev.txt those the dev tools need besides; no
  distribution is pinned twice.

Import names are mapped to distributions with importlib.metadata.packages_distributions() (the
app virtualenv's): `yaml` is PyYAML, `ansible` is ansible-core, `ansible_collections.ansible.*`
is the `ansible` package. How to add a dependency: README.md, "Adding a dependency".
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
RUNTIME_TREES = ("netoss", "plugins")
DEV_TREES = ("bench", "scripts", "tests")
# The project itself: the netoss package and the collection (ansible_collections.netoss.core).
FIRST_PARTY = {"netoss"}


def declared(group: str) -> set[str]:
    reqs = PYPROJECT["dependencies"] if group == "runtime" else PYPROJECT["optional-dependencies"]["dev"]
    return {canonicalize_name(Requirement(r).name) for r in reqs}


def local_modules(tree: Path) -> set[str]:
    """Names a file of the tree imports as a top-level module of its own directory (tests'
    helpers such as `waiting`, the benches importing each other)."""
    return {p.stem for p in tree.rglob("*.py")} | {p.name for p in tree.rglob("*") if p.is_dir()}


def third_party_imports(tree: Path, local: set[str] | None = None) -> dict[str, set[str]]:
    """Top-level import name -> the files importing it, for the imports that are neither the
    standard library, the project, nor modules of the repository's own (``local``: the tree's)."""
    local = local_modules(tree) if local is None else local
    found: dict[str, set[str]] = {}
    for path in sorted(tree.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                parts = name.split(".")
                top = parts[0]
                if top == "ansible_collections" and parts[1:3] == ["netoss", "core"]:
                    continue
                if top in sys.stdlib_module_names or top in FIRST_PARTY or top == "__future__" or top in local:
                    continue
                found.setdefault(top, set()).add(str(path.relative_to(tree.parent)))
    return found


def undeclared(trees: tuple[str, ...], allowed: set[str]) -> list[str]:
    dists = importlib.metadata.packages_distributions()
    # The tests import the benches' and their own helpers as top-level modules.
    local = set().union(*(local_modules(REPO / tree) for tree in trees))
    problems = []
    for tree in trees:
        for name, files in sorted(third_party_imports(REPO / tree, local).items()):
            where = ", ".join(sorted(files)[:3]) + (" …" if len(files) > 3 else "")
            providers = {canonicalize_name(d) for d in dists.get(name, [])}
            if not providers:
                problems.append(f"{name} (imported by {where}): no installed distribution provides it")
            elif not providers & allowed:
                problems.append(f"{name} (imported by {where}): its distribution {sorted(providers)} is not declared")
    return problems


def test_runtime_code_imports_only_runtime_dependencies():
    problems = undeclared(RUNTIME_TREES, declared("runtime"))
    assert not problems, "declare them in pyproject.toml [project] dependencies:\n" + "\n".join(problems)


def test_benches_scripts_and_tests_import_only_declared_packages():
    problems = undeclared(DEV_TREES, declared("runtime") | declared("dev"))
    assert not problems, "declare them in pyproject.toml (dependencies or the dev extra):\n" + "\n".join(problems)


def test_the_scan_sees_a_third_party_import(tmp_path):
    """The scan finds what it must (a test that can fail): an undeclared import is reported."""
    (tmp_path / "mod.py").write_text("import os\nimport yaml\nfrom requests import get\nfrom . import x\n")
    assert set(third_party_imports(tmp_path)) == {"yaml", "requests"}


# ---------------------------------------------------------------------------------------------
# Lock files


def pins(name: str) -> dict[str, str]:
    """Distribution -> version of a pin file (name==version lines; comments and blanks skipped)."""
    found = {}
    for line in (REPO / "requirements" / name).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([A-Za-z0-9._-]+)==(\S+)", line)
        assert m, f"requirements/{name}: {line!r} is not name==version"
        found[canonicalize_name(m.group(1))] = m.group(2)
    return found


def closure(requirements: list[str]) -> set[str]:
    """The distributions these requirements need, transitively, as the installed metadata says
    (markers evaluated for this interpreter, extras followed)."""
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [Requirement(r) for r in requirements]
    missing = []
    while todo:
        req = todo.pop()
        key = (canonicalize_name(req.name), frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = importlib.metadata.distribution(req.name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(req.name)
            continue
        for text in dist.requires or []:
            sub = Requirement(text)
            envs = [{"extra": e} for e in (req.extras or {""})]
            if sub.marker is None or any(sub.marker.evaluate(env) for env in envs):
                todo.append(sub)
    assert not missing, f"not installed in the app virtualenv: {sorted(set(missing))} (scripts/bootstrap.sh)"
    return {name for name, _extras in seen}


@pytest.fixture(scope="module")
def lock():
    return pins("runtime.txt"), pins("dev.txt")


def test_no_distribution_is_pinned_twice(lock):
    runtime, dev = lock
    assert not set(runtime) & set(dev), "pinned in both runtime.txt and dev.txt"


def test_runtime_lock_pins_what_the_runtime_needs(lock):
    runtime, _dev = lock
    need = closure(PYPROJECT["dependencies"])
    assert need - set(runtime) == set(), "needed by the runtime dependencies, not pinned in requirements/runtime.txt"
    assert set(runtime) - need == set(), "pinned in requirements/runtime.txt, needed only by the dev tools (dev.txt)"


def test_dev_lock_pins_what_the_dev_tools_need_besides(lock):
    runtime, dev = lock
    need = closure(PYPROJECT["optional-dependencies"]["dev"]) - set(runtime)
    assert need - set(dev) == set(), "needed by the dev tools, pinned in neither lock file (requirements/dev.txt)"
    assert set(dev) - need == set(), "pinned in requirements/dev.txt, needed by nothing declared"
