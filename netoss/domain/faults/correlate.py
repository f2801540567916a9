"""Which alarms are one problem, and which of them is its root cause: pure logic over the
active alarms, the roots of open tickets and the :class:`~netoss.domain.faults.topology.Topology`.

- A device that cannot be reached is the root cause of every alarm that involves it: its
  own, and those of the links and sessions it is an end of.
- Otherwise alarms on one link (interface down at either end, OSPF adjacencies on it, BGP
  and BFD sessions whose peer address is in the link's subnet) are one problem, whose root
  cause is the interface alarm raised first (else an OSPF or BFD alarm, else a BGP one).
- Both ends of a session not riding on a link (iBGP between loopbacks) are one problem.
- Anything else is a problem of its own.

A root cause keeps its place. The caller passes the root alarms of the open tickets as
*anchors*, cleared or not: an anchor stays the root of its problem, ahead of any alarm of the
same rank, so neither a later alarm of the problem nor a symptom left active after the root
cleared (the carrier came back, the OSPF adjacency is not Full yet) takes its place. Only a
more fundamental alarm does (an interface alarm over a session's, an unreachable device over
a link). A cleared unreachable device is the root only of what was raised before it cleared.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from netoss.domain.faults.topology import Service, Topology, link_name

RANK = {"device": 0, "interface": 1, "ospf_adjacency": 2, "bfd_session": 2, "bgp_session": 3}
# A quality-of-service alarm (a threshold crossed: loss, latency, utilisation) says how an object
# performs, not that it failed: a failure of the same object explains it.
QOS = "qualityOfServiceAlarm"


def rank(alarm) -> float:
    """How fundamental ``alarm`` is (lower: more): its object's rank, a QoS alarm just after the
    failures of the same rank."""
    return RANK.get(alarm.object_type, 4) + (0.5 if getattr(alarm, "alarm_type", None) == QOS else 0)


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


def _utc(t: dt.datetime | None) -> dt.datetime | None:
    return t.replace(tzinfo=dt.UTC) if t is not None and t.tzinfo is None else t


def _order(alarm, anchors: frozenset[int] | set[int] = frozenset()) -> tuple:
    """Most fundamental first: by rank, an anchor (a ticket's root) before the others of its
    rank, then the first raised."""
    raised = _utc(alarm.raised_at) or dt.datetime.max.replace(tzinfo=dt.UTC)
    return (rank(alarm), alarm.id not in anchors, raised, alarm.id or 0)


def more_fundamental(alarm, than) -> bool:
    """Whether ``alarm`` is of a lower rank than ``than`` (it may explain it: an unreachable
    device explains an interface, an interface a session, a link down the loss on it)."""
    return rank(alarm) < rank(than)


def _covers(root, alarm, unreachable: set[str]) -> bool:
    """Whether the unreachable device ``root`` explains ``alarm``: it is still active, its
    device is unreachable again (``unreachable``: devices with an active device-unreachable
    alarm), or ``alarm`` was raised before it cleared (once the device answers again, what goes
    wrong on it next is a problem of its own)."""
    if getattr(root, "active_key", True) is not None or root.device in unreachable:
        return True
    cleared, raised = _utc(getattr(root, "cleared_at", None)), _utc(alarm.raised_at)
    return cleared is None or raised is None or raised <= cleared


def correlate(alarms: list, topo: Topology, anchors: set[int] | frozenset[int] = frozenset()) -> dict[int, Verdict]:
    """A verdict for every alarm of ``alarms`` (each with an ``id``): the active alarms and the
    root alarms of the open tickets (``anchors``: their ids), which keep their place as root
    cause against anything but a more fundamental alarm."""
    anchors = frozenset(anchors)
    groups = {a.id: group_of(a, topo) for a in alarms}
    verdicts: dict[int, Verdict] = {}
    # Unreachable devices first: each is the root cause of what involves it.
    device_roots: dict[str, object] = {}
    unreachable: set[str] = set()
    for a in sorted(alarms, key=lambda a: _order(a, anchors)):
        if a.object_type == "device" and a.condition == "device-unreachable":
            device_roots.setdefault(a.device, a)
            if getattr(a, "active_key", True) is not None:
                unreachable.add(a.device)
    rest = []
    for a in alarms:
        root = None
        if a.object_type != "device":  # its own device first, then the others it involves
            devices = [a.device, *sorted(groups[a.id].devices - {a.device})]
            root = next(
                (device_roots[d] for d in devices if d in device_roots and _covers(device_roots[d], a, unreachable)),
                None,
            )
        if root is not None:
            verdicts[a.id] = Verdict(False, root.id, groups[root.id].key, groups[root.id].services)
        else:
            rest.append(a)
    by_key: dict[str, list] = {}
    for a in rest:
        by_key.setdefault(groups[a.id].key, []).append(a)
    for key, members in by_key.items():
        members.sort(key=lambda a: _order(a, anchors))
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
