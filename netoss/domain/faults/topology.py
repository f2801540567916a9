"""The network as fault correlation sees it, from NetBox: links, sessions and customer services.

Built from NetBox REST records (devices, interfaces, IP addresses, circuits) by
:meth:`Topology.from_records`; :func:`fetch` reads them. Pure lookups after that:

- the link an interface is on (cable, or access circuit: the far end is NetBox's traced
  ``connected_endpoints``), named ``link pe1:eth3 ce1:eth1``;
- the interface a session to a peer address rides on (the interface whose subnet holds it);
- the device an address belongs to, so both ends of a session are one problem;
- the interface of a device that has an SNMP ifIndex (each device's index table: the custom
  field ``netoss_ifindex`` of its interfaces), for traps that name the interface by index only;
- the customer services (circuits, with their tenant) on an interface, a link or a device.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

Endpoint = tuple[str, str]  # (device, interface)
IFINDEX_FIELD = "netoss_ifindex"  # custom field of dcim.interface: the interface's SNMP ifIndex


@dataclass(frozen=True)
class Service:
    id: int
    name: str  # the circuit ID
    tenant: str | None
    status: str | None

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "type": "circuit", "tenant": self.tenant, "status": self.status}


@dataclass
class Interface:
    device: str
    name: str
    id: int
    enabled: bool
    peer: Endpoint | None = None
    circuit: int | None = None  # the circuit this interface's cable reaches
    networks: list = field(default_factory=list)  # ip_network of its addresses (not /32)
    if_index: int | None = None  # its SNMP ifIndex on the device, when NetBox knows it


def _value(v):
    return v.get("value") if isinstance(v, dict) else v


class Topology:
    def __init__(self):
        self.devices: dict[str, dict] = {}
        self.device_by_id: dict[int, str] = {}
        self.interfaces: dict[Endpoint, Interface] = {}
        self.interface_by_id: dict[int, Interface] = {}
        self.by_device: dict[str, list[Interface]] = {}
        self.by_address: dict[ipaddress.IPv4Address | ipaddress.IPv6Address, Endpoint] = {}
        self.by_if_index: dict[tuple[str, int], Interface] = {}  # (device, ifIndex): each device's table
        self.services: dict[int, Service] = {}
        # What NetBox's change log says was deleted lately (netoss.domain.faults.gone), and when this
        # topology was read (None: not read from NetBox, as in unit tests).
        self.removed: dict[tuple, object] = {}
        self.read_at = None

    @classmethod
    def from_records(cls, devices, interfaces, ip_addresses, circuits) -> Topology:
        t = cls()
        for d in devices:
            if d.get("name"):
                t.devices[d["name"]] = d
                t.device_by_id[d["id"]] = d["name"]
        for c in circuits:
            tenant = (c.get("tenant") or {}).get("name")
            t.services[c["id"]] = Service(c["id"], c["cid"], tenant, _value(c.get("status")))
        for i in interfaces:
            device = (i.get("device") or {}).get("name")
            if not device:
                continue
            intf = Interface(device, i["name"], i["id"], bool(i.get("enabled", True)))
            index = (i.get("custom_fields") or {}).get(IFINDEX_FIELD)
            if isinstance(index, int) and not isinstance(index, bool):
                intf.if_index = index
                t.by_if_index[(device, index)] = intf
            ends = i.get("connected_endpoints") or []
            if i.get("connected_endpoints_type") == "dcim.interface" and len(ends) == 1:
                intf.peer = (ends[0]["device"]["name"], ends[0]["name"])
            if i.get("link_peers_type") == "circuits.circuittermination":
                for peer in i.get("link_peers") or []:
                    circuit = (peer.get("circuit") or {}).get("id")
                    if circuit is not None:
                        intf.circuit = circuit
            t.interfaces[(device, intf.name)] = intf
            t.interface_by_id[intf.id] = intf
            t.by_device.setdefault(device, []).append(intf)
        for a in ip_addresses:
            if a.get("assigned_object_type") != "dcim.interface":
                continue
            intf = t.interface_by_id.get(a.get("assigned_object_id"))
            if intf is None:
                continue
            address = ipaddress.ip_interface(a["address"])
            t.by_address[address.ip] = (intf.device, intf.name)
            if address.network.prefixlen < address.max_prefixlen:
                intf.networks.append(address.network)
        return t

    # -- lookups --------------------------------------------------------------------------

    def has_device(self, name: str) -> bool:
        return name in self.devices

    def device_id(self, name: str) -> int | None:
        d = self.devices.get(name)
        return d["id"] if d else None

    def device_of_address(self, address: str) -> str | None:
        """The device that has ``address`` on one of its interfaces (its management one too)."""
        try:
            found = self.by_address.get(ipaddress.ip_address(address))
        except ValueError:
            return None
        return found[0] if found else None

    def interface(self, device: str, name: str) -> Interface | None:
        return self.interfaces.get((device, name))

    def interface_by_index(self, device: str, if_index: int) -> Interface | None:
        """The interface of ``device`` whose SNMP ifIndex is ``if_index`` (NetBox's netoss_ifindex)."""
        if not isinstance(if_index, int) or isinstance(if_index, bool):
            return None
        return self.by_if_index.get((device, if_index))

    def interface_to(self, device: str, peer_address: str) -> Interface | None:
        """The interface of ``device`` whose subnet holds ``peer_address`` (the session rides on it)."""
        try:
            ip = ipaddress.ip_address(peer_address)
        except ValueError:
            return None
        for intf in self.by_device.get(device, []):
            if any(ip in net for net in intf.networks):
                return intf
        return None

    def link(self, device: str, interface: str) -> tuple[Endpoint, Endpoint] | None:
        """Both ends of the link ``device:interface`` is on, sorted; None when unconnected."""
        intf = self.interfaces.get((device, interface))
        if intf is None or intf.peer is None:
            return None
        return tuple(sorted([(device, interface), intf.peer]))  # type: ignore[return-value]

    def link_services(self, device: str, interface: str) -> list[Service]:
        """The circuits on the link of ``device:interface`` (either end's cable may reach one)."""
        found = {}
        ends = self.link(device, interface) or ((device, interface),)
        for end in ends:
            intf = self.interfaces.get(end)
            if intf is not None and intf.circuit in self.services:
                found[intf.circuit] = self.services[intf.circuit]
        return sorted(found.values(), key=lambda s: s.name)

    def device_services(self, device: str) -> list[Service]:
        found = {}
        for intf in self.by_device.get(device, []):
            for s in self.link_services(device, intf.name):
                found[s.id] = s
        return sorted(found.values(), key=lambda s: s.name)


def link_name(link: tuple[Endpoint, Endpoint]) -> str:
    (a, ai), (b, bi) = link
    return f"link {a}:{ai} {b}:{bi}"


ENDPOINTS = {
    "devices": "dcim/devices",
    "interfaces": "dcim/interfaces",
    "ip_addresses": "ipam/ip-addresses",
    "circuits": "circuits/circuits",
}
# The fields :meth:`Topology.from_records` reads, and a device's primary IPv4 (the address its
# traps come from, which bench_faults reads): NetBox serialises nothing else (a device's whole
# record costs it many times these; at fleet size that is minutes per read).
FIELDS = {
    "devices": "id,name,primary_ip4",
    "interfaces": "id,name,device,enabled,custom_fields,connected_endpoints,connected_endpoints_type,"
    "link_peers,link_peers_type",
    "ip_addresses": "id,address,assigned_object_type,assigned_object_id",
    "circuits": "id,cid,tenant,status",
}


def fetch(netbox, timeout: float | None = None) -> dict[str, list]:
    """Every record :meth:`Topology.from_records` needs, through NetBox's REST API (``netbox``:
    a netoss.data.netbox.NetBox), every page, only the fields it reads."""
    return {
        key: netbox.get_all(path, {"limit": 1000, "fields": FIELDS[key]}, timeout=timeout)
        for key, path in ENDPOINTS.items()
    }


def newest_change(netbox, timeout: float | None = 30) -> tuple | None:
    """NetBox's newest change log entry as (id, time), () when the log is empty; None when it
    cannot be read (the token may not read it): then every refresh reads the topology."""
    try:
        body = netbox.get("core/object-changes", {"ordering": "-id", "limit": 1, "fields": "id,time"}, timeout=timeout)
    except Exception:
        return None
    results = body.get("results") if isinstance(body, dict) else None
    if not isinstance(results, list):
        return None
    return (results[0].get("id"), results[0].get("time")) if results else ()
