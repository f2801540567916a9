"""GitOps against the real components: a git repository of the test stack's intent, NetBox
Branching on the test stack's NetBox, and a lab of its own (g* namespaces) configured from
NetBox.

`netoss gitops plan` of a commit that adds a customer prefix names the one NetBox object it
creates and the exact FRR lines of the routers that serve that customer, and nothing else;
NetBox's main and the routers are untouched. An invalid commit is refused whole, by file, and
nothing reaches NetBox.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from netoss.embedded import lab
from netoss.embedded.lab import runtime
from netoss.embedded.lab.spec import LabConfig

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
GITOPS_LAB = LabConfig(ns_prefix="g", bridge="netoss-gbr0", user="netopsg")


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
def gitops_lab(stack, nb, demo_synced):
    spec = lab.up(stack, nb, GITOPS_LAB, log=print)
    try:
        assert lab.converge(stack, spec, log=print, force=True)
        yield spec
    finally:
        lab.down(stack, log=print)


@pytest.fixture(scope="module")
def intent_repo(stack, test_intent, tmp_path_factory) -> Path:
    """A clone of a bare repository holding the stack's intent as it is in NetBox, the
    project's policy and catalog, on the protected branch `main`."""
    root = tmp_path_factory.mktemp("gitops")
    bare = root / "network.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    clone = root / "clone"
    subprocess.run(["git", "clone", "-q", str(bare), str(clone)], check=True, capture_output=True)
    shutil.copytree(test_intent, clone / "inventory" / "intent")
    shutil.copytree(REPO / "compliance", clone / "compliance")
    (clone / "services").mkdir()
    shutil.copy(REPO / "services" / "catalog.yml", clone / "services" / "catalog.yml")
    git(clone, "checkout", "-q", "-b", "main")
    git(clone, "add", "-A")
    git(clone, "commit", "-q", "-m", "the network as it is")
    git(clone, "push", "-q", "origin", "main")
    return clone


@pytest.fixture
def env(nb_env, stack):
    """A pipeline's environment: the stack's NetBox through its writer account (which may
    branch), the lab's device login."""
    return {**nb_env, "NETBOX_TOKEN": stack.machine_token("writer"), **lab.device_env(stack)}


def netoss(env, *args, cwd=None):
    return subprocess.run(
        [str(REPO / ".venv/bin/netoss"), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=900
    )


def _new_customer_prefix(nb, repo: Path) -> tuple[str, str]:
    """A new prefix for the tenant of the first customer prefix of the intent: the next free one
    of the same length in the same container (NetBox's available-prefixes), added to the intent
    file that holds the prefixes. Returns (prefix, tenant)."""
    path = next(p for p in sorted((repo / "inventory" / "intent").glob("*.yml")) if "prefixes:" in p.read_text())
    doc = yaml.safe_load(path.read_text())
    containers = {p["prefix"] for p in doc["prefixes"] if p.get("status") == "container" and p.get("role")}
    customer = next(p for p in doc["prefixes"] if p.get("tenant") and any(_inside(p["prefix"], c) for c in containers))
    container = next(c for c in containers if _inside(customer["prefix"], c))
    length = int(customer["prefix"].split("/")[1])
    free = nb.ipam.prefixes.get(prefix=container).available_prefixes.list()
    new = next(f"{p.prefix.split('/')[0]}/{length}" for p in free if int(p.prefix.split("/")[1]) <= length)
    doc["prefixes"].append({"prefix": new, "tenant": customer["tenant"], "description": "added by a merge request"})
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return new, customer["tenant"]


def _inside(prefix: str, container: str) -> bool:
    import ipaddress

    return ipaddress.ip_network(prefix).subnet_of(ipaddress.ip_network(container))


def _tenant_devices(nb, tenant: str) -> set[str]:
    """The devices at either end of the tenant's circuits: the routers that serve it."""
    devices = set()
    for circuit in nb.circuits.circuits.filter(tenant=nb.tenancy.tenants.get(name=tenant).slug):
        for term in nb.circuits.circuit_terminations.filter(circuit_id=circuit.id):
            for peer in term.link_peers or []:
                devices.add(peer.device.name)
            for end in getattr(term, "connected_endpoints", None) or []:
                devices.add(end.device.name)
    return devices


def test_a_commit_adding_a_customer_prefix_is_planned_on_a_branch_and_nothing_else_moves(
    gitops_lab, intent_repo, env, nb, stack
):
    new, tenant = _new_customer_prefix(nb, intent_repo)
    git(intent_repo, "checkout", "-q", "-b", "add-prefix")
    git(intent_repo, "commit", "-q", "-am", f"{tenant}: one more prefix")
    sha = git(intent_repo, "rev-parse", "HEAD").strip()
    running = {r.name: runtime.vtysh(r, "show running-config") for r in gitops_lab.routers}

    proc = netoss(env, "gitops", "plan", "--ref", "add-prefix", "--base", "main", "--format", "json", cwd=intent_repo)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    plan = json.loads(proc.stdout)
    assert plan["ok"] and plan["commit"]["sha"] == sha and plan["commit"]["author"] == "Erin Engineer"
    assert [(c["action"], c["kind"], c["object"]) for c in plan["netbox"]] == [("create", "ipam.prefix", new)]
    assert plan["netbox"][0]["fields"]["prefix"] == [None, new]
    assert plan["branch"]["name"] == f"gitops-{sha[:12]}" and plan["conflicts"] == []
    serving = _tenant_devices(nb, tenant)
    assert plan["touched"] and set(plan["touched"]) <= serving, (plan["touched"], serving)
    for device in plan["touched"]:
        assert any(new.split("/")[0] in line for line in plan["devices"][device]["lines"]), plan["devices"][device]
    assert set(plan["devices"]) == {r.name for r in gitops_lab.routers}  # every router planned, the others unchanged
    # Nothing moved: NetBox's main has no such prefix, the routers run what they ran.
    assert not nb.ipam.prefixes.filter(prefix=new)
    assert {r.name: runtime.vtysh(r, "show running-config") for r in gitops_lab.routers} == running
    # The branch stays for reviewers, in NetBox's own UI.
    branches = nb.http_session.get(
        f"{stack.netbox_url}/api/plugins/branching/branches/",
        params={"name": plan["branch"]["name"]},
        headers={"Authorization": f"Bearer {stack.netbox_token()}"},
        timeout=30,
    ).json()["results"]
    assert [b["status"]["value"] for b in branches] == ["ready"]

    # Planned again (another push to the merge request): the same branch, synced, the same plan.
    proc = netoss(env, "gitops", "plan", "--ref", sha, "--format", "markdown", cwd=intent_repo)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"netoss plan for `{sha[:12]}`" in proc.stdout and new in proc.stdout and "```diff" in proc.stdout


def test_an_invalid_commit_is_refused_whole_and_reaches_no_netbox(intent_repo, env, nb, stack):
    git(intent_repo, "checkout", "-q", "main")
    git(intent_repo, "checkout", "-q", "-b", "broken")
    devices = next(p for p in (intent_repo / "inventory" / "intent").glob("*.yml") if "devices:" in p.read_text())
    devices.write_text(devices.read_text() + "  - name: half-a-device\n")
    (intent_repo / "netoss-gitops.yml").write_text("drift: sometimes\n")
    git(intent_repo, "commit", "-q", "-am", "broken")
    git(intent_repo, "add", "-A")
    git(intent_repo, "commit", "-q", "-m", "and a bad setting")
    before = nb.http_session.get(
        f"{stack.netbox_url}/api/plugins/branching/branches/",
        headers={"Authorization": f"Bearer {stack.netbox_token()}"},
        timeout=30,
    ).json()["count"]
    proc = netoss(env, "gitops", "plan", "--ref", "broken", cwd=intent_repo)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "is invalid" in proc.stdout and "netoss-gitops.yml: drift" in proc.stdout
    (intent_repo / "netoss-gitops.yml").unlink()
    git(intent_repo, "commit", "-q", "-am", "the setting fixed, the device still broken")
    proc = netoss(env, "gitops", "plan", "--ref", "broken", cwd=intent_repo)
    assert proc.returncode == 2 and f"inventory/intent/{devices.name}" in proc.stdout, proc.stdout + proc.stderr
    after = nb.http_session.get(
        f"{stack.netbox_url}/api/plugins/branching/branches/",
        headers={"Authorization": f"Bearer {stack.netbox_token()}"},
        timeout=30,
    ).json()["count"]
    assert after == before  # no branch made for an invalid commit
