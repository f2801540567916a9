"""The test suite's own layout: `make test` collects tests/unit, tests/integration and tests/e2e in
one pytest run, which imports each test module by its file name (the folders are not packages), so
two test modules of one name break the whole run ("import file mismatch") though each folder
passes on its own."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_no_two_test_modules_share_a_name():
    by_name: dict[str, list[str]] = defaultdict(list)
    for path in TESTS.rglob("*.py"):
        if "__pycache__" not in path.parts:
            by_name[path.name].append(str(path.relative_to(TESTS)))
    shared = {name: paths for name, paths in by_name.items() if len(paths) > 1 and name != "conftest.py"}
    assert not shared, f"test modules of one name in several folders (rename one): {shared}"
