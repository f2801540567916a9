"""The end-to-end stack: what `make up` runs (`netoss up`), as a user would, on a stack of its
own (state in <repo>/.state-e2e, port base 28000), shared by the e2e modules in file order:
the demo first (test_netoss_up), then the same stack moved to a user's own network
(test_own_network). It never touches the stack of `make up` nor the integration tests'."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(1, str(Path(__file__).parents[1] / "integration"))  # waiting.wait_for, shared

from stack_e2e import BASE, LAB, MGMT, REPO, STATE, netoss

from netoss.embedded.deployment import wipe
from netoss.embedded.stack import Stack


@pytest.fixture(scope="session")
def env():
    stack = Stack(state_dir=STATE, port_base=BASE)
    wipe(stack)
    intent = STATE / "intent"  # where the stack's account can read it (its jobs apply it)
    shutil.copytree(REPO / "inventory" / "intent", intent)
    for f in intent.glob("*.yml"):
        text = f.read_text().replace("198.18.0.", MGMT + ".")
        f.write_text(text.replace("port: 17514", f"port: {BASE + 514}"))
    values = {
        **os.environ,
        **LAB,
        "NETOSS_INTENT": str(intent),
        "NETOSS_STATE": str(STATE),
        "NETOSS_PORT_BASE": str(BASE),
        "ANSIBLE_LOCAL_TEMP": str(STATE / "ansible-tmp"),
        "PATH": f"{REPO / '.venv/bin'}:{os.environ['PATH']}",
    }
    yield values
    if os.environ.get("NETOSS_E2E_KEEP") == "1":  # to look at a failure: `netoss down` and wipe by hand after
        print(f"\nNETOSS_E2E_KEEP=1: the e2e stack is left up in {STATE}")
        return
    netoss(values, "down")
    wipe(stack)
