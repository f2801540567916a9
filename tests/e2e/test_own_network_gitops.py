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
import shutil
import subprocess
from pathlib import Path

import pytest
import requests
import yaml
from benches import assert_headings, run_bench  # tests/integration, on the path (conftest.py)
from stack_e2e import REPO, STATE, exports, netoss

from netoss.embedded.lab.runtime import VTYSH

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


def test_bench_gitops_smoke(shell):
    """bench/bench_gitops.py at its smoke size on this stack (tests/integration/test_bench_smoke.py):
    it leaves no branch and changes nothing in NetBox's main."""
    prefixes = _netbox(shell, "ipam/prefixes", limit=1)["count"]
    out = run_bench("bench_gitops.py", "--smoke", "--stack", str(STATE))
    assert_headings(
        out, "change: a customer prefix", "netoss gitops plan (new branch):", "re-plans: median", "by hand on main:",
        "cleanup: NetBox branch",
    )  # fmt: skip
    assert _netbox(shell, "ipam/prefixes", limit=1)["count"] == prefixes
