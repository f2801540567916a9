"""FRR state parsers on `show ... json` output captured from lab routers (FRR 8.4.4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.netoss.core.plugins.module_utils.frr_state import (
    StateError,
    parse_bgp_summary,
    parse_interfaces,
    parse_ospf_neighbors,
    parse_routes,
)

DATA = Path(__file__).parent / "test_data" / "frr"


def _read(name: str) -> str:
    return (DATA / name).read_text()


def test_bgp_summary_one_established_one_active():
    sessions = parse_bgp_summary(_read("show_bgp_summary.json"))
    by_neighbor = {s["neighbor"]: s for s in sessions}
    assert by_neighbor["198.19.255.2"] | {"uptime": None, "uptime_msec": None} == {
        "vrf": "default",
        "afi_safi": "ipv4Unicast",
        "neighbor": "198.19.255.2",
        "remote_as": 64500,
        "state": "Established",
        "established": True,
        "prefixes_received": 1,
        "uptime": None,
        "uptime_msec": None,
    }
    assert by_neighbor["198.19.0.99"]["state"] == "Active" and not by_neighbor["198.19.0.99"]["established"]
    assert by_neighbor["198.19.0.99"]["prefixes_received"] == 0


def test_bgp_summary_keyed_by_vrf():
    sessions = parse_bgp_summary(_read("show_bgp_vrf_all_summary.json"))
    assert [(s["vrf"], s["neighbor"], s["remote_as"]) for s in sessions] == [("default", "198.19.0.99", 64999)]


def test_no_bgp_configured_is_no_sessions():
    assert parse_bgp_summary("{}\n") == [] and parse_bgp_summary("") == []


def test_ospf_neighbor_full_on_eth1():
    assert parse_ospf_neighbors(_read("show_ip_ospf_neighbor.json")) == [
        {"neighbor_id": "198.19.255.2", "state": "Full/-", "full": True, "address": "198.19.0.1", "interface": "eth1"}
    ]


def test_interfaces_with_addresses_without_link_local():
    interfaces = {i["name"]: i for i in parse_interfaces(_read("show_interface.json"))}
    assert sorted(interfaces) == ["eth1", "eth2", "eth3", "lo", "mgmt0"]
    assert interfaces["eth1"]["addresses"] == ["198.19.0.0/31"]
    assert interfaces["mgmt0"] == {
        "name": "mgmt0",
        "admin_up": True,
        "oper_up": True,
        "mtu": 1500,
        "addresses": ["198.18.0.11/24"],
    }


@pytest.mark.parametrize("text", ["% Unknown command: show bgp summary jsn", "[1, 2]"])
def test_non_json_answers_are_errors(text):
    with pytest.raises(StateError, match="show"):
        parse_bgp_summary(text)


def test_routes_one_selected_route_per_prefix_with_its_interfaces():
    routes = parse_routes(_read("show_ip_route.json"))
    by_prefix = {r["prefix"]: r for r in routes}
    assert len(routes) == len(by_prefix) == 15
    # A connected /31 that OSPF also knows: the connected route is the selected one.
    assert by_prefix["198.19.0.2/31"]["protocol"] == "connected"
    assert by_prefix["203.0.113.0/28"]["protocol"] == "bgp"
    assert by_prefix["198.19.0.0/31"] == {"prefix": "198.19.0.0/31", "protocol": "ospf", "interfaces": ["eth1", "eth2"]}
    assert parse_routes("{}") == []
    with pytest.raises(StateError, match="show ip route json: the router did not answer JSON"):
        parse_routes("% Unknown command")
