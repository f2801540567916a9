#!/usr/bin/env python3
"""Benchmark: the portal's lists at fleet size, every page and list call timed.

It starts a stack of its own (.state-bench-lists, port base 25000), loads a generated fleet into
its NetBox (netoss fleet generate + netoss fleet load: --devices across --sites, 10 interfaces
each, cables, circuits and customers), then loads --alarms alarms, --tickets tickets and --jobs
jobs straight into the portal's PostgreSQL (COPY), and times each list, in the API and in the
pages: the first page, a filtered page and a deep offset, plus a text search. Beside each it
prints what a user would otherwise have: NetBox's own API for the devices and circuits, the bare
SQL query (in psql) for the alarms, tickets and jobs, and the service inventory as it read
NetBox before (every circuit of the page described on its own).

With --stack STATE_DIR (bench/on_stack.py) it runs on a stack already up, on the devices its
NetBox has (it loads none), and deletes the rows it added. bench_scale.py calls :func:`run`.

Usage: .venv/bin/python bench/bench_lists.py [--devices 10000] [--sites 100] [--alarms 100000]
       [--tickets 10000] [--jobs 10000] [--repeat 3] [--stack DIR] [--smoke]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / ".collections"))

sys.path.insert(0, str(REPO / "bench"))
import on_stack  # noqa: E402

BENCH = "bench-lists"  # the rows it adds carry this (source, created_by): deleted at the end on --stack
SEVERITIES = ("critical", "major", "minor", "warning", "indeterminate")
TICKET_STATES = ("acknowledged", "pending", "held", "inProgress", "resolved", "closed", "cancelled", "rejected")
JOB_STATES = ("successful", "failed", "canceled", "error")
PROBLEMS = ("Interface {} down", "BGP session on {} down", "Optical power low on {}", "CRC errors on {}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devices", type=int, default=10_000, help="fleet devices loaded (own stack; default 10000)")
    ap.add_argument("--sites", type=int, default=100, help="across this many sites (default 100)")
    ap.add_argument("--alarms", type=int, default=100_000, help="alarms in the portal's database (default 100000)")
    ap.add_argument("--tickets", type=int, default=10_000, help="tickets (default 10000)")
    ap.add_argument("--jobs", type=int, default=10_000, help="jobs (default 10000)")
    ap.add_argument("--repeat", type=int, default=3, help="timed calls of each (the median; default 3)")
    ap.add_argument("--smoke", action="store_true", help="a smoke-size run (make test): 30 devices, 500 alarms...")
    on_stack.add_options(ap)
    args = ap.parse_args()
    if args.smoke:
        args.devices, args.sites, args.alarms, args.tickets, args.jobs, args.repeat = 30, 3, 500, 100, 100, 1
    if not (3 <= args.devices <= 100_000 and 1 <= args.sites <= 999 and 1 <= args.repeat <= 20):
        ap.error("--devices 3..100000, --sites 1..999, --repeat 1..20")
    if min(args.alarms, args.tickets, args.jobs) < 1 or max(args.alarms, args.tickets, args.jobs) > 10_000_000:
        ap.error("--alarms, --tickets, --jobs: 1..10000000")
    print(machine())
    with on_stack.stack_for(args, *on_stack.own(".state-bench-lists"), seed_intent=False) as (stack, own):
        if own:
            load_fleet(stack, args.devices, args.sites)
        run(stack, alarms=args.alarms, tickets=args.tickets, jobs=args.jobs, repeat=args.repeat, keep=own)


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in _lscpu() if "name" in line.lower()), platform.processor())
    return (
        f"machine: {platform.node()}, {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"
    )


def _lscpu() -> list[str]:
    try:
        return subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10, check=False).stdout.splitlines()
    except OSError:
        return []


def load_fleet(stack, devices: int, sites: int) -> None:
    """A generated fleet of ``devices`` across ``sites``, loaded through NetBox's ORM."""
    import yaml

    from netoss.cli import fleet
    from netoss.embedded import fleet as fleet_load

    t0 = time.monotonic()
    catalog = yaml.safe_load((REPO / "services" / "catalog.yml").read_text())
    files = fleet.generate(
        devices=devices, sites=sites, catalog=catalog, netoss_file=REPO / "inventory/intent/00-netoss.yml"
    )
    with tempfile.TemporaryDirectory(prefix="bench-lists-") as tmp:
        target = Path(tmp) / "intent"
        fleet.write(target, files, lambda _path: None)
        done = fleet_load.load(stack, target, log=lambda _m: None)
    counts = ", ".join(f"{n} {kind}" for kind, n in done["counts"].items() if kind in ("devices", "circuits"))
    print(f"fleet loaded: {counts} in {time.monotonic() - t0:.0f} s (generate and netoss fleet load)")


# -- the portal's rows, straight into PostgreSQL --------------------------------------------


def _portal_db(stack):
    import psycopg

    from netoss.embedded.stack.portal_app import DB_NAME, DB_USER

    password = stack.load_secrets()["portal_db_password"]
    return psycopg.connect(
        host="127.0.0.1", port=stack.port("postgres"), user=DB_USER, password=password, dbname=DB_NAME
    )


def load_rows(stack, devices: list[str], alarms: int, tickets: int, jobs: int, seed: int = 17) -> dict:
    """``alarms`` alarms (a tenth active), ``tickets`` tickets and ``jobs`` jobs of ``devices``,
    COPYed into the portal's database; returns the seconds it took by table."""
    rnd = random.Random(seed)  # noqa: S311 (test data, not secrets)
    now = dt.datetime.now(dt.UTC)
    took = {}
    with _portal_db(stack) as conn, conn.cursor() as cur:
        t0 = time.monotonic()
        columns = ("fingerprint, active_key, state, ack_state, alarm_type, severity, probable_cause, specific_problem, "
                   "device, object_type, object_name, condition, source, raised_at, changed_at, cleared_at, "
                   "occurrences, flapping, is_root_cause, service_affecting, affected_services, details")  # fmt: skip
        with cur.copy(f"COPY alarms ({columns}) FROM STDIN") as copy:
            for i in range(alarms):
                device, port = rnd.choice(devices), f"eth{rnd.randrange(10)}"
                fingerprint = f"{BENCH}|{i}|{device}|interface|{port}|interface-down"
                active = i % 10 == 0
                at = now - dt.timedelta(seconds=alarms - i)
                copy.write_row((
                    fingerprint, fingerprint if active else None, "raised" if active else "cleared",
                    "unacknowledged", "communicationsAlarm", SEVERITIES[i % 5], "linkDown",
                    rnd.choice(PROBLEMS).format(port), device, "interface", port, "interface-down", BENCH, at, at,
                    None if active else at, 1, False, i % 3 != 0, False, "[]", "{}",
                ))  # fmt: skip
        took["alarms"] = time.monotonic() - t0
        t0 = time.monotonic()
        columns = ("name, description, severity, priority, ticket_type, status, created_at, updated_at, created_by, "
                   "assignee, device, related, reopen_count")  # fmt: skip
        with cur.copy(f"COPY tickets ({columns}) FROM STDIN") as copy:
            for i in range(tickets):
                device = rnd.choice(devices)
                at = now - dt.timedelta(minutes=tickets - i)
                related = json.dumps([{"@referredType": "Device", "id": "0", "name": device, "role": "affected"}])
                copy.write_row((
                    f"{rnd.choice(PROBLEMS).format(device)} ({BENCH})", "", SEVERITIES[i % 4], 1 + i % 4,
                    "alarm" if i % 3 else "complaint", TICKET_STATES[i % len(TICKET_STATES)], at, at, BENCH,
                    None if i % 4 else "noc", device, related, 0,
                ))  # fmt: skip
        took["tickets"] = time.monotonic() - t0
        t0 = time.monotonic()
        columns = 'template, parameters, check_mode, "limit", status, created_by, created_at, event_count'
        with cur.copy(f"COPY jobs ({columns}) FROM STDIN") as copy:
            for i in range(jobs):
                limit = ",".join(rnd.sample(devices, min(len(devices), 1 + i % 3)))
                at = now - dt.timedelta(minutes=jobs - i)
                copy.write_row((
                    ("backup", "config-push", "health-check")[i % 3], "{}", False, limit,
                    JOB_STATES[i % len(JOB_STATES)], BENCH, at, 0,
                ))  # fmt: skip
        took["jobs"] = time.monotonic() - t0
        cur.execute("ANALYZE alarms; ANALYZE tickets; ANALYZE jobs")
    return took


def delete_rows(stack) -> None:
    """The rows it loaded, and the tickets the stack's fault processor opened meanwhile for the
    bench's active alarms (they are on the stack's own devices: left behind, those tickets would
    stay open for ever, their alarms gone). Tickets first, before the alarms whose root_alarm_id
    they may hold, and jobs after the alarms whose job_id they may be. The tickets table is locked
    first, so that a processor's tick in flight either committed its ticket (deleted here) or
    waits and then finds the bench's alarms gone; a deadlock with such a tick is tried again."""
    import psycopg

    for attempt in range(5):
        try:
            with _portal_db(stack) as conn, conn.cursor() as cur:
                cur.execute("LOCK TABLE tickets IN SHARE ROW EXCLUSIVE MODE")
                cur.execute(
                    "DELETE FROM tickets WHERE created_by = %(bench)s"
                    " OR id IN (SELECT ticket_id FROM alarms WHERE source = %(bench)s AND ticket_id IS NOT NULL)"
                    " OR root_alarm_id IN (SELECT id FROM alarms WHERE source = %(bench)s)",
                    {"bench": BENCH},
                )
                cur.execute("DELETE FROM alarms WHERE source = %s", (BENCH,))
                cur.execute("DELETE FROM jobs WHERE created_by = %s", (BENCH,))
            return
        except psycopg.errors.DeadlockDetected:
            if attempt == 4:
                raise
            time.sleep(1)


# -- timing ------------------------------------------------------------------------------------


def _timed(fetch, repeat: int) -> tuple[float, object]:
    # Warm: the first call of a kind pays for imports and caches, in the portal and in each of
    # NetBox's worker processes (3) that the call's NetBox requests land on.
    for _ in range(3):
        fetch()
    seconds, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fetch()
        seconds.append(time.perf_counter() - t0)
    return statistics.median(seconds), out


def _get(session, url: str):
    resp = session.get(url, timeout=120)
    if resp.status_code != 200:
        raise SystemExit(f"GET {url}: {resp.status_code} {resp.text[:300]}")
    return resp


_CONNECTIONS: dict = {}


def _sql(stack, query: str, params=()):
    """The bare query, as psql would run it on a connection already open."""

    def run():
        conn = _CONNECTIONS.get(stack.state_dir) or _CONNECTIONS.setdefault(stack.state_dir, _portal_db(stack))
        with conn.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall()

    return run


def run(stack, *, alarms: int = 100_000, tickets: int = 10_000, jobs: int = 10_000, repeat: int = 3,
        keep: bool = False, log=print) -> list[dict]:  # fmt: skip
    """Load the portal's rows into ``stack`` (its NetBox already holds the devices), time every
    list call and page, print them beside what a user would otherwise have, and return them
    ({what, call, seconds, total, beside, beside_seconds} each). The rows are deleted at the
    end unless ``keep``."""
    import pynetbox

    netbox = pynetbox.api(stack.netbox_url, token=stack.netbox_token())
    devices = _device_names(stack)
    if not devices:
        raise SystemExit("the stack's NetBox has no devices: load a fleet first (netoss fleet load)")
    took = load_rows(stack, devices, alarms, tickets, jobs)
    log(f"portal rows COPYed: {alarms} alarms in {took['alarms']:.1f} s, {tickets} tickets in {took['tickets']:.1f} s, "
        f"{jobs} jobs in {took['jobs']:.1f} s; NetBox: {len(devices)} devices, "
        f"{netbox.circuits.circuits.count()} circuits")  # fmt: skip
    try:
        return _measure(stack, netbox, devices, alarms, tickets, jobs, repeat, log)
    finally:
        if not keep:
            delete_rows(stack)


def _device_names(stack) -> list[str]:
    names, url = [], f"{stack.netbox_url}/api/dcim/devices/?brief=1&limit=1000"
    headers = {"Authorization": f"Token {stack.netbox_token()}"}
    while url:
        body = requests.get(url, headers=headers, timeout=300).json()
        names += [d["name"] for d in body["results"]]
        url = body.get("next")
    return names


def _measure(stack, netbox, devices, alarms, tickets, jobs, repeat, log) -> list[dict]:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {stack.load_secrets()['portal_admin_token']}"
    nb = requests.Session()
    nb.headers["Authorization"] = f"Token {stack.netbox_token()}"
    portal, nbu = stack.portal_url, f"{stack.netbox_url}/api"
    device = devices[len(devices) // 2]
    first = next(iter(netbox.dcim.devices.filter(name=device)))
    role, site = first.role.slug, first.site.slug
    circuits = netbox.circuits.circuits.count()
    customer = next((c.tenant.name for c in netbox.circuits.circuits.all(limit=1, offset=0) if c.tenant), "")
    deep_alarm, deep_ticket, deep_job = max(alarms - 100, 0), max(tickets - 50, 0), max(jobs - 50, 0)
    deep_device, deep_circuit = max(len(devices) - 50, 0), max(circuits - 100, 0)
    active = "SELECT * FROM alarms WHERE active_key IS NOT NULL ORDER BY id DESC LIMIT 100"
    plain = "SELECT count(*) FROM {t}; SELECT * FROM {t} ORDER BY id DESC LIMIT 100 OFFSET %s"
    rows = [
        # what, the portal's call, the other tool's call (None: none)
        ("alarms API, active, 1st page", f"{portal}/tmf-api/alarmManagement/v4/alarm?state=active",
         ("psql", _sql(stack, active))),
        ("alarms API, severity+device", f"{portal}/tmf-api/alarmManagement/v4/alarm?perceivedSeverity=major"
         f"&device={device}", ("psql", _sql(stack, "SELECT * FROM alarms WHERE severity = 'major' AND device = %s "
                                                   "ORDER BY id DESC LIMIT 100", (device,)))),
        ("alarms API, deep offset", f"{portal}/tmf-api/alarmManagement/v4/alarm?offset={deep_alarm}",
         ("psql", _sql(stack, plain.format(t="alarms").split("; ")[1], (deep_alarm,)))),
        ("alarms API, text search", f"{portal}/tmf-api/alarmManagement/v4/alarm?q=optical", None),
        ("alarms page (its API call above)", f"{portal}/alarms", None),
        ("tickets API, 1st page", f"{portal}/tmf-api/troubleTicket/v4/troubleTicket", None),
        ("tickets API, open+major", f"{portal}/tmf-api/troubleTicket/v4/troubleTicket?status=open&severity=major",
         None),
        ("tickets API, deep offset", f"{portal}/tmf-api/troubleTicket/v4/troubleTicket?offset={deep_ticket}",
         ("psql", _sql(stack, "SELECT * FROM tickets ORDER BY updated_at DESC, id DESC LIMIT 100 OFFSET %s",
                       (deep_ticket,)))),
        ("tickets page, open", f"{portal}/tickets", None),
        ("tickets page, device+text", f"{portal}/tickets?status=any&device={device}&q=down", None),
        ("tickets page, deep offset", f"{portal}/tickets?status=any&offset={deep_ticket}", None),
        ("jobs API, 1st page", f"{portal}/api/v1/jobs", None),
        ("jobs API, failed on a device", f"{portal}/api/v1/jobs?status=failed&device={device}", None),
        ("jobs API, deep offset", f"{portal}/api/v1/jobs?offset={deep_job}",
         ("psql", _sql(stack, "SELECT * FROM jobs ORDER BY id DESC LIMIT 50 OFFSET %s", (deep_job,)))),
        ("jobs page", f"{portal}/jobs", None),
        ("jobs page, device", f"{portal}/jobs?device={device}", None),
        ("jobs page, deep offset", f"{portal}/jobs?offset={deep_job}", None),
        ("services API (TMF638), 1st page", f"{portal}/tmf-api/serviceInventory/v4/service",
         ("NetBox API, circuits", lambda: _get(nb, f"{nbu}/circuits/circuits/?limit=100"))),
        ("services API, customer", f"{portal}/tmf-api/serviceInventory/v4/service?relatedParty.name={customer}",
         None),
        ("services API, deep offset", f"{portal}/tmf-api/serviceInventory/v4/service?offset={deep_circuit}",
         ("NetBox API, circuits", lambda: _get(nb, f"{nbu}/circuits/circuits/?limit=100&offset={deep_circuit}"))),
        ("services page", f"{portal}/services", None),
        ("device picker API, 1st page", f"{portal}/api/v1/devices",
         ("NetBox API, devices", lambda: _get(nb, f"{nbu}/dcim/devices/?limit=50"))),
        ("device picker API, site+role+name", f"{portal}/api/v1/devices?site={site}&role={role}&q={device[-3:]}",
         ("NetBox API, devices", lambda: _get(nb, f"{nbu}/dcim/devices/?site={site}&role={role}"
                                                  f"&name__ic={device[-3:]}&limit=50"))),
        ("device picker API, deep offset", f"{portal}/api/v1/devices?offset={deep_device}",
         ("NetBox API, devices", lambda: _get(nb, f"{nbu}/dcim/devices/?limit=50&offset={deep_device}"))),
        ("launch form with the picker", f"{portal}/jobs/new/backup", None),
    ]  # fmt: skip
    out = []
    log(f"{'list call':<36} {'portal':>9} {'matching':>9}   beside it")
    for what, url, beside in rows:
        seconds, resp = _timed(lambda url=url: _get(session, url), repeat)
        total = resp.headers.get("X-Total-Count") or ""
        row = {"what": what, "call": url.removeprefix(portal), "seconds": seconds, "total": total}
        text = ""
        if beside:
            row["beside"], (row["beside_seconds"], _r) = beside[0], _timed(beside[1], repeat)
            text = f"{beside[0]} {row['beside_seconds'] * 1000:.0f} ms"
        out.append(row)
        log(f"{what:<36} {seconds * 1000:>6.0f} ms {total:>9}   {text}")
    slowest = max(out, key=lambda r: r["seconds"])
    before = _per_circuit(netbox)
    if before:
        out.append(before)
        log(f"{before['what']:<36} {before['seconds'] * 1000:>6.0f} ms {'':>9}   "
            f"{before['beside']} {before['beside_seconds'] * 1000:.0f} ms (the same output)")  # fmt: skip
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    log(f"slowest portal call: {slowest['what']} in {slowest['seconds'] * 1000:.0f} ms (load average {load:.1f})")
    for conn in _CONNECTIONS.values():
        conn.close()
    _CONNECTIONS.clear()
    return out


BEFORE = 50  # circuits described one by one, as the first page of TMF638 read NetBox before


def _per_circuit(netbox) -> dict | None:
    """The first BEFORE circuits described one by one, as the service inventory read NetBox
    before (once: it takes minutes at size); beside the same page read in bulk now."""
    from ansible_collections.netoss.core.plugins.module_utils.service_inventory import describe, page_services
    from ansible_collections.netoss.core.plugins.module_utils.service_netbox_view import NetboxView

    cids = [c.cid for c in netbox.circuits.circuits.all(limit=BEFORE, offset=0)]
    if not cids:
        return None
    t0 = time.perf_counter()
    before = [describe(NetboxView(netbox), cid) for cid in cids]
    seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    now = page_services(NetboxView(netbox), 0, len(cids))[1]
    bulk = time.perf_counter() - t0
    if now != before:
        raise SystemExit("the bulk service inventory differs from the circuits described one by one")
    return {"what": f"TMF638 {len(cids)} circuits, bulk", "call": "(in process)", "seconds": bulk, "total": "",
            "beside": "one by one (before)", "beside_seconds": seconds}  # fmt: skip


if __name__ == "__main__":
    main()
