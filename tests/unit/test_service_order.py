"""Service orders, the pure logic: an order is checked against the catalog and NetBox (a fake
NetBox view here; the real one in tests/integration/test_service_orders_lab.py) before anything
is touched, every problem naming its item and characteristic; the verification of a service on
a router (fake router); FRR's neighbour removal; the journal's rollback."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.netoss.core.plugins.module_utils import config_diff, service_verify
from ansible_collections.netoss.core.plugins.module_utils.service_catalog import load_catalog
from ansible_collections.netoss.core.plugins.module_utils.service_check import check_order, devices_of, parse_items
from ansible_collections.netoss.core.plugins.module_utils.service_journal import Journal, rollback
from ansible_collections.netoss.core.plugins.module_utils.service_model import OrderError
from ansible_collections.netoss.core.plugins.module_utils.service_reservation import circuit_id

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(REPO / "services" / "catalog.yml")


def _device(name, role, site="ams1", tenant=None, status="active", device_id=1):
    return {
        "id": device_id,
        "name": name,
        "role": {"slug": role},
        "site": {"id": 1 if site == "ams1" else 2, "slug": site},
        "tenant": {"id": 9, "name": tenant} if tenant else None,
        "status": {"value": status},
    }


class FakeView:
    """The demo's pe1 (eth3 in use, eth4 free) and ce3 (spare), ce1 (Acme Corp)."""

    def __init__(self):
        self.devices = {
            "pe1": _device("pe1", "pe", device_id=1),
            "ce3": _device("ce3", "ce", device_id=3),
            "ce1": _device("ce1", "ce", tenant="Acme Corp", device_id=5),
            "p1": _device("p1", "p", device_id=7),
        }
        self.ports = {
            "pe1": [
                {"id": 10, "name": "mgmt0", "mgmt_only": True, "type": {"value": "1000base-t"}},
                {"id": 11, "name": "eth3", "type": {"value": "1000base-t"}, "cable": {"id": 12}},
                {"id": 12, "name": "eth4", "type": {"value": "1000base-t"}},
                {"id": 13, "name": "eth5", "type": {"value": "1000base-t"}, "enabled": False},
                {"id": 14, "name": "lo", "type": {"value": "virtual"}},
            ],
            "ce3": [
                {"id": 30, "name": "eth1", "type": {"value": "1000base-t"}},
                {"id": 31, "name": "lo", "type": {"value": "virtual"}},
            ],
            "ce1": [{"id": 50, "name": "eth1", "type": {"value": "1000base-t"}, "cable": {"id": 8}}],
        }
        self.prefixes = [
            {"id": 1, "prefix": "203.0.113.0/24", "status": {"value": "container"}},
            {
                "id": 2,
                "prefix": "203.0.113.0/28",
                "status": {"value": "active"},
                "tenant": {"id": 9, "name": "Acme Corp"},
            },
        ]
        self.asn_records = [
            {"asn": 64500, "tenant": {"id": 1, "name": "netoss Demo Carrier"}},
            {"asn": 64501, "tenant": {"id": 9, "name": "Acme Corp"}},
        ]

    def device(self, name):
        return self.devices.get(name)

    def interfaces(self, device):
        return self.ports.get(device, [])

    def interface(self, device, name):
        return next((i for i in self.interfaces(device) if i["name"] == name), None)

    def addresses(self, interface_id):
        return [{"address": "198.19.128.0/31"}] if interface_id == 11 else []

    def tenant(self, name):
        return {"id": 9, "name": name} if name == "Acme Corp" else None

    def asns(self, asn=None, tenant_id=None):
        return [
            a
            for a in self.asn_records
            if (asn is None or a["asn"] == asn) and (tenant_id is None or a["tenant"]["id"] == tenant_id)
        ]

    def device_asns(self, device):
        return [64500] if device["role"]["slug"] != "ce" else []

    def prefixes_overlapping(self, network):
        import ipaddress

        return [p for p in self.prefixes if ipaddress.ip_network(p["prefix"]).overlaps(network)]

    def prefixes_of_role(self, role):
        pools = {"customer-space": "203.0.113.0/24", "pe-ce-links": "198.19.128.0/24"}
        return [{"prefix": pools[role]}] if role in pools else []

    def aggregates_of(self, device):
        return ["198.19.0.0/16", "203.0.113.0/24"]

    def circuit(self, cid):
        return None


def _item(item_id="1", action="add", **changes):
    values = {
        "customer": "Initech",
        "pe": "pe1",
        "pe_interface": "eth4",
        "ce": "ce3",
        "ce_interface": "eth1",
        "customer_asn": 64510,
        "prefixes": ["203.0.113.32/28"],
    }
    values.update(changes)
    chars = [{"name": k, "value": v} for k, v in values.items() if v is not None]
    return {
        "id": item_id,
        "action": action,
        "service": {"serviceSpecification": {"name": "dia-ebgp"}, "serviceCharacteristic": chars},
    }


def test_a_valid_order_is_clean_with_its_defaults_and_devices(catalog):
    items, problems = check_order(catalog, [_item()], FakeView())
    assert problems == []
    assert items[0]["values"]["max_prefix"] == 100 and items[0]["values"]["bandwidth"] == 100000
    assert devices_of(items) == ["ce3", "pe1"]


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"pe_interface": "eth3"}, "item 1: pe_interface: pe1:eth3 is in use (cable #12)"),
        ({"pe_interface": "eth5"}, "item 1: pe_interface: pe1:eth5 is disabled in NetBox"),
        ({"pe_interface": "mgmt0"}, "item 1: pe_interface: pe1:mgmt0 is the management interface"),
        ({"pe_interface": "eth9"}, "item 1: pe_interface: pe1 has no interface 'eth9' (it has: eth3, eth4, eth5, lo)"),
        ({"pe": "pe9"}, "item 1: pe: no device 'pe9' in NetBox"),
        ({"pe": "p1"}, "item 1: pe: p1 is a p, not a pe"),
        ({"ce": "ce1", "ce_interface": "eth1"}, "item 1: ce: ce1 is the router of Acme Corp, not of Initech"),
        (
            {"prefixes": ["203.0.113.0/29"]},
            "item 1: prefixes: 203.0.113.0/29 overlaps 203.0.113.0/28 in NetBox (Acme Corp)",
        ),
        ({"customer_asn": 64501}, "item 1: customer_asn: AS64501 belongs to Acme Corp in NetBox"),
        ({"customer_asn": 64500}, "item 1: customer_asn: 64500 is the provider's own AS number"),
        ({"customer_asn": 23456}, "item 1: customer_asn: 23456 is AS_TRANS (RFC 6793)"),
        (
            {"customer": "Acme Corp", "customer_asn": 64999},
            "item 1: customer_asn: Acme Corp has AS64501 in NetBox, not AS64999",
        ),
    ],
)
def test_a_bad_order_is_refused_naming_item_and_characteristic(catalog, changes, problem):
    items, problems = check_order(catalog, [_item(**changes)], FakeView())
    assert items == []
    assert problem in problems, problems


def test_two_items_cannot_share_a_port_or_overlap(catalog):
    items, problems = check_order(
        catalog, [_item("1"), _item("2", prefixes=["203.0.113.40/29"], customer_asn=64511)], FakeView()
    )
    assert items == []
    assert "item 2: pe_interface: pe1:eth4 is also in item 1" in problems
    assert "item 2: prefixes: 203.0.113.40/29 overlaps 203.0.113.32/28 of item 1" in problems


@pytest.mark.parametrize(
    ("items", "problem"),
    [
        ([], "serviceOrderItem: an order needs at least one item"),
        ([{"id": "1", "action": "upgrade"}], "item 1: action: 'upgrade' is not one of add, modify, delete"),
        (
            [{"id": "1", "action": "add", "service": {"serviceCharacteristic": ["x"]}}],
            "item 1: serviceCharacteristic: each is {name, value}",
        ),
    ],
)
def test_the_shape_of_items_is_checked(items, problem):
    _parsed, problems = parse_items(items)
    assert problem in problems


def test_modify_and_delete_name_an_existing_service(catalog):
    _items, problems = check_order(
        catalog, [{"id": "1", "action": "delete", "service": {"id": "NOPE-0001"}}], FakeView()
    )
    assert problems == ["item 1: service.id: no circuit 'NOPE-0001' in NetBox"]
    _items, problems = check_order(catalog, [{"id": "1", "action": "modify", "service": {}}], FakeView())
    assert problems == ["item 1: service.id: a modify names the service (its circuit ID)"]


class ViewWithService(FakeView):
    """FakeView with one service, INITECH-AMS1-0001 (dia-ebgp, active) on pe1:eth4 / ce3:eth1."""

    def circuit(self, cid):
        if cid != "INITECH-AMS1-0001":
            return None
        return {
            "id": 10,
            "cid": cid,
            "status": {"value": "active"},
            "tenant": {"id": 20, "name": "Initech"},
            "commit_rate": 50000,
            "custom_fields": {"netoss_service": "dia-ebgp", "netoss_max_prefix": 10},
        }

    def terminations(self, circuit_id):
        return [
            {"term_side": "A", "link_peers": [{"id": 12, "name": "eth4", "device": {"id": 1, "name": "pe1"}}]},
            {"term_side": "Z", "link_peers": [{"id": 30, "name": "eth1", "device": {"id": 3, "name": "ce3"}}]},
        ]

    def asns(self, asn=None, tenant_id=None):
        return [{"asn": 64510}] if tenant_id == 20 else super().asns(asn=asn, tenant_id=tenant_id)

    def tagged(self, endpoint, cid):
        if endpoint == "ipam.prefixes":
            return [
                {"id": 5, "prefix": "203.0.113.32/28", "tenant": {"id": 20}, "custom_fields": {"netoss_circuit": cid}}
            ]
        return []


def _change(action, **values):
    chars = [{"name": k, "value": v} for k, v in values.items()]
    return {"id": "1", "action": action, "service": {"id": "INITECH-AMS1-0001", "serviceCharacteristic": chars}}


def test_a_modify_merges_the_changes_and_refuses_fixed_ones(catalog):
    items, problems = check_order(
        catalog,
        [_change("modify", bandwidth=200000, prefixes=["203.0.113.32/28", "203.0.113.48/29"])],
        ViewWithService(),
    )
    assert problems == []
    assert items[0]["values"]["bandwidth"] == 200000 and items[0]["values"]["customer_asn"] == 64510
    assert items[0]["service"] == "dia-ebgp"  # the service's own, when the item leaves it out
    _items, problems = check_order(catalog, [_change("modify", customer_asn=64999)], ViewWithService())
    assert problems == [
        "item 1: customer_asn: cannot be modified (only prefixes, bandwidth, max_prefix can); order a delete and an add"
    ]


def test_a_delete_takes_the_services_values_and_no_new_one(catalog):
    items, problems = check_order(catalog, [_change("delete")], ViewWithService())
    assert problems == [] and items[0]["values"]["pe"] == "pe1" and devices_of(items) == ["ce3", "pe1"]
    # An order read back from the portal repeats the values: the same ones are fine.
    _items, problems = check_order(
        catalog, [_change("delete", pe="pe1", prefixes=["203.0.113.32/28"])], ViewWithService()
    )
    assert problems == []
    _items, problems = check_order(catalog, [_change("delete", bandwidth=1)], ViewWithService())
    assert problems == ["item 1: bandwidth: a delete takes no new value (the service has 50000)"]


def test_circuit_ids_take_the_next_free_number():
    assert circuit_id("Initech", "ams1", set()) == "INITECH-AMS1-0001"
    assert circuit_id("Acme Corp", "ams1", {"ACME-CORP-AMS1-0001"}) == "ACME-CORP-AMS1-0002"


# -- the journal -------------------------------------------------------------------------------


class FakeEndpoint:
    def __init__(self, store, refuse=()):
        self.store, self.refuse, self.log = store, set(refuse), []

    def get(self, record_id):
        if record_id not in self.store:
            return None
        endpoint = self

        class Record:
            def delete(self):
                if record_id in endpoint.refuse:
                    raise RuntimeError("NetBox refused")
                endpoint.log.append(("delete", record_id))
                del endpoint.store[record_id]

        return Record()

    def update(self, records):
        self.log.append(("update", records))

    def create(self, payload):
        self.log.append(("create", payload))


class FakeApi:
    def __init__(self, endpoint):
        self.ipam = type("App", (), {"prefixes": endpoint})()


def test_rollback_undoes_newest_first_and_keeps_what_it_could_not(tmp_path):
    journal = Journal(str(tmp_path / "j.json"))
    journal.add({"op": "created", "endpoint": "ipam.prefixes", "id": 1, "label": "prefix A"})
    journal.add(
        {"op": "updated", "endpoint": "ipam.prefixes", "id": 2, "before": {"status": "active"}, "label": "status B"}
    )
    journal.add(
        {"op": "deleted", "endpoint": "ipam.prefixes", "id": 3, "payload": {"prefix": "C"}, "label": "prefix C"}
    )
    endpoint = FakeEndpoint({1: "A"})
    undone = rollback(FakeApi(endpoint), Journal.load(journal.path))
    assert undone == ["recreated prefix C", "restored status B", "deleted prefix A"]
    assert endpoint.log == [("create", {"prefix": "C"}), ("update", [{"status": "active", "id": 2}]), ("delete", 1)]
    assert not Path(journal.path).exists()

    journal = Journal(str(tmp_path / "k.json"))
    journal.add({"op": "created", "endpoint": "ipam.prefixes", "id": 1, "label": "prefix A"})
    with pytest.raises(OrderError, match="rollback left 1 change"):
        rollback(FakeApi(FakeEndpoint({1: "A"}, refuse={1})), Journal.load(journal.path))
    assert Journal.load(journal.path).entries[0]["label"] == "prefix A"  # kept for a later rollback


# -- FRR: a removed neighbour goes with one line -------------------------------------------------

RUNNING = """router bgp 64500
 neighbor 198.19.128.5 remote-as 64510
 neighbor 198.19.128.5 description ce3
 neighbor 198.19.255.1 remote-as 64500
 !
 address-family ipv4 unicast
  neighbor 198.19.128.5 activate
  neighbor 198.19.128.5 maximum-prefix 10
  neighbor 198.19.255.1 activate
 exit-address-family
exit
"""
INTENDED = """router bgp 64500
 neighbor 198.19.255.1 remote-as 64500
 !
 address-family ipv4 unicast
  neighbor 198.19.255.1 activate
 exit-address-family
exit
"""


def test_a_removed_frr_neighbour_is_one_line():
    assert config_diff.remediation(RUNNING, INTENDED, "frr") == [
        "router bgp 64500",
        " no neighbor 198.19.128.5 remote-as 64510",
        " exit",
    ]


def test_a_changed_neighbour_keeps_its_lines():
    changed = RUNNING.replace("maximum-prefix 10", "maximum-prefix 20")
    assert " neighbor 198.19.128.5 maximum-prefix 20" in "\n".join(config_diff.remediation(RUNNING, changed, "frr"))


# -- verification on a router ------------------------------------------------------------------


def _summary(peers):
    import json

    return json.dumps({"ipv4Unicast": {"peers": peers}})


class FakeRouter:
    def __init__(self, answers):
        self.answers = answers

    def get(self, command):
        return self.answers[command]


BGP = "show bgp vrf all summary json"
ROUTES = "show bgp ipv4 unicast neighbors 198.19.128.5 routes json"
SPEC = {"role": "pe", "neighbor": "198.19.128.5", "bgp": True, "prefixes": ["203.0.113.32/28"], "removed": False}
BASE = [
    {"vrf": "default", "neighbor": "198.19.255.1", "established": True, "uptime": "00:10:00", "uptime_msec": 600000}
]


def _peer(state="Established", uptime=600000):
    return {"state": state, "remoteAs": 64500, "pfxRcd": 1, "peerUptime": "x", "peerUptimeMsec": uptime}


def test_a_right_service_has_no_problem():
    router = FakeRouter(
        {
            BGP: _summary({"198.19.128.5": _peer(uptime=1000), "198.19.255.1": _peer(uptime=620000)}),
            ROUTES: '{"routes": {"203.0.113.32/28": [], "203.0.113.33/32": []}}',
        }
    )
    assert service_verify.problems(router, SPEC, BASE, elapsed=20) == []


def test_missing_prefixes_and_a_restarted_session_are_named():
    router = FakeRouter(
        {
            BGP: _summary({"198.19.128.5": _peer(), "198.19.255.1": _peer(uptime=3000)}),
            ROUTES: '{"routes": {"203.0.113.33/32": []}}',
        }
    )
    found = service_verify.problems(router, SPEC, BASE, elapsed=20)
    assert found[0] == "198.19.128.5 has not sent 203.0.113.32/28 (received: 203.0.113.33/32)"
    assert found[1].startswith("BGP session to 198.19.255.1 restarted during the change")
    # A restart does not heal by waiting: verify returns at once.
    assert (
        service_verify.verify(router, SPEC, BASE, taken_at=0, timeout=60, clock=lambda: 20, sleep=pytest.fail) == found
    )


def test_a_session_not_up_waits_then_says_so():
    router = FakeRouter({BGP: _summary({"198.19.128.5": _peer(state="Active")})})
    ticks = iter(range(0, 100, 10))
    found = service_verify.verify(router, SPEC, [], timeout=30, clock=lambda: next(ticks), sleep=lambda s: None)
    assert found == ["the BGP session to 198.19.128.5 is Active, not Established"]


def test_a_deleted_service_must_have_no_session():
    spec = dict(SPEC, removed=True)
    assert service_verify.problems(FakeRouter({BGP: _summary({})}), spec) == []
    found = service_verify.problems(FakeRouter({BGP: _summary({"198.19.128.5": _peer()})}), spec)
    assert found == ["the deleted service's BGP session to 198.19.128.5 is still configured (Established)"]


def test_static_access_needs_the_routes():
    spec = dict(SPEC, bgp=False)
    route = '{"203.0.113.32/28": [{"selected": true, "nexthops": [{"ip": "198.19.128.5", "active": true}]}]}'
    router = FakeRouter({BGP: _summary({}), "show ip route 203.0.113.32/28 json": route})
    assert service_verify.problems(router, spec) == []
    router.answers["show ip route 203.0.113.32/28 json"] = "{}"
    assert service_verify.problems(router, spec) == ["no active route to 203.0.113.32/28 via 198.19.128.5"]


def test_the_customer_router_must_receive_the_default_route_and_the_aggregates():
    """On the CE (any addressing: its session to the PE at 100.64.9.0), eBGP is right only once
    the PE's default route, and the aggregates it announces, are in."""
    spec = {"role": "ce", "neighbor": "100.64.9.0", "bgp": True, "prefixes": [], "removed": False}
    spec["receives"] = ["0.0.0.0/0", "10.0.0.0/8"]
    routes = "show bgp ipv4 unicast neighbors 100.64.9.0 routes json"
    router = FakeRouter({BGP: _summary({"100.64.9.0": _peer()}), routes: '{"routes": {"10.0.0.0/8": []}}'})
    assert service_verify.problems(router, spec) == ["100.64.9.0 has not sent 0.0.0.0/0 (received: 10.0.0.0/8)"]
    router.answers[routes] = '{"routes": {"0.0.0.0/0": [], "10.0.0.0/8": []}}'
    assert service_verify.problems(router, spec) == []


class SequenceRouter:
    """Answers the BGP summary from a list, one per read (the last one stays)."""

    def __init__(self, summaries, routes):
        self.summaries, self.routes = list(summaries), routes

    def get(self, command):
        if command == BGP:
            return self.summaries.pop(0) if len(self.summaries) > 1 else self.summaries[0]
        return self.routes


def test_a_session_torn_down_just_after_it_came_up_is_not_right():
    up = _summary({"198.19.128.5": _peer(uptime=1000)})
    torn = _summary({"198.19.128.5": _peer(state="Idle (PfxCt)")})
    routes = '{"routes": {"203.0.113.32/28": []}}'
    ticks = iter(range(0, 1000))
    found = service_verify.verify(
        SequenceRouter([up, torn], routes), SPEC, [], timeout=10, clock=lambda: next(ticks), sleep=lambda s: None
    )
    assert found == [
        "the BGP session to 198.19.128.5 is Idle (PfxCt) (it sent more prefixes than its maximum-prefix allows), "
        "not Established"
    ]
    ticks = iter(range(0, 1000))
    assert (
        service_verify.verify(
            SequenceRouter([up], routes), SPEC, [], timeout=10, clock=lambda: next(ticks), sleep=lambda s: None
        )
        == []
    )


def test_verify_says_when_the_service_was_right_and_when_it_had_settled():
    """For the job's breakdown (netoss.core.timings): the session came up on the 3rd read, and
    stayed right for the settle time."""
    down = _summary({"198.19.128.5": _peer(state="Connect")})
    up = _summary({"198.19.128.5": _peer(uptime=1000)})
    routes = '{"routes": {"203.0.113.32/28": []}}'
    ticks, timings = iter(range(0, 1000)), {}
    router = SequenceRouter([down, down, up], routes)
    found = service_verify.verify(router, SPEC, [], timeout=60, settle=3, clock=lambda: next(ticks),
                                  sleep=lambda s: None, timings=timings)  # fmt: skip
    assert found == []
    # Seen right at once up for 1 s: it had been right for the settle time 2 s later.
    assert timings["right"] > 0 and timings["settled"] >= timings["right"] + 2, timings


def test_a_session_up_longer_than_the_settle_time_is_right_at_once():
    """Verify by watching: the session came up during the push; its uptime says it has been
    right for longer than the settle time, so nothing is waited for."""
    up = _summary({"198.19.128.5": _peer(uptime=4000)})
    routes = '{"routes": {"203.0.113.32/28": []}}'
    timings = {}
    found = service_verify.verify(SequenceRouter([up], routes), SPEC, [], timeout=60, settle=3, clock=lambda: 100.0,
                                  sleep=pytest.fail, timings=timings)  # fmt: skip
    assert found == [] and timings == {"right": 0.0, "settled": 0.0}
    # Up for 1 s only: it is watched 2 s more (a maximum-prefix teardown would show by then).
    clock = iter([100.0, 100.0, 100.0, 101.0, 101.0, 102.0, 102.0, 102.0])
    slept = []
    found = service_verify.verify(SequenceRouter([_summary({"198.19.128.5": _peer(uptime=1000)})], routes), SPEC,
                                  [], timeout=60, settle=3, clock=lambda: next(clock), sleep=slept.append)  # fmt: skip
    assert found == [] and len(slept) == 2


# --- values that reach a router's configuration: strict patterns at the order check ----------


class RecordingView(FakeView):
    """FakeView that remembers every name it was asked to look up in NetBox."""

    def __init__(self):
        super().__init__()
        self.asked = []

    def tenant(self, name):
        self.asked.append(("tenant", name))
        return super().tenant(name)

    def device(self, name):
        self.asked.append(("device", name))
        return super().device(name)

    def interface(self, device, name):
        self.asked.append(("interface", name))
        return super().interface(device, name)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        (
            {"customer": "Initech\nrouter bgp 64500\n neighbor 192.0.2.1 remote-as 666"},
            "item 1: customer: 'Initech\\nrouter bgp 64500\\n neighbor 192.0'... (58 characters) contains a line break",
        ),
        ({"customer": "Initech\r"}, "item 1: customer: 'Initech\\r' contains a line break"),
        ({"customer": "Initech\tInc"}, "item 1: customer: 'Initech\\tInc' contains a tab"),
        ({"customer": "Initech ? help"}, "item 1: customer: 'Initech ? help' contains '?'"),
        ({"customer": "Initech | shell"}, "item 1: customer: 'Initech | shell' contains '|'"),
        ({"customer": "Init\x00ech"}, "item 1: customer: 'Init\\x00ech' contains a control character (0x00)"),
        ({"customer": "Initech ! comment"}, "item 1: customer: 'Initech ! comment' contains '!'"),
        ({"ce_interface": "eth1\nshutdown"}, "item 1: ce_interface: 'eth1\\nshutdown' contains a line break"),
        ({"pe": "pe1 extra"}, "item 1: pe: 'pe1 extra' is not a letter or digit then up to 63"),
    ],
)
def test_a_value_that_could_inject_configuration_is_refused_before_netbox(catalog, changes, problem):
    view = RecordingView()
    items, problems = check_order(catalog, [_item(**changes)], view)
    assert items == []
    assert any(p.startswith(problem) for p in problems), problems
    # Nothing was looked up, let alone written: the order stops at its values.
    assert all(name in ("pe1", "ce3") for _kind, name in view.asked), view.asked


def test_a_customer_name_with_punctuation_is_still_a_customer(catalog):
    items, problems = check_order(catalog, [_item(customer="O'Brien & Sons (EU), Ltd.")], FakeView())
    assert problems == []
    assert items[0]["values"]["customer"] == "O'Brien & Sons (EU), Ltd."


def test_a_bad_service_id_is_refused_without_echoing_it(catalog):
    long_id = "X\n" + "A" * 5000
    _items, problems = check_order(catalog, [{"id": "1", "action": "delete", "service": {"id": long_id}}], FakeView())
    assert len(problems) == 1 and "service.id:" in problems[0] and "contains a line break" in problems[0]
    assert len(problems[0]) < 200
