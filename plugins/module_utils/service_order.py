# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Service orders (TMF641) against NetBox: check, reserve, go live, release, roll back.

A service is a NetBox circuit of the access provider with the records the renderer already
reads (see device_data): the circuit's two terminations cabled to the PE and CE interfaces,
a /31 from a NetBox prefix of the catalog's ``link_pool`` role with one address on each end,
the customer's tenant, AS number and prefixes (each inside a NetBox prefix of the ``within``
role), and the CE's tenant and loopback. The circuit's custom fields say which catalog service
it is (``netoss_service``), how it routes (``netoss_routing``: ebgp or static) and what the PE
announces to the customer (``netoss_announce``), its maximum prefixes (``netoss_max_prefix``),
the order that last changed it (``netoss_order``) and what its add changed that its delete
must put back (``netoss_prior``); addresses and prefixes made for it carry ``netoss_circuit``.
Everything an order creates is tagged ``netoss-ordered`` (sot-sync prunes only what is
tagged ``netoss-managed``).

- :func:`check_order` checks every item of an order against the catalog and NetBox, reading
  only, and names each problem (unknown device, interface in use, overlapping prefix, bad AS
  number...). The portal calls it before it accepts an order, the playbook again before it
  writes.
- :class:`Reservation` writes an item's records and keeps a journal of every write (created,
  updated, deleted), saved after each one, so :meth:`Reservation.rollback` undoes exactly
  what was done, even from a later process.
- :func:`describe` reads a circuit back as a service (TMF638).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re

from ansible_collections.netoss.core.plugins.module_utils import config_values, files
from ansible_collections.netoss.core.plugins.module_utils.netbox_client import endpoint as netbox_endpoint
from ansible_collections.netoss.core.plugins.module_utils.service_catalog import check_values

ORDERED_TAG = "netoss-ordered"
ACTIONS = ("add", "modify", "delete")
# What a modify may change; anything else is a delete and a new add.
MUTABLE = ("prefixes", "bandwidth", "max_prefix")
LIVE = ("active", "offline")  # circuit statuses a modify or delete applies to
CF_SERVICE, CF_MAX_PREFIX, CF_ORDER, CF_PRIOR, CF_CIRCUIT, CF_ROUTING, CF_ANNOUNCE = (
    "netoss_service",
    "netoss_max_prefix",
    "netoss_order",
    "netoss_prior",
    "netoss_circuit",
    "netoss_routing",
    "netoss_announce",
)
DEFAULT_ROUTE = "0.0.0.0/0"


class OrderError(Exception):
    """The order cannot go on; ``problems`` lists why, each naming the item and characteristic."""

    def __init__(self, problems):
        self.problems = list(problems) if isinstance(problems, (list, tuple)) else [str(problems)]
        super().__init__("; ".join(self.problems))


def _value(obj, key="value"):
    return obj.get(key) if isinstance(obj, dict) else obj


def _slug(obj):
    return (obj or {}).get("slug") if isinstance(obj, dict) else None


def _id(obj):
    return obj.get("id") if isinstance(obj, dict) else obj


# -- reading NetBox ------------------------------------------------------------------------


class NetboxView:
    """What orders read from NetBox (pynetbox ``api``), as plain dicts, each asked once."""

    def __init__(self, api):
        self.api = api
        self._cache = {}

    def _one(self, key, fetch):
        if key not in self._cache:
            record = fetch()
            self._cache[key] = dict(record) if record is not None else None
        return self._cache[key]

    def _list(self, key, fetch):
        if key not in self._cache:
            self._cache[key] = [dict(r) for r in fetch()]
        return self._cache[key]

    def device(self, name):
        return self._one(("device", name), lambda: self.api.dcim.devices.get(name=name))

    def interfaces(self, device_name):
        return self._list(("interfaces", device_name), lambda: self.api.dcim.interfaces.filter(device=device_name))

    def interface(self, device_name, name):
        return next((i for i in self.interfaces(device_name) if i["name"] == name), None)

    def addresses(self, interface_id):
        return self._list(
            ("addresses", interface_id), lambda: self.api.ipam.ip_addresses.filter(interface_id=interface_id)
        )

    def tenant(self, name):
        found = self._list(("tenant", name), lambda: self.api.tenancy.tenants.filter(name=name))
        return found[0] if found else None

    def asns(self, **filters):
        key = ("asns", *tuple(sorted(filters.items())))
        return self._list(key, lambda: self.api.ipam.asns.filter(**filters))

    def device_asns(self, device):
        """The AS numbers of the device's tenant, else of its site's tenant."""
        tenant = self.device_tenant_id(device)
        return sorted(a["asn"] for a in self.asns(tenant_id=tenant)) if tenant else []

    def prefixes_overlapping(self, network):
        """Prefixes equal to, inside, or containing ``network``."""
        inside = self._list(
            ("within_include", str(network)), lambda: self.api.ipam.prefixes.filter(within_include=str(network))
        )
        around = self._list(("contains", str(network)), lambda: self.api.ipam.prefixes.filter(contains=str(network)))
        seen, out = set(), []
        for p in inside + around:
            if p["id"] not in seen:
                seen.add(p["id"])
                out.append(p)
        return out

    def prefixes_of(self, tenant_id):
        """The active prefixes of a customer (tenant)."""
        return self._list(
            ("prefixes_of", tenant_id), lambda: self.api.ipam.prefixes.filter(tenant_id=tenant_id, status="active")
        )

    def device_tenant_id(self, device):
        """The id of the device's tenant, else of its site's (whose AS number it has)."""
        tenant = _id(device.get("tenant"))
        if tenant is None:
            site = self._one(
                ("site", _id(device.get("site"))), lambda: self.api.dcim.sites.get(_id(device.get("site")))
            )
            tenant = _id((site or {}).get("tenant"))
        return tenant

    def prefixes_of_role(self, role):
        """The NetBox prefixes of the prefix role ``role`` (a slug), smallest address first."""
        found = self._list(("role", role), lambda: self.api.ipam.prefixes.filter(role=role))
        return sorted(found, key=lambda p: ipaddress.ip_network(p["prefix"]))

    def aggregates_of(self, device):
        """The provider's IPv4 aggregates (NetBox IPAM aggregates) as ``device`` announces them:
        those of its tenant (else its site's), and those without a tenant."""
        tenant = self.device_tenant_id(device)
        found = self._list(("aggregates",), lambda: self.api.ipam.aggregates.filter(family=4))
        mine = [a["prefix"] for a in found if _id(a.get("tenant")) in (None, tenant)]
        return sorted(mine, key=ipaddress.ip_network)

    def circuit(self, cid):
        found = self._list(("circuit", cid), lambda: self.api.circuits.circuits.filter(cid=cid))
        return found[0] if found else None

    def circuits(self, **filters):
        key = ("circuits", *tuple(sorted(filters.items())))
        return self._list(key, lambda: self.api.circuits.circuits.filter(**filters))

    def terminations(self, circuit_id):
        return self._list(
            ("terminations", circuit_id), lambda: self.api.circuits.circuit_terminations.filter(circuit_id=circuit_id)
        )

    def tagged(self, endpoint, cid):
        """Records of ``endpoint`` (ipam.prefixes, ipam.ip_addresses) made for circuit ``cid``."""
        return self._list(
            (endpoint, cid), lambda: netbox_endpoint(self.api, endpoint).filter(**{"cf_" + CF_CIRCUIT: cid})
        )

    def forget(self):
        self._cache.clear()


# -- the order's items ---------------------------------------------------------------------


def parse_items(items):
    """(items, problems): TMF641 serviceOrderItem dicts -> {id, action, service, service_id, values}."""
    if not isinstance(items, list) or not items:
        return [], ["serviceOrderItem: an order needs at least one item"]
    out, problems, seen = [], [], set()
    for n, raw in enumerate(items, 1):
        if not isinstance(raw, dict):
            problems.append("serviceOrderItem[%d]: expected an object" % n)
            continue
        item_id = str(raw.get("id") or n)
        at = "item %s" % item_id
        if item_id in seen:
            problems.append("%s: duplicate item id" % at)
        seen.add(item_id)
        action = raw.get("action")
        if action not in ACTIONS:
            problems.append("%s: action: %s is not one of %s" % (at, config_values.excerpt(action), ", ".join(ACTIONS)))
            continue
        service = raw.get("service") or {}
        if not isinstance(service, dict):
            problems.append("%s: service: expected an object" % at)
            continue
        spec = service.get("serviceSpecification") or {}
        spec_name = spec.get("name") if isinstance(spec, dict) else spec
        values = {}
        for c in service.get("serviceCharacteristic") or []:
            if not isinstance(c, dict) or not isinstance(c.get("name"), str):
                problems.append("%s: serviceCharacteristic: each is {name, value}" % at)
                continue
            values[c["name"]] = c.get("value")
        out.append(
            {"id": item_id, "action": action, "service": spec_name, "service_id": service.get("id"), "values": values}
        )
    return out, problems


def check_order(catalog, items, view):
    """(clean items, problems) of an order: every item checked against ``catalog`` and NetBox.

    Nothing is written. For an add the clean values are the item's, with defaults; for a
    modify, the service's current values with the changes; for a delete, the current values.
    """
    parsed, problems = parse_items(items)
    clean = []
    for item in parsed:
        at = "item %s" % item["id"]
        checker = {"add": _check_add, "modify": _check_modify, "delete": _check_delete}[item["action"]]
        item_problems = checker(catalog, item, view)
        problems.extend("%s: %s" % (at, p) for p in item_problems)
        if not item_problems:
            clean.append(item)
    problems.extend(_cross_item_problems(clean))
    return (clean if not problems else []), problems


def _service(catalog, item, problems):
    service = catalog.get(item["service"] or "")
    if service is None:
        problems.append(
            "serviceSpecification: %r is not in the catalog (it has: %s)"
            % (item["service"], ", ".join(sorted(catalog)))
        )
    return service


def _device_name(value):
    """Whether ``value`` may be a device's name (so worth looking up in NetBox)."""
    try:
        return bool(config_values.name(value, "device", "hostname"))
    except config_values.ConfigValueError:
        return False


def _check_add(catalog, item, view):
    problems = []
    if item.get("service_id"):
        problems.append("service.id: an add makes a new service; name none (modify or delete name one)")
    service = _service(catalog, item, problems)
    if service is None:
        return problems
    # The provider's AS numbers: those of the item's routers other than the customer's (ce).
    provider = []
    for name in (c.name for c in service.characteristics if c.type == "device" and c.name != "ce"):
        device = view.device(item["values"][name]) if _device_name(item["values"].get(name)) else None
        if device:
            provider.extend(view.device_asns(device))
    values, value_problems = check_values(service, item["values"], provider_asns=provider)
    problems.extend(value_problems)
    if value_problems:
        return problems
    problems.extend(_netbox_problems(service, values, view))
    item["values"] = values
    return problems


def _netbox_problems(service, values, view, own_cid=None):
    """What NetBox says against the values: devices, free interfaces, customer, ASN, prefixes."""
    problems = []
    devices = {}
    for c in service.characteristics:
        if c.type == "device":
            device = view.device(values[c.name])
            if device is None:
                problems.append("%s: no device %r in NetBox" % (c.name, values[c.name]))
                continue
            if c.role and _slug(device.get("role")) != c.role:
                problems.append(
                    "%s: %s is a %s, not a %s"
                    % (c.name, device["name"], _slug(device.get("role")) or "device without role", c.role)
                )
            if _value(device.get("status")) != "active":
                problems.append(
                    "%s: %s is %s in NetBox, not active" % (c.name, device["name"], _value(device.get("status")))
                )
            devices[c.name] = device
    if own_cid is None:
        for c in service.characteristics:
            if c.type == "interface" and c.device in devices:
                problems.extend(
                    "%s: %s" % (c.name, p) for p in _interface_problems(view, devices[c.device], values[c.name])
                )
    customer = values.get("customer")
    tenant = view.tenant(customer) if customer else None
    asn = values.get("customer_asn")
    if own_cid is None and asn is not None:
        owners = view.asns(asn=asn)
        for owner in owners:
            owner_tenant = (owner.get("tenant") or {}).get("name")
            if owner_tenant != customer:
                problems.append("customer_asn: AS%s belongs to %s in NetBox" % (asn, owner_tenant or "no customer"))
        if tenant is not None:
            have = [a["asn"] for a in view.asns(tenant_id=tenant["id"])]
            if have and asn not in have:
                problems.append(
                    "customer_asn: %s has AS%s in NetBox, not AS%s" % (customer, ", AS".join(map(str, have)), asn)
                )
    ce = devices.get("ce")
    if own_cid is None and ce is not None and customer:
        ce_tenant = (ce.get("tenant") or {}).get("name")
        if ce_tenant and ce_tenant != customer:
            problems.append("ce: %s is the router of %s, not of %s" % (ce["name"], ce_tenant, customer))
        if not _loopback(view, ce["name"]):
            problems.append("ce: %s has no loopback interface (lo) for the customer's address" % ce["name"])
    problems.extend(_within_problems(service, values, view))
    if own_cid is None:
        problems.extend(_pool_problems(service, view, devices.get("pe")))
    for prefix in values.get("prefixes") or []:
        for other in view.prefixes_overlapping(ipaddress.ip_network(prefix)):
            if _value(other.get("status")) == "container" or other.get("is_pool"):
                continue
            if own_cid is not None and (other.get("custom_fields") or {}).get(CF_CIRCUIT) == own_cid:
                continue
            owner = (other.get("tenant") or {}).get("name")
            problems.append(
                "prefixes: %s overlaps %s in NetBox (%s)"
                % (prefix, other["prefix"], owner or other.get("description") or "no tenant")
            )
    return problems


def _needs_role(service, role, what):
    return "the catalog's %s needs a prefix with role %r in NetBox for %s (none has it)" % (service.name, role, what)


def _within_problems(service, values, view):
    """Each ordered prefix lies inside a NetBox prefix of its characteristic's ``within`` role."""
    problems = []
    for c in service.characteristics:
        if c.type != "prefixes" or not c.within_role or not values.get(c.name):
            continue
        spaces = view.prefixes_of_role(c.within_role)
        if not spaces:
            problems.append("%s: %s" % (c.name, _needs_role(service, c.within_role, "its customers' prefixes")))
            continue
        networks = [ipaddress.ip_network(p["prefix"]) for p in spaces]
        for prefix in values[c.name]:
            network = ipaddress.ip_network(prefix)
            if not any(network.version == n.version and network.subnet_of(n) for n in networks):
                problems.append(
                    "%s: %s is not inside a prefix of role %r in NetBox (%s)"
                    % (c.name, network, c.within_role, ", ".join(str(n) for n in networks))
                )
    return problems


def _pool_problems(service, view, pe):
    """What a new service needs from NetBox besides its characteristics: a pool of the
    ``link_pool`` role, and the provider's aggregates when it announces them."""
    problems = []
    if service.link_pool_role and not view.prefixes_of_role(service.link_pool_role):
        problems.append(_needs_role(service, service.link_pool_role, "its PE-CE links"))
    if service.announce == "default+aggregates" and pe is not None and not view.aggregates_of(pe):
        problems.append(
            "the catalog's %s announces the provider's aggregates to the customer, but NetBox has no IPv4 "
            "aggregate (IPAM > Aggregates) of %s's provider (its tenant, else its site's)" % (service.name, pe["name"])
        )
    return problems


def _interface_problems(view, device, name):
    interface = view.interface(device["name"], name)
    if interface is None:
        names = ", ".join(i["name"] for i in view.interfaces(device["name"]) if not i.get("mgmt_only"))
        return ["%s has no interface %r (it has: %s)" % (device["name"], name, names or "none")]
    where = "%s:%s" % (device["name"], name)
    out = []
    if interface.get("mgmt_only"):
        out.append("%s is the management interface" % where)
    if _value(interface.get("type")) in ("virtual", "lag", "bridge"):
        out.append("%s is a %s interface, not a port" % (where, _value(interface.get("type"))))
    if interface.get("cable"):
        out.append("%s is in use (cable #%s)" % (where, _id(interface["cable"])))
    elif interface.get("mark_connected"):
        out.append("%s is in use (marked connected in NetBox)" % where)
    addresses = view.addresses(interface["id"])
    if addresses:
        out.append("%s is in use (it has %s)" % (where, ", ".join(a["address"] for a in addresses)))
    if not interface.get("enabled", True):
        out.append("%s is disabled in NetBox" % where)
    return out


def _loopback(view, device_name):
    for i in view.interfaces(device_name):
        if _value(i.get("type")) == "virtual" and i["name"].startswith(("lo", "Loop")):
            return i
    return None


def _current(view, item, problems):
    """The circuit of a modify or delete, and its service's current values."""
    cid = item.get("service_id")
    if not cid:
        problems.append("service.id: a %s names the service (its circuit ID)" % item["action"])
        return None
    try:
        config_values.name(cid, "service.id", "circuit")
    except config_values.ConfigValueError as exc:
        problems.append(str(exc))
        return None
    current = describe(view, cid)
    if current is None:
        problems.append("service.id: no circuit %r in NetBox" % cid)
        return None
    if not current["service"]:
        problems.append("service.id: circuit %s was not made by a service order (it has no %s)" % (cid, CF_SERVICE))
        return None
    if current["status"] not in LIVE:
        problems.append(
            "service.id: %s is %s; only an active or offline service can be changed" % (cid, current["status"])
        )
        return None
    if item["service"] and item["service"] != current["service"]:
        problems.append("serviceSpecification: %s is a %s service, not %s" % (cid, current["service"], item["service"]))
        return None
    item["service"] = current["service"]
    return current


def _check_modify(catalog, item, view):
    problems = []
    current = _current(view, item, problems)
    if current is None:
        return problems
    service = _service(catalog, item, problems)
    if service is None:
        return problems
    fixed = sorted(set(item["values"]) - set(MUTABLE))
    for name in fixed:
        if name in current["values"] and item["values"][name] == current["values"][name]:
            continue
        problems.append("%s: cannot be modified (only %s can); order a delete and an add" % (name, ", ".join(MUTABLE)))
    if problems:
        return problems
    merged = dict(current["values"], **{k: v for k, v in item["values"].items() if k in MUTABLE})
    values, value_problems = check_values(service, merged)
    problems.extend(value_problems)
    if not value_problems:
        problems.extend(_netbox_problems(service, values, view, own_cid=item["service_id"]))
        item["values"] = values
    return problems


def _check_delete(catalog, item, view):
    problems = []
    current = _current(view, item, problems)
    if current is None:
        return problems
    # A delete changes nothing; it may repeat the service's values (an order read back does).
    for name, value in sorted(item["values"].items()):
        if _comparable(value) != _comparable(current["values"].get(name)):
            problems.append(
                "%s: a delete takes no new value (the service has %r)" % (name, current["values"].get(name))
            )
    item["values"] = current["values"]
    return problems


def _comparable(value):
    return sorted(str(v) for v in value) if isinstance(value, list) else str(value)


def _cross_item_problems(items):
    """Two items of one order that want the same port, service or addresses."""
    problems, ports, services, prefixes = [], {}, {}, []
    for item in items:
        values = item["values"]
        at = "item %s" % item["id"]
        if item["action"] == "add":
            for device_key, port_key in (("pe", "pe_interface"), ("ce", "ce_interface")):
                port = "%s:%s" % (values.get(device_key), values.get(port_key))
                if port in ports:
                    problems.append("%s: %s: %s is also in item %s" % (at, port_key, port, ports[port]))
                ports[port] = item["id"]
        elif item["service_id"] in services:
            problems.append(
                "%s: service.id: %s is also in item %s" % (at, item["service_id"], services[item["service_id"]])
            )
        else:
            services[item["service_id"]] = item["id"]
        if item["action"] != "delete":
            for p in values.get("prefixes") or []:
                network = ipaddress.ip_network(p)
                for other_id, other in prefixes:
                    if other_id != item["id"] and network.overlaps(other):
                        problems.append("%s: prefixes: %s overlaps %s of item %s" % (at, network, other, other_id))
                prefixes.append((item["id"], network))
    return problems


def probe_for(view, pe_name, exclude=()):
    """Where to check a service's reachability from: a provider router cabled to the PE (a core
    router, never a customer's), preferably at another site, with a loopback address (the
    probe's source, and what the customer's router pings back); None when the PE has none.

    Provider routers have the PE's AS number and are not customer routers (config context
    ``netoss.bgp.policy: customer``); ``exclude`` are routers the order is changing."""
    pe = view.device(pe_name)
    if pe is None:
        return None
    asns = set(view.device_asns(pe))
    neighbours = set()
    for interface in view.interfaces(pe_name):
        for end in interface.get("connected_endpoints") or []:
            name = ((end or {}).get("device") or {}).get("name") if isinstance(end, dict) else None
            if name and name != pe_name and name not in exclude:
                neighbours.add(name)
    candidates = []
    for name in neighbours:
        device = view.device(name)
        if device is None or _value(device.get("status")) != "active":
            continue
        context = ((device.get("config_context") or {}).get("netoss") or {}).get("bgp") or {}
        if context.get("policy") == "customer" or not asns or not asns & set(view.device_asns(device)):
            continue
        same_site = _slug(device.get("site")) == _slug(pe.get("site"))
        candidates.append((same_site, name))
    for _same_site, name in sorted(candidates):
        for address in view.api.ipam.ip_addresses.filter(device=name, role="loopback"):
            ip = ipaddress.ip_interface(address.address)
            if ip.version == 4:
                return {"device": name, "source": str(ip.ip)}
    return None


def verification(view, item, result, service=None):
    """What the playbook verifies for an item: the PE and CE, the session's addresses, the
    prefixes the PE must receive (eBGP) or route (static), what the CE must receive from the PE
    (eBGP: the default route, and the provider's aggregates when the service announces them),
    and the reachability probes: from a core router (not the PE, never another customer's) to
    the customer's loopback, and from the customer's loopback back to that core router.
    ``service`` is the item's catalog service (its routing, for a circuit that has none recorded).
    For a delete, call it before :meth:`Reservation.begin` removes the addresses."""
    v = item["values"]
    out = {"pe": v.get("pe"), "ce": v.get("ce"), "service": item["service"], "removed": item["action"] == "delete"}
    out["prefixes"] = [] if item["action"] == "delete" else list(v.get("prefixes") or [])
    fields = (view.circuit(item["service_id"]) or {}).get("custom_fields") or {} if item.get("service_id") else {}
    routing = fields.get(CF_ROUTING) or (service.routing if service is not None else "ebgp")
    announce = fields.get(CF_ANNOUNCE) or (service.announce if service is not None else None) or "default"
    out["bgp"] = routing != "static"
    pe_address = result.get("pe_address")
    ce_address = result.get("ce_address")
    loopback = result.get("loopback")
    if pe_address is None or ce_address is None or loopback is None:
        for a in view.tagged("ipam.ip_addresses", item["service_id"]):
            ip = str(ipaddress.ip_interface(a["address"]).ip)
            device = ((a.get("assigned_object") or {}).get("device") or {}).get("name")
            if _value(a.get("role")) == "loopback":
                loopback = loopback or a["address"]
            elif device == v.get("pe"):
                pe_address = pe_address or ip
            elif device == v.get("ce"):
                ce_address = ce_address or ip
    out.update(pe_address=pe_address, ce_address=ce_address, loopback=loopback)
    out["ce_receives"] = []
    out["probes"] = []
    if item["action"] == "delete":  # read before its records go: the session that must be gone
        return out
    if out["bgp"]:
        pe = view.device(v.get("pe") or "")
        aggregates = view.aggregates_of(pe) if pe is not None and announce == "default+aggregates" else []
        out["ce_receives"] = [DEFAULT_ROUTE, *aggregates]
    probe = probe_for(view, v.get("pe"), exclude=tuple(devices_of([item])))
    if probe and loopback:
        customer = str(ipaddress.ip_interface(loopback).ip)
        out["probes"] = [
            dict(probe, destination=customer),
            {"device": v.get("ce"), "source": customer, "destination": probe["source"]},
        ]
    return out


def devices_of(items):
    """The devices an order touches (its PE and CE routers), sorted: the job's limit and locks."""
    names = set()
    for item in items:
        for key in ("pe", "ce"):
            if item["values"].get(key):
                names.add(item["values"][key])
    return sorted(names)


# -- a circuit as a service ----------------------------------------------------------------


def describe(view, cid):
    """The service of circuit ``cid`` (a dict, see the module docstring), or None."""
    circuit = view.circuit(cid)
    if circuit is None:
        return None
    fields = circuit.get("custom_fields") or {}
    ends = circuit_ends(view, circuit["id"])
    customer = (circuit.get("tenant") or {}).get("name")
    values = {"customer": customer}
    resources = [_resource("circuits.circuit", circuit, cid)]
    for side, keys in (("A", ("pe", "pe_interface")), ("Z", ("ce", "ce_interface"))):
        if side in ends:
            device, name, peer = ends[side]
            values[keys[0]], values[keys[1]] = device, name
            resources.append(_resource("dcim.device", peer["device"], device))
            resources.append(_resource("dcim.interface", peer, "%s:%s" % (device, name)))
    tenant = circuit.get("tenant") or {}
    asns = [a["asn"] for a in view.asns(tenant_id=tenant["id"])] if tenant.get("id") else []
    if asns and fields.get(CF_ROUTING) != "static":
        values["customer_asn"] = asns[0]
    prefixes = []
    for p in view.tagged("ipam.prefixes", cid):
        resources.append(_resource("ipam.prefix", p, p["prefix"]))
        if (p.get("tenant") or {}).get("id") == tenant.get("id"):
            prefixes.append(p["prefix"])
    for a in view.tagged("ipam.ip_addresses", cid):
        resources.append(_resource("ipam.ipaddress", a, a["address"]))
    if not prefixes and not fields.get(CF_SERVICE) and tenant.get("id"):
        # A circuit made before service orders (the intent's): its customer's prefixes.
        prefixes = [p["prefix"] for p in view.prefixes_of(tenant["id"])]
    if prefixes:
        values["prefixes"] = sorted(prefixes, key=ipaddress.ip_network)
    if circuit.get("commit_rate") is not None:
        values["bandwidth"] = circuit["commit_rate"]
    if fields.get(CF_MAX_PREFIX) is not None and fields.get(CF_ROUTING) != "static":
        values["max_prefix"] = fields[CF_MAX_PREFIX]
    site = None
    if "A" in ends:
        device = view.device(ends["A"][0]) or {}
        site = _slug(device.get("site"))
    return {
        "id": cid,
        "service": fields.get(CF_SERVICE),
        "status": _value(circuit.get("status")),
        "customer": customer,
        "site": site,
        "description": circuit.get("description") or "",
        "values": values,
        "resources": resources,
        "order": fields.get(CF_ORDER),
    }


def circuit_ends(view, circuit_id):
    """{term side: (device name, interface name, interface record)} of the circuit's cabled ends."""
    ends = {}
    for term in view.terminations(circuit_id):
        for peer in term.get("link_peers") or []:
            if isinstance(peer, dict) and peer.get("device"):
                ends[term.get("term_side")] = (peer["device"]["name"], peer["name"], peer)
    return ends


def _resource(kind, record, name):
    return {"type": kind, "id": record.get("id"), "name": name, "url": record.get("display_url") or record.get("url")}


def list_services(view, service_only=False):
    """Every circuit as a service (those of a catalog service only, with ``service_only``)."""
    out = []
    for circuit in view.circuits():
        if service_only and not (circuit.get("custom_fields") or {}).get(CF_SERVICE):
            continue
        described = describe(view, circuit["cid"])
        if described is not None:
            out.append(described)
    return out


def choices(service, name, view, values):
    """The values a form offers for characteristic ``name``: devices of the role, free ports of
    the chosen device, existing customers; [] for free-form characteristics."""
    c = service.characteristic(name)
    if c is None:
        return []
    if c.type == "device":
        filters = {"status": "active"}
        if c.role:
            filters["role"] = c.role
        return sorted(d["name"] for d in view.api.dcim.devices.filter(**filters))
    if c.type == "interface":
        device = view.device(values.get(c.device) or "") if values.get(c.device) else None
        if device is None:
            return []
        return [i["name"] for i in view.interfaces(device["name"]) if not _interface_problems(view, device, i["name"])]
    if c.type == "tenant":
        return sorted(t.name for t in view.api.tenancy.tenants.all())
    return []


# -- writing: a journal of every change, so a rollback undoes exactly what was done --------


class Journal:
    """The writes of one order, in order: saved to ``path`` (JSON) after each one."""

    def __init__(self, path=None, entries=None):
        self.path = path
        self.entries = list(entries or [])

    @classmethod
    def load(cls, path):
        text = files.read(path)
        return cls(path, json.loads(text)["entries"] if text else [])

    def add(self, entry):
        self.entries.append(entry)
        self.save()

    def save(self):
        if self.path:
            files.write_if_changed(self.path, json.dumps({"entries": self.entries}, indent=1) + "\n", mode=0o600)

    def discard(self):
        self.entries = []
        if self.path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)


class Writer:
    """Creates, updates and deletes NetBox records, journaling each so it can be undone."""

    def __init__(self, api, journal):
        self.api = api
        self.journal = journal

    def create(self, endpoint, payload, label):
        return self.created(endpoint, netbox_endpoint(self.api, endpoint).create(payload), label)

    def created(self, endpoint, record, label):
        """Journal a record NetBox created (by ``create``, or by an available-prefixes request)."""
        self.journal.add({"op": "created", "endpoint": endpoint, "id": record.id, "label": label})
        return record

    def update(self, endpoint, record_id, changes, before, label):
        netbox_endpoint(self.api, endpoint).update([dict(changes, id=record_id)])
        self.journal.add({"op": "updated", "endpoint": endpoint, "id": record_id, "before": before, "label": label})

    def delete(self, endpoint, record, payload, label):
        """Delete ``record``; ``payload`` is what recreates it on rollback."""
        netbox_endpoint(self.api, endpoint).delete([record["id"]])
        self.journal.add(
            {"op": "deleted", "endpoint": endpoint, "id": record["id"], "payload": payload, "label": label}
        )


def rollback(api, journal, log=None):
    """Undo the journal's writes, newest first; returns what was undone (labels).

    Every entry is tried; the ones NetBox refuses are reported together at the end
    (OrderError), and stay in the journal so a later rollback can finish the job.
    """
    undone, failed, left = [], [], []
    for entry in reversed(journal.entries):
        endpoint = netbox_endpoint(api, entry["endpoint"])
        try:
            if entry["op"] == "created":
                record = endpoint.get(entry["id"])
                if record is not None:
                    record.delete()
            elif entry["op"] == "updated":
                endpoint.update([dict(entry["before"], id=entry["id"])])
            elif entry["op"] == "deleted":
                endpoint.create(entry["payload"])
            undone.append(
                "%s %s"
                % ({"created": "deleted", "updated": "restored", "deleted": "recreated"}[entry["op"]], entry["label"])
            )
            if log:
                log(undone[-1])
        except Exception as exc:  # pynetbox RequestError, connection errors: report them all
            failed.append("%s: %s" % (entry["label"], str(exc)[:300]))
            left.insert(0, entry)
    journal.entries = left
    journal.save()
    if failed:
        raise OrderError(["rollback left %d change(s) in NetBox: %s" % (len(failed), "; ".join(failed))])
    journal.discard()
    return undone


def circuit_id(customer, site, taken):
    """The next circuit ID for a customer at a site: ACME-CORP-AMS1-0001 style, not in ``taken``."""
    stem = "%s-%s" % (
        re.sub(r"[^A-Z0-9]+", "-", customer.upper()).strip("-")[:24] or "CUSTOMER",
        (site or "SITE").upper(),
    )
    n = 1
    while "%s-%04d" % (stem, n) in taken:
        n += 1
    return "%s-%04d" % (stem, n)


# -- the writes of each action -------------------------------------------------------------


def _slugify(text):
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:100] or "customer"


def _nested_payload(record, keys):
    """The writable form of a REST record's fields (nested objects by id)."""
    out = {}
    for key in keys:
        value = record.get(key)
        if isinstance(value, dict) and "id" in value:
            value = value["id"]
        elif isinstance(value, dict) and "value" in value:
            value = value["value"]
        elif key == "tags":
            value = [{"id": t["id"]} for t in value or []]
        out[key] = value
    return out


PREFIX_FIELDS = ("prefix", "status", "tenant", "description", "is_pool", "custom_fields", "tags")
ADDRESS_FIELDS = (
    "address",
    "status",
    "role",
    "tenant",
    "description",
    "assigned_object_type",
    "assigned_object_id",
    "custom_fields",
    "tags",
)


def _cable_payload(cable):
    ends = {}
    for side in ("a_terminations", "b_terminations"):
        ends[side] = [{"object_type": t["object_type"], "object_id": t["object_id"]} for t in cable.get(side) or []]
    return dict(
        ends, status=_value(cable.get("status")) or "connected", tags=[{"id": t["id"]} for t in cable.get("tags") or []]
    )


class Reservation:
    """The NetBox writes of one order's items, journaled (see :class:`Journal`).

    ``begin`` makes the network-facing records (add: everything, the circuit planned then
    provisioning; modify: the changed prefixes, rate and limits; delete: the circuit
    deprovisioning and its records removed); ``finish`` makes it final once the devices are
    verified (add: active; delete: decommissioned, then the circuit and what its add created
    are deleted, so NetBox is as before the add). ``rollback(api, journal)`` undoes ``begin``.
    """

    def __init__(self, api, catalog, journal, order_id=None, log=None):
        self.api = api
        self.catalog = catalog
        self.view = NetboxView(api)
        self.write = Writer(api, journal)
        self.order_id = order_id
        self.log = log or (lambda message: None)
        self._tag = None

    def tag(self):
        if self._tag is None:
            tag = self.api.extras.tags.get(slug=ORDERED_TAG)
            if tag is None:
                raise OrderError(["NetBox has no tag %s: run sot-sync (it comes with the intent)" % ORDERED_TAG])
            self._tag = [{"id": tag.id}]
        return self._tag

    def _get(self, endpoint, what, **filters):
        record = netbox_endpoint(self.api, endpoint).get(**filters)
        if record is None:
            raise OrderError(["NetBox has no %s" % what])
        return record

    def begin(self, item):
        """The item's records; returns what it reserved (the order's item result)."""
        result = getattr(self, "_begin_" + item["action"])(item)
        self.view.forget()
        return result

    def finish(self, item):
        if item["action"] == "add":
            circuit = self.view.circuit(item["service_id"])
            netbox_endpoint(self.api, "circuits.circuits").update([{"id": circuit["id"], "status": "active"}])
            self.log("%s is active" % item["service_id"])
        elif item["action"] == "delete":
            self._release(item)
        self.view.forget()

    # add ---------------------------------------------------------------------------------

    def _begin_add(self, item):
        v, service = item["values"], self.catalog[item["service"]]
        view, write = self.view, self.write
        pe, ce = view.device(v["pe"]), view.device(v["ce"])
        pe_if, ce_if = view.interface(v["pe"], v["pe_interface"]), view.interface(v["ce"], v["ce_interface"])
        customer = v["customer"]
        prior = {"ce_tenant": _id(ce.get("tenant"))}
        tenant = view.tenant(customer)
        if tenant is None:
            tenant = dict(
                write.create(
                    "tenancy.tenants",
                    {"name": customer, "slug": _slugify(customer), "tags": self.tag()},
                    "tenant %s" % customer,
                )
            )
            prior["tenant_created"] = tenant["id"]
        asn = v.get("customer_asn")
        if asn is not None and not view.asns(asn=asn):
            rir = self._get("ipam.rirs", "RIR %r (the catalog's asn_rir)" % service.asn_rir, name=service.asn_rir)
            created = write.create(
                "ipam.asns",
                {"asn": asn, "rir": rir.id, "tenant": tenant["id"], "description": customer, "tags": self.tag()},
                "AS%s" % asn,
            )
            prior["asn_created"] = created.id
        provider = self._get(
            "circuits.providers", "provider %r (the catalog's provider)" % service.provider, name=service.provider
        )
        ctype = self._get("circuits.circuit_types", "circuit type %r" % service.circuit_type, name=service.circuit_type)
        fields = {CF_SERVICE: service.name, CF_ROUTING: service.routing, CF_ORDER: self.order_id, CF_PRIOR: prior}
        if service.announce:
            fields[CF_ANNOUNCE] = service.announce
        if service.characteristic("max_prefix"):
            fields[CF_MAX_PREFIX] = v.get("max_prefix")
        circuit = self._create_circuit(
            {
                "provider": provider.id,
                "type": ctype.id,
                "status": "planned",
                "tenant": tenant["id"],
                "commit_rate": v.get("bandwidth"),
                "description": "%s, %s" % (service.label, customer),
                "tags": self.tag(),
                "custom_fields": fields,
            },
            customer,
            _slug(pe.get("site")),
        )
        cid = circuit.cid
        item["service_id"] = cid
        self.log("reserved circuit %s (planned)" % cid)
        for side, device, interface in (("A", pe, pe_if), ("Z", ce, ce_if)):
            term = write.create(
                "circuits.circuit_terminations",
                {
                    "circuit": circuit.id,
                    "term_side": side,
                    "termination_type": "dcim.site",
                    "termination_id": _id(device.get("site")),
                },
                "termination %s of %s" % (side, cid),
            )
            write.create(
                "dcim.cables",
                {
                    "a_terminations": [{"object_type": "dcim.interface", "object_id": interface["id"]}],
                    "b_terminations": [{"object_type": "circuits.circuittermination", "object_id": term.id}],
                    "status": "connected",
                    "tags": self.tag(),
                },
                "cable %s:%s to %s/%s" % (device["name"], interface["name"], cid, side),
            )
        link = self._link(service, cid, pe)
        first, second = list(link.hosts())[:2]
        marked = {"custom_fields": {CF_CIRCUIT: cid}, "tags": self.tag(), "status": "active"}
        for address, device, interface in ((first, pe, pe_if), (second, ce, ce_if)):
            write.create(
                "ipam.ip_addresses",
                dict(marked, address="%s/%d" % (address, link.prefixlen), assigned_object_type="dcim.interface",
                     assigned_object_id=interface["id"], description="%s %s" % (cid, device["name"])),
                "address %s on %s:%s" % (address, device["name"], interface["name"]),
            )  # fmt: skip
        for prefix in v.get("prefixes") or []:
            self._customer_prefix(prefix, tenant["id"], customer, asn, cid)
        loopback = self._loopback(v, cid)
        if prior["ce_tenant"] != tenant["id"]:
            write.update(
                "dcim.devices",
                ce["id"],
                {"tenant": tenant["id"]},
                {"tenant": prior["ce_tenant"]},
                "tenant of %s" % ce["name"],
            )
        write.update(
            "circuits.circuits", circuit.id, {"status": "provisioning"}, {"status": "planned"}, "status of %s" % cid
        )
        self.log("%s: link %s (%s %s, %s %s), provisioning" % (cid, link, pe["name"], first, ce["name"], second))
        return {
            "service_id": cid,
            "link": str(link),
            "pe_address": str(first),
            "ce_address": str(second),
            "loopback": loopback,
            "links": [{"a": "%s:%s" % (pe["name"], pe_if["name"]), "b": "%s:%s" % (ce["name"], ce_if["name"])}],
        }

    def _create_circuit(self, payload, customer, site):
        """Create the circuit under the next free ID; a concurrent order that took it makes us try the next."""
        stem = circuit_id(customer, site, set())[:-5]
        for _attempt in range(5):
            taken = {c["cid"] for c in self.view.circuits(cid__isw=stem)}
            cid = circuit_id(customer, site, taken)
            try:
                return self.write.create("circuits.circuits", dict(payload, cid=cid), "circuit %s" % cid)
            except Exception as exc:  # pynetbox.RequestError: the ID was taken meanwhile
                if "cid" not in str(exc) and "unique" not in str(exc).lower():
                    raise
                self.view.forget()
        raise OrderError(["no free circuit ID after %s-0001: too many concurrent orders for %s" % (stem, customer)])

    def _pools(self, service, pe):
        """The NetBox prefixes of the catalog's ``link_pool`` role a link for ``pe`` may come
        from: those scoped to the PE's site first, then the unscoped ones, then those of a wider
        scope (region, site group); never one scoped to another site."""
        role = service.link_pool_role
        pools = [p for p in self.api.ipam.prefixes.filter(role=role)]
        if not pools:
            raise OrderError([_needs_role(service, role, "its PE-CE links")])
        site = _id(pe.get("site"))

        def rank(pool):
            scope_type, scope_id = getattr(pool, "scope_type", None), getattr(pool, "scope_id", None)
            if scope_type == "dcim.site":
                return 0 if scope_id == site else None
            return 1 if scope_type is None else 2

        usable = [p for p in pools if rank(p) is not None]
        ranked = sorted(usable, key=lambda p: (rank(p), ipaddress.ip_network(p.prefix)))
        if not ranked:
            raise OrderError(
                [
                    "the catalog's %s takes its PE-CE links from the prefixes of role %r, but each of them (%s) is "
                    "scoped to another site than %s's" % (service.name, role, ", ".join(p.prefix for p in pools),
                                                          pe["name"])
                ]
            )  # fmt: skip
        return ranked

    def _link(self, service, cid, pe):
        """A /31 from a prefix of the catalog's link pool role, allocated by NetBox (no two orders
        get the same): the first of :meth:`_pools` with room."""
        full = []
        for pool in self._pools(service, pe):
            payload = {
                "prefix_length": 31,
                "status": "active",
                "tenant": pool.tenant.id if pool.tenant else None,
                "description": "%s PE-CE link" % cid,
                "custom_fields": {CF_CIRCUIT: cid},
                "tags": self.tag(),
            }
            try:
                created = pool.available_prefixes.create(payload)
            except Exception as exc:  # pynetbox.RequestError: the pool is full
                full.append("%s: %s" % (pool.prefix, str(exc)[:200]))
                continue
            created = created[0] if isinstance(created, list) else created
            self.write.created("ipam.prefixes", created, "link %s" % created.prefix)
            used = [a.address for a in self.api.ipam.ip_addresses.filter(parent=created.prefix)]
            if used:
                raise OrderError(
                    [
                        "link pool %s: NetBox gave %s, whose addresses %s are in use without a prefix: record "
                        "each link taken from the pool as a prefix" % (pool.prefix, created.prefix, ", ".join(used))
                    ]
                )
            return ipaddress.ip_network(created.prefix)
        raise OrderError(
            [
                "no /31 left in the prefixes of role %r (the catalog's %s link pool): %s"
                % (service.link_pool_role, service.name, "; ".join(full))
            ]
        )

    def _customer_prefix(self, prefix, tenant_id, customer, asn, cid):
        self.write.create(
            "ipam.prefixes",
            {
                "prefix": prefix,
                "status": "active",
                "tenant": tenant_id,
                "description": "%s%s, %s" % (customer, " (AS%s)" % asn if asn else "", cid),
                "custom_fields": {CF_CIRCUIT: cid},
                "tags": self.tag(),
            },
            "prefix %s" % prefix,
        )

    def _loopback(self, values, cid):
        """The CE's address in the customer's first prefix (/32 on its loopback): it answers the
        reachability probe and is what the CE announces."""
        first = ipaddress.ip_network(values["prefixes"][0])
        address = "%s/32" % next(first.hosts())
        lo = _loopback(self.view, values["ce"])
        self.write.create(
            "ipam.ip_addresses",
            {"address": address, "status": "active", "role": "loopback", "assigned_object_type": "dcim.interface",
             "assigned_object_id": lo["id"], "description": "%s customer loopback" % cid,
             "custom_fields": {CF_CIRCUIT: cid}, "tags": self.tag()},
            "loopback %s on %s" % (address, values["ce"]),
        )  # fmt: skip
        return address

    # modify ------------------------------------------------------------------------------

    def _begin_modify(self, item):
        cid, v = item["service_id"], item["values"]
        circuit = self.view.circuit(cid)
        current = describe(self.view, cid)["values"]
        fields = circuit.get("custom_fields") or {}
        changes, before = {}, {}
        if v.get("bandwidth") != circuit.get("commit_rate"):
            changes["commit_rate"], before["commit_rate"] = v.get("bandwidth"), circuit.get("commit_rate")
        if "max_prefix" in v and v["max_prefix"] != fields.get(CF_MAX_PREFIX):
            changes["custom_fields"] = {CF_MAX_PREFIX: v["max_prefix"], CF_ORDER: self.order_id}
            before["custom_fields"] = {CF_MAX_PREFIX: fields.get(CF_MAX_PREFIX), CF_ORDER: fields.get(CF_ORDER)}
        if changes:
            self.write.update("circuits.circuits", circuit["id"], changes, before, "rate and limits of %s" % cid)
        old, new = set(current.get("prefixes") or []), set(v.get("prefixes") or [])
        tenant = circuit.get("tenant") or {}
        loopback = next(
            (a for a in self.view.tagged("ipam.ip_addresses", cid) if _value(a.get("role")) == "loopback"), None
        )
        moves = loopback is not None and not any(
            ipaddress.ip_interface(loopback["address"]).ip in ipaddress.ip_network(p) for p in new
        )
        if moves:
            self.write.delete(
                "ipam.ip_addresses",
                loopback,
                _nested_payload(loopback, ADDRESS_FIELDS),
                "loopback %s" % loopback["address"],
            )
        for p in self.view.tagged("ipam.prefixes", cid):
            if p["prefix"] in old - new and _id(p.get("tenant")) == tenant.get("id"):
                self.write.delete("ipam.prefixes", p, _nested_payload(p, PREFIX_FIELDS), "prefix %s" % p["prefix"])
        for prefix in sorted(new - old, key=ipaddress.ip_network):
            self._customer_prefix(prefix, tenant.get("id"), tenant.get("name"), current.get("customer_asn"), cid)
        address = loopback["address"] if loopback is not None and not moves else None
        if moves:
            v["prefixes"] = sorted(new, key=ipaddress.ip_network)
            address = self._loopback(v, cid)
        self.log("%s: %d change(s)" % (cid, len(self.write.journal.entries)))
        return {
            "service_id": cid,
            "loopback": address,
            "added": sorted(new - old),
            "removed": sorted(old - new),
            "links": [],
        }

    # delete ------------------------------------------------------------------------------

    def _begin_delete(self, item):
        cid = item["service_id"]
        circuit = self.view.circuit(cid)
        write = self.write
        write.update(
            "circuits.circuits",
            circuit["id"],
            {"status": "deprovisioning"},
            {"status": _value(circuit.get("status"))},
            "status of %s" % cid,
        )
        for a in self.view.tagged("ipam.ip_addresses", cid):
            write.delete("ipam.ip_addresses", a, _nested_payload(a, ADDRESS_FIELDS), "address %s" % a["address"])
        for p in self.view.tagged("ipam.prefixes", cid):
            write.delete("ipam.prefixes", p, _nested_payload(p, PREFIX_FIELDS), "prefix %s" % p["prefix"])
        for term in self.view.terminations(circuit["id"]):
            if term.get("cable"):
                cable = dict(self.api.dcim.cables.get(_id(term["cable"])))
                write.delete(
                    "dcim.cables",
                    cable,
                    _cable_payload(cable),
                    "cable #%s of %s/%s" % (cable["id"], cid, term["term_side"]),
                )
        ends = {
            side: "%s:%s" % (device, name)
            for side, (device, name, _peer) in circuit_ends(self.view, circuit["id"]).items()
        }
        links = [{"a": ends["A"], "b": ends["Z"]}] if "A" in ends and "Z" in ends else []
        prior = (circuit.get("custom_fields") or {}).get(CF_PRIOR) or {}
        ce = self.view.device(item["values"].get("ce") or "")
        if ce is not None and _id(ce.get("tenant")) != prior.get("ce_tenant") and not self._other_services(ce, cid):
            write.update(
                "dcim.devices",
                ce["id"],
                {"tenant": prior.get("ce_tenant")},
                {"tenant": _id(ce.get("tenant"))},
                "tenant of %s" % ce["name"],
            )
        self.log("%s: deprovisioning, its addresses, prefixes and cables removed" % cid)
        return {"service_id": cid, "links": links}

    def _other_services(self, device, cid):
        """Other circuits cabled to ``device``."""
        for interface in self.view.interfaces(device["name"]):
            if interface.get("link_peers_type") == "circuits.circuittermination":
                for peer in interface.get("link_peers") or []:
                    other = ((peer or {}).get("circuit") or {}).get("cid")
                    if other and other != cid:
                        return True
        return False

    def _release(self, item):
        """After a verified delete: decommissioned, then gone, with the tenant and AS number
        its add created when nothing else uses them."""
        cid = item["service_id"]
        circuit = self.view.circuit(cid)
        if circuit is None:
            return
        circuits = netbox_endpoint(self.api, "circuits.circuits")
        circuits.update([{"id": circuit["id"], "status": "decommissioned"}])
        self.log("%s is decommissioned" % cid)
        prior = (circuit.get("custom_fields") or {}).get(CF_PRIOR) or {}
        circuits.delete([circuit["id"]])
        tenant_id = prior.get("tenant_created")
        if tenant_id and not self._tenant_in_use(tenant_id):
            for asn in self.api.ipam.asns.filter(tenant_id=tenant_id):
                if asn.id == prior.get("asn_created"):
                    asn.delete()
            if not list(self.api.ipam.asns.filter(tenant_id=tenant_id)):
                self.api.tenancy.tenants.delete([tenant_id])
                self.log("customer %s removed (it had no other service)" % (circuit.get("tenant") or {}).get("name"))
        elif prior.get("asn_created") and not tenant_id:
            pass  # an existing customer keeps the AS number it now has
        self.log("%s deleted; NetBox is as before its order" % cid)

    def _tenant_in_use(self, tenant_id):
        for endpoint in ("circuits.circuits", "dcim.devices", "ipam.prefixes", "ipam.ip_addresses", "dcim.sites"):
            if netbox_endpoint(self.api, endpoint).count(tenant_id=tenant_id):
                return True
        return False
