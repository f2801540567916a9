# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reservation: the NetBox writes of a checked service order, and their end.

:class:`Reservation` makes an item's records (the circuit under the next free ID, its
terminations and cables to the PE and CE ports, a /31 from a NetBox pool of the catalog's
``link_pool`` role, the customer's tenant, AS number, prefixes and loopback), journaling each
write (service_journal) so a rollback undoes exactly what was done; then sets the service live
once the devices are verified, or releases what its add created. The items are those
service_check.check_order returned clean.
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.netoss.core.plugins.module_utils.netbox_client import endpoint as netbox_endpoint
from ansible_collections.netoss.core.plugins.module_utils.service_check import needs_role
from ansible_collections.netoss.core.plugins.module_utils.service_inventory import circuit_ends, describe
from ansible_collections.netoss.core.plugins.module_utils.service_journal import Writer
from ansible_collections.netoss.core.plugins.module_utils.service_model import (
    CF_ANNOUNCE,
    CF_CIRCUIT,
    CF_MAX_PREFIX,
    CF_ORDER,
    CF_PRIOR,
    CF_ROUTING,
    CF_SERVICE,
    ORDERED_TAG,
    OrderError,
)
from ansible_collections.netoss.core.plugins.module_utils.service_model import id_of as _id
from ansible_collections.netoss.core.plugins.module_utils.service_model import slug_of as _slug
from ansible_collections.netoss.core.plugins.module_utils.service_model import value_of as _value
from ansible_collections.netoss.core.plugins.module_utils.service_netbox_view import NetboxView, loopback_of


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
    """The NetBox writes of one order's items, journaled (see service_journal.Journal).

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
        pools = list(self.api.ipam.prefixes.filter(role=role))
        if not pools:
            raise OrderError([needs_role(service, role, "its PE-CE links")])
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
        lo = loopback_of(self.view, values["ce"])
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
