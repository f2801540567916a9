"""The lab: one FRR router per NetBox device of platform FRR, in Linux network namespaces.

`up` reads NetBox, builds the spec (spec.py) and the routers (runtime.py), and records what
it makes in <state>/lab/built.json as it makes it (record.py), so `down` and `status` need
neither NetBox nor guesses, and `up` removes what belongs to a router NetBox no longer has.
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

from ansible_collections.netoss.core.plugins.module_utils.lab_netns import LabError
from netoss.data.netbox import NetBox, failures
from netoss.embedded.lab import record, runtime
from netoss.embedded.lab.spec import LabConfig, LabSpec, Router, build_spec
from netoss.embedded.stack import accounts
from netoss.embedded.stack.assurance import USER as PROBE_LOGIN
from netoss.embedded.stack.config import Stack, StackError, web_config, write_private

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
    return runtime.LabPaths(stack.lab_dir)


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


def _record(stack: Stack, spec: LabSpec, resources: dict) -> None:
    """built.json: the lab's names, its routers as built (status, the syslog relay, the jobs and
    the lab helper read them) and every resource it holds (``resources``, see record.py)."""
    data = {
        "config": asdict(spec.config),
        "bridge_ip": str(spec.bridge_ip),
        "routers": [dict(asdict(r), mgmt_ip=str(r.mgmt_ip)) for r in spec.routers],
        "resources": resources,
    }
    write_private(_paths(stack).root / "built.json", json.dumps(data, indent=2) + "\n")
    _share(stack)


def _load(stack: Stack) -> dict | None:
    f = _paths(stack).root / "built.json"
    return json.loads(f.read_text()) if f.exists() else None


def _built(stack: Stack) -> tuple[LabConfig, list[Router]] | None:
    data = _load(stack)
    if data is None:
        return None
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
    the service account's group, still root's (netoss.embedded.stack.accounts.share)."""
    return stack.lab_shared_files


def _share(stack: Stack) -> None:
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


def up(stack: Stack, api, config: LabConfig = MAIN, log: Callable[[str], None] = print, twin: bool = False) -> LabSpec:
    """Build (or complete) the lab that NetBox describes; idempotent.

    A device the lab cannot build, or a router that does not start, is left out with a
    warning naming it and why; the others are built. What belongs to a router the lab no
    longer has (NetBox removed it, or it is now skipped) is removed first.

    ``twin``: a throwaway copy of the lab (netoss.embedded.twin), built from what ``api`` reads
    (a NetBox branch): its routers' logs go to no collector (no fault of a twin reaches the
    portal), and nothing is written to NetBox (no ifIndex table).
    """
    t0 = time.monotonic()
    spec = build_spec(**read_netbox(api), config=config)
    for name, reason in sorted(spec.skipped.items()):
        log(f"lab: warning: no router for {name}: {reason}")
    for warning in spec.warnings:
        log(f"lab: warning: {warning}")
    previous = _load(stack)
    if previous and LabConfig(**previous["config"]) != config:
        raise LabError(
            f"a lab with other names ({LabConfig(**previous['config'])}) is recorded in {stack.state_dir}: "
            "run `netoss lab down`"
        )
    paths = _paths(stack)
    creds = runtime.credentials(paths, config.user, None if twin else stack.load_secrets(create=True))
    runtime.ensure_user(config.user, creds["password"])
    probe_web = web_config(PROBE_LOGIN, creds["probe_password"])  # one bcrypt hash for every router
    recorded = record.resources(previous)
    # Before anything is made: what was made before and what is about to be, so a lab that
    # stops half-built can still be taken down whole.
    _record(stack, spec, record.merge(recorded, record.of_spec(spec)))
    removed, _pids = _remove(record.stale(recorded, record.of_spec(spec)), log)
    runtime.build_bridge(spec)
    failed: dict[str, str] = {}
    for r in spec.routers:
        try:
            runtime.build_router_network(spec, r)
        except (StackError, LabError, OSError) as exc:
            failed[r.name] = str(exc)
    for link in spec.links:
        if link.a_router in failed or link.b_router in failed:
            continue
        try:
            runtime.build_link(spec, link)
        except (StackError, LabError, OSError) as exc:
            log(f"lab: warning: no link {link.a_router}:{link.a_if} - {link.b_router}:{link.b_if}: {exc}")
    if not twin:
        runtime.start_relay(paths, str(spec.bridge_ip.ip), stack.port("syslog"))
    for r in spec.routers:
        if r.name in failed:
            continue
        try:
            runtime.start_router(r, paths, config.user, creds["snmp_community"], probe_web)
        except (StackError, LabError, OSError) as exc:
            failed[r.name] = str(exc)
    older = [r.name for r in spec.routers if r.name not in failed and not runtime.snmp_agent_alive(r, paths)]
    if older:
        log(
            f"lab: warning: {', '.join(older)} run without an SNMP agent and probe (started by an older netoss): "
            "`netoss lab down` then `netoss lab up` builds them again with both"
        )
    for name, why in sorted(failed.items()):
        r = spec.router(name)
        log(f"lab: warning: router {name} (namespace {r.ns}) did not start and is taken out: {why}")
        runtime.stop_router(r)
        runtime.remove_router(r)
        spec.skipped[name] = f"it did not start: {why}"
    spec.routers = [r for r in spec.routers if r.name not in failed]
    spec.links = [link for link in spec.links if not {link.a_router, link.b_router} & set(failed)]
    # The lab as built: what it holds now, nothing else.
    _record(stack, spec, record.of_spec(spec))
    # The routers' host keys, pinned: network_cli checks them (ansible.cfg) in every playbook
    # netoss runs (HOME=<state>/home), and refuses a router whose key differs.
    runtime.write_known_hosts(spec, paths, stack.ansible_home / ".ssh" / "known_hosts")
    if not twin:
        record_if_indexes(stack, spec, log)
        record_probes(stack, spec, log)
    extra = f", {len(spec.skipped)} devices left out" if spec.skipped else ""
    extra += f", {removed} routers removed" if removed else ""
    log(
        f"{'twin' if twin else 'lab'} up: {len(spec.routers)} routers, {len(spec.links)} links{extra}, "
        f"bridge {config.bridge} {spec.bridge_ip}"
        + ("" if twin else f", syslog to udp/{spec.bridge_ip.ip}:{stack.port('syslog')}")
        + f" ({time.monotonic() - t0:.1f} s)"
    )
    return spec


def _remove(resources: dict, log: Callable[[str], None]) -> tuple[int, int]:
    """Remove recorded routers (every process in the namespace first, by PID, then the
    namespace, its veths and FRR's directories) and links; returns (routers, processes)."""
    stopped = {ns: runtime.stop_namespace(ns) for ns in resources["routers"] if record.SAFE_NAME.match(ns)}
    for ns, res in resources["routers"].items():
        if ns not in stopped:
            log(f"lab: warning: recorded namespace {ns!r} is not a lab name: left alone")
            continue
        runtime.remove_namespace(ns, res["bridge_port"], record.checked_dirs(res, ns))
        log(f"lab: router {res.get('device')} (namespace {ns}) removed, {len(stopped[ns])} processes stopped")
    for a_ns, a_if, b_ns, b_if in resources["links"]:
        if record.SAFE_NAME.match(a_ns) and record.SAFE_NAME.match(a_if) and runtime.remove_link(a_ns, a_if):
            log(f"lab: link {a_ns}:{a_if} - {b_ns}:{b_if} removed (no cable in NetBox any more)")
    return len(stopped), sum(len(p) for p in stopped.values())


def _write_custom_fields(stack: Stack, log: Callable[[str], None], what: str, changes_in) -> int:
    """Write what ``changes_in(api)`` -> (endpoint, [{"id", "custom_fields"}]) says into NetBox
    as the jobs' writer (the lab itself only reads NetBox), in one bulk PATCH; ``what`` names it
    in the log. The lab works without it: a failure is a warning. Returns how many changed."""
    try:
        endpoint, changes = changes_in(NetBox.from_stack(stack, "writer").api())
        if changes:
            endpoint.update(changes)
    except (StackError, *failures()) as exc:
        log(f"lab: warning: {what} not in NetBox: {exc}")
        return 0
    log(f"lab: {what} in NetBox: {len(changes)} updated")
    return len(changes)


def record_if_indexes(stack: Stack, spec: LabSpec, log: Callable[[str], None] = print) -> int:
    """Each router's ifIndex table in NetBox: the custom field netoss_ifindex of its interfaces
    set to the kernel's ifindex in its namespace (what a trap from it gives), cleared on the
    interfaces it does not have; returns the number of interfaces changed. The fault processor
    names the interface of a standard linkDown/linkUp trap (ifIndex only) from this table;
    without it, only traps that name their interface by ifIndex are refused."""
    from netoss.domain.faults.topology import IFINDEX_FIELD  # start-up time: not the fault domain for every command

    tables = {r.name: runtime.if_indexes(r) for r in spec.routers}
    if not tables:
        return 0

    def changes_in(api):
        ids = [d.id for d in api.dcim.devices.filter(name=sorted(tables))]
        changes = []
        for intf in api.dcim.interfaces.filter(device_id=ids) if ids else []:
            wanted = tables.get(intf.device.name, {}).get(intf.name)
            if (intf.custom_fields or {}).get(IFINDEX_FIELD) != wanted:
                changes.append({"id": intf.id, "custom_fields": {IFINDEX_FIELD: wanted}})
        return api.dcim.interfaces, changes

    return _write_custom_fields(stack, log, f"the routers' ifIndex tables ({IFINDEX_FIELD}, interfaces)", changes_in)


def record_probes(stack: Stack, spec: LabSpec, log: Callable[[str], None] = print) -> int:
    """Each router's probe in NetBox: the custom field netoss_probe of its device set to the
    host:port of the blackbox_exporter in its namespace (service assurance probes each service
    from its PE through it); returns the number of devices changed."""
    from netoss.domain.assurance.targets import PROBE_FIELD  # start-up time: not every command's

    wanted = {r.name: runtime.probe_address(r) for r in spec.routers}
    if not wanted:
        return 0

    def changes_in(api):
        return api.dcim.devices, [
            {"id": d.id, "custom_fields": {PROBE_FIELD: wanted[d.name]}}
            for d in api.dcim.devices.filter(name=sorted(wanted))
            if (d.custom_fields or {}).get(PROBE_FIELD) != wanted[d.name]
        ]

    return _write_custom_fields(stack, log, f"the routers' probes ({PROBE_FIELD}, devices)", changes_in)


TEMPLATES = Path(__file__).resolve().parents[3] / "roles" / "config_render" / "templates"


def push_digests(spec: LabSpec, data: dict[str, dict], alive: dict[str, dict], templates: Path = TEMPLATES) -> dict:
    """Per router, a digest of what a push to it depends on: its structured data built from
    NetBox (device_data.build: everything its rendered configuration holds, peers included),
    the templates of its platform, its namespace and management address, and its daemons'
    pids (a restarted router is pushed again). Routers without data are left out."""
    digests = {}
    for r in spec.routers:
        if r.name not in data:
            continue
        platform = str(data[r.name].get("platform") or "")
        h = hashlib.sha256()
        for f in sorted((templates / platform).glob("*")) if platform else []:
            h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
        h.update(json.dumps(data[r.name], sort_keys=True, default=str).encode())
        h.update(json.dumps([r.ns, r.mgmt_if, str(r.mgmt_ip), alive.get(r.name)], default=str).encode())
        digests[r.name] = h.hexdigest()
    return digests


def converge(
    stack: Stack, spec: LabSpec, log: Callable[[str], None] = print, force: bool = False, api=None
) -> list[str]:
    """Push the configurations rendered from NetBox to the lab's routers (playbooks/config_push.yml).

    Only to the routers whose inputs (push_digests) differ from those of their last
    successful push; every router with ``force``. A router whose NetBox data cannot make a
    configuration is left out with a warning naming it and why. ``api`` reads NetBox (the
    stack's read-only account by default). Returns the routers pushed to (none: nothing changed).
    """
    from ansible_collections.netoss.core.plugins.module_utils.device_data import Snapshot, build_all, fetch
    from netoss.embedded.stack import run_playbook

    try:
        if api is None:
            api = NetBox.from_stack(stack, "reader").api()
        data, errors = build_all(Snapshot(**fetch(api)), [r.name for r in spec.routers])
    except (StackError, *failures()) as exc:
        raise LabError(f"the lab cannot read NetBox to render its configurations: {exc}") from None
    for name, why in sorted(errors.items()):
        log(f"lab: warning: {name} is not configured: {why}")
    digests = push_digests(spec, data, {r.name: runtime.daemons_alive(r) for r in spec.routers})
    marker = _paths(stack).root / "converged.json"
    try:
        pushed = json.loads(marker.read_text())
    except (OSError, ValueError):
        pushed = {}
    todo = [name for name, digest in digests.items() if force or pushed.get(name) != digest]
    if not todo:
        return []
    t0 = time.monotonic()
    names = ",".join(todo)
    log(f"lab: pushing the configurations rendered from NetBox to {names} (playbooks/config_push.yml)")
    kept = {name: digest for name, digest in pushed.items() if name in digests and name not in todo}
    write_private(marker, json.dumps(kept, indent=2) + "\n")
    try:
        run_playbook(stack, "config_push.yml", "--limit", names, log_name="config-push.log", env=device_env(stack))
    except StackError as exc:
        raise LabError(f"the lab did not converge: {exc}") from None
    write_private(marker, json.dumps(dict(kept, **{name: digests[name] for name in todo}), indent=2) + "\n")
    log(f"lab: configured and verified in {time.monotonic() - t0:.0f} s (OSPF and BGP up)")
    return todo


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
    """Stop every router by PID and remove namespaces, links, the bridge, FRR's files and the
    account: everything recorded in built.json, whatever NetBox holds now (it is not read)."""
    data = _load(stack)
    if data is None:
        log("lab: nothing to take down")
        return 0
    config = LabConfig(**data["config"])
    resources = record.resources(data)
    t0 = time.monotonic()
    routers, pids = _remove(dict(resources, links=[]), lambda _m: None)
    runtime.stop_relay(_paths(stack))
    bridge = resources.get("bridge") or config.bridge
    if record.SAFE_NAME.match(bridge):
        runtime.remove_bridge(bridge)
    runtime.remove_user(config.user)
    (_paths(stack).root / "built.json").unlink()
    log(f"lab down: {routers} routers, {pids} processes stopped ({time.monotonic() - t0:.1f} s)")
    return pids


def status(stack: Stack) -> list[dict]:
    """Each router: its device, namespace and hostname, daemons with pids, management IP, SSH reachability."""
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
                "hostname": r.hostname,
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
