"""The lab's shape from NetBox records (captured from a real NetBox holding the demo)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from portal.lab.spec import LabConfig, LabError, Link, build_spec

RECORDS = json.loads((Path(__file__).parent / "test_data" / "netbox_demo_records.json").read_text())


def _spec(records=RECORDS, config=None):
    return build_spec(records["devices"], records["ip_addresses"], records["cables"], records["prefixes"], config)


def test_demo_lab():
    spec = _spec()
    assert [r.name for r in spec.routers] == ["ce1", "ce2", "ce3", "ce4", "p1", "p2", "pe1", "pe2"]
    # The spare CEs have no link until a service order patches one.
    assert spec.router("ce3").interfaces == [] and spec.router("ce4").interfaces == []
    assert str(spec.mgmt_prefix) == "198.18.0.0/24" and str(spec.bridge_ip) == "198.18.0.1/24"
    pe1 = spec.router("pe1")
    assert (pe1.ns, pe1.mgmt_if, pe1.interfaces) == ("pe1", "mgmt0", ["eth1", "eth2", "eth3"])
    assert Link("pe1", "eth1", "p1", "eth2") in spec.links and len(spec.links) == 7
    assert len({r.bridge_port for r in spec.routers}) == 8 and all(len(r.bridge_port) <= 15 for r in spec.routers)


def test_test_names_are_prefixed():
    spec = _spec(config=LabConfig(ns_prefix="t", bridge="netoss-tbr0", user="netopst"))
    assert spec.router("p1").ns == "tp1"
    assert spec.router("p1").bridge_port != _spec().router("p1").bridge_port


def test_problems_name_the_device():
    records = copy.deepcopy(RECORDS)
    for d in records["devices"]:
        if d["name"] == "ce2":
            d["primary_ip4"] = None
    spec = _spec(records)  # ce2 is left out, with the reason; the others are built
    assert spec.skipped == {"ce2": "no primary IPv4 address in NetBox (it is the management address)"}
    assert "ce2" not in [r.name for r in spec.routers] and len(spec.routers) == 7
    assert all("ce2" not in (link.a_router, link.b_router) for link in spec.links)
    with pytest.raises(LabError, match="namespace name 'averyverylongpr-ce1' is longer than 15"):
        _spec(config=LabConfig(ns_prefix="averyverylongpr-"))
    with pytest.raises(LabError, match="longer than 15"):
        LabConfig(bridge="a-bridge-name-too-long")


def test_router_on_the_bridge_address_is_refused():
    records = copy.deepcopy(RECORDS)
    for d in records["devices"]:
        if d["name"] == "p1":
            d["primary_ip4"]["address"] = "198.18.0.1/24"
    with pytest.raises(
        LabError, match=r"device p1: its primary IP 198\.18\.0\.1/24 is the management bridge.s address"
    ):
        _spec(records)


def test_no_frr_device_is_an_error():
    with pytest.raises(LabError, match="no device of platform 'frr'"):
        build_spec([], [], [], [])


# --- pinned host keys ---------------------------------------------------------------------


def _fake_keys(tmp_path, spec):
    from portal.lab import runtime

    paths = runtime.LabPaths(tmp_path / "lab")
    for n, r in enumerate(spec.routers):
        keys = paths.router(r.ns) / "ssh"
        keys.mkdir(parents=True)
        (keys / "ssh_host_ed25519_key.pub").write_text(f"ssh-ed25519 AAAAkey{n} {r.ns}\n")
    return paths


def test_lab_up_pins_one_line_per_router_key(tmp_path):
    from portal.lab import runtime

    spec = _spec()
    paths = _fake_keys(tmp_path, spec)
    home_copy = tmp_path / "home" / ".ssh" / "known_hosts"
    runtime.write_known_hosts(spec, paths, home_copy)
    lines = paths.known_hosts.read_text().splitlines()
    assert lines[0] == f"{spec.routers[0].mgmt_ip.ip} ssh-ed25519 AAAAkey0" and len(lines) == len(spec.routers)
    assert home_copy.read_text() == paths.known_hosts.read_text()
    assert paths.known_hosts.stat().st_mode & 0o777 == 0o600
    assert home_copy.parent.stat().st_mode & 0o777 == 0o700


def test_trust_replaces_the_lab_addresses_and_keeps_other_lines(tmp_path):
    from portal.lab import runtime

    mine = tmp_path / "known_hosts"
    mine.write_text("# mine\ngit.example ssh-ed25519 AAAAother\n198.18.0.11 ssh-ed25519 AAAAstale\n")
    runtime.merge_known_hosts(["198.18.0.11 ssh-ed25519 AAAAnew", "198.18.0.12 ssh-ed25519 AAAAnew2"], mine)
    assert mine.read_text().splitlines() == [
        "# mine",
        "git.example ssh-ed25519 AAAAother",
        "198.18.0.11 ssh-ed25519 AAAAnew",
        "198.18.0.12 ssh-ed25519 AAAAnew2",
    ]
