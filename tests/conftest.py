import os
import sys
from pathlib import Path

# Make `ansible_collections.netoss.core...` importable: .collections/ansible_collections/netoss/core
# is a symlink to the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / ".collections"))

# What `eval "$(netoss env)"` exports for the `make up` stack must not steer the tests' own
# stacks and playbooks to that stack's intent.
os.environ.pop("NETOSS_INTENT", None)


def pytest_xdist_make_scheduler(config, log):
    """`make test` runs two pytest-xdist workers: all integration tests go to one worker, in
    order (they share the session's test stack and lab), all end-to-end tests to the other (they
    share the e2e stack, on its own ports, lab names and subnets), and the unit tests, module by
    module, to whichever worker is free. The two stacks never meet, so they run side by side."""
    from xdist.scheduler import LoadScopeScheduling

    class StacksApart(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            parts = nodeid.split("/")
            if len(parts) > 2 and parts[0] == "tests" and parts[1] in ("integration", "e2e"):
                return parts[1]
            return nodeid.split("::", 1)[0]

    return StacksApart(config, log)
