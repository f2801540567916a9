#!/usr/bin/env python3
"""Benchmark: an alert storm through the fault pipeline, and event-to-alarm-to-ticket time.

It starts a stack of its own (.state-bench-faults, port base 20000) with the demo intent in
NetBox (no lab: the events are made up, about the devices and links NetBox holds), or runs on
a stack already up (--stack, bench/on_stack.py: there it keeps to the links that no active
alarm and no open ticket is about, clears by hand the alarms it raised at its end, and waits
for their tickets to resolve), then:

1. **Latency.** R times, one interface goes down (a syslog line): the time until its alarm
   is in the API, and until its ticket is; then it comes back up. (bench_fault_latency.py
   does the same with a real link of the lab.)
2. **Storm.** N events (default 10,000) in a burst, mixed: syslog lines (FRR interface and
   BGP changes, noise no rule matches, malformed lines), SNMPv2c traps (linkDown, carrying the
   device's management address, some with a wrong community) and Alertmanager webhooks
   (batches of 100 alerts). Every "down" is about one of the network's links as NetBox has
   them (cables and access circuits: both interface ends, and a BGP session from each end to
   the other's address when they share a subnet), so deduplication must give exactly 4 alarms
   per addressed link (2 per unaddressed one) and correlation one ticket per link (those of
   the latency rounds' links reopened: the same problem again within the reopen window).
   It prints events per second (from the first datagram until every event is stored or
   rejected), checks that received = sent = stored + rejected per source, the alarms and
   tickets, and the receiver's and processor's peak memory (VmHWM).

Usage: .venv/bin/python bench/bench_faults.py [--events 10000] [--rounds 5] [--stack DIR] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import socket
import statistics
import sys
import time
from pathlib import Path

import redis
import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from netoss.data.netbox import NetBox  # noqa: E402
from netoss.domain.faults import snmp, topology  # noqa: E402
from netoss.domain.faults.pipeline import counters  # noqa: E402
from netoss.domain.faults.topology import Topology, link_name  # noqa: E402
from netoss.embedded.stack import Stack, portal_app  # noqa: E402
from netoss.embedded.stack.supervisor import Supervisor  # noqa: E402

sys.path.insert(0, str(REPO / "bench"))
import on_stack  # noqa: E402

Link = tuple[tuple[str, str], tuple[str, str], list[tuple[str, str, str]]]


def network_links(stack: Stack) -> tuple[list[Link], dict[str, str], Topology]:
    """The links of the network in the stack's NetBox, as fault correlation sees them (cables
    and access circuits between two interfaces), each with the BGP sessions that can ride on it
    (one from each end to the other end's address when both are addressed in one subnet), and
    each link device's management address (its primary IPv4, which its traps carry). Links with
    an end on a device without a primary IPv4 are left out (no trap can name it)."""
    topo = Topology.from_records(**topology.fetch(NetBox.from_stack(stack)))
    mgmt = {name: d["primary_ip4"]["address"].split("/")[0] for name, d in topo.devices.items() if d.get("primary_ip4")}
    addresses: dict[tuple[str, str], list[str]] = {}
    for address, end in topo.by_address.items():
        addresses.setdefault(end, []).append(str(address))
    links, seen = [], set()
    for device, interface in sorted(topo.interfaces):
        pair = topo.link(device, interface)
        if pair is None or pair in seen or not all(end[0] in mgmt for end in pair):
            continue
        seen.add(pair)
        sessions = []
        for end, other in (pair, pair[::-1]):
            for address in sorted(addresses.get(other, [])):
                on = topo.interface_to(end[0], address)
                if on is not None and on.name == end[1]:
                    sessions.append((end[0], address, other[0]))
        links.append((pair[0], pair[1], sessions))
    return links, mgmt, topo


def link_key(link: Link) -> str:
    return link_name((link[0], link[1]))


def free_links(
    api: requests.Session, stack: Stack, links: list[Link], topo: Topology, active: list[dict], open_tickets: list[dict]
) -> list[Link]:
    """The links of a stack in use that none of its ``active`` alarms or ``open_tickets`` is about
    (a pre-existing problem would take the bench's events in; its ups would clear a real
    problem's alarms), nor an active maintenance window (their alarms would be planned, without a
    ticket); says how many."""
    busy = {a["netoss"]["correlation"] for a in active} | {t["netoss"].get("correlation") for t in open_tickets}
    windows = get_all(api, f"{stack.portal_url}/api/v1/maintenance-windows", {"state": "active"}, size=500)
    free = [link for link in links if link_key(link) not in busy and not under_window(link, topo, windows)]
    print(
        f"on the stack of {stack.state_dir}: {len(free)} of {len(links)} links free of alarms, "
        "open tickets and maintenance windows"
    )
    return free


def under_window(link: Link, topo: Topology, windows: list[dict]) -> bool:
    """Does an active maintenance window cover a device of ``link``, or a service that the
    link's alarms (its interfaces' and its devices' sessions') would name?"""
    devices = {link[0][0], link[1][0]}
    services = {s.name for end in (link[0], link[1]) for s in topo.link_services(*end)}
    services |= {s.name for device in devices for s in topo.device_services(device)}
    for w in windows:
        named = set(w.get("devices") or [])
        if "*" in named or named & devices or set(w.get("services") or []) & services:
            return True
    return False


def syslog_if(device: str, interface: str, state: str) -> bytes:
    return (
        f"<31>Nov 26 12:00:00 {device} zebra[100]: [SBFM4-2P25V] MESSAGE: "
        f"ZEBRA_INTERFACE_{state} {interface} vrf default(0)"
    ).encode()


def syslog_bgp(device: str, peer: str, name: str) -> bytes:
    return (
        f"<30>Nov 26 12:00:00 {device} bgpd[101]: [PXVXG-TFNNT] %ADJCHANGE: neighbor {peer}({name}) "
        "in vrf default Down Interface down"
    ).encode()


NOISE = b"<31>Nov 26 12:00:00 p1 zebra[100]: [QQWTF-ZKJDD] rib_update: Scheduled VRF (ALL), event RIB_UPDATE_KERNEL"
MALFORMED = b"<30>Nov 26 12:0"


def storm(
    n: int, community: str, mgmt: dict[str, str], links: list[Link]
) -> tuple[list[tuple[str, bytes]], list[dict], dict]:
    """The burst: (port name, datagram) list, Alertmanager alerts, and what was sent per source."""
    rng = random.Random(42)  # noqa: S311 - a repeatable mix, not a secret
    downs = []
    for a, b, sessions in links:
        for device, interface in (a, b):
            downs.append(("syslog", syslog_if(device, interface, "DOWN")))
            downs.append(
                (
                    "snmp",
                    snmp.build_trap(
                        community,
                        "1.3.6.1.6.3.1.1.5.3",
                        [("1.3.6.1.2.1.31.1.1.1.1.3", interface), (snmp.SNMP_TRAP_ADDRESS, ("ip", mgmt[device]))],
                    ),
                )
            )
        for device, peer, name in sessions:
            downs.append(("syslog", syslog_bgp(device, peer, name)))
    n_alerts = n // 10
    datagrams = []
    while len(datagrams) < n - n_alerts:
        r = rng.random()
        if r < 0.15:
            datagrams.append(("syslog", NOISE))
        elif r < 0.20:
            datagrams.append(("syslog", MALFORMED))
        elif r < 0.22:
            datagrams.append(("snmp", snmp.build_trap("wrong-community", "1.3.6.1.6.3.1.1.5.3", [])))
        else:
            datagrams.append(rng.choice(downs))
    alerts = []
    for i in range(n_alerts):
        (device, interface), _b, _s = links[i % len(links)]
        alerts.append(
            {
                "status": "firing",
                "startsAt": "2026-11-26T12:00:00Z",
                "labels": {
                    "alertname": "InterfaceDown",
                    "device": device,
                    "interface": interface,
                    "netoss_condition": "interface-down",
                    "severity": "major",
                },
            }
        )
    sent = {
        "syslog": sum(1 for p, _d in datagrams if p == "syslog"),
        "snmp": sum(1 for p, _d in datagrams if p == "snmp"),
        "alertmanager": n_alerts,
    }
    return datagrams, alerts, sent


def vm_hwm(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    return 0


def udp_rcvbuf_errors() -> int:
    lines = [line.split() for line in Path("/proc/net/snmp").read_text().splitlines() if line.startswith("Udp:")]
    return int(lines[1][lines[0].index("RcvbufErrors")])


def wait(what, predicate, timeout=300, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise SystemExit(f"timed out waiting for {what}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=10000, help="events in the storm (default 10000, max 100000)")
    ap.add_argument("--rounds", type=int, default=5, help="latency rounds (default 5, max 20)")
    ap.add_argument("--smoke", action="store_true", help="a smoke-size run (make test): 1000 events, 1 round")
    on_stack.add_options(ap)
    args = ap.parse_args()
    if args.smoke:
        args.events, args.rounds = 1000, 1
    if not (1000 <= args.events <= 100_000 and 1 <= args.rounds <= 20):
        ap.error("--events 1000..100000, --rounds 1..20")
    print(f"machine: {platform.node()} {os.cpu_count()} cores, Python {platform.python_version()}")
    with on_stack.stack_for(args, *on_stack.own(".state-bench-faults"), seed_intent=True) as (stack, own):
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {stack.load_secrets()['portal_admin_token']}"
        links, mgmt, topo = network_links(stack)
        if own:
            run(stack, api, args, links, mgmt)
            return
        # On a stack in use, the bench keeps to the free links and puts back what it raised.
        active = get_all(api, f"{stack.portal_url}{ALARMS_API}", {"state": "active"})
        open_before = get_all(api, f"{stack.portal_url}{TICKETS_API}", {"status": "open"})
        before = {a["id"] for a in active}
        free = free_links(api, stack, links, topo, active, open_before)
        try:
            run(stack, api, args, free, mgmt)
        except BaseException:
            try:
                clear_raised(api, stack, before, {t["id"] for t in open_before})
            except BaseException as e:  # the run's own error is the one to see; say the cleanup's too
                print(f"cleanup failed as well: {e}", file=sys.stderr)
            raise
        clear_raised(api, stack, before, {t["id"] for t in open_before})


ALARMS_API = "/tmf-api/alarmManagement/v4/alarm"
TICKETS_API = "/tmf-api/troubleTicket/v4/troubleTicket"


def get_all(api: requests.Session, url: str, params: dict, size: int = 1000) -> list[dict]:
    """Every item of a list paged by offset/limit (``size``: the list's largest limit)."""
    found, offset = [], 0
    while True:
        page = api.get(url, params={**params, "offset": offset, "limit": size}, timeout=30)
        page.raise_for_status()
        items = page.json()
        found += items
        if len(items) < size:
            return found
        offset += len(items)


def clear_raised(api: requests.Session, stack: Stack, before: set, open_before: set) -> None:
    """Clear by hand the alarms the bench raised on a stack of --stack, and wait until the
    tickets they opened or reopened have resolved: the stack is left as the bench found it."""
    alarms = f"{stack.portal_url}{ALARMS_API}"
    raised = [a for a in get_all(api, alarms, {"state": "active"}) if a["id"] not in before]
    for alarm in raised:
        resp = api.patch(f"{alarms}/{alarm['id']}", json={"state": "cleared"}, timeout=30)
        resp.raise_for_status()
    mine = {a["netoss"]["ticket"] for a in raised if a["netoss"].get("ticket")} - open_before
    tickets = f"{stack.portal_url}{TICKETS_API}"
    wait(
        f"the bench's tickets ({', '.join(sorted(mine))}) to resolve",
        lambda: not {t["id"] for t in get_all(api, tickets, {"status": "open"})} & mine,
        timeout=120,
        interval=0.5,
    )
    print(f"cleanup: {len(raised)} alarms of the bench cleared by hand, its {len(mine)} tickets resolved")


def run(stack: Stack, api: requests.Session, args, links: list[Link], mgmt: dict[str, str]) -> None:
    if not links:
        raise SystemExit("bench: no link to take down (two cabled interfaces of devices with a primary IPv4)")
    n_alarms = sum(2 + len(sessions) for _a, _b, sessions in links)
    base = stack.portal_url
    conn = redis.Redis.from_url(json.loads(portal_app.config_file(stack).read_text())["REDIS_URL"])
    community = stack.load_secrets()["snmp_community"]
    syslog_addr, trap_addr = ("127.0.0.1", stack.port("syslog")), ("127.0.0.1", stack.port("snmptrap"))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    procs = Supervisor(stack).processes()
    receiver, processor = procs["fault-receiver"]["pid"], procs["fault-processor"]["pid"]
    time.sleep(3)  # the processor has read NetBox's topology

    # 1. Latency: one link down at a time.
    to_alarm, to_ticket, latency_tickets = [], [], set()
    for i in range(args.rounds):
        (device, interface), _b, _s = links[i % len(links)]
        t0 = time.monotonic()
        sock.sendto(syslog_if(device, interface, "DOWN"), syslog_addr)
        alarm = wait(
            "the alarm",
            lambda d=device, f=interface: [
                a
                for a in api.get(f"{base}{ALARMS_API}", params={"state": "active", "device": d}, timeout=10).json()
                if a["alarmedObject"]["name"] == f"{d} {f}" and a["netoss"]["condition"] == "interface-down"
            ],
        )[0]
        to_alarm.append(time.monotonic() - t0)
        ticket = wait(
            "the ticket",
            lambda a=alarm: api.get(f"{base}{ALARMS_API}/{a['id']}", timeout=10).json()["netoss"]["ticket"],
        )
        latency_tickets.add(ticket)
        to_ticket.append(time.monotonic() - t0)
        sock.sendto(syslog_if(device, interface, "UP"), syslog_addr)
        wait(
            "the clear",
            lambda a=alarm: api.get(f"{base}{ALARMS_API}/{a['id']}", timeout=10).json()["state"] == "cleared",
        )
    print(
        f"event -> alarm in the API: median {statistics.median(to_alarm) * 1000:.0f} ms "
        f"(min {min(to_alarm) * 1000:.0f}, max {max(to_alarm) * 1000:.0f}) over {args.rounds} rounds"
    )
    print(
        f"event -> ticket: median {statistics.median(to_ticket) * 1000:.0f} ms "
        f"(min {min(to_ticket) * 1000:.0f}, max {max(to_ticket) * 1000:.0f})"
    )
    # Their tickets resolve: the storm starts from none of the bench's tickets open.
    wait(
        "the latency rounds' tickets to resolve",
        lambda: not {t["id"] for t in get_all(api, f"{base}{TICKETS_API}", {"status": "open"})} & latency_tickets,
        timeout=60,
    )
    keys = {link_key(link) for link in links}

    # 2. The storm.
    datagrams, alerts, sent = storm(args.events, community, mgmt, links)
    before = counters(conn)
    drops_before = udp_rcvbuf_errors()
    tickets_before = {t["id"] for t in get_all(api, f"{base}{TICKETS_API}", {})}
    t0 = time.monotonic()
    for port, data in datagrams:
        sock.sendto(data, syslog_addr if port == "syslog" else trap_addr)
    for i in range(0, len(alerts), 100):
        body = {"version": "4", "status": "firing", "alerts": alerts[i : i + 100]}
        resp = api.post(f"{base}/api/v1/faults/alertmanager", json=body, timeout=60)
        resp.raise_for_status()
    sent_in = time.monotonic() - t0

    def settled():
        c = counters(conn)
        received = {s: c["received"].get(s, 0) - before["received"].get(s, 0) for s in sent}
        done = {
            s: c["stored"].get(s, 0)
            - before["stored"].get(s, 0)
            + sum(c["rejected"].get(s, {}).values())
            - sum(before["rejected"].get(s, {}).values())
            for s in sent
        }
        return received == sent and done == received and c["queued"] == 0 and (c, received, done)

    c, received, _done = wait("every event to be stored or rejected", settled, timeout=600)
    wall = time.monotonic() - t0
    drops = udp_rcvbuf_errors() - drops_before
    print(
        f"storm: {args.events} events (syslog {sent['syslog']}, snmp {sent['snmp']}, alertmanager "
        f"{sent['alertmanager']}) sent in {sent_in:.2f} s, all processed in {wall:.2f} s = "
        f"{args.events / wall:.0f} events/s"
    )
    for s in sent:
        stored = c["stored"].get(s, 0) - before["stored"].get(s, 0)
        rejected = {r: n - before["rejected"].get(s, {}).get(r, 0) for r, n in c["rejected"].get(s, {}).items()}
        rejected = {r: n for r, n in rejected.items() if n}
        print(
            f"  {s:12} sent {sent[s]:6}  received {received[s]:6}  stored {stored:6}"
            f"  rejected {sum(rejected.values()):6} {rejected}"
        )
    print(f"  kernel UDP receive-buffer drops during the storm: {drops}")
    time.sleep(3)  # the hold, then the tickets
    # The storm's alarms: the active ones of its links (which had none when the bench began).
    alarms = [a for a in get_all(api, f"{base}{ALARMS_API}", {"state": "active"}) if a["netoss"]["correlation"] in keys]
    roots = sum(1 for a in alarms if a["isRootCause"])
    # Their tickets: new ones, and those of the latency rounds' links, which the storm reopens
    # (the same problem again within the processor's reopen window).
    ticketed = {a["netoss"]["ticket"] for a in alarms if a["netoss"].get("ticket")}
    opened = len(ticketed - tickets_before)
    untracked = sum(1 for a in alarms if not a["netoss"].get("ticket"))
    print(
        f"  alarms active: {len(alarms)} (expected {n_alarms}: 2 interfaces and its sessions per link), "
        f"root causes {roots}, without a ticket {untracked}; tickets: {len(ticketed)} (expected {len(links)}, "
        f"one per link), {opened} opened, {len(ticketed) - opened} reopened"
    )
    print(f"memory (VmHWM): fault-receiver {vm_hwm(receiver)} MiB, fault-processor {vm_hwm(processor)} MiB")
    ok = (
        len(alarms) == n_alarms
        and len(ticketed) == len(links)
        and not untracked
        and drops == 0
        and all(received[s] == sent[s] for s in sent)
    )
    print("result:", "every event accounted for; alarms and tickets as expected" if ok else "MISMATCH (see above)")
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
