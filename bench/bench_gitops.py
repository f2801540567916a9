#!/usr/bin/env python3
"""Benchmark: GitOps plan time, beside the dry runs an engineer does by hand today.

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

At its end it deletes the NetBox branch it made; NetBox's main, the routers and the stack's
intent are left as they were.

Usage: .venv/bin/python bench/bench_gitops.py --stack DIR [--rounds 3] [--smoke]
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import on_stack  # noqa: E402
from bench_sot import plan_line  # noqa: E402

from netoss.data.netbox import NetBox  # noqa: E402
from netoss.embedded import lab  # noqa: E402
from netoss.embedded.stack import client_env  # noqa: E402

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--rounds", type=int, default=3, help="plans of the same commit (default 3: 1 new branch, 2 re-plans)"
    )
    ap.add_argument("--smoke", action="store_true", help="a smoke-size run (make test): 2 rounds")
    on_stack.add_options(ap)
    args = ap.parse_args()
    if args.smoke:
        args.rounds = 2
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
    branch = None
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
        finally:
            if branch is not None:
                writer.delete_branch(branch["id"])
                print(f"cleanup: NetBox branch {branch['name']} deleted")


if __name__ == "__main__":
    main()
