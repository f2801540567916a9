#!/usr/bin/env python3
"""Benchmark: the inventory plugin netoss.core.netbox against netbox.netbox.nb_inventory, on one NetBox.

It starts a stack of its own (.state-bench-inventory, port base 24000) unless --stack names one
already up, loads a fleet through NetBox's ORM (bench/inventory_fleet.py: N devices across
several sites, roles, platforms, tags and tenants, 10 interfaces each), then prints side by
side, in one run, wall time and peak memory of `ansible-inventory --list`:

  1. NetBox's own floor: the same devices (and interfaces) read with a plain client (GraphQL,
     one page after the other), no inventory built;
  2. cold, devices only: netoss.core.netbox (no cache), then nb_inventory;
  3. cold, with interfaces: netoss.core.netbox with `interfaces: true`;
  4. warm: a handful of changes made through NetBox's API (devices updated, one created, one
     deleted, an interface edited), then netoss.core.netbox again (its cache refreshed from the
     change log), with the plugin's own refresh time beside the command's;
  5. nb_inventory with interfaces on the changed NetBox (the slow one: last), its output
     compared with the warm one (and the devices-only outputs with each other): the same hosts
     and groups, and the variables both set equal.

Both plugins read inventory files shaped like inventory/netbox.yml (group_by sites,
device_roles, platforms; config context flattened; custom fields flattened).

  .venv/bin/python bench/bench_inventory.py [--devices N] [--interfaces K] [--skip-nb-interfaces] [--keep]
  .venv/bin/python bench/bench_inventory.py --smoke --stack .state-test     # make test: 20 devices
``run(stack, devices, interfaces, ...)`` does the same on a stack already up (bench/bench_scale.py).
"""

from __future__ import annotations

import argparse
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

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import inventory_fleet  # noqa: E402
import on_stack  # noqa: E402

from netoss.embedded.stack import client_env  # noqa: E402

STATE, PORT_BASE = on_stack.own(".state-bench-inventory")
PREFIX = "benchinv"

BASE = {
    "validate_certs": True,
    "group_by": ["sites", "device_roles", "platforms"],
    "config_context": True,
    "flatten_config_context": True,
    "flatten_custom_fields": True,
    "rename_variables": [{"pattern": "^(tags|serial)$", "repl": "nb_\\1"}],
    "fetch_all": True,
    "services": False,
}

# Runs one command and reports its own peak RSS (RUSAGE_CHILDREN of a fresh process covers that
# command's process tree: the largest process in it).
MEASURE = """
import resource, subprocess, sys
rc = subprocess.run(sys.argv[1:]).returncode
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)
sys.exit(rc)
"""


def inventory_file(directory: Path, name: str, plugin: str, interfaces: bool) -> Path:
    import yaml

    path = directory / f"{name}.yml"
    path.write_text(yaml.safe_dump({"plugin": plugin, **BASE, "interfaces": interfaces}, sort_keys=False))
    return path


def timed(cmd: list[str], env: dict) -> tuple[float, float, str, str]:
    """Run cmd; (wall seconds, peak RSS MiB of its largest process, stdout, stderr). An inventory
    source Ansible could not parse (it still exits 0, with an empty inventory) stops the bench."""
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", MEASURE, *cmd], cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.monotonic() - t0
    *err, peak = proc.stderr.rstrip().splitlines() or ["0"]
    if "Unable to parse" in proc.stderr:
        raise SystemExit(f"{' '.join(cmd[-4:])}: the inventory source failed:\n{proc.stderr[-3000:]}")
    if proc.returncode != 0:
        raise SystemExit(
            f"{' '.join(cmd[-3:])} failed (rc {proc.returncode}):\n{(proc.stdout + chr(10).join(err))[-3000:]}"
        )
    return wall, int(peak) / 1024, proc.stdout, "\n".join(err)


def _plain(value):
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def parse_list(stdout: str) -> dict:
    return _plain(json.loads(stdout[stdout.index("{") :]))


def differences(nb: dict, ours: dict) -> list[str]:
    """How two `ansible-inventory --list` outputs differ: hosts, groups (members and children),
    and the host variables both set (interfaces: the fields both give)."""
    out = []

    def groups(d):
        return {g: (sorted(v.get("hosts", [])), sorted(v.get("children", []))) for g, v in d.items() if g != "_meta"}

    ga, gb = groups(nb), groups(ours)
    for g in sorted(set(ga) | set(gb)):
        if ga.get(g) != gb.get(g):
            out.append(f"group {g}: nb_inventory {ga.get(g)} vs netoss.core.netbox {gb.get(g)}"[:300])
    ha, hb = nb["_meta"]["hostvars"], ours["_meta"]["hostvars"]
    if set(ha) != set(hb):
        out.append(
            f"hosts only in nb_inventory: {sorted(set(ha) - set(hb))[:10]}, "
            f"only in netoss.core.netbox: {sorted(set(hb) - set(ha))[:10]}"
        )
    for host in sorted(set(ha) & set(hb)):
        va, vb = ha[host], hb[host]
        for key in sorted(set(va) | set(vb)):
            if va.get(key, "<unset>") != vb.get(key, "<unset>"):
                out.append(f"{host}: {key} = {va.get(key, '<unset>')!r} vs {vb.get(key, '<unset>')!r}"[:300])
    return out


def compare(nb: dict, ours: dict) -> list[str]:
    """differences() with nb_inventory's interfaces cut down to the fields ours carry."""
    hb = ours["_meta"]["hostvars"]
    for host, hv in nb["_meta"]["hostvars"].items():
        mine = (hb.get(host) or {}).get("interfaces")
        if "interfaces" in hv and mine is not None and len(mine) == len(hv["interfaces"]):
            cut = []
            for theirs, own in zip(hv["interfaces"], mine, strict=True):
                item = {k: theirs.get(k) for k in own if k != "ip_addresses"}
                if "ip_addresses" in own:
                    item["ip_addresses"] = [
                        {k: t.get(k) for k in o}
                        for t, o in zip(theirs.get("ip_addresses", []), own["ip_addresses"], strict=False)
                    ]
                    if len(theirs.get("ip_addresses", [])) != len(own["ip_addresses"]):
                        item["ip_addresses"] = theirs.get("ip_addresses")
                cut.append(item)
            hv["interfaces"] = cut
    return differences(nb, ours)


def floor(url: str, token: str, interfaces: bool) -> tuple[float, int, int]:
    """NetBox's own time to serve the data: GraphQL pages of 1000, one after the other, with a
    plain requests session; (seconds, devices, interfaces)."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    device_fields = (
        "id name status serial asset_tag site { slug } role { slug } platform { slug } tenant { slug } tags { slug } "
        "device_type { slug manufacturer { slug } } primary_ip4 { address dns_name } primary_ip6 { address } "
        "custom_field_data local_context_data config_context"
    )
    itf_fields = "id name type enabled mtu description mgmt_only mode device { id } ip_addresses { address status }"
    t0 = time.monotonic()
    counts = []
    for kind, fields in (("device_list", device_fields), ("interface_list", itf_fields)):
        if kind == "interface_list" and not interfaces:
            counts.append(0)
            continue
        n, offset = 0, 0
        for _ in range(10_000):
            q = f"{{ {kind}(pagination: {{offset: {offset}, limit: 1000}}) {{ {fields} }} }}"
            resp = session.post(f"{url}/graphql/", json={"query": q}, timeout=600)
            resp.raise_for_status()
            page = resp.json()["data"][kind]
            n += len(page)
            offset += 1000
            if len(page) < 1000:
                break
        counts.append(n)
    return time.monotonic() - t0, counts[0], counts[1]


def changes(url: str, token: str, prefix: str | None) -> tuple[str, callable]:
    """A handful of changes through the API: 3 devices updated, 1 created (with an interface and a
    primary IP), 1 deleted, 1 interface edited; (what was done, a function that removes the
    device it created)."""
    import pynetbox

    nb = pynetbox.api(url, token=token)
    params = {"limit": 6, "ordering": "-id", "fields": "id"} | ({"name__isw": f"{prefix}-"} if prefix else {})
    resp = requests.get(
        f"{url}/api/dcim/devices/", params=params, headers={"Authorization": f"Bearer {token}"}, timeout=60
    )
    resp.raise_for_status()
    ids = [d["id"] for d in resp.json()["results"]]
    if len(ids) < 6:
        raise SystemExit(f"bench: fewer than 6 devices{f' named {prefix}-*' if prefix else ''} to change")
    devices = [nb.dcim.devices.get(i) for i in ids]
    stamp = int(time.time())
    for d in devices[:3]:
        d.serial = f"BENCH-{stamp}"
        d.save()
    src = devices[3]
    new = nb.dcim.devices.create(
        name=f"bench-inventory-{stamp}", site=src.site.id, role=src.role.id, device_type=src.device_type.id
    )
    itf = nb.dcim.interfaces.create(device=new.id, name="mgmt0", type="1000base-t")
    ip = nb.ipam.ip_addresses.create(
        address=f"198.18.127.{stamp % 250 + 1}/32", assigned_object_type="dcim.interface", assigned_object_id=itf.id
    )
    new.primary_ip4 = ip.id
    new.save()
    devices[4].delete()
    itf = next(iter(nb.dcim.interfaces.filter(device_id=devices[5].id)))
    itf.description = f"edited by the bench {stamp}"
    itf.save()

    def undo():
        new.delete()  # and its interface and address with it

    what = f"3 devices updated, {new.name} created, {devices[4].name} deleted, an interface of {devices[5].name} edited"
    return what, undo


def refresh_time(stdout_stderr: str) -> str:
    m = re.search(r"netoss\.core\.netbox: (.*?): (\d+) devices in ([\d.]+) s", stdout_stderr)
    return f"{m.group(3)} s ({m.group(1)})" if m else "?"


def machine() -> str:
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return f"{platform.node()}: {os.cpu_count()} cores {cpu}, Python {platform.python_version()}, {when}"


class _Rows(list):
    """The table's rows, each also logged as soon as it is measured."""

    def __init__(self, log):
        super().__init__()
        self.log = log

    def append(self, row):
        super().append(row)
        case, tool, wall, rss, note = row
        self.log(f"  {case}: {tool}: {wall:.1f} s{'' if rss is None else f', {rss:.0f} MiB'}  {note}"[:400])


def run(
    stack,
    devices: int,
    interfaces: int = 10,
    load: bool = True,
    nb_interfaces: bool = True,
    prefix: str = PREFIX,
    devices_only: bool = True,
    log=print,
) -> dict:
    """The bench on ``stack`` (already up): load the fleet (unless ``load`` is False: it is there),
    time both plugins, print the table; return the figures. With ``load``, the fleet is removed at
    the end when the stack is not the bench's own (the caller's NetBox is left as it was, but for
    the change log)."""
    url, token = stack.netbox_url, stack.netbox_token()
    env = {
        **os.environ,
        **client_env(stack),
        "PATH": f"{REPO / '.venv/bin'}:{os.environ['PATH']}",
        "ANSIBLE_LOCAL_TEMP": str(stack.state_dir / "ansible-tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / ".collections"), os.environ.get("PYTHONPATH", "")]),
    }
    figures: dict = {}
    log(f"machine: {machine()}")
    if load:
        from ansible_collections.netoss.core.plugins.module_utils.netbox_client import auth_header

        t0 = time.monotonic()
        inventory_fleet.load(stack, devices, interfaces, prefix)
        log(f"ORM load of {devices} devices x {interfaces} interfaces: {time.monotonic() - t0:.1f} s")
        # The ORM logs nothing, and a cache that has seen no change is read in full: one change
        # through the API, as any NetBox in use has (a tag of the fleet's, removed with it).
        resp = requests.post(
            f"{url}/api/extras/tags/",
            json={"name": f"{prefix}-mark", "slug": f"{prefix}-mark"},
            headers={"Authorization": auth_header(stack.netbox_writer_token())},
            timeout=60,
        )
        if resp.status_code not in (201, 400):  # 400: there already
            raise SystemExit(f"bench: NetBox refused the bench's tag: {resp.status_code} {resp.text[:200]}")
    inv = str(REPO / ".venv/bin/ansible-inventory")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env["NETOSS_INVENTORY_CACHE_DIR"] = str(tmp / "cache")
        files = {
            (plugin, itf): inventory_file(tmp, f"{plugin.split('.')[-1]}-{itf}", plugin, itf)
            for plugin in ("netbox.netbox.nb_inventory", "netoss.core.netbox")
            for itf in (False, True)
        }
        # nb_inventory's first run downloads NetBox's API schema and caches it: not counted (a
        # run that selects no device).
        warm_up = tmp / "warm-up.yml"
        warm_up.write_text(
            "plugin: netbox.netbox.nb_inventory\nservices: false\ndevice_query_filters: [{name: bench-warm-up}]\n"
        )
        timed([inv, "-i", str(warm_up), "--graph"], env)
        rows = _Rows(log)
        ours, theirs = "netoss.core.netbox", "netbox.netbox.nb_inventory"

        def cold(plugin, itf, what):
            shutil.rmtree(tmp / "cache", ignore_errors=True)
            wall, rss, out, err = timed([inv, "-i", str(files[(plugin, itf)]), "--list", "-v"], env)
            hosts = len(parse_list(out)["_meta"]["hostvars"])
            note = f"{hosts} hosts" + (f", plugin read {refresh_time(out + err)}" if plugin == ours else "")
            rows.append((f"cold, {what}", plugin, wall, rss, note))
            figures[(what, plugin)] = (wall, rss)
            return parse_list(out)

        def compared(what, nb_out, ours_out):
            diff = compare(nb_out, ours_out)
            figures[("diff", what)] = diff
            note = "equal" if not diff else f"{len(diff)} differences: {diff[:3]}"
            rows.append((what, "outputs compared", 0, None, note))

        # Devices only: the floor, both plugins, their outputs compared.
        if devices_only:
            secs, n_dev, _ = floor(url, token, False)
            rows.append(("cold, devices only", "NetBox floor (GraphQL, plain client)", secs, None, f"{n_dev} devices"))
            ours_out = cold(ours, False, "devices only")
            compared("cold, devices only", cold(theirs, False, "devices only"), ours_out)
        # With interfaces: the floor, ours cold, a handful of changes, ours warm (its cache
        # refreshed from the change log), then nb_inventory on the changed NetBox, compared with
        # ours warm.
        secs, n_dev, n_itf = floor(url, token, True)
        rows.append(
            (
                "cold, with interfaces",
                "NetBox floor (GraphQL, plain client)",
                secs,
                None,
                f"{n_dev} devices, {n_itf} interfaces",
            )
        )
        cold(ours, True, "with interfaces")
        what_changed, undo = changes(url, token, prefix)
        try:
            wall, rss, out, err = timed([inv, "-i", str(files[(ours, True)]), "--list", "-v"], env)
            warm_out = parse_list(out)
            note = f"plugin refresh {refresh_time(out + err)}; {what_changed}"
            rows.append(("warm, with interfaces", ours, wall, rss, note))
            figures["warm"] = (wall, rss, refresh_time(out + err))
            if nb_interfaces:
                compared("warm, with interfaces", cold(theirs, True, "with interfaces"), warm_out)
        finally:
            undo()
    log("")
    log(f"{'case':24} {'tool':40} {'wall':>9} {'peak RSS':>10}  notes")
    for case, tool, wall, rss, note in rows:
        log(f"{case:24} {tool:40} {wall:8.1f}s {'' if rss is None else f'{rss:7.0f} MiB':>10}  {note}")
    for what in ("devices only", "with interfaces"):
        nb, ours = figures.get((what, "netbox.netbox.nb_inventory")), figures.get((what, "netoss.core.netbox"))
        if nb and ours:
            log(f"speed-up, cold {what}: {nb[0] / ours[0]:.1f}x (memory {nb[1]:.0f} -> {ours[1]:.0f} MiB)")
    return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devices", type=int, default=10_000, help="devices loaded through the ORM (default 10000)")
    ap.add_argument("--interfaces", type=int, default=10, help="interfaces per device (default 10)")
    ap.add_argument(
        "--skip-nb-interfaces",
        action="store_true",
        help="leave out nb_inventory with interfaces (minutes at 10,000 devices)",
    )
    ap.add_argument("--skip-devices-only", action="store_true", help="leave out the devices-only runs")
    ap.add_argument("--no-load", action="store_true", help="the fleet is already loaded (a --keep run before)")
    ap.add_argument("--prefix", default=PREFIX, help=f"name prefix of the fleet's objects (default {PREFIX})")
    ap.add_argument("--keep", action="store_true", help="leave the bench's own stack running, fleet loaded")
    ap.add_argument("--smoke", action="store_true", help="a smoke-size run (make test): 20 devices, 3 interfaces each")
    on_stack.add_options(ap)
    args = ap.parse_args()
    if args.smoke:
        args.devices, args.interfaces = 20, 3
    if not 6 <= args.devices <= 30_000 or not 1 <= args.interfaces <= 64:
        ap.error("--devices must be 6..30000 and --interfaces 1..64")

    def bench(stack):
        run(
            stack,
            args.devices,
            args.interfaces,
            load=not args.no_load,
            nb_interfaces=not args.skip_nb_interfaces,
            prefix=args.prefix,
            devices_only=not args.skip_devices_only,
        )

    if args.stack:
        stack = on_stack.existing(args.stack)
        try:
            bench(stack)
        finally:
            if not args.no_load:
                inventory_fleet.unload(stack, args.prefix)
                print("cleanup: the bench's devices removed")
        return
    from netoss.embedded.deployment import wipe
    from netoss.embedded.stack import Stack, down, up

    stack = Stack(state_dir=STATE, port_base=PORT_BASE)
    if not args.no_load:
        wipe(stack)
    t0 = time.monotonic()
    up(stack, seed_intent=False, log=lambda m: print(f"  [stack] {m}"))
    print(f"stack up: {time.monotonic() - t0:.1f} s")
    try:
        bench(stack)
    finally:
        if not args.keep:
            down(stack, log=lambda m: None)


if __name__ == "__main__":
    main()
