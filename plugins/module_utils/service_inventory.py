# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The service inventory (TMF638): NetBox circuits read back as customer services.

:func:`describe` gives one circuit's service (its catalog service, status, customer, the
values it was ordered with, the NetBox records it holds); :func:`page_services` a page of
them, filtered and paged by NetBox, and :func:`list_services` every circuit's. A list reads
NetBox in bulk (:func:`describe_many`: a few calls whatever the number of circuits).
``view`` is a service_netbox_view.NetboxView (or anything that answers the same).
"""

from __future__ import annotations

import ipaddress
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.netoss.core.plugins.module_utils.service_model import (
    CF_MAX_PREFIX,
    CF_ORDER,
    CF_ROUTING,
    CF_SERVICE,
)
from ansible_collections.netoss.core.plugins.module_utils.service_model import id_of as _id
from ansible_collections.netoss.core.plugins.module_utils.service_model import slug_of as _slug
from ansible_collections.netoss.core.plugins.module_utils.service_model import value_of as _value


def describe(view, cid):
    """The service of circuit ``cid`` (a dict: id, service, status, customer, site, description,
    values, resources, order; see service_model for the records), or None."""
    circuit = view.circuit(cid)
    if circuit is None:
        return None
    tenant_id = (circuit.get("tenant") or {}).get("id")
    ends = circuit_ends(view, circuit["id"])
    return _described(
        circuit,
        ends,
        asns=view.asns(tenant_id=tenant_id) if tenant_id else [],
        prefixes=view.tagged("ipam.prefixes", cid),
        addresses=view.tagged("ipam.ip_addresses", cid),
        tenant_prefixes=lambda: view.prefixes_of(tenant_id),
        a_device=view.device(ends["A"][0]) if "A" in ends else None,
    )


def _described(circuit, ends, asns, prefixes, addresses, tenant_prefixes, a_device):
    """A circuit's service from what NetBox holds of it: its cabled ends (:func:`circuit_ends`),
    its customer's AS numbers, the prefixes and addresses made for it, its customer's active
    prefixes (``tenant_prefixes()``, asked only for a circuit made before service orders) and
    the device at its A end."""
    cid = circuit["cid"]
    fields = circuit.get("custom_fields") or {}
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
    asns = [a["asn"] for a in asns]
    if asns and fields.get(CF_ROUTING) != "static":
        values["customer_asn"] = asns[0]
    mine = []
    for p in prefixes:
        resources.append(_resource("ipam.prefix", p, p["prefix"]))
        if (p.get("tenant") or {}).get("id") == tenant.get("id"):
            mine.append(p["prefix"])
    for a in addresses:
        resources.append(_resource("ipam.ipaddress", a, a["address"]))
    if _needs_tenant_prefixes(circuit, mine):
        # A circuit made before service orders (the intent's): its customer's prefixes.
        mine = [p["prefix"] for p in tenant_prefixes()]
    if mine:
        values["prefixes"] = sorted(mine, key=ipaddress.ip_network)
    if circuit.get("commit_rate") is not None:
        values["bandwidth"] = circuit["commit_rate"]
    if fields.get(CF_MAX_PREFIX) is not None and fields.get(CF_ROUTING) != "static":
        values["max_prefix"] = fields[CF_MAX_PREFIX]
    site = _slug((a_device or {}).get("site")) if "A" in ends else None
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


def _needs_tenant_prefixes(circuit, own_prefixes):
    fields = circuit.get("custom_fields") or {}
    return not own_prefixes and not fields.get(CF_SERVICE) and bool((circuit.get("tenant") or {}).get("id"))


def circuit_ends(view, circuit_id):
    """{term side: (device name, interface name, interface record)} of the circuit's cabled ends."""
    return _ends(view.terminations(circuit_id))


def _ends(terminations):
    ends = {}
    for term in terminations:
        for peer in term.get("link_peers") or []:
            if isinstance(peer, dict) and peer.get("device"):
                ends[term.get("term_side")] = (peer["device"]["name"], peer["name"], peer)
    return ends


def _resource(kind, record, name):
    return {"type": kind, "id": record.get("id"), "name": name, "url": record.get("display_url") or record.get("url")}


def list_services(view, service_only=False):
    """Every circuit as a service (those of a catalog service only, with ``service_only``)."""
    return page_services(view, service_only=service_only)[1]


def page_services(view, offset=0, limit=None, filters=None, customer=None, service=None, service_only=False):
    """(how many circuits match, the services of ``limit`` of them from ``offset``; all with
    ``limit`` None), in NetBox's order of circuits.

    ``filters`` are NetBox's circuit filters (such as ``status``); ``customer`` a tenant's
    name, ``service`` a catalog service's (exactly). NetBox does the filtering and paging;
    the circuits' terminations, prefixes, addresses, AS numbers and devices are then read in
    bulk: a few calls for the page, whatever its length, not a few per circuit."""
    filters = dict(filters or {})
    if customer is not None:
        tenants = [t["id"] for t in view.tenants_named(customer)]
        if not tenants:
            return 0, []
        filters["tenant_id"] = tenants
    if service is not None:
        filters["cf_" + CF_SERVICE] = service  # NetBox's text filter matches what contains it: narrowed below
    if service is not None or service_only:
        circuits = [
            c
            for c in view.circuit_list(**filters)
            if (c.get("custom_fields") or {}).get(CF_SERVICE) == service
            or (service is None and (c.get("custom_fields") or {}).get(CF_SERVICE))
        ]
        total, circuits = len(circuits), circuits[offset : None if limit is None else offset + limit]
    elif limit is None:
        circuits = view.circuit_list(**filters)
        total, circuits = len(circuits), circuits[offset:]
    else:
        total, circuits = view.circuit_page(offset, limit, **filters)
    return total, describe_many(view, circuits)


def describe_many(view, circuits):
    """The services of ``circuits`` (NetBox circuit records), as :func:`describe` gives each,
    from bulk reads."""
    if not circuits:
        return []
    tenants = {(c.get("tenant") or {}).get("id") for c in circuits} - {None}
    # Records are made for a circuit (netoss_circuit) by the service orders of a catalog service
    # only, which mark the circuit (netoss_service): the others' are not looked for.
    ordered = [c["cid"] for c in circuits if (c.get("custom_fields") or {}).get(CF_SERVICE)]

    def legacy_prefixes(prefixes):
        """The active prefixes of the customers of circuits made before service orders."""
        legacy = set()
        for c in circuits:
            tenant = (c.get("tenant") or {}).get("id")
            own = [p for p in prefixes.get(c["cid"], []) if (p.get("tenant") or {}).get("id") == tenant]
            if _needs_tenant_prefixes(c, own):
                legacy.add(tenant)
        return view.active_prefixes_of(legacy) if legacy else {}

    def far_ends(terminations):
        """{circuit id: its ends (_ends)}, and the records of the devices at the A ends."""
        cables = {_id(t.get("cable")) for ts in terminations.values() for t in ts} - {None}
        peers = view.peers_of(cables) if cables else {}
        ends = {}
        for c in circuits:
            terms = terminations.get(c["id"], [])
            ends[c["id"]] = _ends([dict(t, link_peers=peers.get(_id(t.get("cable")), [])) for t in terms])
        a_ends = {e["A"][2]["device"]["id"] for e in ends.values() if "A" in e}
        return ends, view.devices_by_id(a_ends) if a_ends else {}

    # Each chain of reads at once with the others (NetBox answers several together): a read
    # waits only for the one whose answer it needs, not for a whole round. The futures keep
    # names of their own: a task may start after the answers were taken.
    with ThreadPoolExecutor(max_workers=6) as pool:
        terminations_read = pool.submit(view.terminations_of, [c["id"] for c in circuits])
        asns_read = pool.submit(lambda: view.asns_of(tenants) if tenants else {})
        prefixes_read = pool.submit(lambda: view.tagged_of("ipam.prefixes", ordered) if ordered else {})
        addresses_read = pool.submit(lambda: view.tagged_of("ipam.ip_addresses", ordered) if ordered else {})
        tenant_prefixes_read = pool.submit(lambda: legacy_prefixes(prefixes_read.result()))
        ends_read = pool.submit(lambda: far_ends(terminations_read.result()))
        asns, prefixes, addresses = asns_read.result(), prefixes_read.result(), addresses_read.result()
        tenant_prefixes = tenant_prefixes_read.result()
        ends, devices = ends_read.result()
    out = []
    for c in circuits:
        tenant = (c.get("tenant") or {}).get("id")
        mine = ends[c["id"]]
        out.append(
            _described(
                c,
                mine,
                asns=asns.get(tenant, []) if tenant else [],
                prefixes=prefixes.get(c["cid"], []),
                addresses=addresses.get(c["cid"], []),
                tenant_prefixes=lambda tenant=tenant: tenant_prefixes.get(tenant, []),
                a_device=devices.get(mine["A"][2]["device"]["id"]) if "A" in mine else None,
            )
        )
    return out
