# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The order check: a service order (TMF641) against the catalog and NetBox, reading only.

:func:`check_order` checks every item of an order and names each problem (unknown device,
interface in use, overlapping prefix, bad AS number...). The portal calls it before it accepts
an order, the playbook again before it writes. :func:`devices_of` gives the routers an order
touches (the job's limit and locks), :func:`verification` what the playbook verifies on them
once the order is pushed.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.netoss.core.plugins.module_utils import config_values
from ansible_collections.netoss.core.plugins.module_utils.service_catalog import check_values
from ansible_collections.netoss.core.plugins.module_utils.service_inventory import describe
from ansible_collections.netoss.core.plugins.module_utils.service_model import (
    CF_ANNOUNCE,
    CF_CIRCUIT,
    CF_ROUTING,
    CF_SERVICE,
)
from ansible_collections.netoss.core.plugins.module_utils.service_model import slug_of as _slug
from ansible_collections.netoss.core.plugins.module_utils.service_model import value_of as _value
from ansible_collections.netoss.core.plugins.module_utils.service_netbox_view import interface_problems, loopback_of

ACTIONS = ("add", "modify", "delete")
# What a modify may change; anything else is a delete and a new add.
MUTABLE = ("prefixes", "bandwidth", "max_prefix")
LIVE = ("active", "offline")  # circuit statuses a modify or delete applies to
DEFAULT_ROUTE = "0.0.0.0/0"


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
                    "%s: %s" % (c.name, p) for p in interface_problems(view, devices[c.device], values[c.name])
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
        if not loopback_of(view, ce["name"]):
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


def needs_role(service, role, what):
    """The problem of a catalog service whose prefix ``role`` no NetBox prefix has."""
    return "the catalog's %s needs a prefix with role %r in NetBox for %s (none has it)" % (service.name, role, what)


def _within_problems(service, values, view):
    """Each ordered prefix lies inside a NetBox prefix of its characteristic's ``within`` role."""
    problems = []
    for c in service.characteristics:
        if c.type != "prefixes" or not c.within_role or not values.get(c.name):
            continue
        spaces = view.prefixes_of_role(c.within_role)
        if not spaces:
            problems.append("%s: %s" % (c.name, needs_role(service, c.within_role, "its customers' prefixes")))
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
        problems.append(needs_role(service, service.link_pool_role, "its PE-CE links"))
    if service.announce == "default+aggregates" and pe is not None and not view.aggregates_of(pe):
        problems.append(
            "the catalog's %s announces the provider's aggregates to the customer, but NetBox has no IPv4 "
            "aggregate (IPAM > Aggregates) of %s's provider (its tenant, else its site's)" % (service.name, pe["name"])
        )
    return problems


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
    For a delete, call it before service_reservation.Reservation.begin removes the addresses."""
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
