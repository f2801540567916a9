"""Customer access rendered on a network unlike the demo: a one-customer provider (its own names,
ports, AS numbers and addressing, a core router that is not a route reflector's twin), where
nothing but the PE can give the customer a way back.

- eBGP: the PE sends the customer's router a default route (default-originate) and, when the
  circuit says so, the provider's aggregates from NetBox's IPAM aggregates; nothing else.
- Static routing follows the circuit's ``netoss_routing``, whatever its catalog service is called.
- Bad custom field values and missing aggregates are errors naming the NetBox object.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.netoss.core.plugins.module_utils import config_render, device_data

TEMPLATES = Path(__file__).resolve().parents[2] / "roles" / "config_render" / "templates"
PROVIDER, CUSTOMER, OTHER = 1, 2, 3  # tenant ids


class Network:
    """NetBox 4.7 REST records (as device_data reads them) of a network built line by line."""

    def __init__(self):
        self.records = {k: [] for k in ("devices", "interfaces", "ip_addresses", "asns", "sites", "prefixes")}
        self.records.update(circuits=[], aggregates=[])
        self._id = 100
        self.tenants = {PROVIDER: "Nordlys Nett", CUSTOMER: "Fjordfisk AS", OTHER: "Andre Nett"}

    def _next(self):
        self._id += 1
        return self._id

    def tenant(self, tenant_id):
        return {"id": tenant_id, "name": self.tenants[tenant_id]} if tenant_id else None

    def site(self, slug, tenant_id):
        self.records["sites"].append(
            {"id": len(self.records["sites"]) + 1, "slug": slug, "tenant": self.tenant(tenant_id)}
        )
        return self.records["sites"][-1]

    def device(self, name, site, context, tenant_id=None, loopback=None):
        device = {
            "id": self._next(),
            "name": name,
            "platform": {"slug": "frr"},
            "role": {"slug": "router"},
            "site": {"id": site["id"], "slug": site["slug"]},
            "tenant": self.tenant(tenant_id),
            "status": {"value": "active"},
            "config_context": {"netoss": context},
        }
        self.records["devices"].append(device)
        if loopback:
            self.interface(device, "lo", loopback, role="loopback", kind="virtual")
        return device

    def interface(self, device, name, address=None, role=None, kind="1000base-t"):
        interface = {
            "id": self._next(),
            "name": name,
            "device": {"id": device["id"], "name": device["name"]},
            "type": {"value": kind},
            "enabled": True,
            "connected_endpoints": [],
        }
        self.records["interfaces"].append(interface)
        if address:
            self.records["ip_addresses"].append(
                {
                    "address": address,
                    "assigned_object_type": "dcim.interface",
                    "assigned_object_id": interface["id"],
                    "role": {"value": role} if role else None,
                }
            )
        return interface

    def cable(self, a, b, cid=None):
        for one, other in ((a, b), (b, a)):
            one["connected_endpoints"] = [{"id": other["id"], "device": other["device"]}]
            if cid:
                one["link_peers_type"] = "circuits.circuittermination"
                one["link_peers"] = [{"circuit": {"cid": cid}}]

    def circuit(self, cid, **custom_fields):
        self.records["circuits"].append({"cid": cid, "custom_fields": custom_fields})

    def prefix(self, prefix, tenant_id, cid=None):
        fields = {"netoss_circuit": cid} if cid else {}
        self.records["prefixes"].append(
            {"prefix": prefix, "tenant": self.tenant(tenant_id), "status": {"value": "active"}, "custom_fields": fields}
        )

    def snapshot(self):
        return device_data.Snapshot(**{k: v for k, v in self.records.items() if v or k != "aggregates"})


def one_customer(customer_circuit=None, static=None):
    """Provider AS65200: core router kjerne-1 (route reflector) and PE kant-7 at site osl; one
    customer, Fjordfisk AS (AS65310, 192.0.2.0/26), whose router kunde-fjord hangs off
    kant-7:swp9 on circuit NN-0042 (its custom fields ``customer_circuit``). With ``static``,
    a second customer router kunde-stat on kant-7:swp10, circuit NN-0043 with those fields."""
    net = Network()
    osl = net.site("osl", PROVIDER)
    net.records["asns"] += [{"asn": 65200, "tenant": {"id": PROVIDER}}, {"asn": 65310, "tenant": {"id": CUSTOMER}}]
    core = net.device(
        "kjerne-1", osl, {"ospf": {"area": 0}, "bgp": {"route_reflector": True}}, loopback="10.255.7.1/32"
    )
    pe = net.device("kant-7", osl, {"ospf": {"area": 0}}, loopback="10.255.7.2/32")
    ce = net.device("kunde-fjord", osl, {"bgp": {"policy": "customer"}}, CUSTOMER, loopback="192.0.2.1/32")
    net.cable(net.interface(core, "swp1", "10.7.0.0/31"), net.interface(pe, "swp1", "10.7.0.1/31"))
    net.cable(net.interface(pe, "swp9", "100.64.9.0/31"), net.interface(ce, "swp49", "100.64.9.1/31"), "NN-0042")
    net.circuit("NN-0042", **(customer_circuit or {}))
    net.prefix("192.0.2.0/26", CUSTOMER, "NN-0042")
    if static is not None:
        stat = net.device("kunde-stat", osl, {"bgp": {"policy": "customer"}}, OTHER, loopback="198.51.100.1/32")
        net.cable(net.interface(pe, "swp10", "100.64.9.2/31"), net.interface(stat, "swp49", "100.64.9.3/31"), "NN-0043")
        net.circuit("NN-0043", **static)
        net.prefix("198.51.100.0/27", OTHER, "NN-0043")
    return net


def _ebgp(data):
    return [n for n in data["bgp"]["neighbors"] if n["type"] == "ebgp"]


def _lists(data):
    return {p["name"]: [(e["prefix"], e["le"]) for e in p["entries"]] for p in data["prefix_lists"]}


def test_a_single_customer_gets_a_default_route_and_nothing_else():
    """The circuit of an intent (no custom fields): the PE gives its only customer a way back."""
    snapshot = one_customer().snapshot()
    pe = device_data.build(snapshot, "kant-7")
    [session] = _ebgp(pe)
    assert (session["address"], session["remote_as"]) == ("100.64.9.1", 65310)
    assert session["default_originate"] is True
    assert session["route_map_out"] == "RM-CUSTOMER-OUT-DEFAULT"
    assert _lists(pe)["PL-CUSTOMER-OUT-DEFAULT"] == [("0.0.0.0/0", None)]  # exactly the default
    assert _lists(pe)["PL-FJORDFISK-AS-IN"] == [("192.0.2.0/26", 32)]  # the customer's prefix and its loopback
    assert pe["static_routes"] == [] and pe["bgp"]["networks"] == []  # no aggregate without default+aggregates
    # Its prefixes reach the core: the PE passes them to the route reflector with itself as next hop.
    assert [(n["description"], n["next_hop_self"]) for n in pe["bgp"]["neighbors"] if n["type"] == "ibgp"] == [
        ("kjerne-1", True)
    ]
    text = config_render.render(pe, str(TEMPLATES), "frr")
    assert "  neighbor 100.64.9.1 default-originate\n" in text
    assert "  neighbor 100.64.9.1 route-map RM-CUSTOMER-OUT-DEFAULT out\n" in text
    assert "ip prefix-list PL-CUSTOMER-OUT-DEFAULT seq 5 permit 0.0.0.0/0\n" in text
    # The customer's router accepts what its provider sends (the default among it) and sends no default itself.
    ce = device_data.build(snapshot, "kunde-fjord")
    [upstream] = _ebgp(ce)
    assert upstream["default_originate"] is False and upstream["route_map_in"] == "RM-UPSTREAM-IN"
    assert next(r for r in ce["route_maps"] if r["name"] == "RM-UPSTREAM-IN")["entries"] == [
        {"seq": 10, "action": "permit", "match_prefix_list": None}
    ]


@pytest.mark.parametrize("platform", ["frr", "eos", "ios"])
def test_every_platform_renders_the_default_route_to_the_customer(platform):
    pe = device_data.build(one_customer().snapshot(), "kant-7")
    assert "neighbor 100.64.9.1 default-originate" in config_render.render(pe, str(TEMPLATES), platform)


def test_the_providers_aggregates_come_from_netbox_when_the_circuit_announces_them():
    net = one_customer(
        {"netoss_service": "internett-pluss", "netoss_routing": "ebgp", "netoss_announce": "default+aggregates"}
    )
    net.records["aggregates"] += [
        {"prefix": "100.64.0.0/16", "tenant": {"id": PROVIDER}},
        {"prefix": "10.0.0.0/8", "tenant": None},  # no tenant: the provider's too
        {"prefix": "172.16.0.0/12", "tenant": {"id": OTHER}},  # another tenant's: not announced
        {"prefix": "2001:db8::/32", "tenant": {"id": PROVIDER}},  # IPv4 only
    ]
    pe = device_data.build(net.snapshot(), "kant-7")
    [session] = _ebgp(pe)
    assert session["default_originate"] is True and session["route_map_out"] == "RM-CUSTOMER-OUT-AGGREGATES"
    assert _lists(pe)["PL-CUSTOMER-OUT-AGGREGATES"] == [
        ("0.0.0.0/0", None),
        ("10.0.0.0/8", None),
        ("100.64.0.0/16", None),
    ]
    # Each aggregate is held up by a blackhole route and announced (the longer routes still win).
    assert [(r["prefix"], r["next_hop"], r["announce"]) for r in pe["static_routes"]] == [
        ("10.0.0.0/8", "blackhole", True),
        ("100.64.0.0/16", "blackhole", True),
    ]
    assert pe["bgp"]["networks"] == ["10.0.0.0/8", "100.64.0.0/16"]
    text = config_render.render(pe, str(TEMPLATES), "frr")
    assert "ip route 100.64.0.0/16 blackhole\n" in text and "  network 100.64.0.0/16\n" in text
    assert "ip prefix-list PL-CUSTOMER-OUT-AGGREGATES seq 15 permit 100.64.0.0/16\n" in text
    # The core router announces nothing of it: only a PE that sends a customer the aggregates does.
    core = device_data.build(net.snapshot(), "kjerne-1")
    assert core["static_routes"] == [] and core["bgp"]["networks"] == []


def test_aggregates_asked_for_but_none_in_netbox_is_an_error():
    net = one_customer({"netoss_routing": "ebgp", "netoss_announce": "default+aggregates"})
    net.records["aggregates"].append({"prefix": "172.16.0.0/12", "tenant": {"id": OTHER}})
    good, bad = device_data.build_all(net.snapshot(), ["kjerne-1", "kant-7", "kunde-fjord"])
    assert sorted(good) == ["kjerne-1", "kunde-fjord"]
    assert bad["kant-7"] == (
        "kant-7 announces the provider's aggregates to NN-0042 (netoss_announce: default+aggregates), but NetBox "
        "has no IPv4 aggregate (IPAM > Aggregates) of its tenant Nordlys Nett, nor one without a tenant"
    )


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"netoss_announce": "everything"}, "custom field netoss_announce: 'everything' is not one of default, "),
        ({"netoss_routing": "ospf"}, "custom field netoss_routing: 'ospf' is not one of ebgp, static"),
    ],
)
def test_a_bad_circuit_field_names_the_circuit(fields, error):
    _good, bad = device_data.build_all(one_customer(fields).snapshot(), ["kant-7"])
    assert bad["kant-7"].startswith("NetBox circuits.circuit NN-0042, " + error), bad


def test_static_routing_follows_the_circuit_whatever_its_service_is_called():
    net = one_customer(static={"netoss_service": "kobber-tilgang", "netoss_routing": "static"})
    pe = device_data.build(net.snapshot(), "kant-7")
    assert [n["address"] for n in _ebgp(pe)] == ["100.64.9.1"]  # no session to the static customer
    assert {(r["prefix"], r["next_hop"], r["announce"]) for r in pe["static_routes"]} == {
        ("198.51.100.0/27", "100.64.9.3", True)
    }
    assert "198.51.100.0/27" in pe["bgp"]["networks"]  # announced into the core
    stat = device_data.build(net.snapshot(), "kunde-stat")
    assert stat["bgp"] is None
    assert stat["static_routes"] == [
        {"prefix": "0.0.0.0/0", "next_hop": "100.64.9.2", "description": "NN-0043 kant-7", "announce": False}
    ]
