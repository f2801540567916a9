#!/usr/bin/env python3
"""Benchmark: sot_sync and nb_inventory against a real NetBox, for N devices.

It starts a stack of its own (.state-bench, port base 19000), so it never disturbs the
stack of `make up` or a test run, and stops it at the end (--keep leaves it running). With
--stack (bench/on_stack.py) it runs on a stack already up, from that stack's intent instead of
the demo, and syncs that intent again at the end (the bench's devices go).

  1. sot_sync of the demo intent plus N extra devices (each with a management interface,
     a loopback, two addresses and a primary IP): first run (creates), second run (must
     report changed=0), third run with one object changed.
  2. M more devices loaded straight through NetBox's ORM (one `netbox shell`, as an
     operator's existing NetBox would have them), then `ansible-inventory --list` through
     inventory/netbox.yml: wall time and peak memory.

Usage: .venv/bin/python bench/bench_sot.py [--devices N] [--inventory-devices M] [--keep] [--stack DIR] [--smoke]
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from netoss.embedded.deployment import wipe  # noqa: E402
from netoss.embedded.stack import Stack, client_env, down, up  # noqa: E402
from netoss.embedded.stack.netbox import netbox_cmd  # noqa: E402

sys.path.insert(0, str(REPO / "bench"))
import on_stack  # noqa: E402

ORM_LOAD = r"""
import ipaddress, os
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from dcim.models import Device, DeviceRole, DeviceType, Interface, Platform, Site
from ipam.models import IPAddress
count = int(os.environ["BENCH_COUNT"])
site = Site.objects.get(slug="ams1"); role = DeviceRole.objects.get(slug="pe")
dtype = DeviceType.objects.get(slug="frr-router"); plat = Platform.objects.get(slug="frr")
devices = Device.objects.bulk_create([
    Device(name=f"load{i:05d}", site=site, role=role, device_type=dtype, platform=plat, status="active")
    for i in range(count)])
ifaces = Interface.objects.bulk_create([
    Interface(device=d, name="mgmt0", type="1000base-t", mgmt_only=True, _site_id=site.id,
              _location_id=None, _rack_id=None) for d in devices])
ct = ContentType.objects.get_for_model(Interface)
base = ipaddress.ip_address("198.18.64.0")
ips = IPAddress.objects.bulk_create([
    IPAddress(address=f"{base + i}/18", status="active", assigned_object_type=ct, assigned_object_id=itf.id)
    for i, itf in enumerate(ifaces)])
with connection.cursor() as cur:
    cur.executemany("UPDATE dcim_device SET primary_ip4_id = %s WHERE id = %s",
                    [(ip.id, d.id) for ip, d in zip(ips, devices)])
print(f"loaded {len(devices)} devices")
"""


def _first_device(intent: Path) -> dict:
    for f in sorted(intent.glob("*.y*ml")):
        devices = (yaml.safe_load(f.read_text()) or {}).get("devices") or []
        if devices:
            return devices[0]
    raise SystemExit(f"bench: the intent {intent} has no device to model the bench's devices on")


def bench_intent(target: Path, n: int, base: Path) -> None:
    """The intent ``base`` plus n devices in a file of their own, placed like its first device
    (site, role, platform, type)."""
    if base.is_dir():
        shutil.copytree(base, target)
    else:
        target.mkdir(parents=True)
        shutil.copy(base, target / base.name)
    model = _first_device(target)
    mgmt = ipaddress.ip_network("198.18.16.0/20")
    loops = ipaddress.ip_network("198.19.240.0/22")
    devices = []
    for i in range(n):
        devices.append(
            {
                "name": f"bench{i:04d}",
                **{k: model[k] for k in ("site", "role", "platform", "device_type") if k in model},
                "primary_ip4": f"{mgmt[i + 1]}/20",
                "interfaces": [
                    {
                        "name": "mgmt0",
                        "type": "1000base-t",
                        "mgmt_only": True,
                        "addresses": [f"{mgmt[i + 1]}/20"],
                    },
                    {
                        "name": "lo",
                        "type": "virtual",
                        "addresses": [{"address": f"{loops[i]}/32", "role": "loopback"}],
                    },
                ],
            }
        )
    data = {
        "prefixes": [
            {"prefix": str(mgmt), "status": "active", "description": "bench management"},
            {"prefix": str(loops), "status": "active", "description": "bench loopbacks"},
        ],
        "devices": devices,
    }
    (target / "90-bench.yml").write_text(yaml.safe_dump(data, sort_keys=False))


# Runs one command and reports its own peak RSS (RUSAGE_CHILDREN of a fresh process only
# covers that command's process tree: the largest process in it).
MEASURE = """
import resource, subprocess, sys
rc = subprocess.run(sys.argv[1:]).returncode
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)
sys.exit(rc)
"""


def timed(cmd: list[str], env: dict, label: str) -> tuple[float, float, str]:
    """Run cmd; return wall seconds, peak RSS (MiB) of its largest process, and its stdout."""
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", MEASURE, *cmd], cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.monotonic() - t0
    *err, peak = proc.stderr.rstrip().splitlines() or ["0"]
    if proc.returncode != 0:
        sys.exit(f"{label} failed (rc {proc.returncode}):\n{(proc.stdout + chr(10).join(err))[-3000:]}")
    return wall, int(peak) / 1024, proc.stdout


def plan_line(output: str) -> str:
    m = re.search(r"Plan: [^'\n]*", output)
    return m.group(0) if m else "no plan line"


def read_line(output: str) -> str:
    """How the plan read NetBox (sot_sync prints it: in full, or incrementally and why)."""
    m = re.search(r"NetBox read: ([^'\n\"]*)", output)
    return m.group(1) if m else "not said"


def recap_changed(output: str) -> int:
    m = re.search(r"localhost\s*:.*changed=(\d+)", output)
    return int(m.group(1)) if m else -1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devices", type=int, default=20, help="extra devices applied by sot_sync (default 20)")
    ap.add_argument(
        "--inventory-devices",
        type=int,
        default=1000,
        help="devices loaded through the ORM before timing the inventory (default 1000)",
    )
    ap.add_argument("--keep", action="store_true", help="leave the bench stack running")
    ap.add_argument("--smoke", action="store_true", help="a smoke-size run (make test): 1 extra device, no ORM load")
    on_stack.add_options(ap)
    args = ap.parse_args()
    if args.smoke:
        args.devices, args.inventory_devices = 1, 0
    if args.stack and args.inventory_devices:
        ap.error("--stack needs --inventory-devices 0 (the ORM load is not undone)")
    if not 0 <= args.devices <= 4000 or not 0 <= args.inventory_devices <= 16000:
        ap.error("--devices must be 0..4000 and --inventory-devices 0..16000")

    print(f"machine: {platform.node()} {os.cpu_count()} cores, Python {platform.python_version()}")
    if args.stack:
        stack = on_stack.existing(args.stack)
        base = stack.recorded_intent
        print(f"stack: {stack.state_dir} (already up), intent {base}")
    else:
        state, port_base = on_stack.own(".state-bench")
        stack = Stack(state_dir=state, port_base=port_base)
        wipe(stack)
        t0 = time.monotonic()
        up(stack, seed_intent=False, log=lambda m: print(f"  [stack] {m}"))
        print(f"stack up (restore of migrated NetBox): {time.monotonic() - t0:.1f} s")
        base = REPO / "inventory" / "intent"
    env = {
        **os.environ,
        **client_env(stack),
        "PATH": f"{REPO / '.venv/bin'}:{os.environ['PATH']}",
        "ANSIBLE_LOCAL_TEMP": str(stack.state_dir / "ansible-tmp"),
        "ANSIBLE_NOCOLOR": "1",
    }
    try:
        with tempfile.TemporaryDirectory() as tmp:
            intent = Path(tmp) / "intent"
            bench_intent(intent, args.devices, base)
            cmd = [
                str(REPO / ".venv/bin/ansible-playbook"),
                "playbooks/sot_sync.yml",
                "-e",
                f"sot_sync_intent_dir={intent}",
            ]
            total = sum(len((yaml.safe_load(f.read_text()) or {}).get("devices") or []) for f in intent.glob("*.y*ml"))
            wall, rss, out = timed(cmd, env, "first sot_sync")
            print(f"sot_sync, {total} devices, first run:  {wall:7.1f} s  peak {rss:4.0f} MiB  {plan_line(out)}")
            wall, rss, out = timed(cmd, env, "second sot_sync")
            print(
                f"sot_sync, {total} devices, second run: {wall:7.1f} s  peak {rss:4.0f} MiB  {plan_line(out)}"
                f"  changed={recap_changed(out)}"
            )
            bench_file = intent / "90-bench.yml"
            bench_file.write_text(bench_file.read_text().replace("bench management", "bench management (edited)", 1))
            wall, rss, out = timed(cmd, env, "third sot_sync")
            print(f"sot_sync, {total} devices, one edit:   {wall:7.1f} s  peak {rss:4.0f} MiB  {plan_line(out)}")

        inv = [str(REPO / ".venv/bin/ansible-inventory"), "-i", "inventory/netbox.yml", "--list"]
        timed(inv, env, "inventory warm-up")  # the first run downloads and caches NetBox's API schema
        wall, rss, out = timed(inv, env, "inventory")
        hosts = len(json.loads(out[out.index("{") :])["_meta"]["hostvars"])
        print(f"nb_inventory --list, {hosts:5d} hosts: {wall:7.1f} s  peak {rss:4.0f} MiB")
        if args.inventory_devices:
            t1 = time.monotonic()
            netbox_cmd(stack, "shell", "-c", ORM_LOAD, extra_env={"BENCH_COUNT": str(args.inventory_devices)})
            print(f"ORM load of {args.inventory_devices} devices: {time.monotonic() - t1:.1f} s")
            wall, rss, out = timed(inv, env, "inventory at scale")
            hosts = len(json.loads(out[out.index("{") :])["_meta"]["hostvars"])
            print(f"nb_inventory --list, {hosts:5d} hosts: {wall:7.1f} s  peak {rss:4.0f} MiB")
    finally:
        if args.stack:
            # The stack's intent again: the bench's devices and prefixes go.
            sync = [str(REPO / ".venv/bin/ansible-playbook"), "playbooks/sot_sync.yml"]
            wall, _rss, out = timed([*sync, "-e", f"sot_sync_intent_dir={base}"], env, "sot_sync of the stack's intent")
            print(f"sot_sync of the stack's intent again (bench devices removed): {wall:.1f} s  {plan_line(out)}")
        elif not args.keep:
            down(stack, log=lambda m: None)


if __name__ == "__main__":
    main()
