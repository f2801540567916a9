#!/usr/bin/env python3
"""Benchmark: push and backup on the real lab, for the demo and a generated N-router ring.

It starts a stack of its own (.state-bench, port base 19000), applies an intent with
sot_sync, builds the lab from NetBox with its own names (b* namespaces, bridge netoss-bbr0,
account netopsb) and management subnet (198.18.102.0/24), then times the playbooks as a
user runs them:

  push, first       base configuration -> NetBox-rendered one, verified (OSPF and BGP up)
  push, again       nothing to change (the diff finds no line)
  backup, first     every running configuration into a new git repository, NetBox updated
  backup, again     nothing changed (no commit, only netoss_last_backup updated)

Then the same on a generated ring of N routers (two route reflectors, the others clients).

With --stack and --lab (bench/on_stack.py) it times the same four steps on a stack and a lab
already up (whatever NetBox holds; the lab is left up, the stack running), and no ring.
Run as root: .venv/bin/python bench/bench_config.py [--routers 20] [--stack DIR --lab NAMES] [--smoke]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import on_stack  # noqa: E402  (bench/, on the path above)
from bench_lab import pss_mib  # noqa: E402
from bench_sot import timed  # noqa: E402

from netoss.embedded import lab  # noqa: E402
from netoss.embedded.deployment import wipe  # noqa: E402
from netoss.embedded.lab.spec import LabConfig  # noqa: E402
from netoss.embedded.stack import Stack, client_env, down, up  # noqa: E402

CONFIG = LabConfig(ns_prefix="b", bridge="netoss-bbr0", user="netopsb")
MGMT = "198.18.102"
STATE, PORT_BASE = on_stack.own(".state-bench")


def demo_intent(target: Path) -> None:
    shutil.copytree(REPO / "inventory" / "intent", target)
    for f in target.glob("*.yml"):
        text = f.read_text().replace("198.18.0.", MGMT + ".")
        f.write_text(text.replace("port: 17514", f"port: {PORT_BASE + 514}"))


def ring_intent(target: Path, n: int) -> None:
    """The demo's organisation, DCIM, IPAM and config contexts; devices replaced by a ring of n
    routers (r01 and the one opposite are P route reflectors, the others PE clients)."""
    demo_intent(target)
    (target / "30-devices.yml").unlink()
    (target / "40-cables.yml").unlink()
    reflectors = {1, n // 2 + 1}
    devices, cables = [], []
    for i in range(1, n + 1):
        name = f"r{i:02d}"
        nxt = i % n + 1
        prev = (i - 2) % n + 1
        devices.append(
            {
                "name": name,
                "site": "ams1" if i <= n // 2 else "fra1",
                "role": "p" if i in reflectors else "pe",
                "platform": "frr",
                "device_type": "frr-router",
                "primary_ip4": f"{MGMT}.{10 + i}/24",
                "interfaces": [
                    {"name": "mgmt0", "type": "1000base-t", "mgmt_only": True, "addresses": [f"{MGMT}.{10 + i}/24"]},
                    {
                        "name": "lo",
                        "type": "virtual",
                        "addresses": [{"address": f"198.19.255.{i}/32", "role": "loopback"}],
                    },
                    # Link i joins router i (eth1, .2i) and the next one (eth2, .2i+1).
                    {"name": "eth1", "type": "10gbase-x-sfpp", "addresses": [f"198.19.0.{2 * i}/31"]},
                    {"name": "eth2", "type": "10gbase-x-sfpp", "addresses": [f"198.19.0.{2 * prev + 1}/31"]},
                ],
            }
        )
        cables.append({"a": f"{name}:eth1", "b": f"r{nxt:02d}:eth2"})
    (target / "30-devices.yml").write_text(yaml.safe_dump({"devices": devices}, sort_keys=False))
    (target / "40-cables.yml").write_text(yaml.safe_dump({"cables": cables}, sort_keys=False))


def run(stack: Stack, label: str, intent: Path | None, config: LabConfig = CONFIG, smoke: bool = False) -> None:
    """Time the four steps; on a stack of the bench's own (``intent`` given: wiped, started,
    synced, lab built, everything stopped at the end), or on the stack and lab already up.
    ``smoke``: one push and one backup (on a lab already configured, both a no-op's path)."""
    own = intent is not None
    t0 = time.monotonic()
    if own:
        wipe(stack)
        up(stack, seed_intent=False, log=lambda m: None)
    env = {
        **os.environ,
        **client_env(stack),
        "NETOSS_STATE": str(stack.state_dir),
        "HOME": str(stack.ansible_home),
        "PATH": f"{REPO / '.venv/bin'}:{os.environ['PATH']}",
        "ANSIBLE_LOCAL_TEMP": str(stack.state_dir / "ansible-tmp"),
        "ANSIBLE_NOCOLOR": "1",
    }
    playbook = [str(REPO / ".venv/bin/ansible-playbook")]
    if own:
        timed([*playbook, "playbooks/sot_sync.yml", "-e", f"sot_sync_intent_dir={intent}"], env, "sync")
        print(f"{label}: stack up and sot_sync {time.monotonic() - t0:.0f} s")
    import pynetbox

    spec = lab.up(stack, pynetbox.api(stack.netbox_url, token=stack.netbox_token()), config, log=lambda m: None)
    n = len(spec.routers)
    label = label or f"lab {config.ns_prefix}* ({n})"
    env.update(lab.device_env(stack))
    limit = ["--limit", ",".join(r.name for r in spec.routers)]
    try:
        time.sleep(2)
        steps = [
            ("push, first (render, send, verify)", "config_push.yml", []),
            ("push, again (nothing to send)", "config_push.yml", []),
            ("backup, first (new git repo)", "config_backup.yml", []),
            ("backup, again (no change)", "config_backup.yml", []),
        ]
        if smoke:
            steps = [("push (on a configured lab)", "config_push.yml", []), ("backup", "config_backup.yml", [])]
        for what, book, extra in steps:
            wall, rss, _out = timed([*playbook, f"playbooks/{book}", *limit, *extra], env, what)
            print(f"{label}: {what:<38} {wall:6.1f} s  {wall / n * 1000:5.0f} ms/router  ansible peak {rss:4.0f} MiB")
        mem = pss_mib(spec)
        print(f"{label}: {n} routers configured: {mem:.0f} MiB PSS ({mem / n:.1f} MiB/router)")
    finally:
        if own:
            lab.down(stack, log=lambda m: None)
            down(stack, log=lambda m: None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--routers", type=int, default=20, help="routers in the generated ring (default 20, 4..60)")
    ap.add_argument(
        "--smoke",
        action="store_true",
        help="a smoke-size run (make test): with --stack/--lab only, no ring, one push and one backup",
    )
    on_stack.add_options(ap, lab=True)
    args = ap.parse_args()
    if bool(args.stack) != bool(args.lab):
        ap.error("--stack and --lab go together")
    if args.smoke and not args.stack:
        ap.error("--smoke runs on a stack and lab already up: give --stack and --lab")
    if not 4 <= args.routers <= 60:
        ap.error("--routers must be 4..60 (addresses: one /24 of /31 links)")
    if os.geteuid() != 0:
        sys.exit("bench_config.py needs root (namespaces, veths, accounts)")
    print(f"machine: {platform.node()} {os.cpu_count()} cores, Python {platform.python_version()}")
    if args.stack:
        run(on_stack.existing(args.stack), "", None, on_stack.lab_config(args.lab), smoke=args.smoke)
        return
    stack = Stack(state_dir=STATE, port_base=PORT_BASE)
    with tempfile.TemporaryDirectory() as tmp:
        demo_intent(Path(tmp) / "demo")
        run(stack, "demo (6)", Path(tmp) / "demo")
        ring_intent(Path(tmp) / "ring", args.routers)
        run(stack, f"ring ({args.routers})", Path(tmp) / "ring")
    wipe(stack)


if __name__ == "__main__":
    main()
