import os
import sys
from pathlib import Path

# Make `ansible_collections.netoss.core...` importable: .collections/ansible_collections/netoss/core
# is a symlink to the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / ".collections"))

# What `eval "$(netoss env)"` exports for the `make up` stack must not steer the tests' own
# stacks and playbooks to that stack's intent.
os.environ.pop("NETOSS_INTENT", None)
