"""snmp_exporter's configuration (snmp.yml, the format of prometheus-snmp-exporter 0.21):
what is walked on each device and how it becomes metrics, written here rather than generated
from MIB files (Debian ships none, for licensing reasons, and the OIDs are few and standard).

Groups of objects, each a standard MIB's:

- ``interfaces``: IF-MIB ifTable/ifXTable: octets (64-bit), errors, discards, oper and admin
  status, speed; each labelled ``interface`` with the interface's ifName (what NetBox calls it).
- ``system``: sysUpTime.
- ``bgp``: BGP4-MIB bgpPeerTable: state, remote AS, established time, updates; ``peer``.
- ``bgp_routes``: BGP4-MIB bgp4PathAttrTable, one series per route (``peer``, ``prefix``):
  Prometheus counts them per session (the prefixes received). Fine for an access router; a
  full table would be a million series, so it is asked only of the platforms the policy names.

A module per platform (``netoss-<platform>``, and ``netoss-default``) walks the groups the
assurance policy gives that platform; snmp_exporter 0.21 takes one module per target.
"""

from __future__ import annotations

IF_INDEX = [{"labelname": "ifIndex", "type": "gauge"}]
IF_NAME = "1.3.6.1.2.1.31.1.1.1.1"
# The interface's name (ifName) as label ``interface``, in place of its index.
IF_LOOKUP = [{"labels": ["ifIndex"], "labelname": "interface", "oid": IF_NAME, "type": "DisplayString"}]
PEER_INDEX = [{"labelname": "peer", "type": "InetAddressIPv4"}]
ROUTE_INDEX = [
    {"labelname": "prefix", "type": "InetAddressIPv4"},
    {"labelname": "prefix_length", "type": "gauge"},
    {"labelname": "peer", "type": "InetAddressIPv4"},
]


def _column(name: str, oid: str, kind: str, helptext: str, indexes=IF_INDEX, lookups=IF_LOOKUP) -> dict:
    return {"name": name, "oid": oid, "type": kind, "help": helptext, "indexes": indexes, "lookups": lookups}


# group -> (OIDs walked, OIDs got, metrics)
GROUPS: dict[str, tuple[list[str], list[str], list[dict]]] = {
    "interfaces": (
        [
            IF_NAME,
            "1.3.6.1.2.1.2.2.1.7",  # ifAdminStatus
            "1.3.6.1.2.1.2.2.1.8",  # ifOperStatus
            "1.3.6.1.2.1.2.2.1.13",  # ifInDiscards
            "1.3.6.1.2.1.2.2.1.14",  # ifInErrors
            "1.3.6.1.2.1.2.2.1.19",  # ifOutDiscards
            "1.3.6.1.2.1.2.2.1.20",  # ifOutErrors
            "1.3.6.1.2.1.31.1.1.1.6",  # ifHCInOctets
            "1.3.6.1.2.1.31.1.1.1.10",  # ifHCOutOctets
            "1.3.6.1.2.1.31.1.1.1.15",  # ifHighSpeed
        ],
        [],
        [
            _column("ifAdminStatus", "1.3.6.1.2.1.2.2.1.7", "gauge", "1 up, 2 down, 3 testing (IF-MIB)"),
            _column("ifOperStatus", "1.3.6.1.2.1.2.2.1.8", "gauge", "1 up, 2 down, 3 testing, ... (IF-MIB)"),
            _column("ifInDiscards", "1.3.6.1.2.1.2.2.1.13", "counter", "Inbound packets discarded (IF-MIB)"),
            _column("ifInErrors", "1.3.6.1.2.1.2.2.1.14", "counter", "Inbound packets with errors (IF-MIB)"),
            _column("ifOutDiscards", "1.3.6.1.2.1.2.2.1.19", "counter", "Outbound packets discarded (IF-MIB)"),
            _column("ifOutErrors", "1.3.6.1.2.1.2.2.1.20", "counter", "Outbound packets with errors (IF-MIB)"),
            _column("ifHCInOctets", "1.3.6.1.2.1.31.1.1.1.6", "counter", "Octets received (IF-MIB, 64-bit)"),
            _column("ifHCOutOctets", "1.3.6.1.2.1.31.1.1.1.10", "counter", "Octets sent (IF-MIB, 64-bit)"),
            _column("ifHighSpeed", "1.3.6.1.2.1.31.1.1.1.15", "gauge", "The interface's speed in Mbit/s (IF-MIB)"),
        ],
    ),
    "system": (
        [],
        ["1.3.6.1.2.1.1.3.0"],
        [
            {
                "name": "sysUpTime",
                "oid": "1.3.6.1.2.1.1.3",
                "type": "gauge",
                "help": "Hundredths of a second since the agent started (SNMPv2-MIB)",
            }
        ],
    ),
    "bgp": (
        [
            "1.3.6.1.2.1.15.3.1.2",  # bgpPeerState
            "1.3.6.1.2.1.15.3.1.9",  # bgpPeerRemoteAs
            "1.3.6.1.2.1.15.3.1.10",  # bgpPeerInUpdates
            "1.3.6.1.2.1.15.3.1.16",  # bgpPeerFsmEstablishedTime
        ],
        [],
        [
            _column(
                "bgpPeerState",
                "1.3.6.1.2.1.15.3.1.2",
                "gauge",
                "1 idle, 2 connect, 3 active, 4 opensent, 5 openconfirm, 6 established (BGP4-MIB)",
                PEER_INDEX,
                [],
            ),
            _column("bgpPeerRemoteAs", "1.3.6.1.2.1.15.3.1.9", "gauge", "The peer's AS (BGP4-MIB)", PEER_INDEX, []),
            _column(
                "bgpPeerInUpdates", "1.3.6.1.2.1.15.3.1.10", "counter", "UPDATEs received (BGP4-MIB)", PEER_INDEX, []
            ),
            _column(
                "bgpPeerFsmEstablishedTime",
                "1.3.6.1.2.1.15.3.1.16",
                "gauge",
                "Seconds in or since the last Established state (BGP4-MIB)",
                PEER_INDEX,
                [],
            ),
        ],
    ),
    "bgp_routes": (
        ["1.3.6.1.2.1.15.6.1.13"],  # bgp4PathAttrBest
        [],
        [
            _column(
                "bgp4PathAttrBest",
                "1.3.6.1.2.1.15.6.1.13",
                "gauge",
                "A route received from the peer: 1 not best, 2 best (BGP4-MIB)",
                ROUTE_INDEX,
                [],
            )
        ],
    ),
}


class SnmpConfigError(ValueError):
    pass


def module(groups: list[str], community: str, timeout_s: float = 5, retries: int = 2) -> dict:
    """One snmp_exporter module walking ``groups`` (names of GROUPS) with SNMPv2c ``community``."""
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        raise SnmpConfigError(f"unknown SNMP group {unknown[0]!r}: one of {', '.join(GROUPS)}")
    if not community:
        raise SnmpConfigError("no SNMP community: the devices cannot be polled")
    walk, get, metrics = [], [], []
    for g in dict.fromkeys(groups):
        w, gt, m = GROUPS[g]
        walk += w
        get += gt
        metrics += m
    out = {
        "walk": walk,
        "metrics": metrics,
        "version": 2,
        "max_repetitions": 25,
        "retries": retries,
        "timeout": f"{timeout_s:g}s",
        "auth": {"community": community},
    }
    if get:
        out["get"] = get
    return out


def module_name(platform: str | None) -> str:
    return f"netoss-{platform}" if platform else "netoss-default"


def config(groups_by_platform: dict[str, list[str]], default: list[str], community: str) -> dict:
    """snmp.yml: ``netoss-default`` with ``default`` groups, ``netoss-<platform>`` with each
    platform's."""
    out = {module_name(None): module(default, community)}
    for platform, groups in sorted(groups_by_platform.items()):
        out[module_name(platform)] = module(groups, community)
    return out
