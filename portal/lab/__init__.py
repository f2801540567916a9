"""The lab: one FRR router per NetBox device of platform FRR, in Linux network namespaces.

`up` reads NetBox, builds the spec (spec.py) and the routers (runtime.py), and records what
it built in <state>/lab/built.json, so `down` and `status` need neither NetBox nor guesses.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from portal.stack.config import Stack, StackError, write_private

from . import runtime
from .spec import LabConfig, LabError, LabSpec, Router, build_spec

__all__ = [
    "LabConfig",
    "LabError",
    "config_from_env",
    "converge",
    "device_env",
    "down",
    "read_netbox",
    "record_if_indexes",
    "status",
    "summary",
    "trust",
    "up",
]

MAIN = LabConfig()


def config_from_env() -> LabConfig:
    """The lab's names: NETOSS_LAB_PREFIX (namespaces), NETOSS_LAB_BRIDGE, NETOSS_LAB_USER; else the defaults."""
    return LabConfig(
        ns_prefix=os.environ.get("NETOSS_LAB_PREFIX", MAIN.ns_prefix),
        bridge=os.environ.get("NETOSS_LAB_BRIDGE", MAIN.bridge),
        user=os.environ.get("NETOSS_LAB_USER", MAIN.user),
    )


def _paths(stack: Stack) -> runtime.LabPaths:
    return runtime.LabPaths(stack.state_dir / "lab")


def read_netbox(api) -> dict[str, list[dict]]:
    """The NetBox records the lab is built from (FRR devices, their IPs and cables, prefixes)."""
    devices = [dict(d) for d in api.dcim.devices.filter(platform="frr")]
    ids = [d["id"] for d in devices]
    if not ids:
        return {"devices": [], "ip_addresses": [], "cables": [], "prefixes": []}
    return {
        "devices": devices,
        "ip_addresses": [dict(i) for i in api.ipam.ip_addresses.filter(device_id=ids)],
        "cables": [dict(c) for c in api.dcim.cables.filter(device_id=ids)],
        "prefixes": [dict(p) for p in api.ipam.prefixes.all()],
    }


def _record(stack: Stack, spec: LabSpec) -> None:
    data = {
        "config": asdict(spec.config),
        "bridge_ip": str(spec.bridge_ip),
        "routers": [dict(asdict(r), mgmt_ip=str(r.mgmt_ip)) for r in spec.routers],
    }
    write_private(_paths(stack).root / "built.json", json.dumps(data, indent=2) + "\n")


def _built(stack: Stack) -> tuple[LabConfig, list[Router]] | None:
    f = _paths(stack).root / "built.json"
    if not f.exists():
        return None
    data = json.loads(f.read_text())
    routers = [Router(**dict(r, mgmt_ip=ipaddress.ip_interface(r["mgmt_ip"]))) for r in data["routers"]]
    return LabConfig(**data["config"]), routers


def bridge_address(stack: Stack) -> str | None:
    """The address of the lab's management bridge (where its routers send syslog and traps),
    once the lab is built; None otherwise (or while built.json is being written)."""
    try:
        data = json.loads((_paths(stack).root / "built.json").read_text())
    except (OSError, ValueError):
        return None
    return str(data.get("bridge_ip") or "").split("/")[0] or None


def shared_files(stack: Stack) -> list[Path]:
    """The lab's files the portal's jobs read (the device login and the lab's record): readable by
    the service account's group, still root's (portal.stack.accounts.share)."""
    paths = _paths(stack)
    return [paths.secrets, paths.root / "built.json"]


def _share(stack: Stack) -> None:
    from portal.stack import accounts

    for path in shared_files(stack):
        if path.exists():
            accounts.share(path, accounts.SERVICE_USER)


def device_env(stack: Stack) -> dict[str, str]:
    """NETOSS_DEVICE_USER / NETOSS_DEVICE_PASSWORD for the lab's routers, once the lab has credentials,
    and NETOSS_LAB_PREFIX (its namespaces' prefix) once it is built.

    inventory/group_vars/all.yml gives them to Ansible as ansible_user / ansible_password and
    netoss_lab (service orders patch and probe the lab's links only when it is set).
    """
    f = _paths(stack).secrets
    if not f.exists():
        return {}
    creds = json.loads(f.read_text())
    env = {"NETOSS_DEVICE_USER": creds["user"], "NETOSS_DEVICE_PASSWORD": creds["password"]}
    if _paths(stack).known_hosts.exists():
        # The routers' pinned host keys: `ssh -o UserKnownHostsFile=$NETOSS_KNOWN_HOSTS ...`;
        # `netoss lab trust` puts them in ~/.ssh/known_hosts for Ansible from a terminal.
        env["NETOSS_KNOWN_HOSTS"] = str(_paths(stack).known_hosts)
    built = _built(stack)
    if built is not None:
        env["NETOSS_LAB_PREFIX"] = built[0].ns_prefix
    return env


def up(stack: Stack, api, config: LabConfig = MAIN, log: Callable[[str], None] = print) -> LabSpec:
    """Build (or complete) the lab that NetBox describes; idempotent."""
    t0 = time.monotonic()
    spec = build_spec(**read_netbox(api), config=config)
    for name, reason in sorted(spec.skipped.items()):
        log(f"lab: warning: no router for {name}: {reason}")
    built = _built(stack)
    if built and built[0] != config:
        raise LabError(f"a lab with other names ({built[0]}) is recorded in {stack.state_dir}: run `netoss lab down`")
    paths = _paths(stack)
    creds = runtime.credentials(paths, config.user)
    runtime.ensure_user(config.user, creds["password"])
    _record(stack, spec)  # before building, so a half-built lab can still be taken down
    _share(stack)
    runtime.build_network(spec)
    runtime.start_relay(paths, str(spec.bridge_ip.ip), stack.port("syslog"))
    for r in spec.routers:
        runtime.start_router(r, paths, config.user)
    # The routers' host keys, pinned: network_cli checks them (ansible.cfg) in every playbook
    # netoss runs (HOME=<state>/home), and refuses a router whose key differs.
    runtime.write_known_hosts(spec, paths, stack.ansible_home / ".ssh" / "known_hosts")
    record_if_indexes(stack, spec, log)
    log(
        f"lab up: {len(spec.routers)} routers, {len(spec.links)} links, bridge {config.bridge} "
        f"{spec.bridge_ip}, syslog to udp/{spec.bridge_ip.ip}:{stack.port('syslog')} ({time.monotonic() - t0:.1f} s)"
    )
    return spec


def record_if_indexes(stack: Stack, spec: LabSpec, log: Callable[[str], None] = print) -> int:
    """Each router's ifIndex table in NetBox: the custom field netoss_ifindex of its interfaces
    set to the kernel's ifindex in its namespace (what a trap from it gives), cleared on the
    interfaces it does not have. Writes as the jobs' writer (the lab itself only reads NetBox);
    returns the number of interfaces changed. The fault processor names the interface of a
    standard linkDown/linkUp trap (ifIndex only) from this table."""
    import pynetbox
    import requests

    from ansible_collections.netoss.core.plugins.module_utils.netbox_client import NetboxError, connect
    from portal.faults.topology import IFINDEX_FIELD

    tables = {r.name: runtime.if_indexes(r) for r in spec.routers}
    if not tables:
        return 0
    try:
        api, _status = connect(stack.netbox_url, stack.netbox_writer_token())
        ids = [d.id for d in api.dcim.devices.filter(name=sorted(tables))]
        changes = []
        for intf in api.dcim.interfaces.filter(device_id=ids) if ids else []:
            wanted = tables.get(intf.device.name, {}).get(intf.name)
            if (intf.custom_fields or {}).get(IFINDEX_FIELD) != wanted:
                changes.append({"id": intf.id, "custom_fields": {IFINDEX_FIELD: wanted}})
        if changes:
            api.dcim.interfaces.update(changes)
    except (NetboxError, StackError, pynetbox.RequestError, requests.RequestException) as exc:
        # The lab works without it; only traps that name their interface by ifIndex are refused.
        log(f"lab: warning: the routers' ifIndex tables are not in NetBox ({IFINDEX_FIELD}): {exc}")
        return 0
    log(f"lab: ifIndex table in NetBox ({IFINDEX_FIELD}): {len(changes)} interfaces updated")
    return len(changes)


def converge(stack: Stack, spec: LabSpec, log: Callable[[str], None] = print, force: bool = False) -> bool:
    """Push the configurations rendered from NetBox to the lab's routers (playbooks/config_push.yml).

    Skipped when the routers and NetBox's intent are those of the last successful push.
    """
    from portal.stack import intent_hash, run_playbook

    state = [intent_hash(stack)] + [f"{r.name}:{runtime.daemons_alive(r)}" for r in spec.routers]
    digest = hashlib.sha256("\n".join(state).encode()).hexdigest()
    marker = _paths(stack).root / "converged"
    if not force and marker.exists() and marker.read_text().strip() == digest:
        return False
    t0 = time.monotonic()
    names = ",".join(r.name for r in spec.routers)
    log(f"lab: pushing the configurations rendered from NetBox to {names} (playbooks/config_push.yml)")
    marker.unlink(missing_ok=True)
    try:
        run_playbook(stack, "config_push.yml", "--limit", names, log_name="config-push.log", env=device_env(stack))
    except StackError as exc:
        raise LabError(f"the lab did not converge: {exc}") from None
    marker.write_text(digest + "\n")
    log(f"lab: configured and verified in {time.monotonic() - t0:.0f} s (OSPF and BGP up)")
    return True


def trust(stack: Stack, target: Path | None = None) -> int:
    """Put the lab's pinned host keys in ``target`` (default ~/.ssh/known_hosts), replacing the
    lines of the same addresses: Ansible from a terminal (network_cli reads only that file)
    then checks the routers against the lab's keys. Returns the number of keys written."""
    built = _built(stack)
    if built is None or not _paths(stack).known_hosts.exists():
        raise LabError("no lab: `netoss lab up` builds it and pins its routers' host keys")
    lines = [line for line in _paths(stack).known_hosts.read_text().splitlines() if line.strip()]
    return runtime.merge_known_hosts(lines, target or Path.home() / ".ssh" / "known_hosts")


def down(stack: Stack, log: Callable[[str], None] = print) -> int:
    """Stop every router by PID and remove namespaces, links, the bridge, FRR's files and the account."""
    built = _built(stack)
    if built is None:
        log("lab: nothing to take down")
        return 0
    config, routers = built
    t0 = time.monotonic()
    pids = 0
    for r in routers:
        pids += len(runtime.stop_router(r))
    for r in routers:
        runtime.remove_router(r)
    runtime.stop_relay(_paths(stack))
    runtime.remove_bridge(config.bridge)
    runtime.remove_user(config.user)
    (_paths(stack).root / "built.json").unlink()
    log(f"lab down: {len(routers)} routers, {pids} processes stopped ({time.monotonic() - t0:.1f} s)")
    return pids


def status(stack: Stack) -> list[dict]:
    """Each router: namespace, daemons with pids, management IP, SSH reachability."""
    built = _built(stack)
    if built is None:
        return []
    _config, routers = built
    relay = runtime.relay_pid(_paths(stack))
    out = []
    for r in routers:
        daemons = runtime.daemons_alive(r)
        ssh = runtime.ssh_answers(r)
        out.append(
            {
                "router": r.name,
                "namespace": r.ns,
                "namespace_exists": runtime.namespace_exists(r.ns),
                "mgmt_ip": str(r.mgmt_ip),
                "daemons": daemons,
                "ssh": ssh,
                "syslog_relay": relay,
                "healthy": all(daemons.values()) and ssh and bool(relay),
            }
        )
    return out


def summary(stack: Stack) -> str:
    """How to reach the routers: printed at the end of `make up`."""
    built = _built(stack)
    if built is None:
        return "  lab         not built (`netoss lab up`)"
    config, routers = built
    first = routers[0] if routers else None
    lines = [
        f"  lab         {len(routers)} FRR routers in namespaces ({', '.join(r.ns for r in routers)}), "
        f"bridge {config.bridge}"
    ]
    if first:
        lines.append(
            f"              ssh {config.user}@{first.mgmt_ip.ip}   (password in "
            f"{_paths(stack).secrets}; the session is vtysh)"
        )
    return "\n".join(lines)
