# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stage 1 of rendering: NetBox records -> one device's structured data (vendor-neutral).

The structured data is a plain dict that says *what* a device runs, never *how* a vendor
spells it; per-platform Jinja templates (stage 2, :mod:`config_render`) turn it into CLI.
Everything comes from NetBox alone:

- interfaces, addresses and their peers (the far end of each interface's cable path, through
  a circuit when the interface is cabled to a circuit termination, whose ID is kept);
- the device's ASN: the NetBox ASN whose tenant is the device's tenant, else its site's (a
  customer device, ``netoss.bgp.policy: customer``, only its own tenant's);
- iBGP: devices of the same ASN peer loopback to loopback, through route reflectors when
  any device of that ASN has ``netoss.bgp.route_reflector`` in its config context, else as
  a full mesh;
- eBGP: each interface whose peer device has another ASN; the import policy of a provider
  device accepts the prefixes NetBox gives the customer's tenant, and the provider device
  sends the customer a default route (``default-originate``) and nothing else, or with the
  circuit's ``netoss_announce: default+aggregates`` the provider's aggregates too (NetBox IPAM
  aggregates of its tenant, or of none; each held up by a blackhole route and announced); a
  customer device (``netoss.bgp.policy: customer``) announces only its own tenant's prefixes
  and accepts what its provider sends;
- a circuit made by a service order (custom field ``netoss_service``): its eBGP session on the
  provider side accepts at most ``netoss_max_prefix`` prefixes; a circuit with
  ``netoss_routing: static`` has no BGP: the PE routes the circuit's prefixes to the CE's
  address and announces them, the CE has a default route to the PE;
- OSPF: devices whose config context has ``netoss.ospf.area`` run it on their loopback
  (passive) and on every link to another OSPF device (point-to-point on /31s);
- logging, banner and users from the ``netoss`` key of the config context.

Every NetBox value that a template places in a line (names, descriptions, the customer's
tenant name, circuit IDs, the context's banner, users and syslog servers) is checked against
the strict pattern of its kind (:mod:`config_values`): a value written into NetBox by hand
with a newline or a CLI-special character stops the device with an error naming the NetBox
object and field, so it can never add a line to a pushed configuration.

Pure functions over REST records (dicts), unit-tested on records captured from the demo.
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.netoss.core.plugins.module_utils import config_values
from ansible_collections.netoss.core.plugins.module_utils.netbox_client import read_lists

ROUTING = ("ebgp", "static")
# What a provider device announces to a customer's router over eBGP (the catalog's `announce`).
ANNOUNCE = ("default", "default+aggregates")
DEFAULT_ROUTE = ipaddress.ip_network("0.0.0.0/0")


class DeviceDataError(ValueError):
    """The device's NetBox data cannot make a configuration; the message says what to fix."""


def _netbox_value(check, value, obj, field, *args):
    """``check(value, where, *args)`` with ``where`` naming the NetBox object and field; a
    value that does not fit is a DeviceDataError."""
    try:
        return check(value, "NetBox %s, field %s" % (obj, field), *args)
    except config_values.ConfigValueError as exc:
        raise DeviceDataError(str(exc)) from None


def _shown(name):
    """A record's name fit for an error message (a bad one is the subject of the error)."""
    return name if isinstance(name, str) and len(name) <= 64 and name.isprintable() and " " not in name else "?"


def _device_label(device):
    return "dcim.device %s (id %s)" % (_shown(device.get("name")), device.get("id"))


def _interface_label(device, interface):
    return "dcim.interface %s %s (id %s)" % (
        _shown(device.get("name")),
        _shown(interface.get("name")),
        interface.get("id"),
    )


def _check_context(device, context):
    """The values of the device's config context (key ``netoss``) that templates place in lines."""
    try:
        config_values.check_context(context, "NetBox %s config context, field netoss" % _device_label(device))
    except config_values.ConfigValueError as exc:
        raise DeviceDataError(str(exc)) from None


class Snapshot:
    """The NetBox records rendering reads, indexed once for every device of a run.

    Each argument is a list of NetBox 4.7 REST records (dicts) of that endpoint.
    """

    def __init__(self, devices, interfaces, ip_addresses, asns, sites, prefixes, circuits=(), aggregates=()):
        self.devices = {d["name"]: d for d in devices if d.get("name")}
        self.device_by_id = {d["id"]: d for d in devices}
        self.interfaces = {}
        self.interface_by_id = {}
        for i in interfaces:
            self.interfaces.setdefault(i["device"]["id"], []).append(i)
            self.interface_by_id[i["id"]] = i
        self.addresses = {}
        for a in ip_addresses:
            if a.get("assigned_object_type") == "dcim.interface" and a.get("assigned_object_id"):
                self.addresses.setdefault(a["assigned_object_id"], []).append(a)
        self.asns_by_tenant = {}
        for asn in asns:
            tenant = (asn.get("tenant") or {}).get("id")
            if tenant is not None:
                self.asns_by_tenant.setdefault(tenant, []).append(asn["asn"])
        self.site_by_id = {s["id"]: s for s in sites}
        self.prefixes_by_tenant = {}
        self.prefixes_by_circuit = {}
        for p in prefixes:
            tenant = (p.get("tenant") or {}).get("id")
            if tenant is not None and _status(p) == "active":
                self.prefixes_by_tenant.setdefault(tenant, []).append(ipaddress.ip_network(p["prefix"]))
                cid = (p.get("custom_fields") or {}).get("netoss_circuit")
                if cid:
                    self.prefixes_by_circuit.setdefault(cid, []).append(ipaddress.ip_network(p["prefix"]))
        self.circuits = {c["cid"]: c for c in circuits}
        # The provider's aggregates (IPv4), by tenant id (None: no tenant).
        self.aggregates_by_tenant = {}
        for a in aggregates:
            network = ipaddress.ip_network(a["prefix"])
            if network.version == 4:
                self.aggregates_by_tenant.setdefault((a.get("tenant") or {}).get("id"), []).append(network)

    # -- lookups -------------------------------------------------------------------------

    def device(self, name):
        try:
            return self.devices[name]
        except KeyError:
            raise DeviceDataError("no device %r in NetBox" % name) from None

    def interfaces_of(self, device):
        return sorted(self.interfaces.get(device["id"], []), key=lambda i: natural_key(i["name"]))

    def addresses_of(self, interface):
        return sorted(self.addresses.get(interface["id"], []), key=lambda a: ipaddress.ip_interface(a["address"]))

    def tenant(self, device):
        """The device's tenant (a nested NetBox record), else its site's; {} when neither has one."""
        tenant = device.get("tenant") or {}
        if tenant.get("id"):
            return tenant
        site = self.site_by_id.get((device.get("site") or {}).get("id")) or {}
        return site.get("tenant") or {}

    def tenant_id(self, device):
        return self.tenant(device).get("id")

    def tenant_name(self, device):
        return self.tenant(device).get("name")

    def asn(self, device):
        # A customer's router has its customer's AS number: its own tenant's, never its site's
        # (the provider's); a spare CE without a customer runs no BGP.
        if ((self.context(device).get("bgp") or {}).get("policy")) == "customer":
            tenant = (device.get("tenant") or {}).get("id")
        else:
            tenant = self.tenant_id(device)
        asns = sorted(self.asns_by_tenant.get(tenant, [])) if tenant else []
        if len(asns) > 1:
            raise DeviceDataError(
                "tenant of %s has %d ASNs in NetBox (%s): give the device a tenant with one ASN"
                % (device["name"], len(asns), ", ".join(map(str, asns)))
            )
        return asns[0] if asns else None

    def context(self, device):
        return (device.get("config_context") or {}).get("netoss") or {}

    def peer(self, interface):
        """(device record, interface record) at the far end of the interface's cable path."""
        for end in interface.get("connected_endpoints") or []:
            if not isinstance(end, dict) or "device" not in end:
                continue
            far = self.interface_by_id.get(end["id"])
            device = self.device_by_id.get(end["device"]["id"])
            if far and device:
                return device, far
        return None, None

    @staticmethod
    def circuit(interface):
        """The ID of the circuit the interface is cabled to (its link peer is a circuit termination)."""
        if interface.get("link_peers_type") != "circuits.circuittermination":
            return None
        for peer in interface.get("link_peers") or []:
            if isinstance(peer, dict) and peer.get("circuit"):
                return peer["circuit"].get("cid")
        return None

    def service(self, cid):
        """How the circuit ``cid`` routes, from its custom fields (set by the service order that
        made it): ``routing`` (ebgp or static; None: eBGP when both ends have an AS number),
        ``announce`` (what the provider sends the customer over eBGP: default, the default),
        ``max_prefix`` (None: no limit). A circuit of the intent has none of them."""
        fields = (self.circuits.get(cid) or {}).get("custom_fields") or {}
        where = "circuits.circuit %s" % _shown(cid)
        routing, announce = fields.get("netoss_routing"), fields.get("netoss_announce")
        if routing not in (None, "", *ROUTING):
            raise DeviceDataError(
                "NetBox %s, custom field netoss_routing: %s is not one of %s"
                % (where, config_values.excerpt(routing), ", ".join(ROUTING))
            )
        if announce not in (None, "", *ANNOUNCE):
            raise DeviceDataError(
                "NetBox %s, custom field netoss_announce: %s is not one of %s"
                % (where, config_values.excerpt(announce), ", ".join(ANNOUNCE))
            )
        return {
            "service": fields.get("netoss_service"),
            "routing": routing or None,
            "announce": announce or "default",
            "max_prefix": fields.get("netoss_max_prefix"),
        }

    def aggregates(self, device):
        """The provider's IPv4 aggregates as ``device`` announces them: NetBox's aggregates of its
        tenant (else its site's), and those without a tenant."""
        tenant = self.tenant_id(device)
        mine = self.aggregates_by_tenant.get(None, []) + (self.aggregates_by_tenant.get(tenant, []) if tenant else [])
        return sorted(set(mine))

    def loopbacks(self, device):
        out = []
        for interface in self.interfaces_of(device):
            for address in self.addresses_of(interface):
                if _role(address) == "loopback":
                    out.append(ipaddress.ip_interface(address["address"]))
        return out


def natural_key(text):
    """Sort key that puts eth2 before eth10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _status(record):
    status = record.get("status")
    return status.get("value") if isinstance(status, dict) else status


def _role(address):
    role = address.get("role")
    return role.get("value") if isinstance(role, dict) else role


def _slug(obj):
    return (obj or {}).get("slug")


def policy_name(text):
    """A route-map / prefix-list name from a tenant name: 'Acme Corp' -> 'ACME-CORP'."""
    return re.sub(r"[^A-Z0-9]+", "-", text.upper()).strip("-") or "UNNAMED"


def _router_id(snapshot, device, needs):
    loopbacks = [lo for lo in snapshot.loopbacks(device) if lo.version == 4]
    if not loopbacks:
        raise DeviceDataError(
            "%s runs %s but has no IPv4 loopback address (an address with role loopback) for its router ID"
            % (device["name"], needs)
        )
    return str(loopbacks[0].ip)


def _same_subnet(mine, theirs):
    for a in mine:
        for b in theirs:
            if a.network == b.network and a.ip != b.ip:
                return a, b
    return None, None


def build(snapshot, name):
    """The structured data of device ``name`` (see the module docstring)."""
    device = snapshot.device(name)
    _netbox_value(config_values.name, name, _device_label(device), "name", "hostname")
    platform = _slug(device.get("platform"))
    if not platform:
        raise DeviceDataError("%s has no platform in NetBox: it decides which templates render it" % name)
    _netbox_value(config_values.name, platform, "dcim.platform of %s" % name, "slug", "slug")
    context = snapshot.context(device)
    _check_context(device, context)
    ospf_area = (context.get("ospf") or {}).get("area")
    asn = snapshot.asn(device)

    primary = device.get("primary_ip4") or device.get("primary_ip")
    data = {
        "hostname": name,
        "platform": platform,
        # NetBox's status of the device: a health check only checks an active one.
        "status": _status(device) or "active",
        "role": _slug(device.get("role")),
        "site": _slug(device.get("site")),
        "management": None,
        "router_id": None,
        "banner": context.get("banner"),
        "users": [dict(u) for u in context.get("users") or []],
        "logging": {
            "level": (context.get("syslog") or {}).get("level", "informational"),
            "servers": [dict(s) for s in (context.get("syslog") or {}).get("servers") or []],
            # Log interface up and down too (for fault management), where the platform needs telling.
            "interface_events": bool((context.get("syslog") or {}).get("interface_events", False)),
        },
        # The device answers SNMP polls (service assurance), where the platform needs telling.
        "snmp": {"enabled": bool((context.get("snmp") or {}).get("enabled", False))},
        "interfaces": [],
        "ospf": None,
        "bgp": None,
        "prefix_lists": [],
        "route_maps": [],
        "static_routes": [],
        "warnings": [],
    }
    if ospf_area is not None or asn is not None:
        data["router_id"] = _router_id(snapshot, device, "OSPF" if ospf_area is not None else "BGP")

    ebgp = []
    for interface in snapshot.interfaces_of(device):
        addresses = [ipaddress.ip_interface(a["address"]) for a in snapshot.addresses_of(interface)]
        loopback = any(_role(a) == "loopback" for a in snapshot.addresses_of(interface)) or (
            (interface.get("type") or {}).get("value") == "virtual" and interface["name"].startswith(("lo", "Loop"))
        )
        where = _interface_label(device, interface)
        _netbox_value(config_values.name, interface["name"], where, "name", "interface")
        if interface.get("description"):
            _netbox_value(config_values.text, interface["description"], where, "description")
        peer_device, peer_interface = snapshot.peer(interface)
        if peer_device:
            _checked_peer(peer_device, peer_interface)
        entry = {
            "name": interface["name"],
            "description": interface.get("description") or "",
            "enabled": interface.get("enabled", True),
            "mtu": interface.get("mtu"),
            "mgmt_only": bool(interface.get("mgmt_only")),
            "loopback": loopback,
            "addresses": [str(a) for a in addresses],
            "ospf": None,
            "peer": {"device": peer_device["name"], "interface": peer_interface["name"]} if peer_device else None,
            "circuit": _checked_circuit(snapshot, interface, where),
            # What says whether the port is in service (health checks follow NetBox): a cable or
            # "mark connected", the status of its circuit and of the device at its other end.
            "cabled": bool(interface.get("cable") or interface.get("mark_connected")),
            "peer_status": (_status(peer_device) or "active") if peer_device else None,
        }
        entry["circuit_status"] = (
            (_status(snapshot.circuits.get(entry["circuit"]) or {}) or "active") if entry["circuit"] else None
        )
        if primary and any(str(a) == primary.get("address") for a in addresses):
            data["management"] = {"interface": interface["name"], "address": primary["address"]}
        if ospf_area is not None and not entry["mgmt_only"]:
            peer_area = (snapshot.context(peer_device).get("ospf") or {}).get("area") if peer_device else None
            if loopback and addresses:
                entry["ospf"] = {"area": ospf_area, "passive": True, "network": None}
            elif peer_area is not None and addresses:
                if peer_area != ospf_area:
                    raise DeviceDataError(
                        "%s:%s is in OSPF area %s but its peer %s is in area %s"
                        % (name, interface["name"], ospf_area, peer_device["name"], peer_area)
                    )
                p2p = all(a.network.prefixlen >= 30 for a in addresses if a.version == 4)
                entry["ospf"] = {"area": ospf_area, "passive": False, "network": "point-to-point" if p2p else None}
        service = snapshot.service(entry["circuit"])
        max_prefix = service["max_prefix"]
        if max_prefix is not None:
            _netbox_value(
                config_values.integer,
                max_prefix,
                "circuits.circuit %s" % entry["circuit"],
                "netoss_max_prefix",
                1,
                4294967295,
            )
        if service["routing"] == "static" and peer_device is not None:
            _static_routes(snapshot, data, entry, addresses, peer_interface, asn)
        elif peer_device is not None and asn is not None and not entry["mgmt_only"]:
            peer_asn = snapshot.asn(peer_device)
            if peer_asn is not None and peer_asn != asn:
                mine, theirs = _same_subnet(
                    addresses,
                    [ipaddress.ip_interface(a["address"]) for a in snapshot.addresses_of(peer_interface)],
                )
                if mine is None:
                    raise DeviceDataError(
                        "%s:%s faces %s (AS%s) but the two ends have no addresses in a common subnet"
                        % (name, interface["name"], peer_device["name"], peer_asn)
                    )
                ebgp.append((entry["circuit"], peer_device, peer_asn, theirs, max_prefix, service["announce"]))
        data["interfaces"].append(entry)

    if ospf_area is not None:
        data["ospf"] = {"router_id": data["router_id"], "area": ospf_area}
    if asn is not None:
        data["bgp"] = _bgp(snapshot, device, asn, data["router_id"], ebgp, data)
    if any(i["ospf"] for i in data["interfaces"]) and data["ospf"] is None:
        data["ospf"] = {"router_id": data["router_id"], "area": ospf_area}
    try:
        # The render step checks again; here a bad value stops the device before any file is written.
        config_values.check_data(data)
    except config_values.ConfigValueError as exc:
        raise DeviceDataError("%s: structured data from NetBox: %s" % (name, exc)) from None
    return data


def _checked_peer(peer_device, peer_interface):
    """The names of the device and interface at the far end of a cable, which reach descriptions."""
    _netbox_value(config_values.name, peer_device.get("name"), _device_label(peer_device), "name", "hostname")
    _netbox_value(
        config_values.name,
        peer_interface.get("name"),
        _interface_label(peer_device, peer_interface),
        "name",
        "interface",
    )


def _checked_circuit(snapshot, interface, where):
    cid = snapshot.circuit(interface)
    if cid is not None:
        _netbox_value(config_values.name, cid, "circuits.circuit cabled to %s" % where, "cid", "circuit")
    return cid


def _bgp(snapshot, device, asn, router_id, ebgp, data):
    context = snapshot.context(device)
    bgp_context = context.get("bgp") or {}
    customer = bgp_context.get("policy") == "customer"
    same_as = [
        d
        for d in snapshot.devices.values()
        if d["name"] != device["name"] and _status(d) in (None, "active") and snapshot.asn(d) == asn
    ]
    reflectors = [d for d in same_as if (snapshot.context(d).get("bgp") or {}).get("route_reflector")]
    i_am_rr = bool(bgp_context.get("route_reflector"))
    # RRs peer with everyone of the AS, clients with the RRs; without RRs, a full mesh.
    ibgp_peers = same_as if i_am_rr or not reflectors else reflectors
    loopback_name = next((i["name"] for i in data["interfaces"] if i["loopback"] and i["addresses"]), None)
    neighbors = []
    for peer in sorted(ibgp_peers, key=lambda d: natural_key(d["name"])):
        peer_rr = bool((snapshot.context(peer).get("bgp") or {}).get("route_reflector"))
        _netbox_value(config_values.name, peer["name"], _device_label(peer), "name", "hostname")
        try:
            address = _router_id(snapshot, peer, "iBGP")
        except DeviceDataError as exc:
            data["warnings"].append("iBGP peer %s left out: %s" % (peer["name"], exc))
            continue
        neighbors.append(
            {
                "address": address,
                "remote_as": asn,
                "description": peer["name"],
                "type": "ibgp",
                "update_source": loopback_name,
                "route_reflector_client": i_am_rr and not peer_rr,
                "next_hop_self": not i_am_rr,
                "route_map_in": None,
                "route_map_out": None,
                "max_prefix": None,
                "default_originate": False,
            }
        )
    networks = []
    own_tenant = snapshot.tenant_id(device)
    own_prefixes = sorted(snapshot.prefixes_by_tenant.get(own_tenant, [])) if customer else []
    if customer:
        networks = [str(lo.network) for lo in snapshot.loopbacks(device) if lo.version == 4]
        # The customer announces its prefixes, each held up by a blackhole route (its aggregate).
        for prefix in own_prefixes:
            networks.append(str(prefix))
            data["static_routes"].append(
                {"prefix": str(prefix), "next_hop": "blackhole", "description": "customer aggregate", "announce": False}
            )
        name = "PL-UPSTREAM-OUT"
        _prefix_list(data, name, own_prefixes or [ipaddress.ip_network(n) for n in networks])
        _route_map(data, "RM-UPSTREAM-OUT", name)
        _route_map(data, "RM-UPSTREAM-IN", None)
    if not customer and any(announce == "default+aggregates" for *_rest, announce in ebgp):
        _aggregates(snapshot, device, data, [c for c, *_rest, a in ebgp if a == "default+aggregates"])
    networks.extend(r["prefix"] for r in data["static_routes"] if r["announce"])
    for circuit, peer, peer_asn, theirs, max_prefix, announce in ebgp:
        tenant = snapshot.tenant(peer)
        peer_tenant = tenant.get("name") or "AS%s" % peer_asn
        if tenant.get("name"):
            # The customer's name reaches the session's description (a service order creates it).
            _netbox_value(
                config_values.text,
                tenant["name"],
                "tenancy.tenant (id %s), the customer of %s" % (tenant.get("id"), _shown(peer.get("name"))),
                "name",
                "tenant",
            )
        if customer:
            rm_in, rm_out = "RM-UPSTREAM-IN", "RM-UPSTREAM-OUT"
        else:
            tag = policy_name(peer_tenant)
            pl = "PL-%s-IN" % tag
            rm_in = "RM-%s-IN" % tag
            _prefix_list(data, pl, sorted(snapshot.prefixes_by_tenant.get(snapshot.tenant_id(peer), [])))
            _route_map(data, rm_in, pl)
            rm_out = _customer_out(snapshot, device, data, announce)
        neighbors.append(
            {
                "address": str(theirs.ip),
                "remote_as": peer_asn,
                "description": _description(
                    "%s (%s%s)" % (peer["name"], peer_tenant, ", " + circuit if circuit else "")
                ),
                "type": "ebgp",
                "update_source": None,
                "route_reflector_client": False,
                "next_hop_self": False,
                "route_map_in": rm_in,
                "route_map_out": rm_out,
                "max_prefix": None if customer else max_prefix,
                # The provider sends its customer a default route, whatever its RIB holds.
                "default_originate": not customer,
            }
        )
    neighbors.sort(key=lambda n: ipaddress.ip_address(n["address"]))
    networks = sorted(set(networks), key=ipaddress.ip_network)
    data["static_routes"].sort(key=lambda r: (ipaddress.ip_network(r["prefix"]), r["next_hop"]))
    return {"asn": asn, "router_id": router_id, "neighbors": neighbors, "networks": networks}


def _description(text):
    """A description made of several names, within the length every platform takes."""
    limit = config_values.TEXT_LIMITS["description"]
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def _static_routes(snapshot, data, entry, addresses, peer_interface, asn):
    """Static-routed access: the PE (the end with an AS number) routes the circuit's prefixes
    to the CE and announces them; the CE routes everything to the PE."""
    mine, theirs = _same_subnet(
        addresses, [ipaddress.ip_interface(a["address"]) for a in snapshot.addresses_of(peer_interface)]
    )
    if mine is None:
        data["warnings"].append("%s: static access circuit %s has no common subnet" % (entry["name"], entry["circuit"]))
        return
    label = "%s %s" % (entry["circuit"], entry["peer"]["device"])
    if asn is not None:
        for prefix in sorted(snapshot.prefixes_by_circuit.get(entry["circuit"], [])):
            data["static_routes"].append(
                {"prefix": str(prefix), "next_hop": str(theirs.ip), "description": label, "announce": True}
            )
    else:
        data["static_routes"].append(
            {"prefix": "0.0.0.0/0", "next_hop": str(theirs.ip), "description": label, "announce": False}
        )


def _customer_out(snapshot, device, data, announce):
    """The export policy of a provider device to a customer: the default route (sent by
    default-originate, listed too for the platforms that filter it), and with
    ``default+aggregates`` the provider's aggregates, each exactly; nothing else."""
    networks = [DEFAULT_ROUTE]
    suffix = "DEFAULT"
    if announce == "default+aggregates":
        networks += snapshot.aggregates(device)
        suffix = "AGGREGATES"
    _prefix_list(data, "PL-CUSTOMER-OUT-%s" % suffix, networks, exact=True)
    _route_map(data, "RM-CUSTOMER-OUT-%s" % suffix, "PL-CUSTOMER-OUT-%s" % suffix)
    return "RM-CUSTOMER-OUT-%s" % suffix


def _aggregates(snapshot, device, data, circuits):
    """The provider's aggregates, announced by a device that sends them to a customer: each held
    up by a blackhole route (``network`` announces only what the routing table has; the
    longer routes of the IGP and of BGP still win)."""
    aggregates = snapshot.aggregates(device)
    if not aggregates:
        raise DeviceDataError(
            "%s announces the provider's aggregates to %s (netoss_announce: default+aggregates), but NetBox has "
            "no IPv4 aggregate (IPAM > Aggregates) of its tenant %s, nor one without a tenant"
            % (device["name"], ", ".join(sorted(c or "?" for c in circuits)), snapshot.tenant_name(device) or "(none)")
        )
    for network in aggregates:
        data["static_routes"].append(
            {"prefix": str(network), "next_hop": "blackhole", "description": "provider aggregate", "announce": True}
        )


def _prefix_list(data, name, networks, exact=False):
    """``permit`` each network, with ``le 32`` (the network and anything inside it) unless ``exact``."""
    if any(p["name"] == name for p in data["prefix_lists"]):
        return
    entries = [
        {
            "seq": 5 * (i + 1),
            "action": "permit",
            "prefix": str(n),
            "le": 32 if n.prefixlen < 32 and not exact else None,
        }
        for i, n in enumerate(networks)
    ]
    data["prefix_lists"].append({"name": name, "entries": entries})
    data["prefix_lists"].sort(key=lambda p: p["name"])


def _route_map(data, name, prefix_list):
    """permit 10 matching ``prefix_list`` (deny everything when that list is empty), or permit all."""
    if any(r["name"] == name for r in data["route_maps"]):
        return
    entries = [{"seq": 10, "action": "permit", "match_prefix_list": prefix_list}]
    if prefix_list is not None:
        listed = next(p for p in data["prefix_lists"] if p["name"] == prefix_list)
        if not listed["entries"]:
            entries = [{"seq": 10, "action": "deny", "match_prefix_list": None}]
    data["route_maps"].append({"name": name, "entries": entries})
    data["route_maps"].sort(key=lambda r: r["name"])


def build_all(snapshot, names):
    """({name: data}, {name: error message}) for every device in ``names``; one bad device stops only itself."""
    good, bad = {}, {}
    for name in names:
        try:
            good[name] = build(snapshot, name)
        except DeviceDataError as exc:
            bad[name] = str(exc)
    return good, bad


ENDPOINTS = {
    "devices": "dcim/devices",
    "interfaces": "dcim/interfaces",
    "ip_addresses": "ipam/ip-addresses",
    "asns": "ipam/asns",
    "sites": "dcim/sites",
    "prefixes": "ipam/prefixes",
    "circuits": "circuits/circuits",
    "aggregates": "ipam/aggregates",
}


def fetch(api):
    """Read everything :class:`Snapshot` needs from NetBox (pynetbox ``api``), one list per
    endpoint, the lists read concurrently (netbox_client.read_lists)."""
    return read_lists(api, {key: (path.replace("/", ".").replace("-", "_"), None) for key, path in ENDPOINTS.items()})
