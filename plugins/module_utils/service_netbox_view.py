# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a service order reads from NetBox: :class:`NetboxView`, and what a form may offer.

The view only reads, each question once per order (``forget`` after a write). The order
check, the inventory and the reservation read NetBox through it; the portal's order form asks
:func:`choices` for the devices, free ports and customers it offers. See service_model for
the records a service is made of.
"""

from __future__ import annotations

import ipaddress
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.netoss.core.plugins.module_utils.netbox_client import endpoint as netbox_endpoint
from ansible_collections.netoss.core.plugins.module_utils.service_model import CF_CIRCUIT
from ansible_collections.netoss.core.plugins.module_utils.service_model import id_of as _id
from ansible_collections.netoss.core.plugins.module_utils.service_model import value_of as _value

CHUNK = 100  # ids per bulk read: a query string of a hundred ids stays well under a server's line limit
READERS = 4  # chunks of one bulk read asked at once (NetBox's workers answer several together)
# What the service inventory reads of each record, in its bulk reads (NetBox's ``fields``).
CIRCUIT_FIELDS = "id,url,display_url,cid,status,tenant,commit_rate,description,custom_fields"
TERMINATION_FIELDS = "id,circuit,term_side,cable"
# The ports a circuit's cable may reach: their type in a cable's terminations, their endpoint.
PEER_TYPES = {
    "dcim.interface": "dcim.interfaces",
    "dcim.frontport": "dcim.front_ports",
    "dcim.rearport": "dcim.rear_ports",
}
PEER_KEYS = ("id", "url", "name", "device", "cable")  # of a port, as link_peers gives them: no display_url
TAGGED_FIELDS = {
    "ipam.prefixes": "id,url,display_url,prefix,tenant,custom_fields",
    "ipam.ip_addresses": "id,url,display_url,address,custom_fields",
}
DEVICE_FIELDS = "id,name,site"


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
        """Records of ``endpoint`` (ipam.prefixes, ipam.ip_addresses) made for circuit ``cid``.

        NetBox's filter on a text custom field matches what *contains* the value (its default,
        loose filter logic): the records of ``cid`` are those whose field is ``cid`` exactly."""
        found = self._list(
            (endpoint, cid), lambda: netbox_endpoint(self.api, endpoint).filter(**{"cf_" + CF_CIRCUIT: cid})
        )
        return [r for r in found if (r.get("custom_fields") or {}).get(CF_CIRCUIT) == cid]

    # -- bulk reads: a few calls for a whole list, whatever its length (the service inventory) --

    def circuit_page(self, offset, limit, **filters):
        """(how many circuits match ``filters``, ``limit`` of them from ``offset`` in NetBox's
        order): one request, the count is the page's."""
        page = self.api.circuits.circuits.filter(**filters, fields=CIRCUIT_FIELDS, offset=offset, limit=limit)
        records = [dict(r) for r in page]
        return len(page), records  # after the page is read, its length is NetBox's count

    def circuit_list(self, **filters):
        """Every circuit matching ``filters`` (the fields the inventory reads), in NetBox's order."""
        return [dict(r) for r in self.api.circuits.circuits.filter(**filters, fields=CIRCUIT_FIELDS)]

    def tenants_named(self, name):
        """The tenants named ``name`` (exactly)."""
        return self._list(("tenants_named", name), lambda: self.api.tenancy.tenants.filter(name=name))

    def _grouped(self, fetch, key, values, group):
        """{group(record): [records]} of the records ``fetch(**{key: chunk})`` answers, asked for
        ``values`` CHUNK at a time (a query string stays short), the chunks at once, in NetBox's
        order."""
        out, seen = {}, set()
        values = sorted(set(values), key=str)
        chunks = [values[start : start + CHUNK] for start in range(0, len(values), CHUNK)]
        with ThreadPoolExecutor(max_workers=max(1, min(len(chunks), READERS))) as pool:
            answers = list(pool.map(lambda chunk: [dict(r) for r in fetch(**{key: chunk})], chunks))
        for answer in answers:
            for record in answer:
                if record.get("id") in seen:  # a loose filter answers a record in two chunks
                    continue
                seen.add(record.get("id"))
                out.setdefault(group(record), []).append(record)
        return out

    def terminations_of(self, circuit_ids):
        """{circuit id: [its terminations]}: side and cable, not their far ends (NetBox works
        out a termination's link peers one by one, slowly: :meth:`peers_of` reads them)."""
        return self._grouped(
            lambda **f: self.api.circuits.circuit_terminations.filter(fields=TERMINATION_FIELDS, **f),
            "circuit_id",
            circuit_ids,
            lambda r: _id(r.get("circuit")),
        )

    def peers_of(self, cable_ids):
        """{cable id: [the device ports (interfaces, front and rear ports) it connects]}: the far
        ends of circuit terminations on those cables, as NetBox's link_peers gives them. The
        cables' ends are read as ids (NetBox serialising each end's port with its device on its
        own took three times as long), then the ports by id, one list per kind, at once."""
        ends = self._grouped(
            lambda **f: self.api.dcim.cable_terminations.filter(
                termination_type=list(PEER_TYPES), fields="id,cable,termination_type,termination_id", **f
            ),
            "cable_id",
            cable_ids,
            lambda r: _id(r.get("cable")),
        )
        wanted = {}
        for records in ends.values():
            for r in records:
                wanted.setdefault(r.get("termination_type"), set()).add(r.get("termination_id"))

        def ports(kind):
            found = self._grouped(
                lambda **f: netbox_endpoint(self.api, PEER_TYPES[kind]).filter(fields=",".join(PEER_KEYS), **f),
                "id",
                wanted[kind],
                lambda r: r.get("id"),
            )
            return kind, {key: records[0] for key, records in found.items()}

        kinds = [kind for kind in PEER_TYPES if wanted.get(kind)]
        with ThreadPoolExecutor(max_workers=max(1, len(kinds))) as pool:
            by_kind = dict(pool.map(ports, kinds))
        out = {}
        for cable, records in ends.items():
            found = [by_kind.get(r.get("termination_type"), {}).get(r.get("termination_id")) for r in records]
            out[cable] = [port for port in found if port is not None]  # a port deleted in between: not an end
        return out

    def tagged_of(self, endpoint, cids):
        """{circuit ID: [records of ``endpoint`` made for it]} (exactly: see :meth:`tagged`)."""
        field = CF_CIRCUIT
        found = self._grouped(
            lambda **f: netbox_endpoint(self.api, endpoint).filter(fields=TAGGED_FIELDS[endpoint], **f),
            "cf_" + field,
            cids,
            lambda r: (r.get("custom_fields") or {}).get(field),
        )
        wanted = set(cids)
        return {cid: records for cid, records in found.items() if cid in wanted}

    def asns_of(self, tenant_ids):
        """{tenant id: [its AS numbers' records]}."""
        return self._grouped(self.api.ipam.asns.filter, "tenant_id", tenant_ids, lambda r: _id(r.get("tenant")))

    def active_prefixes_of(self, tenant_ids):
        """{tenant id: [its active prefixes]} (:meth:`prefixes_of`, for many tenants)."""
        return self._grouped(
            lambda **f: self.api.ipam.prefixes.filter(status="active", **f),
            "tenant_id",
            tenant_ids,
            lambda r: _id(r.get("tenant")),
        )

    def devices_by_id(self, ids):
        """{device id: device record} (its name and site: a device's config context is costly)."""
        found = self._grouped(
            lambda **f: self.api.dcim.devices.filter(fields=DEVICE_FIELDS, **f), "id", ids, lambda r: r.get("id")
        )
        return {key: records[0] for key, records in found.items()}

    def forget(self):
        self._cache.clear()


def interface_problems(view, device, name):
    """Why ``device``'s interface ``name`` cannot take a new service (missing, management,
    virtual, cabled, addressed, disabled); [] when it is a free port."""
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


def loopback_of(view, device_name):
    """The device's loopback interface (virtual, named lo... or Loop...), else None."""
    for i in view.interfaces(device_name):
        if _value(i.get("type")) == "virtual" and i["name"].startswith(("lo", "Loop")):
            return i
    return None


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
        return [i["name"] for i in view.interfaces(device["name"]) if not interface_problems(view, device, i["name"])]
    if c.type == "tenant":
        return sorted(t.name for t in view.api.tenancy.tenants.all())
    return []
