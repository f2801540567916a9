#!/usr/bin/env python3
"""Benchmark: what service assurance's polling costs, for the demo's size and for a fleet of
1,000 devices with 10,000 interfaces, side by side with net-snmp's command-line walks (what
LibreNMS- and Cacti-style pollers run for each device).

For each size it runs, on loopback only, in a directory of its own:

1. A simulated agent per device (bench/snmp_sim.py: one recorded router walk, IF-MIB with the
   size's interfaces, two BGP4-MIB sessions, counters that move), on its own UDP port, in two
   processes.
2. snmp_exporter and Prometheus (Debian's), configured as netoss configures them: the modules of
   netoss.domain.assurance.snmp, one file-SD target per device, the recording rules of the
   assurance policy (assurance/), and NetBox's info series for the devices and interfaces
   (netoss.domain.assurance.targets, served as the assurance daemon serves them), scraped every
   --interval.
3. After a warm-up of two intervals, it measures --rounds intervals: the CPU seconds of
   snmp_exporter, Prometheus and the simulated agents per round, the scrape durations, the
   samples per round, Prometheus' series and its memory (RSS, and peak).
4. Side by side, net-snmp's snmpbulkwalk of the same objects for every device, 8 at a time (one
   process per walked subtree, as command-line pollers do): wall time and CPU of one round.

Usage: .venv/bin/python bench/bench_assurance.py [--interval 30] [--rounds 4] [--sizes demo,fleet]
       [--smoke]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from netoss.daemons.assurance import _handler  # noqa: E402
from netoss.domain.assurance import policy, snmp, targets  # noqa: E402
from netoss.embedded.stack.config import ephemeral_range  # noqa: E402

PROMETHEUS, SNMP_EXPORTER = "/usr/bin/prometheus", "/usr/bin/prometheus-snmp-exporter"
# Below the kernel's ephemeral range (32768-60999 by default): a port there may be any outgoing
# connection's local port at the moment a listener wants it (make test met it). The agents take
# one port each from "agents" on.
PORTS = {"prometheus": 30090, "snmp-exporter": 30116, "inventory": 30117, "agents": 30200}
COMMUNITY = "bench-community"
SIZES = {"demo": (8, 5), "fleet": (1000, 10), "smoke": (4, 3)}  # devices, interfaces each
WALKS = ["1.3.6.1.2.1.2.2.1", "1.3.6.1.2.1.31.1.1.1", "1.3.6.1.2.1.15.3.1"]


def check_ports(devices: int) -> None:
    """Every port the run listens on (TCP: Prometheus, snmp_exporter, the inventory; UDP: the
    simulated agents) is free and below the ephemeral range; else say which."""
    tcp = [PORTS["prometheus"], PORTS["snmp-exporter"], PORTS["inventory"]]
    udp = range(PORTS["agents"], PORTS["agents"] + devices)
    low, _high = ephemeral_range()
    if max(*tcp, *udp) >= low:
        raise SystemExit(f"bench: {devices} agents from port {PORTS['agents']} reach the ephemeral range ({low}-)")
    for kind, ports in ((socket.SOCK_STREAM, tcp), (socket.SOCK_DGRAM, udp)):
        for port in ports:
            with socket.socket(socket.AF_INET, kind) as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError as exc:
                    raise SystemExit(f"bench: 127.0.0.1:{port} is in use ({exc.strerror})") from None


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def memory_mib(pid: int) -> tuple[float, float]:
    """(RSS, peak RSS) of the process, MiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


class Inventory:
    """NetBox's info series for the simulated devices, as the assurance daemon serves them."""

    def __init__(self, devices: int, interfaces: int):
        devs = [
            {"name": f"sim-{i:04d}", "site": {"slug": f"site-{i % 20}"}, "role": {"slug": "pe"}, "platform": None}
            for i in range(devices)
        ]
        intfs = [
            {"name": f"eth{j}", "device": {"name": d["name"]}, "speed": 10_000_000}
            for d in devs
            for j in range(1, interfaces + 1)
        ]
        self.metrics = targets.inventory_metrics(devs, intfs, [], {})


def start(argv: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(argv, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)


def query(promql: str) -> list[dict]:
    resp = requests.get(f"http://127.0.0.1:{PORTS['prometheus']}/api/v1/query", params={"query": promql}, timeout=30)
    resp.raise_for_status()
    return resp.json()["data"]["result"]


def scalar(promql: str) -> float:
    result = query(promql)
    return float(result[0]["value"][1]) if result else float("nan")


def run_size(name: str, devices: int, interfaces: int, interval: int, rounds: int, work: Path) -> dict:
    pol = policy.load(REPO / "assurance")
    pol.scrape_interval = f"{interval}s"
    work.mkdir(parents=True, exist_ok=True)
    (work / "snmp.yml").write_text(yaml.safe_dump(snmp.config({}, pol.snmp_default, COMMUNITY)))
    rules = policy.rules(pol)
    rules["groups"] = rules["groups"][:1]  # the recording rules: the alerting ones need probes
    (work / "rules.yml").write_text(yaml.safe_dump(rules, sort_keys=False, width=1000))
    (work / "snmp.json").write_text(
        json.dumps(
            [
                {
                    "targets": [f"127.0.0.1:{PORTS['agents'] + i}"],
                    "labels": {
                        "device": f"sim-{i:04d}",
                        "role": "pe",
                        "platform": "",
                        "__param_module": "netoss-default",
                    },
                }
                for i in range(devices)
            ]
        )
    )
    config = {
        "global": {
            "scrape_interval": f"{interval}s",
            "evaluation_interval": f"{interval}s",
            "scrape_timeout": f"{max(1, min(10, int(interval * 0.8)))}s",
        },
        "rule_files": [str(work / "rules.yml")],
        "scrape_configs": [
            {
                "job_name": policy.SNMP_JOB,
                "metrics_path": "/snmp",
                "file_sd_configs": [{"files": [str(work / "snmp.json")]}],
                "relabel_configs": [
                    {"source_labels": ["__address__"], "target_label": "__param_target"},
                    {"source_labels": ["device"], "target_label": "instance"},
                    {"target_label": "__address__", "replacement": f"127.0.0.1:{PORTS['snmp-exporter']}"},
                ],
            },
            {"job_name": "prometheus", "static_configs": [{"targets": [f"127.0.0.1:{PORTS['prometheus']}"]}]},
            {
                "job_name": policy.INVENTORY_JOB,
                "authorization": {"credentials": "bench"},
                "static_configs": [{"targets": [f"127.0.0.1:{PORTS['inventory']}"]}],
            },
        ],
    }
    (work / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    import http.server

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", PORTS["inventory"]), _handler(Inventory(devices, interfaces), "bench")
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    half = (devices + 1) // 2
    sim = [
        sys.executable,
        str(REPO / "bench" / "snmp_sim.py"),
        "--interfaces",
        str(interfaces),
        "--community",
        COMMUNITY,
    ]
    agents = [
        start([*sim, "--port", str(PORTS["agents"] + first), "--count", str(count)], work / f"agents-{first}.log")
        for first, count in ((0, half), (half, devices - half))
        if count
    ]
    listen = f"--web.listen-address=127.0.0.1:{PORTS['snmp-exporter']}"
    exporter = start(
        [SNMP_EXPORTER, f"--config.file={work / 'snmp.yml'}", listen, "--log.level=warn"], work / "snmp-exporter.log"
    )
    prometheus = start(
        [PROMETHEUS, f"--config.file={work / 'prometheus.yml'}", f"--storage.tsdb.path={work / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{PORTS['prometheus']}", "--log.level=warn"],
        work / "prometheus.log",
    )  # fmt: skip
    procs = [*agents, exporter, prometheus]
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if prometheus.poll() is not None:
                raise SystemExit(f"Prometheus stopped: {(work / 'prometheus.log').read_text()[-2000:]}")
            try:
                if query("up"):
                    break
            except requests.RequestException:
                pass
            time.sleep(1)
        time.sleep(2 * interval)  # warm-up: two scrapes, so that rates exist
        before = {p.pid: cpu_seconds(p.pid) for p in procs}
        t0 = time.monotonic()
        time.sleep(rounds * interval)
        elapsed = time.monotonic() - t0
        cpu = {p.pid: (cpu_seconds(p.pid) - before[p.pid]) * interval / elapsed for p in procs}
        rss, peak = memory_mib(prometheus.pid)
        out = {
            "size": name,
            "devices": devices,
            "interfaces": devices * interfaces,
            "up": int(scalar(f'count(up{{job="{policy.SNMP_JOB}"}} == 1)')),
            "scrape_avg_s": scalar(f'avg(scrape_duration_seconds{{job="{policy.SNMP_JOB}"}})'),
            "scrape_max_s": scalar(f'max(scrape_duration_seconds{{job="{policy.SNMP_JOB}"}})'),
            "samples_per_round": scalar(f'sum(scrape_samples_scraped{{job="{policy.SNMP_JOB}"}})'),
            "series": scalar("prometheus_tsdb_head_series"),
            "utilisation_series": scalar("count(netoss:interface_utilisation:ratio)"),
            "cpu_exporter_per_round": cpu[exporter.pid],
            "cpu_prometheus_per_round": cpu[prometheus.pid],
            "cpu_agents_per_round": sum(cpu[a.pid] for a in agents),
            "prometheus_rss_mib": rss,
            "prometheus_peak_mib": peak,
            "exporter_rss_mib": memory_mib(exporter.pid)[0],
        }
        out.update(walk_round(devices))
        return out
    finally:
        stop(procs)
        server.shutdown()
        server.server_close()


def walk_round(devices: int) -> dict:
    """One round of net-snmp's snmpbulkwalk of the same subtrees for every device, 8 at a time."""
    env = {"MIBS": "", "MIBDIRS": "/nonexistent", "PATH": "/usr/bin:/bin"}

    def one(i: int) -> int:
        lines = 0
        for subtree in WALKS:
            argv = ["snmpbulkwalk", "-v2c", "-c", COMMUNITY, "-Cr25", "-On", "-t", "5"]
            out = subprocess.run(
                [*argv, f"127.0.0.1:{PORTS['agents'] + i}", subtree],
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )
            lines += out.stdout.count("\n")
        got = subprocess.run(
            ["snmpget", "-v2c", "-c", COMMUNITY, "-On", f"127.0.0.1:{PORTS['agents'] + i}", "1.3.6.1.2.1.1.3.0"],
            capture_output=True, text=True, env=env, check=False,
        )  # fmt: skip
        return lines + got.stdout.count("\n")

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        values = sum(pool.map(one, range(devices)))
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "walk_wall_s": wall,
        "walk_cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "walk_values": values,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--interval", type=int, default=30, help="scrape interval, seconds (the policy's default)")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--sizes", default="demo,fleet")
    ap.add_argument("--smoke", action="store_true", help="4 devices, 3 interfaces, 5 s scrapes, 2 rounds")
    args = ap.parse_args()
    sizes = ["smoke"] if args.smoke else args.sizes.split(",")
    interval, rounds = (5, 2) if args.smoke else (args.interval, args.rounds)
    for tool in (PROMETHEUS, SNMP_EXPORTER, shutil.which("snmpbulkwalk")):
        if not tool or not Path(tool).exists():
            raise SystemExit(f"{tool or 'snmpbulkwalk'} is not installed: scripts/bootstrap.sh installs it")
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"# bench_assurance: {platform.node()}, {os.cpu_count()} cores, {when}")
    print(f"# scrape every {interval} s, measured over {rounds} rounds after two of warm-up")
    results = []
    with tempfile.TemporaryDirectory(prefix="netoss-bench-assurance-") as tmp:
        for name in sizes:
            if name not in SIZES:
                raise SystemExit(f"--sizes: {name!r} is not one of {', '.join(SIZES)}")
            devices, interfaces = SIZES[name]
            check_ports(devices)
            print(f"# {name}: {devices} devices, {devices * interfaces} interfaces ...", flush=True)
            results.append(run_size(name, devices, interfaces, interval, rounds, Path(tmp) / name))
    print()
    print(
        "| size | devices | interfaces | up | samples/round | series | scrape avg / max | snmp_exporter CPU/round "
        "| Prometheus CPU/round | Prometheus RSS (peak) | agents CPU/round | snmpbulkwalk round: wall, CPU |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['size']} | {r['devices']} | {r['interfaces']} | {r['up']} | {r['samples_per_round']:.0f} | "
            f"{r['series']:.0f} | {r['scrape_avg_s'] * 1000:.0f} / {r['scrape_max_s'] * 1000:.0f} ms | "
            f"{r['cpu_exporter_per_round']:.2f} s | {r['cpu_prometheus_per_round']:.2f} s | "
            f"{r['prometheus_rss_mib']:.0f} MiB ({r['prometheus_peak_mib']:.0f}) | {r['cpu_agents_per_round']:.2f} s | "
            f"{r['walk_wall_s']:.1f} s, {r['walk_cpu_s']:.2f} s |"
        )
    for r in results:
        if r["up"] != r["devices"]:
            raise SystemExit(f"{r['size']}: only {r['up']} of {r['devices']} devices were scraped")
        if r["utilisation_series"] != r["interfaces"]:
            raise SystemExit(
                f"{r['size']}: {r['utilisation_series']:.0f} utilisation series for {r['interfaces']} interfaces"
            )
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
