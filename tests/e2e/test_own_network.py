"""A network unlike the demo, through the documented commands (docs/intent.md: Your own network).

The e2e stack, which ran the demo (test_netoss_up), moves to a user's own network: another
operator and 4-byte AS, sites, names (a long dotted one), ports (ens3, ge-0-0-N, wan0),
addressing (/30 links, another management subnet), shape (a triangle of provider routers) and
one customer. `netoss init` writes the starting intent, the user's files are added, and then:
the move is refused until confirmed, the sync is idempotent, the lab converges, compliance is
100 %, the health check is clean, the single customer is reachable from the core, and a failed
core link gives one ticket named after the link, resolved by the recovery.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests
from stack_e2e import BASE, REPO, STATE, exports, netoss
from waiting import wait_for

pytestmark = pytest.mark.integration

OWN = Path(__file__).parent / "own_network"
INTENT = STATE / "own-intent"
TICKETS = "/tmf-api/troubleTicket/v4/troubleTicket"
CUSTOMER_LOOPBACK = "203.0.113.193"
CORE_LINK_NAME = "Link down: lis-cr1:ge-0-0-1 - opo-cr1:ge-0-0-1"


@pytest.fixture(scope="module")
def own(env):
    """The e2e stack's environment, as a user's shell after `eval "$(netoss env)"` would be
    once the stack moved to the own network (set by the first test)."""
    values = {k: v for k, v in env.items() if k != "NETOSS_INTENT"}
    up = netoss(values, "status")
    if up.returncode != 0:
        pytest.fail("the e2e stack is not up (test_netoss_up runs first)")
    return values


def _namespaces(env) -> dict[str, str]:
    proc = netoss(env, "lab", "status", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {r["router"]: r["namespace"] for r in json.loads(proc.stdout)}


def _in(ns, *argv, check=True):
    return subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True, text=True, check=check, timeout=60)


def test_init_writes_the_start_and_the_users_files_complete_it(own):
    shutil.rmtree(INTENT, ignore_errors=True)
    proc = netoss(
        own, "init", str(INTENT), "--operator", "Iberia Transit S.A.", "--asn", "4200000101",
        "--site", "lis1", "--management", "198.18.72.0/26",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert f"netoss up --intent {INTENT}" in proc.stdout
    defaults = (INTENT / "50-config.yml").read_text()
    assert "host: 198.18.72.1" in defaults and f"port: {BASE + 514}" in defaults  # the lab's collector
    for f in OWN.glob("*.yml"):
        shutil.copy(f, INTENT / f.name)


def test_moving_the_stack_to_another_network_is_refused_until_confirmed(own):
    refused = netoss(own, "up", "--intent", str(INTENT))
    assert refused.returncode != 0
    assert "refusing to prune" in refused.stderr and "--confirm-prune" in refused.stderr, refused.stderr[-3000:]
    assert "ce1" in _namespaces(own)  # nothing of the demo was touched: its lab still runs

    moved = netoss(own, "up", "--intent", str(INTENT), "--confirm-prune")
    assert moved.returncode == 0, moved.stdout + moved.stderr[-4000:]
    assert "lab: configured and verified" in moved.stderr
    assert "4 devices in 2 sites, 5 cables in NetBox" in moved.stdout
    assert "Free ports  lis-edge-01.iberia.example:ge-0-0-4" in moved.stdout
    routers = _namespaces(own)
    assert sorted(routers) == ["cliente-uno-ce1", "lis-cr1", "lis-edge-01.iberia.example", "opo-cr1"]
    # The demo's routers are gone with their namespaces: the lab tracked what it built.
    names = set(subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split())
    assert not names & {"ece1", "ep1", "epe1"}
    assert exports(own)["NETOSS_INTENT"] == str(INTENT)


def test_the_sync_of_the_own_intent_changes_nothing_twice(own):
    env = {**own, **exports(own)}
    for _ in range(2):
        run = subprocess.run(
            [str(REPO / ".venv/bin/ansible-playbook"), "playbooks/sot_sync.yml"],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        assert run.returncode == 0, run.stdout[-4000:]
        assert f"files in {INTENT})" in run.stdout
        assert "Plan: 0 to create, 0 to update, 0 to delete" in run.stdout, run.stdout[-3000:]


def test_compliance_is_total_and_the_health_check_clean(own):
    job = netoss(own, "job", "run", "compliance", timeout=900)
    assert job.returncode == 0, job.stdout[-4000:]
    report = netoss(own, "compliance", "report", "--json")
    overview = json.loads(report.stdout)
    assert overview["devices_total"] == 4 and overview["percent"] == 100, report.stdout[-3000:]
    health = netoss(own, "job", "run", "health-check", timeout=900)
    assert health.returncode == 0, health.stdout[-4000:]
    assert "ge-0-0-4: unused in NetBox" in health.stdout  # the edge router's spare port


def test_the_single_customer_is_reachable_from_the_core(own):
    ns = _namespaces(own)
    # From a core router that is not the customer's edge: the customer's routes reach the core.
    ping = _in(ns["opo-cr1"], "ping", "-c", "3", "-W", "1", "-i", "0.3", CUSTOMER_LOOPBACK, check=False)
    assert ping.returncode == 0, ping.stdout + ping.stderr
    # And back: the customer reaches the provider's core through the route its edge sends it.
    back = _in(ns["cliente-uno-ce1"], "ping", "-c", "3", "-W", "1", "-i", "0.3", "-I", CUSTOMER_LOOPBACK,
               "198.19.73.2", check=False)  # fmt: skip
    assert back.returncode == 0, back.stdout + back.stderr


def test_a_failed_core_link_is_one_ticket_named_after_it_and_its_recovery_resolves_it(own):
    env = exports(own)
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {env['PORTAL_TOKEN']}"
    url = env["PORTAL_URL"]

    def open_tickets():
        resp = api.get(f"{url}{TICKETS}", params={"status": "open", "limit": 1000}, timeout=10)
        assert resp.status_code == 200, resp.text
        return {t["id"]: t for t in resp.json()}

    before = set(open_tickets())
    ns = _namespaces(own)
    subprocess.run(["ip", "-n", ns["lis-cr1"], "link", "set", "ge-0-0-1", "down"], check=True)
    try:
        new = wait_for(
            "a ticket for the link", lambda: {k: v for k, v in open_tickets().items() if k not in before}, 90
        )
        time.sleep(5)  # the rest of the problem (OSPF, BGP over the link) has arrived: still one ticket
        new = {k: v for k, v in open_tickets().items() if k not in before}
        assert len(new) == 1, [t["name"] for t in new.values()]
        ((ref, ticket),) = new.items()
        assert ticket["name"] == CORE_LINK_NAME, ticket["name"]
        # The triangle routes around it: the customer is still reachable from the core.
        ping = _in(ns["opo-cr1"], "ping", "-c", "2", "-W", "2", CUSTOMER_LOOPBACK, check=False)
        assert ping.returncode == 0, ping.stdout
    finally:
        subprocess.run(["ip", "-n", ns["lis-cr1"], "link", "set", "ge-0-0-1", "up"], check=True)
    resolved = wait_for(
        "the ticket resolving itself",
        lambda: (t := api.get(f"{url}{TICKETS}/{ref}", timeout=10).json())["status"] == "resolved" and t,
        180,
    )
    # Still named after the link, not after a symptom that cleared last.
    assert resolved["name"] == CORE_LINK_NAME, resolved["name"]
    roots = [r for r in resolved["relatedEntity"] if r.get("role") == "rootCause"]
    assert len(roots) == 1, resolved["relatedEntity"]
