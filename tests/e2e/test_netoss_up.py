"""End to end: what `make up` runs (`netoss up`) on the demo, as a user would, on the e2e
stack of its own (tests/e2e/conftest.py)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from stack_e2e import BASE, MGMT, REPO, STATE, exports, netoss

from netoss.embedded.stack.proc import pid_alive

pytestmark = pytest.mark.integration


def test_up_seeds_builds_the_lab_and_prints_where_to_go(env):
    proc = netoss(env, "up")
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert f"http://127.0.0.1:{BASE + 80}/" in proc.stdout
    assert "password" in proc.stdout and "netoss env" in proc.stdout
    assert "seeding NetBox" in proc.stderr and f"intent: {STATE / 'intent'}" in proc.stderr
    assert "cannot read the intent" not in proc.stderr
    assert "runs as root" not in proc.stderr  # a default machine runs the services unprivileged
    # What the user's NetBox holds, not a text about the demo.
    assert "8 devices in 2 sites, 9 cables in NetBox" in proc.stdout
    assert "Free ports  ce3:eth1, ce4:eth1, pe1:eth4, pe2:eth4   (for service orders)" in proc.stdout
    assert "8 FRR routers" in proc.stdout and f"ssh netopse@{MGMT}." in proc.stdout
    # The lab runs the configurations rendered from NetBox, verified (OSPF and BGP up).
    assert "lab: configured and verified" in proc.stderr
    bgp = subprocess.run(
        ["ip", "netns", "exec", "epe1", "vtysh", "-N", "epe1", "-c", "show bgp summary json"],
        capture_output=True,
        text=True,
        check=True,
    )
    peers = json.loads(bgp.stdout)["ipv4Unicast"]["peers"]
    assert len(peers) == 3 and all(p["state"] == "Established" for p in peers.values()), peers
    lab = netoss(env, "lab", "status", "--json")
    assert lab.returncode == 0, lab.stdout
    rows = json.loads(lab.stdout)
    assert sorted(r["namespace"] for r in rows) == ["ece1", "ece2", "ece3", "ece4", "ep1", "ep2", "epe1", "epe2"]
    assert all(r["healthy"] and r["mgmt_ip"].startswith(MGMT + ".") for r in rows)

    graph = subprocess.run(
        [str(REPO / ".venv/bin/ansible-inventory"), "--graph"],
        env={**env, **exports(env)},
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "@sites_ams1:" in graph and "@device_roles_pe:" in graph and "pe1" in graph


def test_the_health_check_of_a_fresh_stack_passes(env):
    """Spare ports (no cable, no address in NetBox) are not faults: the stock job passes."""
    proc = netoss(env, "job", "run", "health-check", timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert proc.stdout.rstrip().endswith("successful")
    assert "eth4: unused in NetBox" in proc.stdout  # the PEs' spare ports, named as left out


def test_up_again_only_verifies(env):
    # No timing threshold (shared machines are noisy): a second run must neither reseed nor
    # restore; the bench and README give its duration (a few seconds).
    proc = netoss(env, "up")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "seeding" not in proc.stderr and "restoring" not in proc.stderr and "migrating" not in proc.stderr
    assert "pushing" not in proc.stderr  # the routers already run what NetBox renders


def test_status_then_down_stops_every_process_by_pid(env):
    status = netoss(env, "status", "--json")
    assert status.returncode == 0, status.stdout
    services = json.loads(status.stdout)["services"]
    pids = [s["pid"] for s in services]
    assert all(pids)
    # `netoss status` shows each service's account: root only for supervisord and the lab helper.
    root = {s["name"] for s in services if s["user"] == "root"}
    assert root == {"supervisord", "lab-helper"}, root
    assert {s["user"] for s in services if s["name"].startswith(("netbox-", "portal-", "fault-"))} == {"netoss"}
    assert netoss(env, "down").returncode == 0
    assert not [p for p in pids if pid_alive(p)]
    # The lab went down first and left nothing behind.
    assert not [ns for ns in os.listdir("/var/run/netns") if ns in ("ece1", "ep1", "epe1")]
    assert subprocess.run(["id", "netopse"], capture_output=True).returncode != 0
    after = netoss(env, "status")
    assert after.returncode == 1 and "DOWN" in after.stdout
    # The data stays: the next up finds the seeded NetBox without seeding again.
    again = netoss(env, "up")
    assert again.returncode == 0 and "seeding" not in again.stderr and "restoring" not in again.stderr
    assert netoss(env, "lab", "status").returncode == 0
