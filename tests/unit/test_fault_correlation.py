"""Fault correlation over the demo network's NetBox records: links, sessions, devices, services."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from netoss.domain.faults.correlate import correlate, group_of
from netoss.domain.faults.topology import Topology

RECORDS = json.loads((Path(__file__).parent / "test_data" / "netbox_demo_records.json").read_text())
T0 = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def topo():
    return Topology.from_records(
        RECORDS["devices"], RECORDS["interfaces"], RECORDS["ip_addresses"], RECORDS["circuits"]
    )


@dataclass
class A:
    id: int
    device: str
    object_type: str
    object_name: str
    condition: str
    seconds: float = 0

    @property
    def raised_at(self):
        return T0 + dt.timedelta(seconds=self.seconds)

    @property
    def fingerprint(self):
        return f"{self.device}|{self.object_type}:{self.object_name}|{self.condition}"


def test_the_topology_knows_links_circuits_and_addresses(topo):
    assert topo.link("pe1", "eth3") == (("ce1", "eth1"), ("pe1", "eth3"))  # through circuit ACME-AMS-0001
    assert [s.name for s in topo.link_services("ce1", "eth1")] == ["ACME-AMS-0001"]
    assert topo.link_services("ce1", "eth1")[0].tenant == "Acme Corp"
    assert topo.interface_to("pe1", "198.19.128.1").name == "eth3"
    assert topo.device_of_address("198.19.255.1") == "p1" and topo.device_of_address("198.18.0.15") == "ce1"
    assert topo.interface_to("pe1", "198.19.255.1") is None  # a loopback: no subnet of pe1 holds it
    assert [s.name for s in topo.device_services("pe1")] == ["ACME-AMS-0001"]


def test_a_link_down_is_one_problem_whose_root_is_the_first_interface_alarm(topo):
    alarms = [
        A(1, "pe1", "bgp_session", "198.19.128.1", "bgp-session-down", 0.0),  # BGP reacts first
        A(2, "ce1", "bgp_session", "198.19.128.0", "bgp-session-down", 0.01),
        A(3, "pe1", "interface", "eth3", "interface-down", 0.02),
        A(4, "ce1", "interface", "eth1", "interface-down", 0.03),
        A(5, "p2", "interface", "eth9", "interface-down", 0.0),  # unrelated, unconnected
    ]
    v = correlate(alarms, topo)
    assert v[3].is_root_cause and v[3].parent_id is None
    assert {i for i in (1, 2, 4) if v[i].parent_id == 3 and not v[i].is_root_cause} == {1, 2, 4}
    assert v[3].correlation == "link ce1:eth1 pe1:eth3"
    assert [s.name for s in v[3].services] == ["ACME-AMS-0001"]
    assert v[5].is_root_cause and v[5].correlation == "interface p2:eth9"


def test_both_ends_of_a_loopback_session_are_one_problem(topo):
    alarms = [
        A(1, "p1", "bgp_session", "198.19.255.3", "bgp-session-down", 1),
        A(2, "pe1", "bgp_session", "198.19.255.1", "bgp-session-down", 0),
    ]
    v = correlate(alarms, topo)
    assert v[2].is_root_cause and v[1].parent_id == 2 and v[1].correlation == "session p1 pe1"


def test_an_unreachable_device_is_the_root_of_what_involves_it(topo):
    alarms = [
        A(1, "p1", "interface", "eth2", "interface-down", 0),  # p1:eth2 - pe1:eth1
        A(2, "pe1", "device", "", "device-unreachable", 5),
        A(3, "p1", "bgp_session", "198.19.255.3", "bgp-session-down", 1),
        A(4, "pe2", "interface", "eth2", "interface-down", 0),  # pe2's own problem
    ]
    v = correlate(alarms, topo)
    assert v[2].is_root_cause
    assert v[1].parent_id == 2 and v[3].parent_id == 2
    assert v[4].is_root_cause
    assert [s.name for s in v[2].services] == ["ACME-AMS-0001"]


def test_group_of_an_unknown_object_is_its_own(topo):
    g = group_of(A(1, "pe1", "service", "web", "alertmanager:HighLatency"), topo)
    assert g.key == "pe1|service:web|alertmanager:HighLatency" and g.devices == {"pe1"}
