# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The service inventory (TMF638): NetBox circuits read back as customer services.

:func:`describe` gives one circuit's service (its catalog service, status, customer, the
values it was ordered with, the NetBox records it holds); :func:`list_services` every
circuit's. ``view`` is a service_netbox_view.NetboxView (or anything that answers the same).
"""

from __future__ import annotations

import ipaddress

from ansible_collections.netoss.core.plugins.module_utils.service_model import (
    CF_MAX_PREFIX,
    CF_ORDER,
    CF_ROUTING,
    CF_SERVICE,
)
from ansible_collections.netoss.core.plugins.module_utils.service_model import slug_of as _slug
from ansible_collections.netoss.core.plugins.module_utils.service_model import value_of as _value


def describe(view, cid):
    """The service of circuit ``cid`` (a dict: id, service, status, customer, site, description,
    values, resources, order; see service_model for the records), or None."""
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
