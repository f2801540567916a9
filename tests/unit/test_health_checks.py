"""Health checks follow NetBox's status fields: what NetBox has out of service is never a fault.

Pure logic over a device's structured data (as config_data builds it) and its parsed live
state, on a device unlike the demo's (swpN ports, a dotted name, other addressing).
"""

from __future__ import annotations

import copy

import pytest

from ansible_collections.netoss.core.plugins.module_utils.health import checks, not_checked, out_of_service, rested


def _intf(name, addresses=(), **extra):
    entry = {
        "name": name,
        "enabled": True,
        "loopback": False,
        "mgmt_only": False,
        "addresses": list(addresses),
        "ospf": None,
        "peer": None,
        "circuit": None,
        "cabled": True,
        "peer_status": None,
        "circuit_status": None,
    }
    entry.update(extra)
    return entry


DATA = {
    "hostname": "osl-cr-01.example.net",
    "status": "active",
    "interfaces": [
        _intf("eth0", ["10.20.0.5/24"], mgmt_only=True, cabled=False),
        _intf("lo", ["10.255.0.1/32"], loopback=True, cabled=False),
        _intf(
            "swp1",
            ["10.1.0.0/31"],
            peer={"device": "osl-cr-02", "interface": "swp1"},
            peer_status="active",
            ospf={"area": "10", "passive": False, "network": "point-to-point"},
        ),
        _intf("swp2", ["10.9.0.0/31"], circuit="KUNDE1-0001", circuit_status="active"),
        _intf("swp7", cabled=False),  # a spare port: nothing in NetBox uses it
    ],
    "bgp": {
        "neighbors": [
            {"address": "10.9.0.1", "description": "kunde1"},
            {"address": "10.255.0.2", "description": "osl-cr-02"},
        ]
    },
}


def _live(down=()):
    names = [i["name"] for i in DATA["interfaces"] if i["name"] != "swp7"]  # the spare is not even there
    interfaces = [{"name": n, "admin_up": True, "oper_up": n not in down, "mtu": 1500, "addresses": []} for n in names]
    bgp = [
        {"neighbor": "10.9.0.1", "established": "swp2" not in down, "state": "Established"},
        {"neighbor": "10.255.0.2", "established": True, "state": "Established"},
    ]
    ospf = [] if "swp1" in down else [{"interface": "swp1", "full": True}]
    return interfaces, bgp, ospf


def _failing(data, down=()):
    return sorted((c["object_type"], c["object_name"]) for c in checks(data, *_live(down)) if not c["ok"])


def test_a_spare_port_is_not_a_fault_and_is_said_to_be_left_out():
    assert _failing(DATA) == []
    assert not_checked(DATA) == [
        {"object_type": "interface", "object_name": "swp7", "why": out_of_service(DATA["interfaces"][4])}
    ]
    assert "spare port" in not_checked(DATA)[0]["why"]


def test_what_is_in_service_and_down_is_still_a_fault():
    assert _failing(DATA, down=("swp1",)) == [("interface", "swp1"), ("ospf_adjacency", "swp1")]
    assert _failing(DATA, down=("swp2",)) == [("bgp_session", "10.9.0.1"), ("interface", "swp2")]


@pytest.mark.parametrize(
    "index, change, why",
    [
        (2, {"enabled": False}, "disabled in NetBox"),
        (3, {"circuit_status": "provisioning"}, "its circuit KUNDE1-0001 is provisioning in NetBox"),
        (3, {"circuit_status": "planned"}, "its circuit KUNDE1-0001 is planned in NetBox"),
        (2, {"peer_status": "offline"}, "the device at its other end, osl-cr-02, is offline in NetBox"),
    ],
)
def test_a_port_netbox_has_out_of_service_is_not_checked_nor_are_its_sessions(index, change, why):
    data = copy.deepcopy(DATA)
    data["interfaces"][index].update(change)
    name = data["interfaces"][index]["name"]
    # Down on the router, as a port out of service is: no fault for it or what runs over it.
    assert _failing(data, down=(name,)) == []
    assert {"object_type": "interface", "object_name": name, "why": why} in not_checked(data)
    checked = {(c["object_type"], c["object_name"]) for c in checks(data, *_live(down=(name,)))}
    assert ("interface", name) not in checked
    # Its interface alarm is cleared: a port taken out of service is no longer a fault.
    clears = rested(data["hostname"], not_checked(data))
    assert {(a["object_name"], a["condition"], a["state"]) for a in clears} >= {(name, "interface-down", "cleared")}


@pytest.mark.parametrize("status", ["planned", "staged", "offline", "decommissioning", "failed", "inventory"])
def test_a_device_that_is_not_active_is_not_checked(status):
    data = dict(DATA, status=status)
    assert checks(data, *_live(down=("swp1", "swp2"))) == []
    assert not_checked(data) == [
        {"object_type": "device", "object_name": "osl-cr-01.example.net", "why": f"{status} in NetBox"}
    ]


def test_a_port_with_an_address_but_no_cable_is_in_service():
    data = copy.deepcopy(DATA)
    data["interfaces"][4].update(addresses=["192.0.2.1/24"])  # a customer LAN documented by its address
    assert ("interface", "swp7") in _failing(data)
