import os
import sys
from pathlib import Path

# Make `ansible_collections.netoss.core...` importable: .collections/ansible_collections/netoss/core
# is a symlink to the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / ".collections"))

# What `eval "$(netoss env)"` exports for the `make up` stack must not steer the tests' own
# stacks and playbooks to that stack's intent.
os.environ.pop("NETOSS_INTENT", None)


def pytest_collection_modifyitems(config, items):
    """`make test` runs two pytest-xdist workers with ``--dist loadgroup``: every integration test
    goes to one worker (they share the session's test stack and lab), every end-to-end test to
    another (they share the e2e stack, on its own ports, lab names and subnets), and the unit
    tests fill in. The two stacks never meet, so they run side by side."""
    import pytest

    for item in items:
        parts = Path(str(item.fspath)).parts
        for group in ("integration", "e2e"):
            if group in parts and "tests" in parts:
                item.add_marker(pytest.mark.xdist_group(group))
