"""What the lab is: routers, links and the management bridge, derived from NetBox alone.

Pure functions over NetBox REST records (dicts), so the derivation is unit-tested without
any namespace. `netoss lab up` reads the records (see netbox.py) and builds this spec.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass, field

LAB_PLATFORM = "frr"
IFNAMSIZ = 15  # Linux interface and (by our rule) namespace names


class LabError(RuntimeError):
    """The lab cannot be built as NetBox describes it; the message names the device or cable."""


@dataclass(frozen=True)
class LabConfig:
    """Names that keep two labs (the `make up` one and a test run's) apart on one machine."""

    ns_prefix: str = ""
    bridge: str = "netoss-br0"
    user: str = "netops"  # the SSH account whose session is vtysh

    def __post_init__(self):
        if len(self.bridge) > IFNAMSIZ:
            raise LabError(f"bridge name {self.bridge!r} is longer than {IFNAMSIZ} characters")


@dataclass
class Router:
    name: str  # the NetBox device
    ns: str  # its network namespace
    mgmt_if: str  # the interface holding the primary IP, inside the namespace
    mgmt_ip: ipaddress.IPv4Interface
    interfaces: list[str] = field(default_factory=list)  # cabled interfaces, inside the namespace

    @property
    def bridge_port(self) -> str:
        """Root-namespace end of the management veth (short, unique, stable)."""
        return "nm" + hashlib.sha256(self.ns.encode()).hexdigest()[:10]


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

    def router(self, name: str) -> Router:
        return next(r for r in self.routers if r.name == name)


def _name(obj) -> str | None:
    return obj.get("name") if isinstance(obj, dict) else obj


def build_spec(devices, ip_addresses, cables, prefixes, config: LabConfig | None = None) -> LabSpec:
    """The lab for every active device of platform FRR that has a primary IPv4 address.

    ``devices``, ``ip_addresses``, ``cables`` and ``prefixes`` are NetBox REST records (dicts).
    A device that cannot be reached (no primary IP, or one on no interface) is left out and
    listed in ``skipped`` with the reason; the others are built. Raises LabError naming what
    is wrong with the lab as a whole: management addresses outside one common prefix, a
    namespace name that is too long, no device at all.
    """
    config = config or LabConfig()
    routers: dict[str, Router] = {}
    problems = []
    skipped: dict[str, str] = {}
    for d in sorted(devices, key=lambda d: d["name"]):
        platform = d.get("platform") or {}
        if platform.get("slug") != LAB_PLATFORM:
            continue
        ns = config.ns_prefix + d["name"]
        if len(ns) > IFNAMSIZ:
            problems.append(f"device {d['name']}: namespace name {ns!r} is longer than {IFNAMSIZ} characters")
            continue
        primary = d.get("primary_ip4")
        if not primary:
            skipped[d["name"]] = "no primary IPv4 address in NetBox (it is the management address)"
            continue
        routers[d["name"]] = Router(
            name=d["name"], ns=ns, mgmt_if="", mgmt_ip=ipaddress.ip_interface(primary["address"])
        )

    # The management interface is the one NetBox assigns the primary IP to.
    by_id = {ip["id"]: ip for ip in ip_addresses}
    for d in devices:
        router = routers.get(d["name"])
        if router is None:
            continue
        assigned = (by_id.get(d["primary_ip4"]["id"]) or {}).get("assigned_object") or {}
        if not assigned.get("name"):
            skipped[d["name"]] = f"its primary IP {router.mgmt_ip} is not assigned to an interface"
            del routers[d["name"]]
        elif len(assigned["name"]) > IFNAMSIZ:
            problems.append(f"device {d['name']}: interface name {assigned['name']!r} is too long for Linux")
        else:
            router.mgmt_if = assigned["name"]

    links = []
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
        if a_dev not in routers or b_dev not in routers:
            continue  # a cable to something that is not a lab router: not part of the lab
        links.append(Link(a_dev, a_if, b_dev, b_if))
        routers[a_dev].interfaces.append(a_if)
        routers[b_dev].interfaces.append(b_if)
    for _cid, sides in sorted(circuit_ends.items()):
        if set(sides) != {"A", "Z"}:
            continue  # a circuit with one end cabled: nothing to connect yet
        (a_dev, a_if), (b_dev, b_if) = sides["A"], sides["Z"]
        if a_dev not in routers or b_dev not in routers:
            continue
        links.append(Link(a_dev, a_if, b_dev, b_if))
        routers[a_dev].interfaces.append(a_if)
        routers[b_dev].interfaces.append(b_if)
    for r in routers.values():
        r.interfaces.sort(key=_natural)

    if not routers and not problems:
        raise LabError(f"NetBox has no device of platform {LAB_PLATFORM!r} with a primary IP: nothing to build")
    mgmt_prefix = _management_prefix(list(routers.values()), prefixes, problems)
    if problems:
        raise LabError("the lab cannot be built from NetBox:\n  " + "\n  ".join(problems))
    bridge_ip = ipaddress.ip_interface(f"{next(mgmt_prefix.hosts())}/{mgmt_prefix.prefixlen}")
    for r in routers.values():
        if r.mgmt_ip.ip == bridge_ip.ip:
            raise LabError(
                f"device {r.name}: its primary IP {r.mgmt_ip} is the management bridge's address "
                f"(the first address of {mgmt_prefix} is kept for the bridge)"
            )
    return LabSpec(config, list(routers.values()), links, mgmt_prefix, bridge_ip, skipped)


def _management_prefix(routers: list[Router], prefixes, problems: list[str]) -> ipaddress.IPv4Network | None:
    """The most specific NetBox prefix that holds every router's management address."""
    if not routers:
        return None
    nets = sorted((ipaddress.ip_network(p["prefix"]) for p in prefixes), key=lambda n: -n.prefixlen)
    for net in nets:
        if all(r.mgmt_ip.ip in net for r in routers) and net.prefixlen == routers[0].mgmt_ip.network.prefixlen:
            return net
    subnets = {r.mgmt_ip.network for r in routers}
    if len(subnets) == 1:
        return subnets.pop()  # no prefix recorded in NetBox: the addresses' own subnet
    problems.append(
        "the routers' primary IPs are not in one management subnet: "
        + ", ".join(f"{r.name} {r.mgmt_ip}" for r in routers)
    )
    return None


def _natural(name: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]
