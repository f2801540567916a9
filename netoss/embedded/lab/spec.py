"""What the lab is: routers, links and the management bridge, derived from NetBox alone.

Pure functions over NetBox REST records (dicts), so the derivation is unit-tested without
any namespace. `netoss lab up` reads the records (see netbox.py) and builds this spec.

Only devices of platform ``frr`` are the lab's, and only they are held to its limits (Linux
names for the interfaces it creates, one management subnet). A device the lab cannot build
is left out and listed in ``skipped`` with the reason; the others are built.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections import Counter
from dataclasses import dataclass, field

from ansible_collections.netoss.core.plugins.module_utils import lab_netns
from ansible_collections.netoss.core.plugins.module_utils.config_values import PATTERNS
from ansible_collections.netoss.core.plugins.module_utils.lab_netns import LabError

LAB_PLATFORM = "frr"
IFNAMSIZ = lab_netns.NAME_MAX  # Linux interface and (by our rule) namespace names
_HOSTNAME = PATTERNS["hostname"][0]


@dataclass(frozen=True)
class LabConfig:
    """Names that keep two labs (the `make up` one and a test run's) apart on one machine."""

    ns_prefix: str = ""
    bridge: str = "netoss-br0"
    user: str = "netops"  # the SSH account whose session is vtysh
    # A twin's management subnet: each router keeps its place in NetBox's management subnet
    # (its host number) in this one, so a twin of the lab runs beside it. Empty: NetBox's.
    mgmt_subnet: str = ""

    def __post_init__(self):
        if len(self.bridge) > IFNAMSIZ:
            raise LabError(f"bridge name {self.bridge!r} is longer than {IFNAMSIZ} characters")
        if not lab_netns.PREFIX.match(self.ns_prefix):
            raise LabError(f"namespace prefix {self.ns_prefix!r} is not up to 6 of a-z 0-9 -")
        if self.mgmt_subnet:
            try:
                net = ipaddress.IPv4Network(self.mgmt_subnet)
            except ValueError as exc:
                raise LabError(f"management subnet {self.mgmt_subnet!r} is not an IPv4 network: {exc}") from None
            if net.num_addresses < 4:
                raise LabError(f"management subnet {self.mgmt_subnet} is too small")


def namespace_name(config: LabConfig, device: str) -> str:
    """The network namespace of a device in this lab (lab_netns.namespace_name)."""
    return lab_netns.namespace_name(config.ns_prefix, device)


@dataclass
class Router:
    name: str  # the NetBox device
    ns: str  # its network namespace (namespace_name)
    mgmt_if: str  # the interface holding the primary IP, inside the namespace
    mgmt_ip: ipaddress.IPv4Interface
    interfaces: list[str] = field(default_factory=list)  # cabled interfaces, inside the namespace
    # The router's system hostname (FRR takes it, syslog carries it): the device's name when
    # it can be a configuration's hostname, else the namespace's name.
    hostname: str = ""

    def __post_init__(self):
        if not self.hostname:
            self.hostname = self.name if _HOSTNAME.fullmatch(self.name) else self.ns

    @property
    def bridge_port(self) -> str:
        """Root-namespace end of the management veth (short, unique, stable)."""
        return bridge_port(self.ns)


def bridge_port(ns: str) -> str:
    """The root-namespace end of namespace ``ns``'s management veth."""
    return "nm" + hashlib.sha256(ns.encode()).hexdigest()[:10]


@dataclass(frozen=True)
class Link:
    a_router: str
    a_if: str
    b_router: str
    b_if: str


@dataclass
class LabSpec:
    config: LabConfig
    routers: list[Router]
    links: list[Link]
    mgmt_prefix: ipaddress.IPv4Network
    bridge_ip: ipaddress.IPv4Interface  # first address of the management prefix
    skipped: dict[str, str] = field(default_factory=dict)  # device -> why it has no router
    warnings: list[str] = field(default_factory=list)  # built, but not all as NetBox says
    # A twin's: NetBox's management subnet, which its routers' addresses were moved from.
    moved_from: ipaddress.IPv4Network | None = None

    def router(self, name: str) -> Router:
        return next(r for r in self.routers if r.name == name)


def _name(obj) -> str | None:
    return obj.get("name") if isinstance(obj, dict) else obj


def _ifname_problem(name: str, what: str) -> str | None:
    """Why the lab cannot create interface ``name`` in a namespace (None when it can)."""
    if lab_netns.IFNAME.match(name or ""):
        return None
    return f"{what} {name!r} cannot be a Linux interface name in the lab ({lab_netns.IFNAME_ALLOWED})"


def build_spec(devices, ip_addresses, cables, prefixes, config: LabConfig | None = None) -> LabSpec:
    """The lab for every active device of platform FRR that it can build.

    ``devices``, ``ip_addresses``, ``cables`` and ``prefixes`` are NetBox REST records (dicts).
    A device the lab cannot build is left out and listed in ``skipped`` with the reason, and
    its cables with it; the others are built. That is: no primary IPv4 address, or one on no
    interface; an interface it would create (the management one, a cabled one) whose name is
    not a Linux interface name; a name or namespace another device already has; a management
    address outside the lab's management subnet, taken by another router, or the bridge's.
    Raises LabError only for the lab as a whole: no router at all, or the routers' management
    addresses split evenly across subnets (no subnet for the bridge).
    """
    config = config or LabConfig()
    routers: dict[str, Router] = {}
    skipped: dict[str, str] = {}
    namespaces: dict[str, str] = {}  # ns -> device

    def skip(name: str, why: str) -> None:
        skipped[name] = why
        routers.pop(name, None)

    for d in sorted(devices, key=lambda d: (d.get("name") or "", d.get("id") or 0)):
        platform = d.get("platform") or {}
        if platform.get("slug") != LAB_PLATFORM:
            continue
        name = d.get("name")
        if not name:
            continue  # NetBox allows unnamed devices; the lab cannot name a router after one
        if name in routers or name in skipped:
            skipped[f"{name} (id {d.get('id')})"] = f"another device of platform {LAB_PLATFORM} is named {name!r}"
            continue
        ns = namespace_name(config, name)
        if ns in namespaces:
            skipped[name] = f"its namespace name {ns} is that of device {namespaces[ns]}"
            continue
        primary = d.get("primary_ip4")
        if not primary:
            skipped[name] = "no primary IPv4 address in NetBox (it is the management address)"
            continue
        namespaces[ns] = name
        routers[name] = Router(name=name, ns=ns, mgmt_if="", mgmt_ip=ipaddress.ip_interface(primary["address"]))

    # The management interface is the one NetBox assigns the primary IP to.
    by_id = {ip["id"]: ip for ip in ip_addresses}
    for d in devices:
        router = routers.get(d.get("name"))
        if router is None or (d.get("primary_ip4") or {}).get("address") != str(router.mgmt_ip):
            continue
        assigned = (by_id.get(d["primary_ip4"]["id"]) or {}).get("assigned_object") or {}
        problem = _ifname_problem(assigned.get("name"), "its management interface")
        if not assigned.get("name"):
            skip(router.name, f"its primary IP {router.mgmt_ip} is not assigned to an interface")
        elif problem:
            skip(router.name, problem)
        else:
            router.mgmt_if = assigned["name"]

    candidates = []
    circuit_ends: dict[str, dict[str, tuple[str, str]]] = {}  # cid -> side -> (device, interface)
    for c in sorted(cables, key=lambda c: c["id"]):
        ends = []
        for side in ("a_terminations", "b_terminations"):
            terms = c.get(side) or []
            obj = (terms[0].get("object") or {}) if terms else {}
            kind = terms[0].get("object_type") if terms else None
            if kind == "circuits.circuittermination":
                ends.append(("circuit", (obj.get("circuit") or {}).get("cid"), obj.get("term_side")))
            else:
                ends.append((_name(obj.get("device")), obj.get("name"), kind))
        (a_dev, a_if, a_type), (b_dev, b_if, b_type) = ends
        # A circuit is two cables, device to termination A and termination Z to device: one link.
        if a_dev == "circuit" and b_type == "dcim.interface":
            circuit_ends.setdefault(a_if, {})[a_type] = (b_dev, b_if)
            continue
        if b_dev == "circuit" and a_type == "dcim.interface":
            circuit_ends.setdefault(b_if, {})[b_type] = (a_dev, a_if)
            continue
        if a_type != "dcim.interface" or b_type != "dcim.interface":
            continue
        candidates.append(Link(a_dev, a_if, b_dev, b_if))
    for _cid, sides in sorted(circuit_ends.items()):
        if set(sides) != {"A", "Z"}:
            continue  # a circuit with one end cabled: nothing to connect yet
        (a_dev, a_if), (b_dev, b_if) = sides["A"], sides["Z"]
        candidates.append(Link(a_dev, a_if, b_dev, b_if))
    # A cable to something that is not a lab router is not part of the lab. A cabled interface
    # the lab cannot create leaves its router out (its links with it).
    for link in candidates:
        for dev, intf in ((link.a_router, link.a_if), (link.b_router, link.b_if)):
            if dev in routers and (problem := _ifname_problem(intf, "its cabled interface")):
                skip(dev, problem)

    mgmt_prefix = _management_prefix(routers, prefixes, skip)
    if not routers:
        why = "".join(f"\n  {name}: {reason}" for name, reason in sorted(skipped.items()))
        raise LabError(f"NetBox has no device of platform {LAB_PLATFORM!r} the lab can build: nothing to build{why}")
    moved_from = None
    if config.mgmt_subnet:
        moved_from = mgmt_prefix
        mgmt_prefix = _moved(routers, mgmt_prefix, ipaddress.IPv4Network(config.mgmt_subnet))
    bridge_ip = ipaddress.ip_interface(f"{next(mgmt_prefix.hosts())}/{mgmt_prefix.prefixlen}")
    owners: dict[ipaddress.IPv4Address, str] = {}
    for r in list(routers.values()):
        if r.mgmt_ip.ip == bridge_ip.ip:
            skip(
                r.name,
                f"its primary IP {r.mgmt_ip} is the management bridge's address "
                f"(the first address of {mgmt_prefix} is kept for the bridge)",
            )
        elif r.mgmt_ip.ip in owners:
            skip(r.name, f"its primary IP {r.mgmt_ip} is also device {owners[r.mgmt_ip.ip]}'s")
        else:
            owners[r.mgmt_ip.ip] = r.name

    links = []
    for link in candidates:
        if link.a_router in routers and link.b_router in routers:
            links.append(link)
            routers[link.a_router].interfaces.append(link.a_if)
            routers[link.b_router].interfaces.append(link.b_if)
    for r in routers.values():
        r.interfaces.sort(key=_natural)
    return LabSpec(
        config,
        list(routers.values()),
        links,
        mgmt_prefix,
        bridge_ip,
        skipped,
        _loopbacks(routers, ip_addresses),
        moved_from,
    )


def _loopbacks(routers: dict[str, Router], ip_addresses) -> list[str]:
    """A router's loopback addresses must be on `lo`, the one loopback its namespace has: an
    address of role loopback on another interface (Loopback0, lo1) is configured by its
    template but has no interface to live on in the lab."""
    out = []
    for ip in sorted(ip_addresses, key=lambda ip: ip["id"]):
        role = ip.get("role")
        assigned = ip.get("assigned_object") or {}
        device = _name(assigned.get("device"))
        if (role.get("value") if isinstance(role, dict) else role) != "loopback" or device not in routers:
            continue
        if assigned.get("name") != "lo":
            out.append(
                f"{device}: its loopback address {ip['address']} is on {assigned.get('name')!r}, which a lab "
                "router does not have (its loopback is `lo`): that address is not reachable in the lab"
            )
    return out


def _management_prefix(routers: dict[str, Router], prefixes, skip) -> ipaddress.IPv4Network | None:
    """The lab's management subnet: that of most routers' management addresses (the routers
    outside it are skipped: the bridge cannot reach them). LabError when no subnet has more
    routers than every other. ``prefixes`` (NetBox's) are not needed: a router's address
    carries its subnet."""
    if not routers:
        return None
    counts = Counter(r.mgmt_ip.network for r in routers.values())
    (best, n), *rest = counts.most_common()
    if rest and rest[0][1] == n:
        raise LabError(
            "the routers' primary IPs are not in one management subnet, and none holds most of them: "
            + ", ".join(f"{r.name} {r.mgmt_ip}" for r in routers.values())
        )
    for r in list(routers.values()):
        if r.mgmt_ip.network != best:
            skip(
                r.name,
                f"its primary IP {r.mgmt_ip} is outside the lab's management subnet {best} "
                f"(that of {n} of {len(routers)} routers)",
            )
    return best


def _moved(
    routers: dict[str, Router], source: ipaddress.IPv4Network, target: ipaddress.IPv4Network
) -> ipaddress.IPv4Network:
    """Move every router's management address from ``source`` (NetBox's subnet) to ``target``
    (a twin's), keeping its host number; the new management prefix. LabError when ``target``
    is smaller than ``source`` or overlaps it (the twin would answer for the lab's routers)."""
    if target.overlaps(source):
        raise LabError(f"the twin's management subnet {target} overlaps the lab's, {source}")
    if target.num_addresses < source.num_addresses:
        raise LabError(
            f"the twin's management subnet {target} is smaller than the lab's, {source}: give a /{source.prefixlen} "
            "or larger"
        )
    for r in routers.values():
        offset = int(r.mgmt_ip.ip) - int(source.network_address)
        r.mgmt_ip = ipaddress.ip_interface(f"{target.network_address + offset}/{target.prefixlen}")
    return target


def _natural(name: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]
