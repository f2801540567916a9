# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""FRR's operational state as data: interfaces, OSPF neighbours, BGP sessions and routes.

Each parser takes the text of one vtysh `show ... json` command (FRR 8.4) and returns a
list of plain dicts with stable keys, so push verification, health checks and tests all
read the same shape. They are pure functions: unit-tested on output captured from real
routers of the lab.
"""

from __future__ import annotations

import json

COMMANDS = {
    "interfaces": "show interface json",
    "ospf": "show ip ospf neighbor json",
    "bgp": "show bgp vrf all summary json",
    "routes": "show ip route json",
}


class StateError(ValueError):
    """The router's answer is not the JSON FRR gives for that command."""


def _load(text, command):
    try:
        data = json.loads(text or "{}")
    except ValueError:
        raise StateError("%s: the router did not answer JSON: %s" % (command, (text or "").strip()[:200])) from None
    if not isinstance(data, dict):
        raise StateError("%s: expected a JSON object, got %s" % (command, type(data).__name__))
    return data


def parse_interfaces(text):
    """`show interface json` -> [{name, admin_up, oper_up, mtu, addresses}], by name."""
    data = _load(text, COMMANDS["interfaces"])
    out = []
    for name, intf in sorted(data.items()):
        out.append(
            {
                "name": name,
                "admin_up": intf.get("administrativeStatus") == "up",
                "oper_up": intf.get("operationalStatus") == "up",
                "mtu": intf.get("mtu"),
                "addresses": [
                    a["address"] for a in intf.get("ipAddresses", []) if not a["address"].startswith("fe80:")
                ],
            }
        )
    return out


def parse_ospf_neighbors(text):
    """`show ip ospf neighbor json` -> [{neighbor_id, state, full, address, interface}]."""
    data = _load(text, COMMANDS["ospf"])
    out = []
    for neighbor_id, entries in sorted((data.get("neighbors") or {}).items()):
        for n in entries:
            state = n.get("nbrState") or n.get("state") or ""
            out.append(
                {
                    "neighbor_id": neighbor_id,
                    "state": state,
                    "full": state.startswith("Full"),
                    "address": n.get("ifaceAddress") or n.get("address"),
                    "interface": (n.get("ifaceName") or "").split(":")[0],
                }
            )
    return out


def parse_bgp_summary(text):
    """`show bgp [vrf all] summary json` -> [{vrf, afi_safi, neighbor, remote_as, state, established,
    prefixes_received, uptime, uptime_msec}].

    Accepts both shapes: one address family per key (`show bgp summary json`) and the same
    keyed by VRF first (`show bgp vrf all summary json`).
    """
    data = _load(text, COMMANDS["bgp"])
    by_vrf = {"default": data}
    if data and all(isinstance(v, dict) and not ("peers" in v or "routerId" in v) for v in data.values()):
        by_vrf = data  # vrf all: {vrf: {afi_safi: {...}}}
    out = []
    for vrf, families in sorted(by_vrf.items()):
        for afi_safi, summary in sorted((families or {}).items()):
            if not isinstance(summary, dict):
                continue
            for neighbor, peer in sorted((summary.get("peers") or {}).items()):
                out.append(
                    {
                        "vrf": summary.get("vrfName") or vrf,
                        "afi_safi": afi_safi,
                        "neighbor": neighbor,
                        "remote_as": peer.get("remoteAs"),
                        "state": peer.get("state"),
                        "established": peer.get("state") == "Established",
                        "prefixes_received": peer.get("pfxRcd", 0) if peer.get("state") == "Established" else 0,
                        "uptime": peer.get("peerUptime"),
                        "uptime_msec": peer.get("peerUptimeMsec"),
                    }
                )
    return out


def session_state(state):
    """A BGP session's state as people read it: FRR's "Idle (PfxCt)" says why."""
    if "PfxCt" in (state or ""):
        return "%s (it sent more prefixes than its maximum-prefix allows)" % state
    return state


def parse_routes(text):
    """`show ip route json` -> [{prefix, protocol, interfaces}]: the routes the router selected
    (one per prefix), with the interfaces of their next hops, by prefix."""
    data = _load(text, COMMANDS["routes"])
    out = []
    for prefix, entries in sorted(data.items()):
        for entry in entries if isinstance(entries, list) else []:
            if not entry.get("selected"):
                continue
            hops = entry.get("nexthops") or []
            out.append(
                {
                    "prefix": prefix,
                    "protocol": entry.get("protocol"),
                    "interfaces": sorted({h["interfaceName"] for h in hops if h.get("interfaceName")}),
                }
            )
            break
    return out


PARSERS = {
    "interfaces": parse_interfaces,
    "ospf": parse_ospf_neighbors,
    "bgp": parse_bgp_summary,
    "routes": parse_routes,
}
