"""What the lab made on this machine, recorded in <state>/lab/built.json as it makes it.

`netoss lab up` writes the record before it creates anything (the resources it had already
made, plus those it is about to make), then again once built with exactly what is left, so
that `lab down` removes everything the lab ever made, even when NetBox no longer lists a
device, or is down; and so that `lab up` removes what belongs to a router NetBox no longer
has. Pure functions over the record's ``resources``:

    {"bridge": "netoss-br0",
     "routers": {"<ns>": {"device": "...", "bridge_port": "nm...", "mgmt_if": "...",
                          "mgmt_ip": "198.18.0.11/24", "frr_dirs": ["/etc/frr/<ns>", "/var/run/frr/<ns>"]}},
     "links": [["<ns a>", "<interface a>", "<ns b>", "<interface b>"], ...]}

A router's processes are every process in its namespace (``ip netns pids``); the syslog
relay's pid is in <state>/lab/syslog-relay.pid.
"""

from __future__ import annotations

import re
from pathlib import Path

from netoss.embedded.lab.spec import LabSpec, bridge_port

FRR_ETC = Path("/etc/frr")
FRR_RUN = Path("/var/run/frr")
# What a recorded namespace or interface name may be before anything acts on it (the record
# is root's, but never trusted to name a path outside FRR's directories).
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,14}\Z")


def frr_dirs(ns: str) -> list[str]:
    """FRR's directories of the router in namespace ``ns`` (its pathspace)."""
    return [str(FRR_ETC / ns), str(FRR_RUN / ns)]


def of_spec(spec: LabSpec) -> dict:
    """The resources a lab built from ``spec`` holds."""
    ns = {r.name: r.ns for r in spec.routers}
    return {
        "bridge": spec.config.bridge,
        "routers": {
            r.ns: {
                "device": r.name,
                "bridge_port": r.bridge_port,
                "mgmt_if": r.mgmt_if,
                "mgmt_ip": str(r.mgmt_ip),
                "frr_dirs": frr_dirs(r.ns),
            }
            for r in spec.routers
        },
        "links": [[ns[link.a_router], link.a_if, ns[link.b_router], link.b_if] for link in spec.links],
    }


def of_legacy(record: dict) -> dict:
    """The resources of a record written before resources were recorded (its routers, its bridge)."""
    return {
        "bridge": record["config"]["bridge"],
        "routers": {
            r["ns"]: {
                "device": r["name"],
                "bridge_port": bridge_port(r["ns"]),
                "mgmt_if": r.get("mgmt_if", ""),
                "mgmt_ip": r.get("mgmt_ip", ""),
                "frr_dirs": frr_dirs(r["ns"]),
            }
            for r in record.get("routers", [])
        },
        "links": [],
    }


def resources(record: dict | None) -> dict:
    """The resources of a record (empty when there is none)."""
    if not record:
        return {"bridge": None, "routers": {}, "links": []}
    return record.get("resources") or of_legacy(record)


def _link_key(link) -> frozenset:
    a_ns, a_if, b_ns, b_if = link
    return frozenset({(a_ns, a_if), (b_ns, b_if)})


def merge(old: dict, new: dict) -> dict:
    """Everything in ``old`` or in ``new`` (``new`` wins for a router in both)."""
    keys = {_link_key(link) for link in new["links"]}
    return {
        "bridge": new["bridge"],
        "routers": {**old["routers"], **new["routers"]},
        "links": [*new["links"], *(link for link in old["links"] if _link_key(link) not in keys)],
    }


def stale(recorded: dict, wanted: dict) -> dict:
    """What ``recorded`` holds and a lab of ``wanted`` must not: routers that are not wanted, or
    whose management interface or address changed (rebuilt), and links no cable asks for any more.
    A link of a stale router goes with its namespace and is not listed."""
    routers = {}
    for ns, res in recorded["routers"].items():
        want = wanted["routers"].get(ns)
        if want is None or (want["mgmt_if"], want["mgmt_ip"]) != (res.get("mgmt_if"), res.get("mgmt_ip")):
            routers[ns] = res
    keys = {_link_key(link) for link in wanted["links"]}
    links = [
        link
        for link in recorded["links"]
        if _link_key(link) not in keys and link[0] not in routers and link[2] not in routers
    ]
    return {"bridge": None, "routers": routers, "links": links}


def checked_dirs(res: dict, ns: str) -> list[Path]:
    """A recorded router's FRR directories, each only if it is FRR's directory of ``ns``."""
    allowed = {Path(d) for d in frr_dirs(ns)} if SAFE_NAME.match(ns) else set()
    return [Path(d) for d in res.get("frr_dirs", []) if Path(d) in allowed]
