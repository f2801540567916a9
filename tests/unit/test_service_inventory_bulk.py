"""The service inventory's bulk reads (service_inventory.page_services, describe_many): the
same services as describing each circuit on its own (service_inventory.describe, the
per-circuit reads it replaced), in a number of NetBox calls that does not grow with the
circuits; NetBox's loose custom-field filter (contains) never mixes two circuits' records.

NetBox here is a stand-in pynetbox API over records shaped as NetBox's REST API answers them,
filtering as NetBox does (a text custom field's filter matches what contains the value) and
counting the calls."""

from __future__ import annotations

import threading

import pytest

from ansible_collections.netoss.core.plugins.module_utils.service_inventory import (
    describe,
    list_services,
    page_services,
)
from ansible_collections.netoss.core.plugins.module_utils.service_netbox_view import CHUNK, NetboxView

STATUSES = ("active", "planned", "provisioning", "offline", "decommissioned")


def _value(record, key):
    value = record.get(key)
    if isinstance(value, dict):
        return value.get("value", value.get("id"))
    return value


def _matches(record, key, wanted):
    wanted = wanted if isinstance(wanted, list) else [wanted]
    if key.startswith("cf_"):  # NetBox's default (loose) text custom-field filter: contains
        have = str((record.get("custom_fields") or {}).get(key[3:]) or "")
        return any(str(w).lower() in have.lower() for w in wanted) if have else False
    negate = key.endswith("__n")
    key = key.removesuffix("__n")
    field = {"circuit_id": "circuit", "tenant_id": "tenant", "cable_id": "cable"}.get(key, key)
    hit = _value(record, field) in wanted
    return not hit if negate else hit


class Page(list):
    """A page of a list, as pynetbox's RecordSet: its len() is how many match (NetBox's count)."""

    def __init__(self, rows, total):
        super().__init__(rows)
        self.total = total

    def __len__(self):
        return self.total


class Endpoint:
    def __init__(self, api, name, records):
        self.api, self.name, self.records = api, name, records

    def _select(self, filters):
        fields = filters.pop("fields", None)
        found = [dict(r) for r in self.records if all(_matches(r, k, v) for k, v in filters.items())]
        if fields:  # NetBox's fields: only those
            found = [{k: v for k, v in r.items() if k in fields.split(",")} for r in found]
        return found

    def filter(self, **filters):
        offset, limit = filters.pop("offset", None), filters.pop("limit", None)
        with self.api.lock:
            self.api.calls.append((self.name, dict(filters)))
        found = self._select(filters)
        return Page(found[offset or 0 : (offset or 0) + limit], len(found)) if limit else found

    def all(self, offset=None, limit=None):
        return self.filter(**({"offset": offset, "limit": limit} if limit else {}))

    def count(self, **filters):
        with self.api.lock:
            self.api.calls.append((self.name + ".count", dict(filters)))
        return len(self._select(filters))

    def get(self, **filters):
        found = self.filter(**filters)
        return found[0] if found else None


class App:
    def __init__(self, api, app, endpoints):
        for name, records in endpoints.items():
            setattr(self, name, Endpoint(api, f"{app}.{name}", records))


def fake_netbox(n: int):
    """``n`` circuits of three customers (one without a tenant), in every status; half made by
    service orders (their own prefixes and addresses), half before (their customer's prefixes);
    circuit IDs that contain one another (SVC-1, SVC-10...)."""

    class Api:
        def __init__(self):
            self.calls = []
            self.lock = threading.Lock()  # the reads run in threads

    api = Api()
    tenants = [{"id": 100 + t, "name": f"Customer {t}", "slug": f"customer-{t}"} for t in range(3)]
    sites = [{"id": 50 + s, "slug": f"site-{s}", "name": f"Site {s}"} for s in range(2)]
    devices, circuits, terminations, prefixes, addresses, ports = [], [], [], [], [], {"interfaces": [], "front": []}
    cable_ends = []
    for d in range(4):
        devices.append(
            {"id": 1 + d, "name": f"edge-{d}", "site": sites[d % 2], "url": f"http://nb/api/dcim/devices/{1 + d}/"}
        )
    for i in range(1, n + 1):
        tenant = tenants[i % 3] if i % 7 else None
        ordered = i % 2 == 0
        cid = f"SVC-{i}"
        circuits.append(
            {
                "id": 1000 + i,
                "cid": cid,
                "status": {"value": STATUSES[i % len(STATUSES)]},
                "tenant": tenant,
                "commit_rate": 1000 * i if i % 3 else None,
                "description": f"circuit {i}",
                "display_url": f"http://nb/circuits/circuits/{1000 + i}/",
                "custom_fields": {
                    "netoss_service": ("dia" if i % 4 else "dia-plus") if ordered else None,
                    "netoss_max_prefix": 10 if ordered else None,
                    "netoss_routing": "static" if i % 6 == 0 else "ebgp",
                    "netoss_order": i if ordered else None,
                },
            }
        )
        edge = devices[i % 4]
        for side in ("A", "Z") if i % 5 else ("A",):
            cable = {"id": 8000 + 2 * i + (side == "Z")}
            peer = (
                {"id": 5000 + i, "name": f"eth{i}", "device": {"id": edge["id"], "name": edge["name"]}}
                if side == "A"
                else {"id": 6000 + i, "name": "eth1", "device": {"id": 9000 + i, "name": f"cpe-{i}"}}
            )
            # A customer's end on a patch panel (a front port) now and then.
            # The port's own record has its page's address too (display_url); its link_peers entry has not.
            record = dict(peer, cable=cable, display_url=f"http://nb/dcim/ports/{peer['id']}/")
            front = side == "Z" and i % 11 == 0
            ports["front" if front else "interfaces"].append(record)
            # The cable's two ends, as NetBox's cable terminations list them (the circuit's end
            # first): the port nested as a link peer is (its brief form), the cable by its id.
            brief = dict(peer, cable=cable, display=peer["name"], _occupied=True)
            cable_ends.append({"id": 2 * cable["id"] + 1, "cable": cable["id"], "cable_end": "A",
                               "termination_type": "circuits.circuittermination",
                               "termination_id": 2 * (1000 + i) + (side == "Z"), "termination": {"id": 1}})  # fmt: skip
            cable_ends.append({"id": 2 * cable["id"], "cable": cable["id"], "cable_end": "B",
                               "termination_type": "dcim.frontport" if front else "dcim.interface",
                               "termination_id": peer["id"], "termination": brief})  # fmt: skip
            terminations.append(
                {
                    "id": 2 * (1000 + i) + (side == "Z"),
                    "circuit": {"id": 1000 + i},
                    "term_side": side,
                    "cable": cable,
                    "link_peers": [peer],
                }
            )
        if ordered:
            prefixes.append({"id": 300 + i, "prefix": f"10.{i // 250}.{i % 250}.0/28", "tenant": tenant,
                             "status": {"value": "active"}, "custom_fields": {"netoss_circuit": cid}})  # fmt: skip
            prefixes.append({"id": 20000 + i, "prefix": f"192.0.{i % 250}.0/31", "tenant": None,
                             "status": {"value": "active"}, "custom_fields": {"netoss_circuit": cid}})  # fmt: skip
            addresses.append(
                {"id": 700 + i, "address": f"192.0.{i % 250}.1/31", "custom_fields": {"netoss_circuit": cid}}
            )
    for t in tenants:
        prefixes.append({"id": 40 + t["id"], "prefix": f"172.16.{t['id']}.0/24", "tenant": t,
                         "status": {"value": "active"}, "custom_fields": {}})  # fmt: skip
        prefixes.append({"id": 80 + t["id"], "prefix": f"172.17.{t['id']}.0/24", "tenant": t,
                         "status": {"value": "reserved"}, "custom_fields": {}})  # fmt: skip
    asns = [{"id": 60 + t["id"], "asn": 64500 + t["id"], "tenant": t} for t in tenants[:2]]
    api.circuits = App(api, "circuits", {"circuits": circuits, "circuit_terminations": terminations})
    api.dcim = App(
        api,
        "dcim",
        {
            "devices": devices,
            "interfaces": ports["interfaces"],
            "front_ports": ports["front"],
            "rear_ports": [],
            "cable_terminations": cable_ends,
        },
    )
    api.ipam = App(api, "ipam", {"prefixes": prefixes, "ip_addresses": addresses, "asns": asns})
    api.tenancy = App(api, "tenancy", {"tenants": tenants})
    return api


def one_by_one(api):
    """What the inventory gave before: every circuit described on its own."""
    view = NetboxView(api)
    return [describe(view, c["cid"]) for c in view.circuits()]


@pytest.mark.parametrize("n", [3, 30, 3 * CHUNK + 7])
def test_the_bulk_list_equals_describing_each_circuit(n):
    api = fake_netbox(n)
    expected = one_by_one(api)
    assert len(expected) == n
    assert list_services(NetboxView(fake_netbox(n))) == expected
    paged = [s for offset in range(0, n, 7) for s in page_services(NetboxView(fake_netbox(n)), offset, 7)[1]]
    assert paged == expected


def test_a_circuit_has_only_its_own_prefixes_and_addresses():
    """SVC-1's are not SVC-10's, though NetBox's filter for SVC-1 answers both."""
    services = {s["id"]: s for s in list_services(NetboxView(fake_netbox(12)))}
    own = [r["name"] for r in services["SVC-10"]["resources"] if r["type"].startswith("ipam.")]
    assert own == ["10.0.10.0/28", "192.0.10.0/31", "192.0.10.1/31"]
    view = NetboxView(fake_netbox(12))
    assert [p["prefix"] for p in view.tagged("ipam.prefixes", "SVC-1")] == []  # SVC-1 was made before orders
    assert [p["prefix"] for p in view.tagged("ipam.prefixes", "SVC-2")] == ["10.0.2.0/28", "192.0.2.0/31"]
    assert services["SVC-2"]["values"]["prefixes"] == ["10.0.2.0/28"]  # its customer's, of the two


@pytest.mark.parametrize("limit", [5, 50])
def test_the_netbox_calls_of_a_page_do_not_grow_with_the_circuits(limit):
    def calls(n):
        api = fake_netbox(n)
        total, page = page_services(NetboxView(api), 0, limit)
        assert (total, len(page)) == (n, min(n, limit))
        return len(api.calls)

    assert calls(60) == calls(600) <= 10
    # Every circuit at once: the reads are by CHUNK ids, a few per CHUNK circuits, never a few per circuit.
    api = fake_netbox(600)
    list_services(NetboxView(api))
    assert len(api.calls) <= 1 + 9 * -(-600 // CHUNK)
    api = fake_netbox(600)
    one_by_one(api)
    assert len(api.calls) > 3 * 600  # what it was


def test_filters_go_to_netbox_and_narrow_exactly():
    api = fake_netbox(40)
    everything = list_services(NetboxView(api))
    total, found = page_services(NetboxView(api), 0, 100, filters={"status": ["active"]}, customer="Customer 1")
    expected = [s for s in everything if s["status"] == "active" and s["customer"] == "Customer 1"]
    assert (total, found) == (len(expected), expected) and expected
    api.calls.clear()
    total, found = page_services(NetboxView(api), 0, 100, service="dia")  # "dia-plus" contains it: not one
    expected = [s for s in everything if s["service"] == "dia"]
    assert (total, found) == (len(expected), expected) and expected
    assert any(name == "circuits.circuits" and f.get("cf_netoss_service") == "dia" for name, f in api.calls)
    total, found = page_services(NetboxView(api), 0, 100, filters={"status__n": ["active", "planned"]})
    assert {s["status"] for s in found} == {"provisioning", "offline", "decommissioned"} and total == len(found)
    assert page_services(NetboxView(api), 0, 10, customer="Nobody") == (0, [])
    assert page_services(NetboxView(api), 35, 10)[1] == everything[35:]
    assert page_services(NetboxView(api), 400, 10) == (40, [])


class _Late:
    """A pool whose tasks start only when their result is asked for: the latest a thread of a
    busy machine can start, after everything the caller did meanwhile."""

    def __init__(self, max_workers=None):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def submit(self, fn, *args, **kwargs):
        class Later:
            def result(self):
                if not hasattr(self, "value"):
                    self.value = fn(*args, **kwargs)
                return self.value

        return Later()

    def map(self, fn, items):
        return [fn(item) for item in items]


def test_a_read_started_late_still_gets_what_it_waits_for(monkeypatch):
    """Each chained read waits for the answer of another; however late its thread starts, it gets
    that answer (a name rebound meanwhile to the answer itself once made one fail, at random)."""
    from ansible_collections.netoss.core.plugins.module_utils import service_inventory, service_netbox_view

    api = fake_netbox(12)
    expected = list_services(NetboxView(api))
    monkeypatch.setattr(service_inventory, "ThreadPoolExecutor", _Late)
    monkeypatch.setattr(service_netbox_view, "ThreadPoolExecutor", _Late)
    assert list_services(NetboxView(api)) == expected
