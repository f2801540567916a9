#!/usr/bin/env python3
"""Benchmark: portal API launches per second, and time from launch to the first event.

It starts a stack of its own (.state-bench, port base 19000) with the demo intent (or runs on a
stack already up: --stack, bench/on_stack.py), then:

1. with the job worker stopped, launches N jobs (`sot-sync`, check mode) through the API from
   C concurrent clients, each keeping its connection, and prints the launches per second the
   API queues (each launch: token check, template and parameter validation, a job row, an RQ
   enqueue, an audit row); then N `config-push` check-mode launches naming two devices NetBox
   has (their names checked against NetBox); the queued jobs are then canceled;
2. with the worker running, launches one job at a time, R times, and prints the time from the
   launch request to the first event stored (what the live page shows first), and to the end.

Usage: .venv/bin/python bench/bench_portal.py [--launches 200] [--clients 4] [--rounds 5] [--stack DIR] [--smoke]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import platform
import statistics
import sys
import threading
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from netoss.embedded.stack.supervisor import Supervisor  # noqa: E402

sys.path.insert(0, str(REPO / "bench"))
import on_stack  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--launches", type=int, default=200, help="jobs launched for the rate (default 200, max 5000)")
    ap.add_argument("--clients", type=int, default=4, help="concurrent API clients (default 4, max 32)")
    ap.add_argument("--rounds", type=int, default=5, help="launch-to-first-event rounds (default 5, max 50)")
    ap.add_argument("--smoke", action="store_true", help="a smoke-size run (make test): 3 launches, 1 client, 1 round")
    on_stack.add_options(ap)
    args = ap.parse_args()
    if args.smoke:
        args.launches, args.clients, args.rounds = 3, 1, 1
    if not (1 <= args.launches <= 5000 and 1 <= args.clients <= 32 and 1 <= args.rounds <= 50):
        ap.error("--launches 1..5000, --clients 1..32, --rounds 1..50")
    print(f"machine: {platform.node()} {os.cpu_count()} cores, Python {platform.python_version()}")
    with on_stack.stack_for(args, *on_stack.own(".state-bench"), seed_intent=True) as (stack, _own):
        run(stack, args)


def run(stack, args) -> None:
    api = f"{stack.portal_url}/api/v1"
    token = stack.load_secrets()["portal_admin_token"]
    headers = {"Authorization": f"Bearer {token}"}
    body = {"template": "sot-sync", "check": True}

    local = threading.local()  # each client (thread) keeps its connection, as a client does

    def launch(_i: int, what: dict = body) -> int:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        resp = session.post(f"{api}/jobs", json=what, headers=headers, timeout=60)
        resp.raise_for_status()
        return resp.json()["id"]

    # Two devices NetBox has (whatever the network): a launch naming them is checked against NetBox.
    names = requests.get(f"{api}/devices", params={"limit": 2}, headers=headers, timeout=30).json()
    named = {"template": "config-push", "check": True, "parameters": {"devices": [d["name"] for d in names]}}

    sup = Supervisor(stack)
    sup.stop_program("portal-worker")
    try:
        ids = []
        for what, label in ((body, "sot-sync, check mode"), (named, f"config-push naming {len(names)} devices")):
            t0 = time.monotonic()
            with concurrent.futures.ThreadPoolExecutor(args.clients) as pool:
                ids += list(pool.map(lambda i, w=what: launch(i, w), range(args.launches)))
            wall = time.monotonic() - t0
            print(
                f"API launches ({label}): {args.launches} in {wall:.1f} s from {args.clients} clients = "
                f"{args.launches / wall:.1f} launches/s queued"
            )
        for job_id in ids:
            requests.post(f"{api}/jobs/{job_id}/cancel", headers=headers, timeout=30)
    finally:
        sup.start_program("portal-worker")  # a stack of --stack gets its worker back whatever happened
    time.sleep(2)
    firsts, ends = [], []
    for _ in range(args.rounds):
        t0 = time.monotonic()
        job_id = launch(0)
        first = None
        deadline = time.monotonic() + 600
        while True:
            if time.monotonic() > deadline:
                sys.exit(f"job {job_id} did not end within 600 s")
            job = requests.get(f"{api}/jobs/{job_id}", headers=headers, timeout=10).json()
            if first is None and job["event_count"] > 0:
                first = time.monotonic() - t0
            if job["status"] in ("successful", "failed", "error", "canceled"):
                break
            time.sleep(0.05)
        if job["status"] != "successful":
            sys.exit(f"job {job_id} ended {job['status']}: {job.get('error')}")
        firsts.append(first)
        ends.append(time.monotonic() - t0)
    print(
        f"launch to first event: median {statistics.median(firsts):.2f} s (min {min(firsts):.2f}, "
        f"max {max(firsts):.2f}); to the end of the job: median {statistics.median(ends):.1f} s "
        f"({args.rounds} sot-sync check runs)"
    )


if __name__ == "__main__":
    main()
