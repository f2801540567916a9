"""The end-to-end stack's constants and helpers, shared by the e2e modules (import stack_e2e)."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STATE = REPO / ".state-e2e"
BASE = 28000
# Its own lab names and management subnet, apart from the `make up` lab and the integration tests'.
LAB = {"NETOSS_LAB_PREFIX": "e", "NETOSS_LAB_BRIDGE": "netoss-ebr0", "NETOSS_LAB_USER": "netopse"}
MGMT = "198.18.101"


def netoss(env, *args, timeout=1800):
    return subprocess.run(
        [str(REPO / ".venv/bin/netoss"), *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout
    )


def exports(env) -> dict[str, str]:
    """What `eval "$(netoss env)"` would set."""
    out = netoss(env, "env").stdout
    pairs = (line.removeprefix("export ").split("=", 1) for line in out.splitlines())
    return {key: shlex.split(value)[0] for key, value in pairs}
