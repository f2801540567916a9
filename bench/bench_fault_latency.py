#!/usr/bin/env python3
"""Benchmark: a link down in the real lab to its ticket in the API.

It starts a stack of its own (.state-bench-fault-latency, port base 23000) with the demo
intent in NetBox and a lab of its own names (namespaces r..., bridge netoss-rbr0, account
netopsr), converged; or, with --stack and --lab, uses a stack and a lab already up (and
leaves them up). Each of --rounds rounds (default 10) takes one of the lab's links down, in
turn, at one end, inside its router's namespace (`ip -n NS link set IF down`: the carrier goes
at both ends, as when a cable is pulled), and polls the TMF APIs every 20 ms:

- **alarm**: until an alarm of that router is active in the TMF642 API;
- **ticket**: until one of them names its ticket (TMF621, opened or reopened);
- **detected and stored**: the first alarm's own raise time (the processor's clock when it
  stored the event) less the moment the link went down: FRR noticing the carrier loss and
  logging it, the lab's syslog relay, the receiver, the queue and the processor's batch.

Three seconds later the rest of the problem has arrived: the bench checks that the alarms of
both ends name exactly one open ticket (one per root cause), then brings the link up and waits
for that ticket to resolve (the carrier back, the BGP sessions up again) before the next round.
It prints the median, the 95th percentile, the minimum and the maximum of each.

  .venv/bin/python bench/bench_fault_latency.py [--rounds 10]
  .venv/bin/python bench/bench_fault_latency.py --smoke --stack .state-test --lab f,netoss-fbr0,netopsf
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pynetbox
import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import on_stack  # noqa: E402

from netoss.embedded import lab  # noqa: E402
from netoss.embedded.lab.spec import LabConfig  # noqa: E402

STATE, PORT_BASE = on_stack.own(".state-bench-fault-latency")
BENCH_LAB = LabConfig(ns_prefix="r", bridge="netoss-rbr0", user="netopsr")
ALARMS = "/tmf-api/alarmManagement/v4/alarm"
TICKETS = "/tmf-api/troubleTicket/v4/troubleTicket"
POLL = 0.02  # seconds between two looks at the API


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (``share`` in 0..1) of ``values``."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))]


def summary(values: list[float]) -> str:
    return (
        f"median {statistics.median(values) * 1000:.0f} ms, p95 {percentile(values, 0.95) * 1000:.0f} ms "
        f"(min {min(values) * 1000:.0f}, max {max(values) * 1000:.0f})"
    )


def parse_time(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def active_alarms(api: requests.Session, base: str, device: str) -> list[dict]:
    resp = api.get(f"{base}{ALARMS}", params={"state": "active", "device": device, "limit": 1000}, timeout=10)
    resp.raise_for_status()
    return resp.json()


def wait(what: str, predicate, timeout: float, interval: float = POLL):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: {what} did not happen within {timeout:.0f} s")
        time.sleep(interval)


def set_link(spec, router: str, interface: str, state: str) -> None:
    subprocess.run(["ip", "-n", spec.router(router).ns, "link", "set", interface, state], check=True)


def quiet(api: requests.Session, base: str, devices: list[str]) -> bool:
    """No active alarm on these devices (a problem of theirs would take the bench's events in)."""
    return not any(active_alarms(api, base, d) for d in devices)


def run(stack, spec, rounds: int) -> None:
    base = stack.portal_url
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {stack.load_secrets()['portal_admin_token']}"
    links = [link for link in spec.links if quiet(api, base, [link.a_router, link.b_router])]
    if not links:
        raise SystemExit("bench: no link of the lab is free of active alarms")
    print(f"links: {len(links)} of the lab's {len(spec.links)} free of active alarms; {rounds} rounds")
    to_alarm, to_ticket, stored = [], [], []
    for i in range(rounds):
        link = links[i % len(links)]
        ends = [link.a_router, link.b_router]
        t_wall, t0 = time.time(), time.monotonic()
        set_link(spec, link.a_router, link.a_if, "down")
        try:
            first = wait("an alarm", lambda r=link.a_router: active_alarms(api, base, r), timeout=60)
            to_alarm.append(time.monotonic() - t0)
            ticketed = wait(
                "the ticket",
                lambda r=link.a_router: [a for a in active_alarms(api, base, r) if a["netoss"].get("ticket")],
                timeout=60,
            )
            to_ticket.append(time.monotonic() - t0)
            stored.append(min(parse_time(a["alarmRaisedTime"]) for a in first) - t_wall)
            ref = ticketed[0]["netoss"]["ticket"]
            time.sleep(3)  # the rest of the problem has arrived
            tickets = {a["netoss"].get("ticket") for d in ends for a in active_alarms(api, base, d)}
            if tickets != {ref}:
                raise SystemExit(f"bench: {link} down gave the tickets {sorted(map(str, tickets))}, not one")
        finally:
            set_link(spec, link.a_router, link.a_if, "up")
        wait(
            f"{ref} to resolve",
            lambda t=ref: api.get(f"{base}{TICKETS}/{t}", timeout=10).json()["status"] == "resolved",
            timeout=300,
            interval=0.25,
        )
        wait("the link's alarms to clear", lambda e=ends: quiet(api, base, e), timeout=120, interval=0.25)
        print(
            f"  round {i + 1}: {link.a_router}:{link.a_if} down -> alarm {to_alarm[-1] * 1000:.0f} ms, "
            f"ticket {ref} {to_ticket[-1] * 1000:.0f} ms (stored {stored[-1] * 1000:.0f} ms after)",
            flush=True,
        )
    print()
    print(f"link down -> first alarm stored (its raise time): {summary(stored)}")
    print(f"link down -> alarm in the API:                    {summary(to_alarm)}")
    print(f"link down -> ticket in the API:                   {summary(to_ticket)}  (goal: median under 1 s)")
    print("every round: exactly one open ticket for the link, resolved when it came back up")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=10, help="links taken down, one after the other (default 10)")
    ap.add_argument("--smoke", action="store_true", help="a smoke-size run (make test, with --stack): 1 round")
    on_stack.add_options(ap, lab=True)
    args = ap.parse_args()
    if args.smoke:
        args.rounds = 1
    if not 1 <= args.rounds <= 50:
        ap.error("--rounds 1..50")
    if bool(args.stack) != bool(args.lab):
        ap.error("--stack and --lab go together")
    if os.geteuid() != 0:
        raise SystemExit("the lab needs root (network namespaces)")
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"machine: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}, {when}")
    with on_stack.stack_for(args, STATE, PORT_BASE, seed_intent=True) as (stack, own):
        nb = pynetbox.api(stack.netbox_url, token=stack.netbox_token())
        if not own:
            run(stack, lab.up(stack, nb, on_stack.lab_config(args.lab), log=lambda m: None), args.rounds)
            return
        t0 = time.monotonic()
        spec = lab.up(stack, nb, BENCH_LAB, log=lambda m: None)
        try:
            lab.converge(stack, spec, log=lambda m: None, force=True)
            print(f"lab up and converged: {len(spec.routers)} routers, {time.monotonic() - t0:.0f} s")
            time.sleep(5)  # the processor has read NetBox's topology; the sessions are up
            run(stack, spec, args.rounds)
        finally:
            lab.down(stack, log=lambda m: None)


if __name__ == "__main__":
    main()
