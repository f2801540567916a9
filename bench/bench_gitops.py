#!/usr/bin/env python3
"""Benchmark: GitOps plan, rehearsal and merge-to-verified times, beside what an engineer
does by hand today.

It runs on a stack already up whose lab is configured from NetBox (--stack: bench/on_stack.py),
whatever network NetBox holds: it makes a git repository of the stack's
intent, commits a change to it (a new prefix for the tenant of the first customer prefix, the
next free one of its container: NetBox's available-prefixes), and times:

1. **`netoss gitops plan`** of that commit, R times: the first plan (a new NetBox branch,
   provisioned from main) and the re-plans (the same branch, synced), each split into its
   steps (validate, branch, sot_sync into the branch, render and diff from the branch,
   compliance); what it shows: the NetBox objects and the devices with lines.
2. **The hand way, on main**: `ansible-playbook playbooks/sot_sync.yml --check --diff` with the
   changed intent, then `playbooks/config_push.yml --check --diff`. It shows the NetBox plan,
   but no device line: main does not hold the change, so nothing renders from it (seeing the
   lines by hand means applying the change to NetBox first).

3. **`netoss gitops plan --rehearse`** of the same commit: the plan, then a twin of the lab
   built from its branch, every router pushed, convergence, the health checks and the routing
   comparison (root; the stack's lab). No anchor rehearses: the figure stands alone.
4. **Merge to verified**: the commit pushed to a bare repository served by `git daemon` on
   loopback, whose post-receive hook sends the portal a signed GitHub webhook
   (`netoss gitops notify`); the time from `git push` to the deployment's end (re-plan, NetBox
   merge, push of the touched routers with verification, compliance), then a revert commit
   applied the same way. Beside it, **the hand way** an AWX user runs after a merge: the
   sot_sync playbook with the merged intent, then config_push on the touched routers (with the
   same verification), and again with the intent before it.

At its end it deletes the NetBox branches it made and puts the portal's GitOps repositories
file back as it was; NetBox's main, the routers and the stack's intent are left as they were.

Usage: .venv/bin/python bench/bench_gitops.py --stack DIR [--rounds 3] [--smoke] [--no-rehearse] [--no-apply]
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import platform
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import on_stack  # noqa: E402
from bench_sot import plan_line  # noqa: E402

from netoss.data.netbox import NetBox  # noqa: E402
from netoss.embedded import lab  # noqa: E402
from netoss.embedded.stack import accounts, client_env  # noqa: E402

GIT_ENV = {
    "GIT_AUTHOR_NAME": "netoss bench",
    "GIT_AUTHOR_EMAIL": "bench@example.net",
    "GIT_COMMITTER_NAME": "netoss bench",
    "GIT_COMMITTER_EMAIL": "bench@example.net",
    "PATH": "/usr/bin:/bin",
}


def git(path: Path, *args: str) -> str:
    env = {**GIT_ENV, "HOME": str(path)}
    return subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True, check=True, env=env).stdout


def add_customer_prefix(intent: Path, nb: NetBox) -> str:
    """Add to the intent a new prefix for the tenant of its first customer prefix (one with a
    tenant inside a container that has a role): the next free one of the same length in the
    same container, in the file that holds that prefix. Returns it."""
    docs = {p: yaml.safe_load(p.read_text()) or {} for p in sorted(intent.glob("*.yml"))}
    prefixes = [(p, entry) for p, doc in docs.items() for entry in doc.get("prefixes") or []]
    containers = [e["prefix"] for _p, e in prefixes if e.get("status") == "container" and e.get("role")]

    def inside(prefix: str, container: str) -> bool:
        return ipaddress.ip_network(prefix).subnet_of(ipaddress.ip_network(container))

    path, customer = next(
        (p, e) for p, e in prefixes if e.get("tenant") and any(inside(e["prefix"], c) for c in containers)
    )
    container = next(c for c in containers if inside(customer["prefix"], c))
    length = int(customer["prefix"].split("/")[1])
    (record,) = nb.get("ipam/prefixes", {"prefix": container})["results"]
    free = nb.get(f"ipam/prefixes/{record['id']}/available-prefixes")
    new = next(f"{p['prefix'].split('/')[0]}/{length}" for p in free if int(p["prefix"].split("/")[1]) <= length)
    docs[path]["prefixes"].append({"prefix": new, "tenant": customer["tenant"], "description": "bench_gitops"})
    path.write_text(yaml.safe_dump(docs[path], sort_keys=False))
    return new


def netoss_cmd(*args: str, cwd: Path, env: dict, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([str(REPO / ".venv/bin/netoss"), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip


def rehearse(repo: Path, env: dict) -> None:
    """`netoss gitops plan --rehearse` of the change (HEAD of the repository)."""
    t0 = time.monotonic()
    proc = netoss_cmd("gitops", "plan", "--ref", "HEAD", "--format", "json", "--rehearse", cwd=repo, env=env)
    wall = time.monotonic() - t0
    if proc.returncode not in (0, 1):
        sys.exit(f"netoss gitops plan --rehearse exited {proc.returncode}:\n{(proc.stdout + proc.stderr)[-3000:]}")
    r = json.loads(proc.stdout)["rehearsal"]
    if r is None or r["errors"]:
        sys.exit(f"the rehearsal did not run: {r}")
    split = ", ".join(f"{k} {v:.1f}" for k, v in r["seconds"].items() if k != "total")
    verdict = "nothing breaks" if r["ok"] else f"breaks {sorted(set(r['problems']) | set(r['unreachable']))}"
    print(f"netoss gitops plan --rehearse: {wall:.1f} s, of which the rehearsal {r['seconds']['total']:.1f} s "
          f"({split}) on a twin of {len(r['routers'])} router(s): {verdict}")  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def portal_get(stack, path: str, **params):
    token = stack.load_secrets()["portal_admin_token"]
    resp = requests.get(f"{stack.portal_url}{path}", params=params, headers={"Authorization": f"Bearer {token}"},
                        timeout=30)  # fmt: skip
    resp.raise_for_status()
    return resp.json()


def wait_deployment(stack, name: str, sha: str, timeout: float = 900) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [d for d in portal_get(stack, "/api/v1/gitops/deployments", repository=name) if d["sha"] == sha]
        if found and found[0]["status"] not in ("queued", "running"):
            return found[0]
        time.sleep(0.5)
    sys.exit(f"the deployment of {sha[:12]} did not end within {timeout:.0f} s")


def merge_to_verified(stack, repo: Path, env: dict, touched: list[str], new: str) -> list[dict]:
    """The change merged (pushed to main of a bare repository whose post-receive hook sends the
    webhook) and applied by the portal, then reverted the same way; the hand way beside it.
    Returns the NetBox branches the deployments merged (the caller deletes them)."""
    name = f"netoss-bench/intent-{os.getpid()}"
    root = Path(tempfile.mkdtemp(prefix="bench-gitops-server-"))
    bare = root / "intent.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    git(repo, "push", "-q", str(bare), "main")  # the network as it is: main before the merge (no hook yet)
    secret = stack.state_dir / "portal" / f"bench-gitops-{os.getpid()}.secret"
    secret.write_text(secrets.token_urlsafe(32) + "\n")
    secret.chmod(0o600)
    accounts.give(secret, accounts.SERVICE_USER)
    port = free_port()
    url = f"git://127.0.0.1:{port}/intent.git"
    hook = bare / "hooks" / "post-receive"
    webhook = f"{stack.portal_url}/api/v1/gitops/webhook/github"
    hook.write_text(f"#!/bin/sh\nexec {REPO / '.venv/bin/netoss'} gitops notify --url {webhook} "
                    f"--repository {name} --secret-file {secret}\n")  # fmt: skip
    hook.chmod(0o755)
    repositories = stack.state_dir / "portal" / "gitops-repositories.yml"
    original = repositories.read_text() if repositories.exists() else None
    doc = (yaml.safe_load(original) if original else None) or {"repositories": []}
    doc["repositories"].append({"name": name, "url": url, "provider": "github", "secret_file": str(secret)})
    repositories.write_text(yaml.safe_dump(doc))
    repositories.chmod(0o644)
    daemon = subprocess.Popen(["git", "daemon", "--reuseaddr", "--export-all", "--enable=receive-pack",
                               "--listen=127.0.0.1", f"--port={port}", f"--base-path={root}", str(root)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    made = []
    try:
        deadline = time.monotonic() + 20
        while subprocess.run(["git", "ls-remote", url], capture_output=True).returncode != 0:
            if time.monotonic() > deadline:
                sys.exit("git daemon did not start")
            time.sleep(0.2)
        git(repo, "remote", "add", "bench", url)
        git(repo, "checkout", "-q", "main")
        git(repo, "merge", "-q", "--ff-only", "change")
        git(repo, "revert", "--no-edit", "HEAD")
        change, revert = git(repo, "rev-parse", "HEAD~1", "HEAD").split()
        for what, sha in (("the change", change), ("its revert", revert)):
            t0 = time.monotonic()
            git(repo, "push", "-q", "bench", f"{sha}:refs/heads/main")
            deployment = wait_deployment(stack, name, sha)
            wall = time.monotonic() - t0
            if deployment["status"] != "succeeded":
                sys.exit(f"deployment {deployment['id']} of {what}: {deployment['status']}: {deployment['error']}")
            if deployment["netbox_branch"]:
                made.extend(b for b in NetBox.from_stack(stack, "writer").branches(deployment["netbox_branch"]))
            routers = ", ".join(deployment["devices"])
            print(f"merge to verified, {what}: {wall:.1f} s from git push to the deployment's end "
                  f"(the deployment {deployment['seconds']:.1f} s; routers {routers})")  # fmt: skip
        # The hand way: after the merge, sot_sync with the merged intent, then config_push on the touched routers.
        limit = ",".join(touched)
        for what, ref in (("the change", change), ("its revert", revert)):
            git(repo, "checkout", "-q", ref)
            t0 = time.monotonic()
            sot = subprocess.run([str(REPO / ".venv/bin/ansible-playbook"), "playbooks/sot_sync.yml",
                                  "-e", f"sot_sync_intent_dir={repo / 'inventory' / 'intent'}"],
                                 cwd=REPO, env=env, capture_output=True, text=True, timeout=900)  # fmt: skip
            t_sot = time.monotonic() - t0
            push = subprocess.run([str(REPO / ".venv/bin/ansible-playbook"), "playbooks/config_push.yml",
                                   "--limit", limit], cwd=REPO, env=env, capture_output=True, text=True,
                                  timeout=900)  # fmt: skip
            t_all = time.monotonic() - t0
            if sot.returncode != 0 or push.returncode != 0:
                sys.exit(f"the hand way failed ({what}):\n{(sot.stdout + push.stdout)[-3000:]}")
            print(f"by hand, {what}: {t_all:.1f} s (sot_sync.yml {t_sot:.1f} s, then config_push.yml --limit "
                  f"{limit} {t_all - t_sot:.1f} s): no plan, no NetBox rollback, no record")  # fmt: skip
        git(repo, "checkout", "-q", "main")
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)
        if original is None:
            repositories.unlink(missing_ok=True)
        else:
            repositories.write_text(original)
        secret.unlink(missing_ok=True)
        shutil.rmtree(root, ignore_errors=True)
    return made


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--rounds", type=int, default=3, help="plans of the same commit (default 3: 1 new branch, 2 re-plans)"
    )
    ap.add_argument("--smoke", action="store_true", help="a smoke-size run (make test): 1 round")
    ap.add_argument("--no-rehearse", dest="rehearse", action="store_false", help="skip the rehearsal")
    ap.add_argument("--no-apply", dest="apply", action="store_false", help="skip merge-to-verified")
    on_stack.add_options(ap)
    args = ap.parse_args()
    if args.smoke:
        args.rounds = 1  # the re-plan (a branch synced) is the e2e tests' and the rehearsal's
    if not args.stack:
        ap.error("bench_gitops.py runs on a stack whose lab is up and configured: give --stack")
    if not 1 <= args.rounds <= 10:
        ap.error("--rounds 1..10")
    print(f"machine: {platform.node()} {os.cpu_count()} cores, Python {platform.python_version()}")
    stack = on_stack.existing(args.stack)
    writer = NetBox.from_stack(stack, "writer", timeout=60)
    env = {
        **os.environ,
        **client_env(stack),
        "NETBOX_TOKEN": stack.machine_token("writer"),
        **lab.device_env(stack),
        "NETOSS_STATE": str(stack.state_dir),
        "HOME": str(stack.ansible_home),
        "PATH": f"{REPO / '.venv/bin'}:{os.environ['PATH']}",
        "ANSIBLE_LOCAL_TEMP": str(stack.state_dir / "ansible-tmp"),
        "ANSIBLE_NOCOLOR": "1",
    }
    branch, branches = None, []
    with tempfile.TemporaryDirectory(prefix="bench-gitops-") as tmp:
        repo = Path(tmp) / "repo"
        shutil.copytree(stack.intent_dir, repo / "inventory" / "intent")
        shutil.copytree(REPO / "compliance", repo / "compliance")
        (repo / "services").mkdir()
        shutil.copy(REPO / "services" / "catalog.yml", repo / "services" / "catalog.yml")
        git(repo, "init", "-q", "-b", "main")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "the network as it is")
        new = add_customer_prefix(repo / "inventory" / "intent", writer)
        git(repo, "checkout", "-q", "-b", "change")  # a merge request's branch: main stays the base
        git(repo, "commit", "-q", "-am", f"bench: {new}")
        sha = git(repo, "rev-parse", "--short=12", "HEAD").strip()
        print(f"change: a customer prefix {new} added to the intent ({sha})")
        try:
            walls, steps = [], {}
            for i in range(args.rounds):
                t0 = time.monotonic()
                proc = subprocess.run(
                    [str(REPO / ".venv/bin/netoss"), "gitops", "plan", "--ref", "HEAD", "--format", "json"],
                    cwd=repo,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=900,
                )
                wall = time.monotonic() - t0
                if proc.returncode != 0:
                    sys.exit(f"netoss gitops plan exited {proc.returncode}:\n{(proc.stdout + proc.stderr)[-3000:]}")
                plan = json.loads(proc.stdout)
                branch = plan["branch"]
                walls.append(wall)
                for step, seconds in plan["seconds"].items():
                    steps.setdefault(step, []).append(seconds)
                kind = "new branch" if i == 0 else "re-plan, branch synced"
                split = ", ".join(f"{k} {v:.1f}" for k, v in plan["seconds"].items())
                print(
                    f"netoss gitops plan ({kind}): {wall:.1f} s ({split}); {len(plan['netbox'])} NetBox object(s), "
                    f"{len(plan['touched'])} device(s) with lines of {len(plan['devices'])} planned"
                )
            if len(walls) > 1:
                print(f"netoss gitops plan, re-plans: median {statistics.median(walls[1:]):.1f} s")
            # The hand way, on main.
            t0 = time.monotonic()
            sot = subprocess.run(
                [str(REPO / ".venv/bin/ansible-playbook"), "playbooks/sot_sync.yml", "--check", "--diff",
                 "-e", f"sot_sync_intent_dir={repo / 'inventory' / 'intent'}"],
                cwd=REPO, env=env, capture_output=True, text=True, timeout=900,
            )  # fmt: skip
            t_sot = time.monotonic() - t0
            t0 = time.monotonic()
            push = subprocess.run(
                [str(REPO / ".venv/bin/ansible-playbook"), "playbooks/config_push.yml", "--check", "--diff"],
                cwd=REPO, env=env, capture_output=True, text=True, timeout=900,
            )  # fmt: skip
            t_push = time.monotonic() - t0
            if sot.returncode != 0 or push.returncode != 0:
                sys.exit(f"the hand way failed:\n{(sot.stdout + push.stdout)[-3000:]}")
            lines = push.stdout.count(f"{new.split('/')[0]}")
            print(
                f"by hand on main: sot_sync --check --diff {t_sot:.1f} s ({plan_line(sot.stdout)}), "
                f"config_push --check --diff {t_push:.1f} s ({lines} line(s) naming {new}: "
                "main does not hold the change)"
            )
            if args.rehearse:
                rehearse(repo, env)
            if args.apply:
                made = merge_to_verified(stack, repo, env, plan["touched"], new)
                branches.extend(made)
        finally:
            done = set()
            for b in ([branch] if branch is not None else []) + branches:
                if b["id"] not in done:
                    done.add(b["id"])
                    writer.delete_branch(b["id"])
                    print(f"cleanup: NetBox branch {b['name']} deleted")


if __name__ == "__main__":
    main()
