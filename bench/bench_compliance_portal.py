#!/usr/bin/env python3
"""Benchmark: compliance at fleet size in the portal.

Runs over N devices (default 10,000, named, placed and given roles as `netoss fleet generate`
names them: sites pop001…, routers <site>-p01, -pe01, -ce001) are recorded through the API, as
the compliance job's netoss.core.compliance_record does (one POST per run), R times (the
history); then every compliance page and API list is timed at that size (median of 3 calls
each). About 10% of the devices have 1 to 3 features not compliant (each rule with its
missing/extra lines, diff and remediation, as the engine reports them), a few could not be
checked; the policy is the repository's (compliance/).

It starts a stack of its own (.state-bench-compliance, port base 21000), or runs on a stack
already up (--stack, bench/on_stack.py; bench_scale.py calls run()). On a stack it does not own
it puts back what it changed: it deletes its runs from the portal's database and clears the
compliance alarms its runs raised (their tickets resolve). Its device names (sites cbench001…)
are not a stack's own, and the fault processor rejects the events of devices NetBox does not
know, so in practice it raises none.

Usage: .venv/bin/python bench/bench_compliance_portal.py [--devices 10000] [--runs 3] [--stack DIR] [--smoke]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / ".collections"))
sys.path.insert(0, str(REPO / "bench"))

import on_stack  # noqa: E402

from netoss.cli.fleet import SiteShape, site_sizes  # noqa: E402

STATE, PORT_BASE = on_stack.own(".state-bench-compliance")
RUNS = "/api/v1/compliance/runs"
ALARMS = "/tmf-api/alarmManagement/v4/alarm"
STEM = "cbench"  # the sites' stem: pop001 is the fleet's, cbench001 the bench's (never a stack's own)


def fleet_devices(devices: int, sites: int, stem: str = STEM) -> list[tuple[str, str, str]]:
    """(name, site, role) of each device of a fleet, as netoss fleet generate names them."""
    out = []
    for i, size in enumerate(site_sizes(devices, sites)):
        site = f"{stem}{i + 1:03d}"
        shape = SiteShape.of(size)
        out += [(f"{site}-p{k + 1:02d}", site, "p") for k in range(shape.p)]
        out += [(f"{site}-pe{k + 1:02d}", site, "pe") for k in range(shape.pe)]
        out += [(f"{site}-ce{k + 1:03d}", site, "ce") for k in range(shape.ce)]
    return out


def policy_features() -> list[dict]:
    from ansible_collections.netoss.core.plugins.module_utils.compliance_policy import load_policy

    policy = load_policy(str(REPO / "compliance"))
    return [{"name": f.name, "description": f.description, "severity": f.severity} for f in policy.features]


def _rule(feature: str, k: int, rng: random.Random) -> dict:
    """A non-compliant rule as the engine reports it (snippets, diff, remediation)."""
    port = f"eth{rng.randint(1, 8)}"
    missing = f"interface {port}\n description uplink {k}"
    extra = f"interface {port}\n description changed by hand {k}"
    diff = (
        f"--- {feature}/{feature} (actual)\n+++ {feature}/{feature} (expected)\n@@ -1,3 +1,3 @@\n"
        f" interface {port}\n- description changed by hand {k}\n+ description uplink {k}\n"
        " ip ospf network point-to-point\n"
    )
    return {"feature": feature, "rule": feature, "kind": "section", "status": "non-compliant", "compliant": False,
            "missing": missing, "extra": extra, "remediation": [f"interface {port}", f" description uplink {k}"],
            "diff": diff, "message": ""}  # fmt: skip


def make_run(devices, features: list[dict], seed: int, day: int, drift: float = 0.10) -> tuple[dict, dict]:
    """A run as config_compliance returns it, over ``devices`` ((name, site, role)); and
    {device: [features not compliant]}."""
    rng = random.Random(seed)  # noqa: S311 - seeded bench data
    names = [f["name"] for f in features]
    out, bad = [], {}
    for i, (name, site, role) in enumerate(devices):
        common = {"device": name, "platform": "frr", "site": site, "role": role}
        if i % 2003 == 1001:
            out.append({**common, "status": "error", "error": "no backup of this device", "features": {},
                        "rules": []})  # fmt: skip
            continue
        status = dict.fromkeys(names, "compliant")
        rules = []
        if rng.random() < drift:
            for feature in rng.sample(names, rng.randint(1, 3)):
                status[feature] = "non-compliant"
                rules.append(_rule(feature, i, rng))
            bad[name] = [f for f in names if status[f] == "non-compliant"]
        out.append({**common, "status": "non-compliant" if rules else "compliant", "error": "",
                    "features": status, "rules": rules})  # fmt: skip
    start = dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.UTC) + dt.timedelta(days=day)
    run = {
        "source": "backup",
        "job_id": None,
        "started_at": start.isoformat(),
        "finished_at": (start + dt.timedelta(seconds=5)).isoformat(),
        "policy": {"path": "compliance", "features": features},
        "summary": {"expired_exceptions": []},
        "devices": out,
    }
    return run, bad


def median_call(session, url, params=None, repeat=3) -> tuple[float, int, int]:
    """(median seconds, status, bytes) of ``repeat`` GETs."""
    times, status, size = [], 0, 0
    for _ in range(repeat):
        t = time.perf_counter()
        resp = session.get(url, params=params, timeout=120)
        times.append(time.perf_counter() - t)
        status, size = resp.status_code, len(resp.content)
    return statistics.median(times), status, size


def run(stack, devices: int = 10000, runs: int = 3, sites: int | None = None, own: bool = False, log=print) -> dict:
    """Record ``runs`` runs of ``devices`` devices through the portal's API of ``stack``, time
    each compliance page and list; print and return the figures. Unless ``own``, put back what
    it changed (its runs deleted, its alarms cleared)."""
    sites = sites or max(1, devices // 50)
    fleet = fleet_devices(devices, sites)
    features = policy_features()
    token = stack.load_secrets()["portal_admin_token"]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    base = stack.portal_url
    figures: dict = {"devices": len(fleet), "sites": sites, "runs": runs, "record": [], "calls": {}}
    recorded, raised = [], {}
    log(
        f"compliance in the portal: {len(fleet)} devices in {sites} sites, {runs} runs, "
        f"policy of {len(features)} features"
    )
    try:
        for k in range(runs):
            payload, bad = make_run(fleet, features, seed=k, day=k)
            body = json.dumps(payload).encode()
            t = time.perf_counter()
            resp = session.post(f"{base}{RUNS}", data=body, headers={"Content-Type": "application/json"}, timeout=600)
            took = time.perf_counter() - t
            if resp.status_code != 201:
                raise SystemExit(f"bench: recording run {k + 1} failed: {resp.status_code} {resp.text[:300]}")
            answer = resp.json()
            recorded.append(answer["id"])
            raised = bad  # the latest run's problems are the alarms left raised
            figures["record"].append({"seconds": took, "bytes": len(body), "alarms": answer.get("alarms")})
            log(
                f"  record run {k + 1}: {took:.2f} s for {len(fleet)} devices, one POST of {len(body) / 2**20:.1f} MiB "
                f"({len(bad)} devices not compliant; alarms {answer.get('alarms')})"
            )
        last = recorded[-1]
        some_site = fleet[len(fleet) // 2][1]
        some_device = fleet[len(fleet) // 3][0]
        middle = max(0, len(fleet) // 2 // 100 * 100)
        calls = [
            ("API results, first page of 100", "/api/v1/compliance/results", {"limit": 100}),
            (f"API results, page at offset {middle}", "/api/v1/compliance/results", {"limit": 100, "offset": middle}),
            ("API results, one site", "/api/v1/compliance/results", {"site": some_site, "limit": 100}),
            (
                "API results, role ce, non-compliant",
                "/api/v1/compliance/results",
                {"role": "ce", "status": "non-compliant", "limit": 100},
            ),
            ("API results, rule bgp/bgp", "/api/v1/compliance/results", {"rule": "bgp/bgp", "limit": 100}),
            ("API runs", RUNS, {"limit": 50}),
            ("API run report, problems, page of 50", f"{RUNS}/{last}", {"problems": "true", "limit": 50}),
            ("API run report, one site", f"{RUNS}/{last}", {"site": some_site, "limit": 100}),
            ("API run report, whole (every device)", f"{RUNS}/{last}", None),
            ("API run CSV, whole", f"{RUNS}/{last}/csv", None),
            ("API device history", "/api/v1/compliance/history", {"device": some_device}),
            ("API overview, page of 100", "/api/v1/compliance/overview", {"limit": 100}),
            ("API overview, whole (every device)", "/api/v1/compliance/overview", None),
            ("page /compliance (heat map page 1)", "/compliance", None),
            ("page /compliance, page 25", "/compliance", {"page": 25}),
            ("page /compliance, site + problems", "/compliance", {"site": some_site, "show": "problems"}),
            ("page run report (problems, page 1)", f"/compliance/runs/{last}", None),
            ("page run report, all devices, page 100", f"/compliance/runs/{last}", {"show": "all", "page": 100}),
            ("page device history", f"/compliance/devices/{some_device}", None),
        ]
        for label, path, params in calls:
            seconds, status, size = median_call(session, f"{base}{path}", params)
            if status != 200:
                raise SystemExit(f"bench: {label}: HTTP {status}")
            figures["calls"][label] = {"seconds": seconds, "bytes": size}
            log(f"  {label:<42} {seconds * 1000:8.0f} ms  {size / 1024:9.0f} KiB")
        slowest = max(figures["calls"].items(), key=lambda kv: kv[1]["seconds"])
        log(f"  slowest: {slowest[0]}, {slowest[1]['seconds']:.2f} s")
    finally:
        if not own:
            put_back(stack, session, recorded, raised, log)
    return figures


def put_back(stack, session, run_ids: list[int], raised: dict, log) -> None:
    """Delete the bench's runs from the portal's database, and clear the alarms they raised."""
    if run_ids:
        from sqlalchemy import create_engine, text

        from netoss.embedded.stack.portal_app import config_file

        engine = create_engine(json.loads(config_file(stack).read_text())["SQLALCHEMY_DATABASE_URI"])
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM compliance_runs WHERE id = ANY(:ids)"), {"ids": run_ids})
        engine.dispose()
    expected = sum(len(f) for f in raised.values())
    # The fault processor rejects the events of devices NetBox does not know (the bench's names
    # are not a stack's own): then no alarm was raised, and there is nothing to wait for.
    known = 0
    if raised:
        resp = requests.get(
            f"{stack.netbox_url}/api/dcim/devices/",
            params={"name": list(raised)[:50], "limit": 1},
            headers={"Authorization": f"Token {stack.netbox_reader_token()}"},
            timeout=30,
        )
        known = resp.json().get("count", 0) if resp.ok else len(raised)
    alarms: list[str] = []
    deadline = time.monotonic() + (120 if known else 0)
    while True:  # the fault worker raises them from the queue
        alarms = []
        for device in raised:
            resp = session.get(f"{stack.portal_url}{ALARMS}", params={"device": device, "state": "active"}, timeout=30)
            alarms += [a["id"] for a in resp.json() if a["alarmedObject"]["name"] == device]
        if len(alarms) >= expected or time.monotonic() >= deadline:
            break
        time.sleep(2)
    for alarm in alarms:
        session.patch(f"{stack.portal_url}{ALARMS}/{alarm}", json={"state": "cleared"}, timeout=30)
    log(
        f"  put back: {len(run_ids)} runs deleted, {len(alarms)} alarms cleared"
        + ("" if known else " (NetBox knows none of the bench's devices: the fault processor raised none)")
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devices", type=int, default=10000, help="devices per run (default 10000, max 50000)")
    ap.add_argument("--runs", type=int, default=3, help="runs recorded: the history (default 3, max 20)")
    ap.add_argument("--sites", type=int, help="sites (default: a site per 50 devices)")
    ap.add_argument("--smoke", action="store_true", help="a smoke-size run (make test): 30 devices, 2 runs")
    on_stack.add_options(ap)
    args = ap.parse_args()
    if args.smoke:
        args.devices, args.runs = 30, 2
    if not (3 <= args.devices <= 50000 and 1 <= args.runs <= 20):
        ap.error("--devices 3..50000, --runs 1..20")
    print(f"machine: {platform.node()} {os.cpu_count()} cores, Python {platform.python_version()}")
    with on_stack.stack_for(args, STATE, PORT_BASE, seed_intent=False) as (stack, own):
        run(stack, args.devices, args.runs, args.sites, own=own)


if __name__ == "__main__":
    main()
