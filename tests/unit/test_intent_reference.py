"""docs/intent.md is generated from the schema; it must not drift from it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_intent_reference_is_up_to_date():
    spec = importlib.util.spec_from_file_location("intent_reference", REPO / "scripts" / "intent_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    expected = module.render()
    assert (REPO / "docs" / "intent.md").read_text() == expected, (
        "docs/intent.md is stale: run .venv/bin/python scripts/intent_reference.py"
    )
    for kind in ("devices", "cables", "prefixes", "custom_fields"):
        assert f"## `{kind}`" in expected
