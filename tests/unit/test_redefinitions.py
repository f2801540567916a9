"""No module of the product, the collection, the benches or the tests defines a top-level function or
class twice: the second silently replaces the first for every caller (ruff's F811 sees only a
name redefined before any use). Read with ast; also run on a made-up module that breaks it."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TREES = ("netoss", "plugins", "bench", "scripts", "tests")  # a test defined twice never runs


def redefined(source: str, name: str = "<source>") -> list[str]:
    """'name:line: what (first at line N)' for each top-level def/class named twice; a name
    defined under ``if``/``try`` (alternatives) is not counted."""
    seen, out = {}, []
    for node in ast.parse(source, name).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node.name in seen:
                out.append(f"{name}:{node.lineno}: {node.name} (first at line {seen[node.name]})")
            else:
                seen[node.name] = node.lineno
    return out


def test_no_top_level_function_or_class_is_defined_twice():
    found = []
    for tree in TREES:
        for path in sorted((REPO / tree).rglob("*.py")):
            found += redefined(path.read_text(), str(path.relative_to(REPO)))
    assert not found, "\n".join(found)


def test_a_second_definition_is_found():
    source = "def _record(a):\n    pass\n\n\nx = _record(1)\n\n\ndef _record(b, c):\n    pass\n"
    assert redefined(source, "m.py") == ["m.py:8: _record (first at line 1)"]
