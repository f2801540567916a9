"""Where a service's addresses come from, on a network unlike the demo: the catalog names NetBox
prefix roles, never addresses. The PE-CE /31s come from the prefixes of the ``link_pool`` role
(the PE's site's first, then the unscoped ones, the next when one is full); the customer's
prefixes must lie in a prefix of the ``within`` role; a service that announces the provider's
aggregates needs some in NetBox. Each missing piece is a clear problem before anything is written.
Then what an order verifies: the customer's router receives the default route (and the
aggregates), and the reachability is probed from a core router next to the PE, never from
another customer's router (a fake NetBox here; the real one in test_service_orders_lab.py).
"""

from __future__ import annotations

import ipaddress

import pytest

from ansible_collections.netoss.core.plugins.module_utils.service_catalog import load_catalog
from ansible_collections.netoss.core.plugins.module_utils.service_check import check_order, probe_for, verification
from ansible_collections.netoss.core.plugins.module_utils.service_journal import Journal
from ansible_collections.netoss.core.plugins.module_utils.service_model import OrderError
from ansible_collections.netoss.core.plugins.module_utils.service_reservation import Reservation

CATALOG = """\
services:
  - name: internett
    label: Internett
    description: Internet access with eBGP
    circuit_type: Aksess
    provider: Nordlys Aksess
    routing: ebgp
    announce: default+aggregates
    link_pool: {role: aksess-linker}
    asn_rir: RIPE
    characteristics:
      - {name: customer, type: tenant, required: true}
      - {name: pe, type: device, role: kant, required: true}
      - {name: pe_interface, type: interface, device: pe, required: true}
      - {name: ce, type: device, role: kunde, required: true}
      - {name: ce_interface, type: interface, device: ce, required: true}
      - {name: customer_asn, type: asn, required: true}
      - {name: prefixes, type: prefixes, within: {role: kunde-rom}, required: true}
"""


@pytest.fixture
def catalog(tmp_path):
    path = tmp_path / "catalog.yml"
    path.write_text(CATALOG)
    return load_catalog(path)


class Record(dict):
    """A pynetbox record as far as the order reads it: attributes and dict()."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class Endpoint:
    def __init__(self, records, match=None):
        self.records = records
        self.match = match or (lambda record, filters: all(record.get(k) == v for k, v in filters.items()))

    def filter(self, **filters):
        return [r for r in self.records if self.match(r, filters)]

    def get(self, *args, **filters):
        found = self.filter(**filters) if filters else [r for r in self.records if r.get("id") == args[0]]
        return found[0] if found else None

    def all(self):
        return list(self.records)


class Pool(Record):
    """A prefix whose available-prefixes hands out /31s until ``free`` is used up."""

    def __init__(self, prefix, free=1, scope=None, **extra):
        super().__init__(prefix=prefix, tenant=None, scope_type=scope and "dcim.site", scope_id=scope, **extra)
        network = ipaddress.ip_network(prefix)
        self["_free"] = [str(n) for n in list(network.subnets(new_prefix=31))[:free]]
        self["available_prefixes"] = self

    def create(self, payload):
        if not self["_free"]:
            raise RuntimeError("409 Insufficient space is available to accommodate the requested prefix size(s)")
        return Record(id=len(self["_free"]) + 900, prefix=self["_free"].pop(0))


def _role(record, filters):
    return all((record.get(k) == v) if k != "role" else record.get("role") == v for k, v in filters.items())


class Netbox:
    """NetBox, as far as the pools, the aggregates and the probe read it."""

    def __init__(self, pools=(), spaces=(), aggregates=(), devices=None, loopbacks=None):
        prefixes = [Pool(p.pop("prefix"), role="aksess-linker", **p) for p in map(dict, pools)]
        prefixes += [Record(id=500 + i, prefix=p, role="kunde-rom") for i, p in enumerate(spaces)]
        self.ipam = Record(
            prefixes=Endpoint(prefixes, _role),
            aggregates=Endpoint([Record(prefix=p, tenant=t) for p, t in aggregates], lambda r, f: True),
            ip_addresses=Endpoint(
                [Record(address=a, device=d, role="loopback") for d, a in (loopbacks or {}).items()],
                lambda r, f: all(r.get(k) == v for k, v in f.items() if k != "parent") and "parent" not in f,
            ),
        )
        self.extras = Record(tags=Endpoint([Record(id=1, slug="netoss-ordered")]))
        self.dcim = Record(
            devices=Endpoint(list((devices or {}).values())),
            sites=Endpoint([Record(id=1, slug="osl", tenant={"id": 1}), Record(id=2, slug="bgo", tenant={"id": 1})]),
            interfaces=Endpoint([]),
        )


class View:
    """service_netbox_view.NetboxView over the fake NetBox (the same methods, the same answers)."""

    def __init__(self, api, devices=None, interfaces=None, asns=None):
        from ansible_collections.netoss.core.plugins.module_utils.service_netbox_view import NetboxView

        self._real = NetboxView(api)
        self.api = api
        self._devices = devices or {}
        self._interfaces = interfaces or {}
        self._asns = asns or {}

    def __getattr__(self, name):  # what the fake does not answer itself, the real view reads
        return getattr(self._real, name)

    def device(self, name):
        return self._devices.get(name)

    def interfaces(self, name):
        return self._interfaces.get(name, [])

    def interface(self, device, name):
        return next((i for i in self.interfaces(device) if i["name"] == name), None)

    def addresses(self, interface_id):
        return []

    def tenant(self, name):
        return None

    def asns(self, **filters):
        return []

    def device_asns(self, device):
        return self._asns.get(device["name"], [])

    def prefixes_overlapping(self, network):
        return []

    def circuit(self, cid):
        return None


def _device(name, site, tenant=None, context=None, device_id=1):
    return {
        "id": device_id,
        "name": name,
        "role": {"slug": "kant" if "kant" in name else "kunde" if "kunde" in name else "kjerne"},
        "site": {"id": 1 if site == "osl" else 2, "slug": site},
        "tenant": {"id": tenant, "name": f"T{tenant}"} if tenant else None,
        "status": {"value": "active"},
        "config_context": {"netoss": context or {}},
    }


def _port(port_id, name, peer=None):
    ends = [{"id": port_id + 1000, "name": "swp1", "device": {"name": peer}}] if peer else []
    return {"id": port_id, "name": name, "type": {"value": "1000base-t"}, "connected_endpoints": ends}


def _network():
    """kant-7 (PE, osl) between kjerne-1 (core, osl) and kjerne-2 (core, bgo), a customer
    router kunde-sild on swp9 (another customer's), and a free swp10; kunde-fjord is new."""
    devices = {
        "kant-7": _device("kant-7", "osl", device_id=7),
        "kjerne-1": _device("kjerne-1", "osl", device_id=1),
        "kjerne-2": _device("kjerne-2", "bgo", device_id=2),
        "kunde-sild": _device("kunde-sild", "bgo", tenant=5, context={"bgp": {"policy": "customer"}}, device_id=8),
        "kunde-fjord": _device("kunde-fjord", "osl", device_id=9),
    }
    interfaces = {
        "kant-7": [
            _port(71, "swp1", "kjerne-1"),
            _port(72, "swp2", "kjerne-2"),
            _port(73, "swp9", "kunde-sild"),
            _port(74, "swp10"),
        ],
        "kunde-fjord": [_port(91, "swp49"), {"id": 92, "name": "lo", "type": {"value": "virtual"}}],
    }
    asns = {"kant-7": [65200], "kjerne-1": [65200], "kjerne-2": [65200], "kunde-sild": [65300]}
    return devices, interfaces, asns


def _order(prefixes=("192.0.2.0/26",)):
    values = {
        "customer": "Fjordfisk AS",
        "pe": "kant-7",
        "pe_interface": "swp10",
        "ce": "kunde-fjord",
        "ce_interface": "swp49",
        "customer_asn": 65310,
        "prefixes": list(prefixes),
    }
    chars = [{"name": k, "value": v} for k, v in values.items()]
    return [{"id": "1", "action": "add", "service": {"serviceSpecification": {"name": "internett"},
                                                      "serviceCharacteristic": chars}}]  # fmt: skip


def _check(catalog, **netbox):
    devices, interfaces, asns = _network()
    api = Netbox(**netbox)
    return check_order(catalog, _order(), View(api, devices, interfaces, asns))


SPACE = ("192.0.2.0/24",)
AGGREGATES = (("192.0.2.0/24", {"id": 1}),)


def test_an_order_inside_the_customer_space_of_netbox_is_valid(catalog):
    items, problems = _check(catalog, pools=[{"prefix": "100.64.9.0/24"}], spaces=SPACE, aggregates=AGGREGATES)
    assert problems == [] and items[0]["values"]["prefixes"] == ["192.0.2.0/26"]


@pytest.mark.parametrize(
    ("netbox", "problem"),
    [
        (
            {"spaces": SPACE, "aggregates": AGGREGATES},
            "item 1: the catalog's internett needs a prefix with role 'aksess-linker' in NetBox for its PE-CE links "
            "(none has it)",
        ),
        (
            {"pools": [{"prefix": "100.64.9.0/24"}], "aggregates": AGGREGATES},
            "item 1: prefixes: the catalog's internett needs a prefix with role 'kunde-rom' in NetBox for its "
            "customers' prefixes (none has it)",
        ),
        (
            {"pools": [{"prefix": "100.64.9.0/24"}], "spaces": ("198.51.100.0/24",), "aggregates": AGGREGATES},
            "item 1: prefixes: 192.0.2.0/26 is not inside a prefix of role 'kunde-rom' in NetBox (198.51.100.0/24)",
        ),
        (
            {"pools": [{"prefix": "100.64.9.0/24"}], "spaces": SPACE, "aggregates": (("10.0.0.0/8", {"id": 4}),)},
            "item 1: the catalog's internett announces the provider's aggregates to the customer, but NetBox has no "
            "IPv4 aggregate (IPAM > Aggregates) of kant-7's provider (its tenant, else its site's)",
        ),
    ],
)
def test_what_netbox_lacks_is_named_before_anything_is_written(catalog, netbox, problem):
    items, problems = _check(catalog, **netbox)
    assert items == [] and problem in problems, problems


def _reservation(catalog, pools):
    return Reservation(Netbox(pools=pools), catalog, Journal(None))


def test_the_link_comes_from_the_pes_site_first_then_the_unscoped_pools(catalog):
    pe = _device("kant-7", "osl", device_id=7)
    pools = [
        {"prefix": "100.64.1.0/24", "scope": 2},  # another site's: never
        {"prefix": "100.64.2.0/24"},  # unscoped
        {"prefix": "100.64.3.0/24", "scope": 1},  # the PE's site's: first
    ]
    reservation = _reservation(catalog, pools)
    assert str(reservation._link(catalog["internett"], "NN-0042", pe)) == "100.64.3.0/31"
    assert str(reservation._link(catalog["internett"], "NN-0043", pe)) == "100.64.2.0/31"  # the first is full
    with pytest.raises(OrderError) as info:
        reservation._link(catalog["internett"], "NN-0044", pe)
    assert info.value.problems[0].startswith(
        "no /31 left in the prefixes of role 'aksess-linker' (the catalog's internett link pool): "
        "100.64.3.0/24: 409 Insufficient space"
    )
    assert [e["label"] for e in reservation.write.journal.entries] == ["link 100.64.3.0/31", "link 100.64.2.0/31"]


def test_no_pool_of_the_role_is_a_clear_error(catalog):
    pe = _device("kant-7", "osl", device_id=7)
    with pytest.raises(OrderError) as info:
        _reservation(catalog, [])._link(catalog["internett"], "NN-0042", pe)
    assert info.value.problems == [
        "the catalog's internett needs a prefix with role 'aksess-linker' in NetBox for its PE-CE links (none has it)"
    ]
    with pytest.raises(OrderError) as info:
        _reservation(catalog, [{"prefix": "100.64.1.0/24", "scope": 2}])._link(catalog["internett"], "NN-0042", pe)
    assert "each of them (100.64.1.0/24) is scoped to another site than kant-7's" in info.value.problems[0]


def test_the_probe_is_a_core_router_next_to_the_pe_never_a_customers():
    devices, interfaces, asns = _network()
    api = Netbox(loopbacks={"kjerne-1": "10.255.7.1/32", "kjerne-2": "10.255.7.9/32", "kunde-sild": "192.0.2.129/32"})
    view = View(api, devices, interfaces, asns)
    # kjerne-2 is at another site than the PE: preferred; kunde-sild is a customer's router: never.
    assert probe_for(view, "kant-7") == {"device": "kjerne-2", "source": "10.255.7.9"}
    assert probe_for(view, "kant-7", exclude=("kjerne-2",)) == {"device": "kjerne-1", "source": "10.255.7.1"}
    assert probe_for(view, "kant-7", exclude=("kjerne-1", "kjerne-2")) is None


def test_verification_probes_both_ways_and_the_ce_receives_the_default_and_aggregates(catalog):
    devices, interfaces, asns = _network()
    api = Netbox(
        aggregates=(("192.0.2.0/24", {"id": 1}), ("100.64.0.0/16", None), ("10.0.0.0/8", {"id": 4})),
        loopbacks={"kjerne-1": "10.255.7.1/32", "kjerne-2": "10.255.7.9/32"},
    )
    view = View(api, devices, interfaces, asns)
    item = {"id": "1", "action": "add", "service": "internett", "service_id": None,
            "values": {"pe": "kant-7", "ce": "kunde-fjord", "prefixes": ["192.0.2.0/26"]}}  # fmt: skip
    result = {"pe_address": "100.64.9.0", "ce_address": "100.64.9.1", "loopback": "192.0.2.1/32"}
    out = verification(view, item, result, catalog["internett"])
    assert out["bgp"] is True
    assert out["ce_receives"] == ["0.0.0.0/0", "100.64.0.0/16", "192.0.2.0/24"]
    assert out["probes"] == [
        {"device": "kjerne-2", "source": "10.255.7.9", "destination": "192.0.2.1"},
        {"device": "kunde-fjord", "source": "192.0.2.1", "destination": "10.255.7.9"},
    ]
