#!/usr/bin/env python3
"""Benchmark: build and tear down FRR labs; time and memory per router.

It needs no NetBox: the lab spec is built from NetBox records (the demo's, captured in
tests/unit/test_data, or a generated ring of N routers) moved to their own management
subnet (198.18.102.0/24) and names (b*, bridge netoss-bbr0, account netopsb), so it never
touches the `make up` lab or a test run's. Run as root.

Usage: .venv/bin/python bench/bench_lab.py [--routers 20] [--rounds 3] [--smoke]
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from netoss.embedded.lab import runtime  # noqa: E402
from netoss.embedded.lab.spec import LabConfig, build_spec  # noqa: E402
from netoss.embedded.stack.assurance import USER as PROBE_LOGIN  # noqa: E402
from netoss.embedded.stack.config import web_config  # noqa: E402

CONFIG = LabConfig(ns_prefix="b", bridge="netoss-bbr0", user="netopsb")
MGMT = "198.18.102"


def demo_records() -> dict:
    records = json.loads((REPO / "tests/unit/test_data/netbox_demo_records.json").read_text())
    text = json.dumps({k: records[k] for k in ("devices", "ip_addresses", "cables", "prefixes")})
    return json.loads(text.replace("198.18.0.", MGMT + "."))


def ring_records(n: int) -> dict:
    """n routers r01..rNN in a ring (eth1 to the next router's eth2), management in MGMT.0/24."""
    devices, ips, cables = [], [], []
    for i in range(1, n + 1):
        devices.append(
            {
                "id": i,
                "name": f"r{i:02d}",
                "platform": {"slug": "frr"},
                "primary_ip4": {"id": 1000 + i, "address": f"{MGMT}.{10 + i}/24"},
            }
        )
        ips.append(
            {
                "id": 1000 + i,
                "address": f"{MGMT}.{10 + i}/24",
                "assigned_object": {"device": {"name": f"r{i:02d}"}, "name": "mgmt0"},
            }
        )
    for i in range(1, n + 1):
        nxt = i % n + 1
        end = lambda dev, name: [{"object_type": "dcim.interface", "object": {"device": {"name": dev}, "name": name}}]  # noqa: E731
        cables.append(
            {"id": i, "a_terminations": end(f"r{i:02d}", "eth1"), "b_terminations": end(f"r{nxt:02d}", "eth2")}
        )
    return {"devices": devices, "ip_addresses": ips, "cables": cables, "prefixes": [{"prefix": f"{MGMT}.0/24"}]}


def pss_mib(spec) -> float:
    total = 0
    for r in spec.routers:
        for pid in runtime.router_pids(r):
            try:
                for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
            except OSError:
                pass
    return total / 1024


def bench(label: str, records: dict, rounds: int, paths: runtime.LabPaths) -> None:
    spec = build_spec(**copy.deepcopy(records), config=CONFIG)
    creds = runtime.credentials(paths, CONFIG.user)
    ups, downs = [], []
    probe_web = web_config(PROBE_LOGIN, creds["probe_password"])
    mem = 0.0
    for _ in range(rounds):
        t0 = time.monotonic()
        runtime.ensure_user(CONFIG.user, creds["password"])
        runtime.build_network(spec)
        for r in spec.routers:
            runtime.start_router(r, paths, CONFIG.user, creds["snmp_community"], probe_web)
        ups.append(time.monotonic() - t0)
        time.sleep(2)  # let the daemons settle before measuring memory
        mem = pss_mib(spec)
        healthy = sum(all(runtime.daemons_alive(r).values()) and runtime.ssh_answers(r) for r in spec.routers)
        t0 = time.monotonic()
        for r in spec.routers:
            runtime.stop_router(r)
        for r in spec.routers:
            runtime.remove_router(r)
        runtime.remove_bridge(CONFIG.bridge)
        runtime.remove_user(CONFIG.user)
        downs.append(time.monotonic() - t0)
        if healthy != len(spec.routers):
            sys.exit(f"{label}: only {healthy}/{len(spec.routers)} routers were healthy")
    n = len(spec.routers)
    print(
        f"{label}: {n} routers, {len(spec.links)} links | up median {statistics.median(ups):.2f} s "
        f"(min {min(ups):.2f}, {statistics.median(ups) / n * 1000:.0f} ms/router) | down median "
        f"{statistics.median(downs):.2f} s | memory {mem:.0f} MiB PSS ({mem / n:.1f} MiB/router)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--routers", type=int, default=20, help="routers in the generated ring (default 20, max 200)")
    ap.add_argument("--rounds", type=int, default=3, help="up/down rounds per lab (default 3, max 20)")
    ap.add_argument("--smoke", action="store_true", help="a smoke-size run (make test): a 2-router ring only, 1 round")
    args = ap.parse_args()
    if args.smoke:
        args.routers, args.rounds = 2, 1
    if not 2 <= args.routers <= 200 or not 1 <= args.rounds <= 20:
        ap.error("--routers must be 2..200 and --rounds 1..20")
    if subprocess.run(["id", "-u"], capture_output=True, text=True).stdout.strip() != "0":
        sys.exit("bench_lab.py needs root (namespaces, veths, accounts)")
    with tempfile.TemporaryDirectory() as tmp:
        paths = runtime.LabPaths(Path(tmp) / "lab")
        if not args.smoke:
            bench("demo lab", demo_records(), args.rounds, paths)
        bench("generated ring", ring_records(args.routers), args.rounds, paths)


if __name__ == "__main__":
    main()
