#!/usr/bin/env python3
"""Benchmark: N concurrent service orders in the lab, order-to-active time and orders per minute.

It starts a stack of its own (.state-bench-orders, port base 22000) and an intent of its own:
the demo moved to management 198.18.103.0/24 (syslog to udp/22514), plus N spare customer
routers c01..cN (role ce, FRR, no customer yet; odd ones in ams1, even ones in fra1) and N/2
free ports on each PE (pe1/pe2 eth11...). It seeds NetBox with playbooks/sot_sync.yml, builds
the lab with its own names (o* namespaces, bridge netoss-obr0, account netopso) and pushes it,
and starts W job workers besides the stack's one. Then:

1. **Adds.** N DIA orders (dia-ebgp), one per spare CE, alternately on pe1 and pe2, are
   submitted together through TMF641 (POST /tmf-api/serviceOrdering/v4/serviceOrder) from N
   threads released at once, and polled until each ends. Order i: customer "Bench Customer
   NN", AS 65001+i, prefix 203.0.113.(32+8i)/29, bandwidth 100000, max_prefix 10.
   Checked: every order completed, the /31s NetBox gave are distinct (one per circuit), and
   on each PE every BGP session is Established (the new ones included).
2. **Deletes.** The N services are deleted together the same way (one delete order each).
   Checked: NetBox has no circuit, tenant, AS number or prefix of the bench's customers left,
   and each PE has exactly the BGP sessions it had before the adds, all Established.

For each batch it prints order-to-active per order (from the client's submit to the order's
completionDate: median, p95, max), split into the queue (until a worker takes the job), the
device lock and Ansible's start (until the order is inProgress) and the playbook's work; the
wall time (first submit to last completion) and orders per minute (N / wall minutes); and the
workers' peak memory. Jobs on one PE run one at a time (the device lock): N/2 orders per PE
run in series on each PE whatever the number of workers.

With --stack, --lab (bench/on_stack.py) and --spare PE:PORT:CE:PORT (once per order) it runs on
a stack and a lab already up and configured: one order per spare CE named, no intent, no sync,
no lab built; the deletes leave NetBox and the routers as they were, the lab stays up.

With --pes 1 every order is on pe1 (N free ports on it): the orders of one PE run one after
the other, whatever the number of workers; with 2, two at a time.

Usage (root: the lab needs namespaces):
       .venv/bin/python bench/bench_service_orders.py [--orders 20] [--workers 2] [--pes 1]
       .venv/bin/python bench/bench_service_orders.py --stack DIR --lab NAMES --spare pe1:eth4:ce3:eth1 --smoke
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import json
import math
import os
import platform
import pwd
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pynetbox
import requests
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from netoss.embedded import lab  # noqa: E402
from netoss.embedded.deployment import wipe  # noqa: E402
from netoss.embedded.lab import runtime  # noqa: E402
from netoss.embedded.lab.spec import LabConfig  # noqa: E402
from netoss.embedded.stack import Stack, down, portal_app, run_playbook, up  # noqa: E402
from netoss.embedded.stack.accounts import owner_of_process  # noqa: E402
from netoss.embedded.stack.supervisor import Supervisor  # noqa: E402

sys.path.insert(0, str(REPO / "bench"))
import on_stack  # noqa: E402

STATE, PORT_BASE = on_stack.own(".state-bench-orders")
MGMT = "198.18.103"
BENCH_LAB = LabConfig(ns_prefix="o", bridge="netoss-obr0", user="netopso")
ORDERS = "/tmf-api/serviceOrdering/v4/serviceOrder"
FINAL = ("completed", "failed", "partial", "cancelled")
ORDER_TIMEOUT = 20 * 60  # an order that has not ended 20 minutes after its submit fails the bench
CUSTOMER = "Bench Customer"
FIRST_PE_PORT = 11


# --- the intent --------------------------------------------------------------------------------


def ce_name(i: int) -> str:
    return f"c{i:02d}"


def pe_of(i: int, pes: int = 2) -> tuple[str, str]:
    """Order i's PE and its port: with 2 PEs pe1 for odd i, pe2 for even, each on its next bench
    port; with 1, pe1's i-th bench port."""
    if pes == 1:
        return "pe1", f"eth{FIRST_PE_PORT + i - 1}"
    return ("pe1" if i % 2 else "pe2"), f"eth{FIRST_PE_PORT + (i - 1) // 2}"


def bench_intent(target: Path, n: int, pes: int = 2) -> Path:
    """The demo intent moved to the bench's management subnet and syslog port, plus N spare CEs
    and N/2 free ports on each PE (N on pe1 with one PE)."""
    shutil.copytree(REPO / "inventory" / "intent", target)
    for f in target.glob("*.yml"):
        text = f.read_text().replace("198.18.0.", MGMT + ".")
        f.write_text(text.replace("port: 17514", f"port: {PORT_BASE + 514}"))
    devices_file = target / "30-devices.yml"
    data = yaml.safe_load(devices_file.read_text())
    by_name = {d["name"]: d for d in data["devices"]}
    per_pe = n if pes == 1 else math.ceil(n / 2)
    for pe in ("pe1", "pe2")[:pes]:
        by_name[pe]["interfaces"] += [{"name": f"eth{FIRST_PE_PORT + k}", "type": "1000base-t"} for k in range(per_pe)]
    for i in range(1, n + 1):
        mgmt = f"{MGMT}.{30 + i}/24"
        data["devices"].append(
            {
                "name": ce_name(i),
                "site": "ams1" if i % 2 else "fra1",
                "role": "ce",
                "platform": "frr",
                "device_type": "frr-router",
                "description": f"Bench spare CE {i}",
                "primary_ip4": mgmt,
                "interfaces": [
                    {
                        "name": "mgmt0",
                        "type": "1000base-t",
                        "mgmt_only": True,
                        "description": "Management",
                        "addresses": [mgmt],
                    },
                    {"name": "lo", "type": "virtual", "description": "Loopback"},
                    {"name": "eth1", "type": "1000base-t"},
                ],
            }
        )
    devices_file.write_text("---\n" + yaml.safe_dump(data, sort_keys=False, default_flow_style=False))
    return target


def spares_of(n: int, pes: int = 2) -> list[tuple[str, str, str, str]]:
    """The bench intent's attachments: order i's (PE, PE port, CE, CE port)."""
    return [(*pe_of(i, pes), ce_name(i), "eth1") for i in range(1, n + 1)]


def parse_spare(text: str) -> tuple[str, str, str, str]:
    parts = text.split(":")
    if len(parts) != 4 or not all(parts):
        raise SystemExit(f"--spare {text!r}: expected PE:PORT:CE:PORT (a free PE port and a spare CE's port)")
    return tuple(parts)


def add_item(i: int, spare: tuple[str, str, str, str]) -> dict:
    pe, port, ce, ce_port = spare
    values = {
        "customer": f"{CUSTOMER} {i:02d}",
        "pe": pe,
        "pe_interface": port,
        "ce": ce,
        "ce_interface": ce_port,
        "customer_asn": 65001 + i,
        "prefixes": [f"203.0.113.{32 + 8 * i}/29"],
        "bandwidth": 100000,
        "max_prefix": 10,
    }
    return {
        "id": "1",
        "action": "add",
        "service": {
            "serviceSpecification": {"name": "dia-ebgp"},
            "serviceCharacteristic": [{"name": k, "value": v} for k, v in values.items()],
        },
    }


def delete_item(cid: str) -> dict:
    return {"id": "1", "action": "delete", "service": {"id": cid, "serviceCharacteristic": []}}


# --- the machine and the workers ---------------------------------------------------------------


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "?",
    )
    mem_kib = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
    )
    load = os.getloadavg()
    date = subprocess.run(["date"], capture_output=True, text=True, check=False).stdout.strip()
    return (
        f"machine: {platform.node()}, {model}, {os.cpu_count()} cores, {mem_kib / 1048576:.0f} GiB, "
        f"Python {platform.python_version()}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}\n"
        f"date: {date}"
    )


def vm_hwm(pid: int) -> int:
    """Peak resident memory (MiB) of a process, 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


def process_tree_rss(roots: list[int]) -> int:
    """Resident memory (KiB) of these processes and all their descendants."""
    parent, rss = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            parent[int(entry)] = int(fields[1])
            rss[int(entry)] = int(fields[21]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
        except (OSError, ValueError, IndexError):
            continue
    tree, todo = set(), [p for p in roots if p in parent]
    while todo:
        pid = todo.pop()
        tree.add(pid)
        todo += [c for c, p in parent.items() if p == pid and c not in tree]
    return sum(rss.get(p, 0) for p in tree)


class MemorySampler(threading.Thread):
    """Samples the job workers' process trees (workers, work horses, ansible) once a second."""

    def __init__(self, roots: list[int]):
        super().__init__(daemon=True)
        self.roots, self.peak, self.stop = roots, 0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, process_tree_rss(self.roots))
            self.stop.wait(1.0)


class Workers:
    """Extra job workers (`netoss worker --name bench-worker-K`), started as the stack's own
    worker is (its account, environment and directory), stopped by PID."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.procs: list[subprocess.Popen] = []

    def start(self, count: int, stack_worker_pid: int) -> None:
        user = owner_of_process(stack_worker_pid) or "root"
        entry = pwd.getpwnam(user)
        # The environment the stack gives its own worker: its credentials included (the
        # stack's secrets file is root's alone, not the worker account's to read).
        env = {**os.environ, **portal_app.env(self.stack), **portal_app.daemon_env(self.stack, "portal-worker")}
        log = (self.stack.logs / "bench-workers.log").open("a")
        for k in range(1, count + 1):
            kwargs = {}
            if user != "root":
                groups = os.getgrouplist(user, entry.pw_gid)
                kwargs = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": groups}
            self.procs.append(
                subprocess.Popen(
                    [str(self.stack.venv / "bin" / "netoss"), "worker", "--name", f"bench-worker-{k}"],
                    cwd=self.stack.repo,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    **kwargs,
                )
            )
        log.close()
        time.sleep(3)
        dead = [p.pid for p in self.procs if p.poll() is not None]
        if dead:
            raise SystemExit(f"bench workers {dead} exited at start: see {self.stack.logs / 'bench-workers.log'}")
        print(f"workers: the stack's (pid {stack_worker_pid}) + {count} started as {user} (pids {self.pids})")

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def stop(self) -> None:
        """SIGTERM (RQ's warm shutdown: the current job ends first), then again (cold), then SIGKILL."""
        for sig, wait in ((signal.SIGTERM, 60), (signal.SIGTERM, 15), (signal.SIGKILL, 10)):
            alive = [p for p in self.procs if p.poll() is None]
            if not alive:
                return
            for p in alive:
                p.send_signal(sig)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and any(p.poll() is None for p in alive):
                time.sleep(0.2)


# --- orders ------------------------------------------------------------------------------------


def epoch(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).timestamp()


def submit_together(api: requests.Session, url: str, bodies: list[dict]) -> list[dict]:
    """POST every body from its own thread, all released at once; each result: sent, accepted, order."""
    barrier = threading.Barrier(len(bodies))
    results: list[dict] = [{} for _ in bodies]

    def post(k: int) -> None:
        barrier.wait()
        sent = time.time()
        try:
            resp = api.post(url, json=bodies[k], timeout=300)
            results[k] = {"sent": sent, "accepted": time.time(), "status": resp.status_code, "body": resp.text}
            if resp.status_code == 201:
                results[k]["order"] = resp.json()
        except requests.RequestException as exc:
            results[k] = {"sent": sent, "accepted": time.time(), "status": None, "body": str(exc)}

    threads = [threading.Thread(target=post, args=(k,)) for k in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(330)
    refused = [(k, r.get("status"), r.get("body", "")[:500]) for k, r in enumerate(results) if "order" not in r]
    if refused:
        raise SystemExit("orders refused: " + "; ".join(f"#{k + 1}: HTTP {s}: {b}" for k, s, b in refused))
    return results


def wait_orders(api: requests.Session, base: str, results: list[dict]) -> None:
    """Poll every order until it ends; each result gets its final order (SystemExit past the timeout)."""
    pending = {r["order"]["id"]: r for r in results}
    deadline = max(r["sent"] for r in results) + ORDER_TIMEOUT
    while pending:
        for order_id, r in list(pending.items()):
            order = api.get(f"{base}{ORDERS}/{order_id}", timeout=30).json()
            if order["state"] in FINAL:
                r["final"], r["seen"] = order, time.time()
                del pending[order_id]
        if pending and time.time() > deadline:
            states = {i: api.get(f"{base}{ORDERS}/{i}", timeout=30).json()["state"] for i in pending}
            raise SystemExit(
                f"{len(pending)} orders did not end within {ORDER_TIMEOUT // 60} minutes of their submit: {states}"
            )
        time.sleep(1.0)


def job_tail(api: requests.Session, base: str, order: dict, lines: int = 25) -> str:
    job = (order.get("netoss") or {}).get("job")
    if not job:
        return "    (no job)"
    events = api.get(f"{base}/api/v1/jobs/{job}/events", params={"limit": 5000}, timeout=30).json()
    text = "\n".join(e.get("stdout") or "" for e in events).strip().splitlines()
    return "\n".join("    " + line for line in text[-lines:])


TIMED = re.compile(r"^\s*(\d+\.\d) s  (.+?)  \[(.*)\]$")


def job_timings(api: requests.Session, base: str, order: dict) -> list[tuple[str, float, str]]:
    """The job's own breakdown (netoss.core.timings, the end of its output): (task, wall seconds,
    per host) in the order the tasks ran."""
    job = (order.get("netoss") or {}).get("job")
    events = api.get(f"{base}/api/v1/jobs/{job}/events", params={"limit": 5000}, timeout=30).json()
    text = "\n".join(e.get("stdout") or "" for e in events)
    if "WHERE THE TIME WENT" not in text:
        return []
    rows = []
    for line in text.split("WHERE THE TIME WENT", 1)[1].splitlines():
        m = TIMED.match(line)
        if m:
            rows.append((m.group(2), float(m.group(1)), m.group(3)))
        elif line.strip().endswith(" s  the playbook, in all"):
            rows.append(("the playbook, in all", float(line.split()[0]), ""))
    return rows


def print_breakdown(api: requests.Session, base: str, done: list[dict]) -> None:
    """Where an order's time went in its job, task by task: the median over the orders (and the
    fastest order's own line per host)."""
    tables = [job_timings(api, base, r["final"]) for r in done]
    tables = [t for t in tables if t]
    if not tables:
        print("  where the time went: the jobs' output has no timings table")
        return
    fastest = min(tables, key=lambda t: sum(w for _n, w, _h in t))
    walls: dict[str, list[float]] = {}
    for table in tables:
        for name, wall, _hosts in table:
            walls.setdefault(name, []).append(wall)
    print(f"  where an order's job spent its time (median of {len(tables)} orders; the fastest order per host):")
    for name, _wall, hosts in fastest:
        print(f"    {statistics.median(walls[name]):6.1f} s  {name}  [{hosts}]")


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def spread(values: list[float]) -> str:
    if not values:
        return "-"
    return (
        f"median {statistics.median(values):.1f} s, p95 {nearest_rank(values, 0.95):.1f} s, "
        f"max {max(values):.1f} s, min {min(values):.1f} s"
    )


def report(what: str, api, base: str, results: list[dict], workers: int) -> list[dict]:
    """Print the batch's figures and every order that did not complete; return the completed ones.

    Each order's time is split where a worker first took its job (the queue before), where its
    job started running with its device locks (before: it waited for them out of the workers,
    parked), and at its first inProgress (the playbook's first step: Ansible's start before).
    """
    done = [r for r in results if r["final"]["state"] == "completed"]
    for r in results:
        order = r["final"]
        if order["state"] != "completed":
            reason = (order.get("netoss") or {}).get("reason")
            print(f"  order {order['id']} {order['state']}: {reason}")
            print(job_tail(api, base, order))
    ends = [epoch(r["final"]["completionDate"]) for r in results]
    to_active = [epoch(r["final"]["completionDate"]) - r["sent"] for r in done]
    accept = [r["accepted"] - r["sent"] for r in results]
    queued, parked, locked, work, busy = [], [], [], [], 0.0
    for r in results:
        job = api.get(f"{base}/api/v1/jobs/{r['final']['netoss']['job']}", timeout=30).json()
        changes = [epoch(c["at"]) for c in r["final"]["netoss"]["stateChange"] or [] if c["state"] == "inProgress"]
        if job.get("started_at") and job.get("finished_at"):
            busy += epoch(job["finished_at"]) - epoch(job["started_at"])
        if job.get("started_at") and changes:
            taken = epoch(job.get("waiting_since") or job["started_at"])
            queued.append(taken - r["sent"])
            parked.append(epoch(job["started_at"]) - taken)
            locked.append(min(changes) - epoch(job["started_at"]))
            if r in done:
                work.append(epoch(r["final"]["completionDate"]) - min(changes))
    first, wall = min(r["sent"] for r in results), max(ends) - min(r["sent"] for r in results)
    n = len(results)
    print(f"{what}: {n} orders, {len(done)} completed")
    print(f"  submit -> accepted (the POST's answer: checked, stored, queued): {spread(accept)}")
    print(f"  submit -> completed (order-to-{'active' if what == 'adds' else 'gone'}): {spread(to_active)}")
    print(f"    of which queued until a worker took the job: {spread(queued)}")
    print(f"    then waiting for its devices out of the workers (parked), until it ran: {spread(parked)}")
    print(f"    then Ansible's start, until inProgress: {spread(locked)}")
    print(f"    then the playbook's work, inProgress -> completed: {spread(work)}")
    print(f"  wall (first submit -> last order ended): {wall:.1f} s = {n / (wall / 60):.2f} orders/min")
    print_breakdown(api, base, done)
    lock_wait = sum(locked)
    print(
        f"  workers: {busy:.0f} worker-seconds in jobs of {workers} x {max(ends) - first:.0f} s; "
        f"{lock_wait:.0f} worker-seconds of them before inProgress (starting Ansible); "
        f"{sum(parked):.0f} s waited for devices out of the workers"
    )
    return done


# --- checks ------------------------------------------------------------------------------------


def bgp_peers(spec, pe: str) -> dict[str, str]:
    data = json.loads(runtime.vtysh(spec.router(pe), "show bgp ipv4 unicast summary json"))
    peers = data.get("peers") or (data.get("ipv4Unicast") or {}).get("peers") or {}
    return {address: p.get("state", "?") for address, p in peers.items()}


def check_sessions(spec, baseline: dict[str, dict[str, str]], expect_new: dict[str, int]) -> list[str]:
    problems = []
    for pe, before in baseline.items():
        now = bgp_peers(spec, pe)
        new = set(now) - set(before)
        gone = set(before) - set(now)
        down_ = {a: s for a, s in now.items() if s != "Established"}
        print(
            f"  {pe}: {len(now)} BGP sessions, {len(now) - len(down_)} Established ({len(new)} new, {len(gone)} gone)"
        )
        if down_:
            problems.append(f"{pe}: sessions not Established: {down_}")
        if len(new) != expect_new[pe] or gone:
            problems.append(f"{pe}: {len(new)} new sessions (expected {expect_new[pe]}), gone: {sorted(gone)}")
    return problems


def check_links(nb, cids: list[str]) -> list[str]:
    links = [
        (str(p.prefix), p.custom_fields.get("netoss_circuit"))
        for p in nb.ipam.prefixes.filter(mask_length=31)
        if p.custom_fields.get("netoss_circuit") in cids
    ]
    prefixes = [p for p, _c in links]
    print(f"  /31s given to the orders' circuits: {len(links)}, distinct: {len(set(prefixes))}")
    problems = []
    if len(set(prefixes)) != len(prefixes):
        problems.append(f"a /31 was given twice: {sorted(prefixes)}")
    if sorted(c for _p, c in links) != sorted(cids):
        problems.append(f"the /31s' circuits {sorted(c for _p, c in links)} are not the orders' {sorted(cids)}")
    return problems


def bench_leftovers(nb, n: int) -> list[str]:
    """What of the bench's customers NetBox still has."""
    space = [ipaddress.ip_network(f"203.0.113.{32 + 8 * i}/29") for i in range(1, n + 1)]
    left = []
    left += [f"tenant {t.name}" for t in nb.tenancy.tenants.all() if t.name.startswith(CUSTOMER)]
    left += [
        f"circuit {c.cid}"
        for c in nb.circuits.circuits.all()
        if (c.tenant and c.tenant.name.startswith(CUSTOMER)) or c.cid.startswith("BENCH")
    ]
    left += [f"AS{a.asn}" for a in nb.ipam.asns.all() if 65002 <= a.asn <= 65001 + n]
    left += [
        f"prefix {p.prefix}"
        for p in nb.ipam.prefixes.all()
        if p.custom_fields.get("netoss_circuit")
        or (p.tenant and p.tenant.name.startswith(CUSTOMER))
        or any(ipaddress.ip_network(p.prefix).subnet_of(s) for s in space)
    ]
    return left


# --- the run -----------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", type=int, default=20, help="concurrent orders (default 20, 1..20)")
    ap.add_argument("--workers", type=int, default=2, help="job workers besides the stack's one (default 2, 0..6)")
    ap.add_argument("--pes", type=int, choices=(1, 2), default=2, help="the PEs the orders spread over (default 2)")
    ap.add_argument("--rounds", type=int, default=1, help="add and delete the orders this many times (default 1)")
    ap.add_argument(
        "--spare",
        action="append",
        default=[],
        metavar="PE:PORT:CE:PORT",
        help="with --stack: a free PE port and a spare CE's port for one order (repeat for more orders)",
    )
    ap.add_argument(
        "--smoke",
        action="store_true",
        help="a smoke-size run (make test): no extra worker (with --stack, --lab, --spare)",
    )
    on_stack.add_options(ap, lab=True)
    args = ap.parse_args()
    if args.stack:
        if not args.lab or not args.spare:
            ap.error("--stack needs --lab and at least one --spare")
        spares = [parse_spare(text) for text in args.spare]
        args.orders = len(spares)
    elif args.smoke or args.lab or args.spare:
        ap.error("--smoke, --lab and --spare go with --stack")
    else:
        spares = spares_of(args.orders, args.pes)
    if args.smoke:
        args.workers = 0
    if not (1 <= args.orders <= 20 and 0 <= args.workers <= 6 and args.rounds >= 1):
        ap.error("--orders 1..20 (the prefixes 203.0.113.32-191), --workers 0..6, --rounds 1 or more")
    if os.geteuid() != 0:
        raise SystemExit("the lab needs root (network namespaces)")
    print(machine())
    per_pe: dict[str, int] = {}
    for pe, *_rest in spares:
        per_pe[pe] = per_pe.get(pe, 0) + 1
    on = ", ".join(f"{n} on {pe}" for pe, n in sorted(per_pe.items()))
    print(f"orders: {args.orders} DIA orders at once ({on}), {1 + args.workers} job workers")
    if args.stack:
        stack = on_stack.existing(args.stack)
        workers = Workers(stack)
        try:
            nb = pynetbox.api(stack.netbox_url, token=stack.netbox_token())
            spec = lab.up(stack, nb, on_stack.lab_config(args.lab), log=lambda m: None)
            run(stack, args, workers, spec, spares, per_pe)
        finally:
            workers.stop()
        return
    stack = Stack(state_dir=STATE, port_base=PORT_BASE)
    wipe(stack)
    workers = Workers(stack)
    tmp = Path(tempfile.mkdtemp(prefix="bench-orders-"))
    t0 = time.monotonic()
    try:
        up(stack, seed_intent=False, log=lambda m: None)
        print(f"stack up: {time.monotonic() - t0:.0f} s")
        intent = bench_intent(tmp / "intent", args.orders, args.pes)
        t0 = time.monotonic()
        run_playbook(
            stack, "sot_sync.yml", "-e", f"sot_sync_intent_dir={intent}", log_name="sot-sync.log", timeout=1800
        )
        print(f"sot_sync of the intent (demo + {args.orders} CEs): {time.monotonic() - t0:.0f} s")
        nb = pynetbox.api(stack.netbox_url, token=stack.netbox_token())
        t0 = time.monotonic()
        spec = lab.up(stack, nb, BENCH_LAB, log=lambda m: None)
        lab.converge(stack, spec, log=lambda m: None, force=True)
        print(f"lab up and converged: {len(spec.routers)} routers, {time.monotonic() - t0:.0f} s")
        run(stack, args, workers, spec, spares, per_pe)
    finally:
        workers.stop()
        lab.down(stack, log=lambda m: None)
        down(stack, log=lambda m: None)
        shutil.rmtree(tmp, ignore_errors=True)


def run(stack: Stack, args, workers: Workers, spec, spares: list[tuple[str, str, str, str]], per_pe: dict) -> None:
    nb = pynetbox.api(stack.netbox_url, token=stack.netbox_token())

    stack_worker = Supervisor(stack).processes()["portal-worker"]["pid"]
    workers.start(args.workers, stack_worker)
    sampler = MemorySampler([stack_worker, *workers.pids])
    sampler.start()

    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {stack.load_secrets()['portal_admin_token']}"
    adapter = requests.adapters.HTTPAdapter(pool_maxsize=max(10, args.orders))
    api.mount("http://", adapter)
    base = stack.portal_url
    baseline = {pe: bgp_peers(spec, pe) for pe in sorted(per_pe)}
    problems = [
        f"{pe}: before the orders, not Established: {p}"
        for pe, p in baseline.items()
        if set(p.values()) != {"Established"}
    ]

    to_active: list[float] = []
    for round_ in range(1, args.rounds + 1):
        if args.rounds > 1:
            print(f"round {round_} of {args.rounds}:")
        problems += one_round(api, base, nb, spec, spares, per_pe, baseline, args, to_active)
        if problems:
            break
    if args.rounds > 1 and to_active:
        each = ", ".join(f"{t:.1f}" for t in to_active)
        print(f"order-to-active over {len(to_active)} orders of {args.rounds} rounds: median "
              f"{statistics.median(to_active):.1f} s (each: {each} s)")  # fmt: skip

    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    sampler.stop.set()
    sampler.join(5)
    hwm = ", ".join(f"{pid}: {vm_hwm(pid)} MiB" for pid in [stack_worker, *workers.pids])
    print(f"memory: worker processes VmHWM ({hwm}); peak RSS of all workers with their jobs {sampler.peak // 1024} MiB")
    if problems:
        print("result: FAILED")
        for p in problems:
            print(f"  - {p}")
        raise SystemExit(1)
    print("result: every order completed; distinct /31s; BGP Established on both PEs; NetBox clean after the deletes")


def one_round(
    api, base: str, nb, spec, spares, per_pe: dict, baseline: dict, args, to_active: list[float]
) -> list[str]:
    """The orders added together, checked, then deleted together and checked; the problems found."""
    problems: list[str] = []
    # 1. Adds.
    adds = submit_together(
        api, f"{base}{ORDERS}", [{"serviceOrderItem": [add_item(i, spare)]} for i, spare in enumerate(spares, 1)]
    )
    wait_orders(api, base, adds)
    done = report("adds", api, base, adds, 1 + args.workers)
    to_active += [epoch(r["final"]["completionDate"]) - r["sent"] for r in done]
    cids = [r["final"]["serviceOrderItem"][0]["service"]["id"] for r in done]
    locked = [r for r in adds if "is being changed by job" in ((r["final"].get("netoss") or {}).get("reason") or "")]
    if locked:
        problems.append(
            f"{len(locked)} orders failed waiting for a device lock (300 s): a product finding; "
            "for a figure, run again with fewer --orders (fewer orders per PE)"
        )
    if len(done) != len(adds):
        problems.append(f"{len(adds) - len(done)} of {len(adds)} add orders did not complete")
    problems += check_links(nb, cids)
    done_per_pe = {pe: sum(1 for r in done if _value(r, "pe") == pe) for pe in per_pe}
    problems += check_sessions(spec, baseline, done_per_pe)

    # 2. Deletes (of the services that went live).
    if cids:
        deletes = submit_together(api, f"{base}{ORDERS}", [{"serviceOrderItem": [delete_item(c)]} for c in cids])
        wait_orders(api, base, deletes)
        deleted = report("deletes", api, base, deletes, 1 + args.workers)
        if len(deleted) != len(deletes):
            problems.append(f"{len(deletes) - len(deleted)} of {len(deletes)} delete orders did not complete")
        problems += check_sessions(spec, baseline, {pe: 0 for pe in per_pe})
    left = bench_leftovers(nb, args.orders)
    print(f"  NetBox after the deletes: {len(left)} records of the bench's customers left {left[:10]}")
    if left:
        problems.append(f"NetBox still has {len(left)} records of the bench's customers: {left[:20]}")

    return problems


def _value(result: dict, name: str):
    chars = result["final"]["serviceOrderItem"][0]["service"]["serviceCharacteristic"]
    return next((c["value"] for c in chars if c["name"] == name), None)


if __name__ == "__main__":
    main()
