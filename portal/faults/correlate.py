"""Which alarms are one problem, and which of them is its root cause: pure logic over the
active alarms and the :class:`~portal.faults.topology.Topology`.

- A device that cannot be reached is the root cause of every alarm that involves it: its
  own, and those of the links and sessions it is an end of.
- Otherwise alarms on one link (interface down at either end, OSPF adjacencies on it, BGP
  and BFD sessions whose peer address is in the link's subnet) are one problem, whose root
  cause is the interface alarm raised first (else an OSPF or BFD alarm, else a BGP one).
- Both ends of a session not riding on a link (iBGP between loopbacks) are one problem.
- Anything else is a problem of its own.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from .topology import Service, Topology, link_name

RANK = {"device": 0, "interface": 1, "ospf_adjacency": 2, "bfd_session": 2, "bgp_session": 3}


@dataclass
class Group:
    key: str  # what makes it one problem: "link pe1:eth3 ce1:eth1", "device pe1", ...
    devices: frozenset[str]  # the devices it involves
    services: list[Service] = field(default_factory=list)
    interfaces: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Verdict:
    is_root_cause: bool
    parent_id: int | None
    correlation: str
    services: list[Service]


def group_of(alarm, topo: Topology) -> Group:
    """The problem ``alarm`` (anything with device, object_type, object_name, fingerprint) is part of."""
    device, kind, name = alarm.device, alarm.object_type, alarm.object_name
    if kind == "device":
        return Group(f"device {device}", frozenset([device]), topo.device_services(device))
    interface = None
    if kind in ("interface", "ospf_adjacency"):
        interface = name
    elif kind in ("bgp_session", "bfd_session"):
        intf = topo.interface_to(device, name)
        interface = intf.name if intf else None
        if interface is None:
            peer = topo.device_of_address(name)
            if peer and peer != device:
                pair = sorted([device, peer])
                return Group(f"session {pair[0]} {pair[1]}", frozenset(pair))
    if interface is not None:
        link = topo.link(device, interface)
        if link is not None:
            return Group(
                link_name(link),
                frozenset(d for d, _i in link),
                topo.link_services(device, interface),
                list(link),
            )
        return Group(
            f"interface {device}:{interface}",
            frozenset([device]),
            topo.link_services(device, interface),
            [(device, interface)],
        )
    return Group(alarm.fingerprint, frozenset([device]))


def _order(alarm) -> tuple:
    raised = alarm.raised_at
    if raised is not None and raised.tzinfo is None:
        raised = raised.replace(tzinfo=dt.UTC)
    return (RANK.get(alarm.object_type, 4), raised or dt.datetime.max.replace(tzinfo=dt.UTC), alarm.id or 0)


def correlate(alarms: list, topo: Topology) -> dict[int, Verdict]:
    """A verdict for every active alarm of ``alarms`` (each with an ``id``)."""
    groups = {a.id: group_of(a, topo) for a in alarms}
    verdicts: dict[int, Verdict] = {}
    # Unreachable devices first: each is the root cause of what involves it.
    device_roots: dict[str, object] = {}
    for a in sorted(alarms, key=_order):
        if a.object_type == "device" and a.condition == "device-unreachable" and a.device not in device_roots:
            device_roots[a.device] = a
    rest = []
    for a in alarms:
        g = groups[a.id]
        root = device_roots.get(a.device) if a.object_type != "device" else None
        if root is None and a.object_type != "device":
            root = next((device_roots[d] for d in sorted(g.devices) if d in device_roots), None)
        if root is not None and root is not a:
            verdicts[a.id] = Verdict(False, root.id, groups[root.id].key, groups[root.id].services)
        else:
            rest.append(a)
    by_key: dict[str, list] = {}
    for a in rest:
        by_key.setdefault(groups[a.id].key, []).append(a)
    for key, members in by_key.items():
        members.sort(key=_order)
        root = members[0]
        services = {s.id: s for m in members for s in groups[m.id].services}
        merged = sorted(services.values(), key=lambda s: s.name)
        for m in members:
            verdicts[m.id] = Verdict(m is root, None if m is root else root.id, key, merged)
    # A device root lists the services of everything it took under it.
    for root in device_roots.values():
        services = {s.id: s for s in verdicts[root.id].services}
        for v in verdicts.values():
            if v.parent_id == root.id:
                services.update({s.id: s for s in v.services})
        verdicts[root.id].services = sorted(services.values(), key=lambda s: s.name)
    return verdicts
