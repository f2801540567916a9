"""GitOps on the user's own network (after test_own_network, on the same e2e stack and lab):
the intent the stack runs, in a git repository, with NetBox Branching on the stack's NetBox.

`netoss gitops plan` of a commit that adds a prefix for the network's one customer names the
one NetBox object it creates and the exact FRR lines of the routers that serve that customer
(its edge router and its own router), and nothing else; NetBox's main and the routers are
untouched, and the branch stays for review. An invalid commit is refused whole, by file and
key, and reaches no NetBox.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests
import yaml
from benches import assert_headings, run_bench  # tests/integration, on the path (conftest.py)
from stack_e2e import BASE, REPO, STATE, exports, netoss

from netoss.embedded import twin
from netoss.embedded.lab.runtime import VTYSH
from netoss.embedded.stack import accounts
from netoss.embedded.stack.config import Stack

pytestmark = pytest.mark.integration

INTENT = STATE / "own-intent"  # the own network's intent, as test_own_network left the stack on it
CUSTOMER = "Cliente Uno"
NEW_PREFIX = "203.0.113.208/28"  # the next /28 of the customer space, after the customer's own
SERVING = {"lis-edge-01.iberia.example", "cliente-uno-ce1"}  # the ends of the customer's circuit


def git(path: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "Erin Engineer",
        "GIT_AUTHOR_EMAIL": "erin@example.net",
        "GIT_COMMITTER_NAME": "Erin Engineer",
        "GIT_COMMITTER_EMAIL": "erin@example.net",
        "HOME": str(path),
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True, check=True, env=env).stdout


@pytest.fixture(scope="module")
def shell(env):
    """A pipeline's shell: the e2e stack's environment after `eval "$(netoss env)"`."""
    values = {k: v for k, v in env.items() if k != "NETOSS_INTENT"}
    if netoss(values, "status").returncode != 0:
        pytest.fail("the e2e stack is not up (test_netoss_up and test_own_network run first)")
    if not INTENT.is_dir():
        pytest.fail(f"no own-network intent in {INTENT} (test_own_network writes it)")
    return {**values, **exports(values)}


@pytest.fixture(scope="module")
def intent_repo(shell, tmp_path_factory) -> Path:
    """A clone of a bare repository holding the own network's intent, the project's policy and
    catalog, on the protected branch `main`."""
    root = tmp_path_factory.mktemp("gitops")
    bare = root / "network.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    clone = root / "clone"
    subprocess.run(["git", "clone", "-q", str(bare), str(clone)], check=True, capture_output=True)
    shutil.copytree(INTENT, clone / "inventory" / "intent")
    shutil.copytree(REPO / "compliance", clone / "compliance")
    (clone / "services").mkdir()
    shutil.copy(REPO / "services" / "catalog.yml", clone / "services" / "catalog.yml")
    git(clone, "checkout", "-q", "-b", "main")
    git(clone, "add", "-A")
    git(clone, "commit", "-q", "-m", "the network as it is")
    git(clone, "push", "-q", "origin", "main")
    return clone


def _netbox(shell, path, **params):
    resp = requests.get(
        f"{shell['NETBOX_API']}/api/{path}/",
        params=params,
        headers={"Authorization": f"Bearer {shell['NETBOX_TOKEN']}"},
        timeout=30,
    )
    resp.raise_for_status()
    return resp.json()


def _running(shell) -> dict[str, str]:
    proc = netoss(shell, "lab", "status", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {
        r["router"]: subprocess.run(
            ["ip", "netns", "exec", r["namespace"], VTYSH, "-N", r["namespace"], "-c", "show running-config"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for r in json.loads(proc.stdout)
    }


def test_a_commit_adding_a_customer_prefix_is_planned_on_a_branch_and_nothing_else_moves(intent_repo, shell):
    path = next(p for p in sorted((intent_repo / "inventory" / "intent").glob("*.yml")) if CUSTOMER in p.read_text()
                and "prefixes:" in p.read_text())  # fmt: skip
    doc = yaml.safe_load(path.read_text())
    doc["prefixes"].append({"prefix": NEW_PREFIX, "tenant": CUSTOMER, "description": "added by a merge request"})
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    git(intent_repo, "checkout", "-q", "-b", "add-prefix")
    git(intent_repo, "commit", "-q", "-am", f"{CUSTOMER}: one more prefix")
    sha = git(intent_repo, "rev-parse", "HEAD").strip()
    running = _running(shell)

    proc = netoss(shell, "gitops", "plan", "--repo", str(intent_repo), "--ref", "add-prefix", "--base", "main",
                  "--format", "json", timeout=900)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    plan = json.loads(proc.stdout)
    assert plan["ok"] and plan["commit"]["sha"] == sha and plan["commit"]["author"] == "Erin Engineer"
    assert [(c["action"], c["kind"], c["object"]) for c in plan["netbox"]] == [("create", "ipam.prefix", NEW_PREFIX)]
    assert plan["netbox"][0]["fields"]["prefix"] == [None, NEW_PREFIX]
    assert plan["branch"]["name"] == f"gitops-{sha[:12]}" and plan["conflicts"] == []
    assert plan["touched"] and set(plan["touched"]) <= SERVING, plan["touched"]
    for device in plan["touched"]:
        assert any(NEW_PREFIX.split("/")[0] in line for line in plan["devices"][device]["lines"]), plan["devices"]
    assert set(plan["devices"]) == set(running)  # every router planned; the others get no line
    assert plan["compliance"] == {} and plan["drift"] == []  # NetBox's main is main's intent
    # Nothing moved: NetBox's main has no such prefix, the routers run what they ran.
    assert _netbox(shell, "ipam/prefixes", prefix=NEW_PREFIX)["count"] == 0
    assert _running(shell) == running
    # The branch stays for reviewers, in NetBox's own UI.
    branches = _netbox(shell, "plugins/branching/branches", name=plan["branch"]["name"])["results"]
    assert [b["status"]["value"] for b in branches] == ["ready"]

    # Planned again (another push to the merge request): the same branch, synced, the same plan.
    proc = netoss(shell, "gitops", "plan", "--repo", str(intent_repo), "--ref", sha, "--format", "markdown",
                  timeout=900)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"netoss plan for `{sha[:12]}`" in proc.stdout and NEW_PREFIX in proc.stdout and "```diff" in proc.stdout


def test_an_invalid_commit_is_refused_whole_and_reaches_no_netbox(intent_repo, shell):
    git(intent_repo, "checkout", "-q", "main")
    git(intent_repo, "checkout", "-q", "-b", "broken")
    devices = next(p for p in (intent_repo / "inventory" / "intent").glob("*.yml") if "devices:" in p.read_text())
    devices.write_text(devices.read_text() + "  - name: half-a-device\n")
    (intent_repo / "netoss-gitops.yml").write_text("drift: sometimes\n")
    git(intent_repo, "add", "-A")
    git(intent_repo, "commit", "-q", "-m", "a half device and a bad setting")
    before = _netbox(shell, "plugins/branching/branches")["count"]
    proc = netoss(shell, "gitops", "plan", "--repo", str(intent_repo), "--ref", "broken")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "is invalid" in proc.stdout and "netoss-gitops.yml: drift" in proc.stdout
    (intent_repo / "netoss-gitops.yml").unlink()
    git(intent_repo, "commit", "-q", "-am", "the setting fixed, the device still broken")
    proc = netoss(shell, "gitops", "plan", "--repo", str(intent_repo), "--ref", "broken")
    assert proc.returncode == 2 and f"inventory/intent/{devices.name}" in proc.stdout, proc.stdout + proc.stderr
    assert _netbox(shell, "plugins/branching/branches")["count"] == before  # no branch for an invalid commit


def test_a_change_made_by_hand_in_netbox_is_drift_refused_or_overwritten_as_the_repository_says(intent_repo, shell):
    """A device's description changed in NetBox by hand, not from git: the next plan shows it as
    drift against main's intent and breaks (drift: refuse, the default); with drift: overwrite
    the plan may merge, and its branch puts the intent's value back."""
    git(intent_repo, "checkout", "-q", "main")
    (device,) = _netbox(shell, "dcim/devices", name="lis-cr1")["results"]
    headers = {"Authorization": f"Bearer {shell['NETBOX_TOKEN']}"}
    url = f"{shell['NETBOX_API']}/api/dcim/devices/{device['id']}/"
    resp = requests.patch(url, json={"description": "changed by hand"}, headers=headers, timeout=30)
    assert resp.status_code == 200, resp.text
    try:
        proc = netoss(shell, "gitops", "plan", "--repo", str(intent_repo), "--ref", "main", "--base", "main",
                      "--format", "json", timeout=900)  # fmt: skip
        assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
        plan = json.loads(proc.stdout)
        assert not plan["ok"] and plan["drift_setting"] == "refuse"
        assert [(d["kind"], d["object"]) for d in plan["drift"]] == [("devices", "lis-cr1")], plan["drift"]
        assert plan["drift"][0]["fields"]["description"][0] == "changed by hand"
        git(intent_repo, "checkout", "-q", "-b", "overwrite-drift")
        (intent_repo / "netoss-gitops.yml").write_text("drift: overwrite\n")
        git(intent_repo, "add", "-A")
        git(intent_repo, "commit", "-q", "-m", "the intent wins over hand changes")
        proc = netoss(shell, "gitops", "plan", "--repo", str(intent_repo), "--ref", "overwrite-drift",
                      "--format", "json", timeout=900)  # fmt: skip
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        plan = json.loads(proc.stdout)
        assert plan["ok"] and plan["drift"] and plan["drift_setting"] == "overwrite"
        undo = [c for c in plan["netbox"] if c["kind"] == "dcim.device" and c["object"] == "lis-cr1"]
        assert undo and undo[0]["fields"]["description"][0] == "changed by hand", plan["netbox"]
    finally:
        resp = requests.patch(url, json={"description": device["description"]}, headers=headers, timeout=30)
        assert resp.status_code == 200, resp.text


# -- a merge is applied: the repository's own post-receive hook sends a signed GitHub webhook ----

REPOSITORY = "iberia/network"  # as the git host would name it
GIT_PORT = BASE + 94  # git daemon on loopback: the intent repository's server


@pytest.fixture(scope="module")
def git_server(intent_repo, shell):
    """The bare repository served by `git daemon` on loopback (pushes allowed), with a
    post-receive hook that tells the portal of each push as GitHub's webhook would
    (`netoss gitops notify`, signed with the repository's secret), and the portal's GitOps
    repositories file naming it. Yields the clone's remote URL."""
    bare = intent_repo.parent / "network.git"
    secret = STATE / "portal" / "gitops-iberia.secret"
    secret.write_text(secrets.token_urlsafe(32) + "\n")
    secret.chmod(0o600)
    accounts.give(secret, accounts.SERVICE_USER)  # the portal reads it
    hook = bare / "hooks" / "post-receive"
    hook.write_text(
        "#!/bin/sh\n"
        f"exec {REPO / '.venv/bin/netoss'} gitops notify --url {shell['PORTAL_URL']}/api/v1/gitops/webhook/github "
        f"--repository {REPOSITORY} --secret-file {secret}\n"
    )
    hook.chmod(0o755)
    url = f"git://127.0.0.1:{GIT_PORT}/network.git"
    repositories = STATE / "portal" / "gitops-repositories.yml"
    repositories.write_text(yaml.safe_dump({"repositories": [
        {"name": REPOSITORY, "url": url, "provider": "github", "secret_file": str(secret), "branches": ["main"]},
    ]}))  # fmt: skip
    repositories.chmod(0o644)
    daemon = subprocess.Popen(
        ["git", "daemon", "--reuseaddr", "--export-all", "--enable=receive-pack", "--listen=127.0.0.1",
         f"--port={GIT_PORT}", f"--base-path={bare.parent}", str(bare.parent)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while subprocess.run(["git", "ls-remote", url], capture_output=True).returncode != 0:
            assert daemon.poll() is None and time.monotonic() < deadline, "git daemon did not start"
            time.sleep(0.2)
        git(intent_repo, "remote", "set-url", "origin", url)
        yield url
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)
        repositories.unlink(missing_ok=True)
        secret.unlink(missing_ok=True)


def _portal(shell, path, **params):
    resp = requests.get(f"{shell['PORTAL_URL']}{path}", params=params, timeout=30,
                        headers={"Authorization": f"Bearer {shell['PORTAL_TOKEN']}"})  # fmt: skip
    resp.raise_for_status()
    return resp.json()


def _deployments(shell) -> list[dict]:
    return _portal(shell, "/api/v1/gitops/deployments", repository=REPOSITORY, limit=500)


def _ended(shell, count: int, timeout: float = 900) -> list[dict]:
    """The repository's deployments once ``count`` exist and none is queued or running."""
    deadline = time.monotonic() + timeout
    while True:
        found = _deployments(shell)
        if len(found) >= count and all(d["status"] not in ("queued", "running") for d in found):
            return found
        assert time.monotonic() < deadline, f"deployments still going after {timeout:.0f} s: {found}"
        time.sleep(2)


def _route(namespace: str, prefix: str) -> dict:
    command = ["ip", "netns", "exec", namespace, VTYSH, "-N", namespace, "-c", f"show ip route {prefix} json"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(out or "{}")


def test_a_merge_pushed_to_the_protected_branch_is_applied_verified_and_recorded(intent_repo, git_server, shell):
    """The merge request's commit (the prefix planned above) merged into main and pushed: the
    repository's post-receive hook sends the signed webhook, the portal queues the deployment,
    its worker applies it. NetBox's main and the routers match the commit, the deployment is
    recorded with it, NetBox's journal names it, and the new prefix is routed at the other sites."""
    git(intent_repo, "checkout", "-q", "main")
    git(intent_repo, "merge", "-q", "--ff-only", "add-prefix")
    sha = git(intent_repo, "rev-parse", "HEAD").strip()
    before = len(_deployments(shell))
    push = subprocess.run(["git", "-C", str(intent_repo), "push", "origin", "main"], capture_output=True, text=True)
    assert push.returncode == 0 and "queued" in push.stderr, push.stderr  # the hook's answer, shown to the pusher
    (deployment, *_older) = _ended(shell, before + 1)
    assert deployment["sha"] == sha and deployment["author"] == "Erin Engineer", deployment
    assert deployment["status"] == "succeeded", deployment
    assert deployment["delivery_id"] and deployment["job_id"] and deployment["seconds"]
    assert set(deployment["devices"]) <= SERVING and deployment["devices"], deployment
    detail = _portal(shell, f"/api/v1/gitops/deployments/{deployment['id']}")
    assert [(c["action"], c["object"]) for c in detail["plan"]["netbox"]] == [("create", NEW_PREFIX)]
    # NetBox's main has the prefix (the branch was merged), and each touched router runs it.
    assert _netbox(shell, "ipam/prefixes", prefix=NEW_PREFIX)["count"] == 1
    running = _running(shell)
    for device in deployment["devices"]:
        assert NEW_PREFIX.split("/")[0] in running[device], device
    journal = _netbox(shell, "extras/journal-entries", q=f"deployment {deployment['id']}", limit=100)["results"]
    assert set(deployment["devices"]) <= {(j.get("assigned_object") or {}).get("name") for j in journal}, journal
    # The prefix is routed beyond the customer's site.
    routers = json.loads(netoss(shell, "lab", "status", "--json").stdout)
    others = [r for r in routers if r["router"] not in SERVING]
    deadline = time.monotonic() + 60
    while not all(_route(r["namespace"], NEW_PREFIX) for r in others):
        assert time.monotonic() < deadline, {r["router"]: _route(r["namespace"], NEW_PREFIX) for r in others}
        time.sleep(2)


def test_two_merges_in_quick_succession_apply_only_the_newest(intent_repo, git_server, shell):
    """Two pushes a moment apart: the older deployment is superseded (while queued, or before it
    merges), the newer one applies both commits."""
    path = next(p for p in sorted((intent_repo / "inventory" / "intent").glob("*.yml")) if NEW_PREFIX in p.read_text())
    shas = []
    before = len(_deployments(shell))
    for text in ("first description", "second description"):
        doc = yaml.safe_load(path.read_text())
        entry = next(e for e in doc["prefixes"] if e["prefix"] == NEW_PREFIX)
        entry["description"] = text
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        git(intent_repo, "commit", "-q", "-am", f"the new prefix: {text}")
        shas.append(git(intent_repo, "rev-parse", "HEAD").strip())
        push = subprocess.run(["git", "-C", str(intent_repo), "push", "origin", "main"], capture_output=True, text=True)
        assert push.returncode == 0, push.stderr
    found = {d["sha"]: d for d in _ended(shell, before + 2)}
    assert found[shas[0]]["status"] == "superseded", found[shas[0]]
    assert found[shas[0]]["superseded_by"] == found[shas[1]]["id"]
    assert found[shas[1]]["status"] == "succeeded", found[shas[1]]
    (prefix,) = _netbox(shell, "ipam/prefixes", prefix=NEW_PREFIX)["results"]
    assert prefix["description"] == "second description"


def _session(shell, router: str, peer: str) -> str:
    """The state of ``router``'s BGP session with ``peer`` (vtysh, in its namespace)."""
    namespace = next(r["namespace"] for r in json.loads(netoss(shell, "lab", "status", "--json").stdout)
                     if r["router"] == router)  # fmt: skip
    command = ["ip", "netns", "exec", namespace, VTYSH, "-N", namespace, "-c", "show bgp summary json"]
    out = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout or "{}")
    peers = (out.get("ipv4Unicast") or {}).get("peers") or {}
    return (peers.get(peer) or {}).get("state", "absent")


# A port shut by a typo: the spare ge-0-0-4 was meant, the customer's ge-0-0-3 is written. The
# intent has no BGP neighbour address to get wrong: both ends of a session come from the link's
# addresses, and two ends with no common subnet are refused by the plan itself (device data).
# This typo passes every check of the plan (valid, renderable, compliant) and breaks BGP.
TYPO = (
    "{name: ge-0-0-3, type: 1000base-t, description: Cliente Uno,",
    "{name: ge-0-0-3, type: 1000base-t, description: Cliente Uno, enabled: false,",
)


def test_plan_rehearse_catches_a_change_that_breaks_bgp_before_it_merges(intent_repo, shell):
    """The customer's port shut by a typo: the plan alone is fine (valid, compliant, no
    conflict), its rehearsal on a twin of the lab built from the branch shows the customer's BGP
    session that goes down and the customer's prefix that the routers no longer reach. The twin
    is gone after; the lab and NetBox's main never moved."""
    git(intent_repo, "checkout", "-q", "main")
    git(intent_repo, "checkout", "-q", "-b", "typo")
    devices = next(p for p in sorted((intent_repo / "inventory" / "intent").glob("*.yml")) if TYPO[0] in p.read_text())
    devices.write_text(devices.read_text().replace(*TYPO))
    git(intent_repo, "commit", "-q", "-am", "shut the spare port (a typo: the customer's)")
    running = _running(shell)
    proc = netoss(shell, "gitops", "plan", "--repo", str(intent_repo), "--ref", "typo", "--format", "json",
                  "--rehearse", "--twin-subnet", "198.18.201.0/24", "--converge", "45", timeout=900)  # fmt: skip
    git(intent_repo, "checkout", "-q", "main")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    plan = json.loads(proc.stdout)
    # The plan alone lets it through.
    assert not (plan["conflicts"] or plan["compliance"] or plan["errors"] or plan["device_errors"]), plan
    rehearsal = plan["rehearsal"]
    shown = json.dumps(rehearsal, indent=1)
    assert not rehearsal["ok"] and not rehearsal["errors"], shown
    assert set(rehearsal["routers"]) == set(running)
    edge = "lis-edge-01.iberia.example"
    assert any(s.startswith("198.19.74.2 ") for s in rehearsal["sessions_lost"].get(edge, [])), shown
    customer = "203.0.113.192/28"  # the customer's own prefix, announced by its router over that session
    losing = {router for router, lost in rehearsal["unreachable"].items() if customer in lost}
    assert {edge, "lis-cr1", "opo-cr1"} <= losing, shown
    assert rehearsal["seconds"]["total"] < 180
    # The twin is gone; the lab runs what it ran.
    prefix = twin.names(Stack(state_dir=STATE)).ns_prefix
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert not [n for n in namespaces.split() if n.startswith(prefix)], namespaces
    assert _running(shell) == running


def test_a_merge_that_breaks_bgp_is_rolled_back_to_the_last_good_commit_with_a_ticket(intent_repo, git_server, shell):
    """The customer's port shut by a typo, forced through to main: the push takes the customer's
    BGP session down and its verification fails, so the deployment reverts the merge in NetBox,
    pushes the routers back to the last good commit, and opens a ticket naming the commit, its
    author and the failing router."""
    edge = "lis-edge-01.iberia.example"  # the customer's circuit's provider end
    assert _session(shell, edge, "198.19.74.2") == "Established"
    good = _deployments(shell)[0]
    assert good["status"] == "succeeded"
    running = _running(shell)
    devices = next(p for p in sorted((intent_repo / "inventory" / "intent").glob("*.yml")) if TYPO[0] in p.read_text())
    devices.write_text(devices.read_text().replace(*TYPO))
    (intent_repo / "netoss-gitops.yml").write_text("verify_timeout: 30\n")
    git(intent_repo, "add", "-A")
    git(intent_repo, "commit", "-q", "--author", "Mallory Mistake <mallory@example.net>",
        "-m", "shut the spare port (a typo: the customer's)")  # fmt: skip
    sha = git(intent_repo, "rev-parse", "HEAD").strip()
    before = len(_deployments(shell))
    push = subprocess.run(["git", "-C", str(intent_repo), "push", "origin", "main"], capture_output=True, text=True)
    assert push.returncode == 0, push.stderr
    (deployment, *_older) = _ended(shell, before + 1)
    assert deployment["sha"] == sha and deployment["author"] == "Mallory Mistake", deployment
    assert deployment["status"] == "rolled-back", deployment
    assert deployment["previous_sha"] == good["sha"] and deployment["failed_devices"], deployment
    assert set(deployment["failed_devices"]) <= SERVING
    # NetBox's main is back: the merge was reverted.
    (port,) = _netbox(shell, "dcim/interfaces", device=edge, name="ge-0-0-3")["results"]
    assert port["enabled"], port
    # The routers are back, and the customer's session comes up again.
    deadline = time.monotonic() + 90
    while _session(shell, edge, "198.19.74.2") != "Established":
        assert time.monotonic() < deadline, _session(shell, edge, "198.19.74.2")
        time.sleep(2)
    now = _running(shell)
    for router in SERVING:
        assert set(now[router].splitlines()) == set(running[router].splitlines()), router
    # The ticket names the commit, its author and the failing routers, and links the deployment.
    ticket = _portal(shell, f"/tmf-api/troubleTicket/v4/troubleTicket/{deployment['ticket_id']}")
    assert sha in ticket["description"] and "Mallory Mistake <mallory@example.net>" in ticket["description"]
    assert all(d in ticket["description"] for d in deployment["failed_devices"])
    assert {"id": str(deployment["id"]), "role": "cause"}.items() <= next(
        r for r in ticket["relatedEntity"] if r["@referredType"] == "Deployment"
    ).items()


def test_a_merge_back_to_the_start_is_applied_too(intent_repo, git_server, shell):
    """A commit that puts the intent back as it was at the start (the prefix gone, the typo
    gone): applied like any merge. NetBox's main and the routers are back to the stack's intent,
    which the bench below starts from."""
    git(intent_repo, "checkout", "-q", "main")
    first = git(intent_repo, "rev-list", "--max-parents=0", "HEAD").strip()
    added = git(intent_repo, "diff", "--name-only", "--diff-filter=A", first, "HEAD").split()
    if added:
        git(intent_repo, "rm", "-q", *added)
    git(intent_repo, "checkout", first, "--", ".")
    git(intent_repo, "commit", "-q", "-am", "back to the start")
    sha = git(intent_repo, "rev-parse", "HEAD").strip()
    before = len(_deployments(shell))
    push = subprocess.run(["git", "-C", str(intent_repo), "push", "origin", "main"], capture_output=True, text=True)
    assert push.returncode == 0, push.stderr
    (deployment, *_older) = _ended(shell, before + 1)
    assert deployment["sha"] == sha and deployment["status"] == "succeeded", deployment
    assert _netbox(shell, "ipam/prefixes", prefix=NEW_PREFIX)["count"] == 0
    running = _running(shell)
    assert not any(NEW_PREFIX.split("/")[0] in running[d] for d in SERVING)


def test_bench_gitops_smoke(shell):
    """bench/bench_gitops.py at its smoke size on this stack (tests/integration/test_bench_smoke.py):
    plans, a rehearsal, a merge applied and reverted through a post-receive hook's webhook, the
    hand way; it leaves no branch, changes nothing in NetBox's main, and puts the portal's GitOps
    repositories file back. Last: the tests above put NetBox's main back to the stack's intent,
    which the bench's repository starts from."""
    prefixes = _netbox(shell, "ipam/prefixes", limit=1)["count"]
    repositories = STATE / "portal" / "gitops-repositories.yml"
    before = repositories.read_text() if repositories.exists() else None
    out = run_bench("bench_gitops.py", "--smoke", "--stack", str(STATE))
    assert_headings(
        out, "change: a customer prefix", "netoss gitops plan (new branch):", "by hand on main:",
        "netoss gitops plan --rehearse:", "merge to verified, the change:", "merge to verified, its revert:",
        "by hand, the change:", "cleanup: NetBox branch",
    )  # fmt: skip
    assert _netbox(shell, "ipam/prefixes", limit=1)["count"] == prefixes
    assert (repositories.read_text() if repositories.exists() else None) == before
