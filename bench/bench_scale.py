#!/usr/bin/env python3
"""Benchmark: netoss at fleet size, on the generated fleet (`netoss fleet generate`).

It starts a stack of its own (.state-bench-scale, port base 18000; --stack runs on one already
up, --keep leaves its own running) and prints, side by side in one run:

1. **sot_sync at N devices** (default 1,000: 10 interfaces each, their addresses, cables and
   circuits), on an empty NetBox:
   - NetBox's bulk-API floor: the same kinds of objects of a fleet of the same size (other names
     and addresses, tag ``bench-floor``) POSTed by kind in chunks of 500 with their bodies
     ready, nothing read: what NetBox itself takes to store them;
   - `ansible-playbook playbooks/sot_sync.yml` (bulk, the default): the first run, a run with
     nothing to do, a run after one edit;
   - the per-object way (the netbox.netbox modules, `sot_sync_method=per_object`, what a
     playbook of netbox.netbox tasks does) on a small fleet (--per-object-devices), and its
     rate carried to N.

With --stack DIR (a stack already up, as the smoke test in `make test` runs it) everything
happens in a NetBox branch of its own, deleted at the end: the stack's main never sees it.

Usage: .venv/bin/python bench/bench_scale.py [--devices N] [--sites M] [--per-object-devices K] [--keep]
       [--stack DIR] [--smoke]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import on_stack  # noqa: E402
from bench_sot import plan_line, read_line, timed  # noqa: E402

from netoss.cli import fleet  # noqa: E402
from netoss.embedded.stack import client_env  # noqa: E402

STATE, PORT_BASE = on_stack.own(".state-bench-scale")


def generate(target: Path, devices: int, sites: int, stem: str, addressing: str) -> dict:
    from ansible_collections.netoss.core.plugins.module_utils.intent_load import load_intent

    catalog = yaml.safe_load((REPO / "services" / "catalog.yml").read_text())
    files = fleet.generate(devices=devices, sites=sites, catalog=catalog, site_stem=stem, addressing=addressing,
                           netoss_file=REPO / "inventory/intent/00-netoss.yml")  # fmt: skip
    fleet.write(target, files, load_intent)
    return fleet.counts(files)


def warm_up(api) -> None:
    """One read of each endpoint the writes use, so that NetBox's workers have loaded their code
    before anything is timed (the first requests after a start take seconds)."""
    from ansible_collections.netoss.core.plugins.module_utils.netbox_client import auth_header
    from ansible_collections.netoss.core.plugins.module_utils.sot_apply import ENDPOINT_FOR_KIND

    headers = {"Authorization": auth_header(api.token), "Accept": "application/json"}
    for _round in range(2):  # each of NetBox's workers
        for dotted in sorted(set(ENDPOINT_FOR_KIND.values())):
            path = dotted.replace(".", "/").replace("_", "-")
            url = f"{api.base_url}/{path}/?limit=1&brief=1"
            api.http_session.get(url, headers=headers, timeout=120)


# What a fleet adds (the rest, tags, roles, platforms..., it shares with the network already there).
FLEET_KINDS = {"devices", "interfaces", "ip_addresses", "device_primary_ips", "prefixes", "circuits",
               "circuit_terminations", "cables", "sites", "tenants"}  # fmt: skip


def floor(stack, intent: Path, tag: str, branch: str | None = None) -> tuple[float, int, int]:
    """NetBox's bulk-API floor: the intent's objects POSTed by kind in chunks, bodies ready, no
    read while timed (what NetBox already has of the shared objects, tags, roles, platforms...,
    is looked up before and not posted). Returns (seconds, objects posted, requests)."""
    from ansible_collections.netoss.core.plugins.module_utils.intent_load import load_intent
    from ansible_collections.netoss.core.plugins.module_utils.intent_payloads import build_netbox_objects, identity
    from ansible_collections.netoss.core.plugins.module_utils.netbox_client import connect
    from ansible_collections.netoss.core.plugins.module_utils.netbox_client import endpoint as netbox_endpoint
    from ansible_collections.netoss.core.plugins.module_utils.sot_apply import (
        APPLY_ORDER,
        ENDPOINT_FOR_KIND,
        _Ids,
        _Writer,
        adopt,
    )
    from ansible_collections.netoss.core.plugins.module_utils.sot_plan import UNTAGGED_ENDPOINTS

    objects = build_netbox_objects(load_intent(str(intent)), managed_tag=tag)
    env = client_env(stack, stack.netbox_writer_token())
    api, _status = connect(env["NETBOX_API"], env["NETBOX_TOKEN"], branch=branch)
    writer = _Writer(api, _Ids({}), 500, None, lambda _m: None)
    for kind in APPLY_ORDER:  # the fleet's own objects are new; the shared ones may exist
        if kind in FLEET_KINDS or not objects.get(kind):
            continue
        if kind in UNTAGGED_ENDPOINTS:
            for record in netbox_endpoint(api, ENDPOINT_FOR_KIND[kind]).all():
                writer.ids.add(kind, dict(record))
            objects[kind] = [p for p in objects[kind] if writer.ids.get(kind, identity(kind, p)) is None]
        else:
            objects[kind], _existing = adopt(api, kind, objects[kind], writer.ids)
    warm_up(api)
    t0 = time.monotonic()
    for kind in APPLY_ORDER:
        payloads = objects.get(kind) or []
        if kind == "device_primary_ips":
            writer.update(kind, [(writer.ids.get("devices", (p["name"],)), p) for p in payloads])
        elif payloads:
            writer.create(kind, payloads)
        if writer.failed:
            raise SystemExit(f"the floor's POSTs were refused: {writer.failed[:3]}")
    seconds = time.monotonic() - t0
    return seconds, sum(len(v) for v in objects.values()), writer.requests


def cpu_busy() -> tuple[int, int]:
    """(busy, total) CPU ticks of the machine since boot (/proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def netbox_backlog(stack) -> int:
    """Jobs waiting in or running on NetBox's background queues (its RQ, in the stack's Redis)."""
    import redis

    conn = redis.Redis(host="127.0.0.1", port=stack.port("redis"), db=0,
                       password=stack.load_secrets()["redis_password"])  # fmt: skip
    try:  # the keys of NetBox's own RQ (2.x): a list per queue, a sorted set of the jobs running
        return sum(conn.llen(f"rq:queue:{name}") + conn.zcard(f"rq:wip:{name}") for name in ("high", "default", "low"))
    finally:
        conn.close()


def drain(stack, longest: float = 3600.0) -> tuple[float, int]:
    """Wait until NetBox's background queues are empty, ``longest`` s at most; return (seconds
    waited, jobs found waiting). NetBox 4.7 indexes each object written for its search in a
    background job, one job per object of a bulk POST (each object is saved in a savepoint of its
    own, and the search index batches per savepoint): about 11 jobs/s here, so its worker is still
    busy long after the writes of 21,000 objects were answered. Each timed part starts with that
    queue empty, so it is not timed in the wake of the part before."""
    t0, found = time.monotonic(), netbox_backlog(stack)
    while time.monotonic() - t0 < longest and netbox_backlog(stack):
        time.sleep(5)
    return time.monotonic() - t0, found


def said_drained(waited: float, backlog: int, when: str) -> None:
    """Print what :func:`drain` waited for, when there was anything."""
    if backlog:
        print(f"  (then {waited:.0f} s for NetBox's worker to index them for its search: {backlog} jobs "
              f"were still queued when {when})")  # fmt: skip


def settle(longest: float = 180.0, window: float = 2.0, quiet: float = 0.2) -> float:
    """Wait until the machine is quiet (under ``quiet`` of its CPU busy in two ``window`` s in a
    row), ``longest`` s at most; return the seconds waited. After 21,000 writes NetBox and the
    stack keep working for a while (NetBox's search indexing, see :func:`drain`; the stack's fault
    processor reads its topology again once NetBox's change log moved): a run with nothing to do
    is timed as a user meets it, on a quiet NetBox, not in that wake."""
    t0, calm = time.monotonic(), 0
    before = cpu_busy()
    while time.monotonic() - t0 < longest:
        time.sleep(window)
        now = cpu_busy()
        share = (now[0] - before[0]) / max(1, now[1] - before[1])
        before = now
        calm = calm + 1 if share < quiet else 0
        if calm >= 2:
            break
    return time.monotonic() - t0


def sot_section(stack, env: dict, args, branch: str | None = None) -> None:
    sync = [str(REPO / ".venv/bin/ansible-playbook"), "playbooks/sot_sync.yml"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        n = generate(tmp / "floor", args.devices, args.sites, "flr", "10.128.0.0/9")
        seconds, objects, requests = floor(stack, tmp / "floor", "bench-floor", branch)
        waited, backlog = (0.0, 0) if args.smoke else drain(stack)
        print(f"\n## sot_sync at {args.devices} devices ({n['interfaces']} interfaces, {n['cables']} cables, "
              f"{n['circuits']} circuits; {objects} objects)")  # fmt: skip
        print(f"NetBox's bulk-API floor (POST by kind, chunks of 500, {requests} requests): {seconds:7.1f} s")
        said_drained(waited, backlog, "the last POST was answered")
        counts = generate(tmp / "fleet", args.devices, args.sites, "pop", "10.0.0.0/9")
        assert counts == n, (counts, n)
        cmd = [*sync, "-e", f"sot_sync_intent_dir={tmp / 'fleet'}"]
        if branch:  # the stack's own network is in the branch too: the fleet is added beside it
            cmd += ["-e", "sot_sync_prune=false"]
        first, rss, out = timed(cmd, env, "first sot_sync")
        print(f"sot_sync (bulk), first run:   {first:7.1f} s  peak {rss:4.0f} MiB  {plan_line(out)}  "
              f"{first / seconds:.2f}x the floor")  # fmt: skip
        said_drained(*((0.0, 0) if args.smoke else drain(stack)), "the playbook ended")
        wait = 0.0 if args.smoke else settle()
        wall, rss, out = timed(cmd, env, "no-op sot_sync")
        print(f"sot_sync (bulk), the run after: {wall:5.1f} s  peak {rss:4.0f} MiB  {plan_line(out)}  "
              f"[{read_line(out)}] (after {wait:.0f} s for the machine to go quiet; more than 500 changes "
              f"since its cache: the inventory plugin reads NetBox in full)")  # fmt: skip
        wait = 0.0 if args.smoke else settle()
        wall, rss, out = timed(cmd, env, "no-op sot_sync")
        print(f"sot_sync (bulk), nothing to do: {wall:5.1f} s  peak {rss:4.0f} MiB  {plan_line(out)}  "
              f"[{read_line(out)}]")  # fmt: skip
        wait = 0.0 if args.smoke else settle()
        wall, rss, out = timed([*cmd, "-e", "sot_sync_incremental=false"], env, "no-op sot_sync, full read")
        print(f"  the same, reading everything:  {wall:5.1f} s  peak {rss:4.0f} MiB  {plan_line(out)}  "
              f"[{read_line(out)}]")  # fmt: skip
        # One edit as a user makes it: a line added to one device of the 1,000 in the file.
        devices = tmp / "fleet" / "30-devices.yml"
        text = devices.read_text()
        name = yaml.safe_load(text)["devices"][counts["devices"] // 2]["name"]
        entry = f"\n- name: {name}\n"
        assert text.count(entry) == 1, f"{entry!r} in {devices}"
        devices.write_text(text.replace(entry, f"{entry}  description: edited by the bench\n"))
        wait = 0.0 if args.smoke else settle()
        wall, rss, out = timed(cmd, env, "one-edit sot_sync")
        print(f"sot_sync (bulk), one edit:      {wall:5.1f} s  peak {rss:4.0f} MiB  {plan_line(out)}  "
              f"[{read_line(out)}]")  # fmt: skip
        if args.per_object_devices:
            small = tmp / "small"
            generate(small, args.per_object_devices, 1, "obj", "10.200.0.0/16")
            per = [*sync, "-e", f"sot_sync_intent_dir={small}", "-e", "sot_sync_method=per_object",
                   "-e", "sot_sync_managed_tag=bench-per-object"]  # fmt: skip
            wall, rss, out = timed(per, env, "per-object sot_sync")
            line = plan_line(out)
            created = int(line.split()[1]) if line.startswith("Plan: ") else 0
            rate = wall / created if created else float("nan")
            print(f"per object (netbox.netbox modules), {args.per_object_devices} devices: {wall:7.1f} s for {created} "
                  f"objects ({rate:.2f} s each): about {rate * objects / 60:.0f} min for the {objects} objects "
                  f"above")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devices", type=int, default=1000, help="devices of the fleet sot_sync applies (default 1000)")
    ap.add_argument("--sites", type=int, default=20, help="across how many sites (default 20)")
    ap.add_argument(
        "--per-object-devices",
        type=int,
        default=10,
        help="devices applied object by object to measure that way's rate (default 10; 0 skips it)",
    )
    ap.add_argument("--keep", action="store_true", help="leave the bench's own stack running")
    ap.add_argument("--smoke", action="store_true", help="a smoke-size run (make test): 9 devices, 3 sites")
    on_stack.add_options(ap)
    args = ap.parse_args()
    if args.smoke:
        args.devices, args.sites, args.per_object_devices = 9, 3, 0
    if not 3 * args.sites <= args.devices <= 20000:
        ap.error("--devices must be from 3 per site to 20000")
    print(f"machine: {platform.node()}, {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")  # fmt: skip
    with on_stack.stack_for(args, STATE, PORT_BASE, seed_intent=False, keep=args.keep) as (stack, own):
        branch = None
        try:
            env = {
                **os.environ,
                **client_env(stack, stack.netbox_writer_token()),
                "PATH": f"{REPO / '.venv/bin'}:{os.environ['PATH']}",
                "ANSIBLE_LOCAL_TEMP": str(stack.state_dir / "ansible-tmp"),
                "ANSIBLE_NOCOLOR": "1",
            }
            if not own:
                # A stack already up: everything in a NetBox branch of its own, deleted at the end, so
                # the stack's main never sees the bench's fleets (writes in a branch cost more).
                branch = _new_branch(stack)
                env["NETBOX_BRANCH"] = branch["schema_id"]
                print(f"stack: {stack.state_dir} (already up); in NetBox branch {branch['name']}")
            sot_section(stack, env, args, branch and branch["schema_id"])
        finally:
            if branch:
                _writer(stack).delete_branch(branch["id"])


def _writer(stack):
    from netoss.data.netbox import NetBox

    return NetBox.from_stack(stack, "writer", timeout=120)


def _new_branch(stack) -> dict:
    created = _writer(stack).create_branch(f"bench-scale-{os.getpid()}", "bench/bench_scale.py")
    return _writer(stack).wait_branch(created["id"], timeout=300)


if __name__ == "__main__":
    main()
