"""The lab's shape from NetBox records (captured from a real NetBox holding the demo)."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path

import pytest

from ansible_collections.netoss.core.plugins.module_utils import lab_netns
from ansible_collections.netoss.core.plugins.module_utils.lab_netns import namespace_name
from netoss.embedded.lab.spec import LabConfig, LabError, Link, build_spec

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
    with pytest.raises(LabError, match="namespace prefix 'averyverylongpr-' is not up to 6"):
        LabConfig(ns_prefix="averyverylongpr-")
    with pytest.raises(LabError, match="longer than 15"):
        LabConfig(bridge="a-bridge-name-too-long")


def test_router_on_the_bridge_address_is_skipped():
    records = copy.deepcopy(RECORDS)
    for d in records["devices"]:
        if d["name"] == "p1":
            d["primary_ip4"]["address"] = "198.18.0.1/24"
    spec = _spec(records)
    assert "p1" not in [r.name for r in spec.routers] and len(spec.routers) == 7
    assert spec.skipped["p1"].startswith("its primary IP 198.18.0.1/24 is the management bridge's address")
    assert all("p1" not in (link.a_router, link.b_router) for link in spec.links)


def test_no_frr_device_is_an_error():
    with pytest.raises(LabError, match="no device of platform 'frr'"):
        build_spec([], [], [], [])


# --- pinned host keys ---------------------------------------------------------------------


def _fake_keys(tmp_path, spec):
    from netoss.embedded.lab import runtime

    paths = runtime.LabPaths(tmp_path / "lab")
    for n, r in enumerate(spec.routers):
        keys = paths.router(r.ns) / "ssh"
        keys.mkdir(parents=True)
        (keys / "ssh_host_ed25519_key.pub").write_text(f"ssh-ed25519 AAAAkey{n} {r.ns}\n")
    return paths


def test_lab_up_pins_one_line_per_router_key(tmp_path):
    from netoss.embedded.lab import runtime

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
    from netoss.embedded.lab import runtime

    mine = tmp_path / "known_hosts"
    mine.write_text("# mine\ngit.example ssh-ed25519 AAAAother\n198.18.0.11 ssh-ed25519 AAAAstale\n")
    runtime.merge_known_hosts(["198.18.0.11 ssh-ed25519 AAAAnew", "198.18.0.12 ssh-ed25519 AAAAnew2"], mine)
    assert mine.read_text().splitlines() == [
        "# mine",
        "git.example ssh-ed25519 AAAAother",
        "198.18.0.11 ssh-ed25519 AAAAnew",
        "198.18.0.12 ssh-ed25519 AAAAnew2",
    ]


# --- any network's names (issue 14) ----------------------------------------------------------


def _add_device(records, name, address, mgmt_if="mgmt0", platform="frr", cabled_to=None, cabled_if="eth9"):
    """A device of ``records`` copied from the first FRR one under another name, management
    interface and address; ``cabled_to`` (device, interface) cables its ``cabled_if`` there."""
    template = next(d for d in records["devices"] if (d.get("platform") or {}).get("slug") == "frr")
    ids = [x["id"] for kind in ("devices", "ip_addresses", "cables") for x in records[kind]]
    dev_id, ip_id, intf_id, cable_id = (max(ids) + n for n in (1, 2, 3, 4))
    device = copy.deepcopy(template)
    device.update(id=dev_id, name=name, platform=dict(template["platform"], slug=platform))
    device["primary_ip4"] = dict(template["primary_ip4"], id=ip_id, address=address)
    records["devices"].append(device)
    brief = {"id": dev_id, "name": name}
    records["ip_addresses"].append(
        {"id": ip_id, "address": address, "assigned_object": {"id": intf_id, "name": mgmt_if, "device": brief}}
    )
    if cabled_to:
        peer, peer_if = cabled_to

        def end(dev, intf):
            return [{"object_type": "dcim.interface", "object": {"device": {"name": dev}, "name": intf}}]

        records["cables"].append(
            {"id": cable_id, "a_terminations": end(name, cabled_if), "b_terminations": end(peer, peer_if)}
        )
    return records


def test_namespace_names_are_the_device_names_when_they_fit():
    assert namespace_name("", "pe1") == "pe1" and namespace_name("t", "pe1") == "tpe1"
    assert namespace_name("", "osl-cr-01") == "osl-cr-01"
    assert namespace_name("", "a" * 15) == "a" * 15


@pytest.mark.parametrize(
    ("device", "stem"),
    [
        ("ams-core-router-01.example.net", "ams-core"),  # long and dotted
        ("pe1.example.net", "pe1-exam"),  # dotted, short
        ("köln-pe1", "koln-pe1"),  # non-ASCII: accents dropped
        ("東京-pe1", "pe1"),  # non-Latin letters: nothing left of them
        ("PE1", "pe1"),  # uppercase
        ("pe_1", "pe-1"),
        ("a" * 16, "aaaaaaaa"),  # one character too long
        ("東京", "r"),
    ],
)
def test_other_device_names_get_a_safe_stable_namespace_name(device, stem):
    ns = namespace_name("", device)
    assert re.fullmatch(r"[a-z0-9-]{1,8}_[0-9a-f]{6}", ns) and ns.startswith(stem + "_"), ns
    assert ns.split("_")[1] == hashlib.sha256(device.encode()).hexdigest()[:6]
    assert namespace_name("", device) == ns  # stable
    prefixed = namespace_name("t", device)
    assert prefixed.startswith("t") and len(prefixed) <= 15 and prefixed.endswith(ns.split("_")[1])
    assert len(namespace_name("abcdef", device)) <= 15


def test_names_that_share_a_stem_get_different_namespaces():
    a = namespace_name("", "ams-core-router-01.example.net")
    b = namespace_name("", "ams-core-router-02.example.net")
    assert a.split("_")[0] == b.split("_")[0] == "ams-core" and a != b
    # A plain name never takes a derived one: only derived names hold "_".
    assert namespace_name("", a) != a


def test_devices_the_lab_does_not_build_are_not_held_to_its_limits():
    records = _add_device(
        copy.deepcopy(RECORDS),
        "ams-core-router-01.example.net",
        "10.1.2.3/24",
        mgmt_if="GigabitEthernet0/0/0/12",
        platform="iosxr",
    )
    spec = _spec(records)
    assert len(spec.routers) == 8 and spec.skipped == {}


def test_long_dotted_and_non_ascii_names_are_built_under_safe_namespaces():
    records = _add_device(copy.deepcopy(RECORDS), "ams-core-router-01.example.net", "198.18.0.101/24")
    records = _add_device(records, "köln-pe1", "198.18.0.102/24", cabled_to=("ams-core-router-01.example.net", "eth9"))
    spec = _spec(records, LabConfig(ns_prefix="t"))
    fqdn, koln = spec.router("ams-core-router-01.example.net"), spec.router("köln-pe1")
    assert fqdn.ns == namespace_name("t", fqdn.name) and fqdn.ns.startswith("tams-cor_")
    assert koln.ns.startswith("tkoln-pe_") and koln.ns.isascii()
    assert fqdn.hostname == fqdn.name  # a hostname a configuration can hold: the device's
    assert koln.hostname == koln.ns  # not one: the namespace's
    assert Link("köln-pe1", "eth9", "ams-core-router-01.example.net", "eth9") in spec.links
    assert spec.skipped == {}


def test_a_device_with_an_interface_linux_cannot_have_is_skipped_with_its_cables():
    records = _add_device(copy.deepcopy(RECORDS), "bad-mgmt", "198.18.0.101/24", mgmt_if="GigabitEthernet0/0/0/12")
    records = _add_device(
        records, "bad-link", "198.18.0.102/24", cabled_to=("pe1", "eth7"), cabled_if="TenGigabitEthernet0/1"
    )
    spec = _spec(records)
    assert sorted(spec.skipped) == ["bad-link", "bad-mgmt"]
    assert spec.skipped["bad-mgmt"] == (
        "its management interface 'GigabitEthernet0/0/0/12' cannot be a Linux interface name in the lab "
        "(a letter or digit then up to 14 of letters, digits, . _ -)"
    )
    assert "its cabled interface 'TenGigabitEthernet0/1'" in spec.skipped["bad-link"]
    assert [r.name for r in spec.routers] == ["ce1", "ce2", "ce3", "ce4", "p1", "p2", "pe1", "pe2"]
    assert "eth7" not in spec.router("pe1").interfaces and len(spec.links) == 7


def test_a_device_outside_the_management_subnet_is_skipped():
    records = _add_device(copy.deepcopy(RECORDS), "elsewhere", "10.9.9.9/24")
    spec = _spec(records)
    assert spec.skipped == {
        "elsewhere": "its primary IP 10.9.9.9/24 is outside the lab's management subnet 198.18.0.0/24 "
        "(that of 8 of 9 routers)"
    }
    assert str(spec.mgmt_prefix) == "198.18.0.0/24" and len(spec.routers) == 8


def test_management_subnets_with_no_majority_stop_the_lab():
    records = copy.deepcopy(RECORDS)
    for n, d in enumerate(d for d in records["devices"] if d["name"] in ("ce1", "ce2", "ce3", "ce4")):
        d["primary_ip4"]["address"] = f"10.9.9.{n + 10}/24"
    with pytest.raises(LabError, match="not in one management subnet, and none holds most of them"):
        _spec(records)


def test_a_duplicate_management_address_or_name_skips_the_second_device():
    records = _add_device(copy.deepcopy(RECORDS), "twin", "198.18.0.11/24")  # p1's address
    records = _add_device(records, "pe1", "198.18.0.120/24")  # pe1 again, at another site
    spec = _spec(records)
    assert spec.skipped["twin"] == "its primary IP 198.18.0.11/24 is also device p1's"
    assert [k for k in spec.skipped if k.startswith("pe1 (id ")] and spec.router("pe1").mgmt_ip.ip.packed[-1] != 120


def test_two_devices_on_one_namespace_name_keep_the_first(monkeypatch):
    """A namespace name is unique in the lab: two devices whose names give the same one (a
    6-hex-digit collision of their SHA-256) keep the first, the second is skipped."""
    real = lab_netns.namespace_name
    monkeypatch.setattr(
        lab_netns, "namespace_name", lambda prefix, device: real(prefix, device).split("_")[0] + "_abcdef"
    )
    records = _add_device(copy.deepcopy(RECORDS), "ams-core-router-01.example.net", "198.18.0.101/24")
    records = _add_device(records, "ams-core-router-02.example.net", "198.18.0.102/24")
    spec = _spec(records)
    first = spec.router("ams-core-router-01.example.net")
    assert spec.skipped == {
        "ams-core-router-02.example.net": f"its namespace name {first.ns} is that of device {first.name}"
    }


def test_a_loopback_address_off_lo_is_a_warning():
    """A lab router's loopback is its namespace's `lo`: a loopback address elsewhere is said."""
    assert _spec().warnings == []
    records = copy.deepcopy(RECORDS)
    ip = next(i for i in records["ip_addresses"] if (i.get("role") or {}).get("value") == "loopback")
    ip["assigned_object"]["name"] = "Loopback0"
    device = ip["assigned_object"]["device"]["name"]
    spec = _spec(records)
    assert device in [r.name for r in spec.routers]
    assert spec.warnings == [
        f"{device}: its loopback address {ip['address']} is on 'Loopback0', which a lab router does not have "
        "(its loopback is `lo`): that address is not reachable in the lab"
    ]


def test_nothing_to_build_says_why_each_device_was_left_out():
    records = copy.deepcopy(RECORDS)
    for d in records["devices"]:
        d["primary_ip4"] = None
    with pytest.raises(LabError, match=r"nothing to build\n  ce1: no primary IPv4 address"):
        _spec(records)


# --- what the lab made, on record (issue 14) -----------------------------------------------


def test_the_record_lists_every_resource_a_router_holds():
    from netoss.embedded.lab import record

    spec = _spec(config=LabConfig(ns_prefix="t", bridge="netoss-tbr0"))
    res = record.of_spec(spec)
    assert res["bridge"] == "netoss-tbr0"
    assert res["routers"]["tpe1"] == {
        "device": "pe1",
        "bridge_port": spec.router("pe1").bridge_port,
        "mgmt_if": "mgmt0",
        "mgmt_ip": "198.18.0.13/24",
        "frr_dirs": ["/etc/frr/tpe1", "/var/run/frr/tpe1"],
    }
    assert ["tpe1", "eth1", "tp1", "eth2"] in res["links"] and len(res["links"]) == 7


def test_a_router_netbox_no_longer_has_is_stale_and_stays_on_record_until_removed():
    from netoss.embedded.lab import record

    before = record.of_spec(_spec())
    records = copy.deepcopy(RECORDS)
    records["devices"] = [d for d in records["devices"] if d["name"] != "ce1"]
    after = record.of_spec(_spec(records))
    stale = record.stale(before, after)
    assert list(stale["routers"]) == ["ce1"]
    assert stale["links"] == []  # ce1's link goes with its namespace
    # Written before building: the union, so a lab that stops half-way is still taken down whole.
    assert set(record.merge(before, after)["routers"]) == set(before["routers"])
    assert record.stale(after, after) == {"bridge": None, "routers": {}, "links": []}


def test_a_cable_removed_or_a_management_change_is_stale():
    from netoss.embedded.lab import record

    before = record.of_spec(_spec())
    records = copy.deepcopy(RECORDS)
    records["cables"] = [c for c in records["cables"] if c["id"] != records["cables"][0]["id"]]
    for d in records["devices"]:
        if d["name"] == "p2":
            d["primary_ip4"]["address"] = "198.18.0.99/24"
    after = record.of_spec(_spec(records))
    stale = record.stale(before, after)
    assert list(stale["routers"]) == ["p2"]  # rebuilt with its new address
    removed = [link for link in before["links"] if link not in after["links"]]
    assert stale["links"] == [link for link in removed if "p2" not in (link[0], link[2])]


def test_a_record_of_an_older_version_still_lists_its_routers():
    from netoss.embedded.lab import record

    old = {
        "config": {"ns_prefix": "", "bridge": "netoss-br0", "user": "netops"},
        "routers": [{"name": "pe1", "ns": "pe1", "mgmt_if": "mgmt0", "mgmt_ip": "198.18.0.13/24", "interfaces": []}],
    }
    res = record.resources(old)
    assert res["bridge"] == "netoss-br0" and res["routers"]["pe1"]["frr_dirs"] == ["/etc/frr/pe1", "/var/run/frr/pe1"]


def test_recorded_directories_are_only_frr_directories_of_their_namespace():
    from netoss.embedded.lab import record

    res = {"frr_dirs": ["/etc/frr/pe1", "/var/run/frr/pe1", "/etc", "/etc/frr/pe1/../..", "/var/run/frr/other"]}
    assert [str(p) for p in record.checked_dirs(res, "pe1")] == ["/etc/frr/pe1", "/var/run/frr/pe1"]
    assert record.checked_dirs({"frr_dirs": ["/etc/frr/.."]}, "..") == []


# --- change detection: what a push depends on (issue 14) -------------------------------------


SNAPSHOT_KEYS = ("devices", "interfaces", "ip_addresses", "asns", "sites", "prefixes", "circuits")


def _snapshot(records):
    from ansible_collections.netoss.core.plugins.module_utils.device_data import Snapshot

    return Snapshot(**{k: copy.deepcopy(records[k]) for k in SNAPSHOT_KEYS})


def test_push_digests_follow_netbox_not_the_intent_files(tmp_path):
    from ansible_collections.netoss.core.plugins.module_utils.device_data import build_all
    from netoss.embedded.lab import push_digests

    snapshot = _snapshot(RECORDS)
    spec = _spec()
    names = [r.name for r in spec.routers]
    data, errors = build_all(snapshot, names)
    assert not errors
    alive = {n: {"zebra": 100} for n in names}
    first = push_digests(spec, data, alive)
    assert set(first) == set(names)
    assert push_digests(spec, build_all(snapshot, names)[0], alive) == first  # NetBox as it was: nothing to push
    # A description in NetBox on a pe1 interface: pe1's configuration changes, and only pe1's.
    changed = copy.deepcopy(RECORDS)
    pe1 = next(d for d in changed["devices"] if d["name"] == "pe1")
    intf = next(i for i in changed["interfaces"] if i["device"]["id"] == pe1["id"] and i["name"] == "eth3")
    intf["description"] = "a new description"
    again = push_digests(spec, build_all(_snapshot(changed), names)[0], alive)
    assert [n for n in names if again[n] != first[n]] == ["pe1"]
    # A restarted router (new pids) is pushed again; so is every router when its templates change.
    restarted = push_digests(spec, data, dict(alive, p1={"zebra": 200}))
    assert [n for n in names if restarted[n] != first[n]] == ["p1"]
    templates = tmp_path / "templates"
    (templates / "frr").mkdir(parents=True)
    (templates / "frr" / "00-base.j2").write_text("hostname {{ hostname }}\n")
    other = push_digests(spec, data, alive, templates)
    (templates / "frr" / "00-base.j2").write_text("hostname {{ hostname }}\n!\n")
    assert all(v != other[k] for k, v in push_digests(spec, data, alive, templates).items())


def test_the_lab_has_one_error_class_the_collections():
    """One LabError (issue 15): the lab runtime, its spec, the CLI and the collection's lab
    modules raise and catch the same class, the one in module_utils (the collection stands alone)."""
    from netoss.embedded import lab
    from netoss.embedded.lab import runtime

    assert LabError is lab_netns.LabError and lab.LabError is lab_netns.LabError
    assert runtime.LabError is lab_netns.LabError


def test_a_twin_keeps_each_routers_host_number_in_its_own_management_subnet():
    lab = _spec()
    twin = _spec(config=LabConfig(ns_prefix="tw-", bridge="netoss-twbr0", user="netopstw", mgmt_subnet="10.99.0.0/23"))
    assert str(twin.mgmt_prefix) == "10.99.0.0/23" and str(twin.bridge_ip) == "10.99.0.1/23"
    for r in lab.routers:
        moved = twin.router(r.name)
        assert int(moved.mgmt_ip.ip) - int(twin.mgmt_prefix.network_address) == int(r.mgmt_ip.ip) - int(
            lab.mgmt_prefix.network_address
        )
        assert moved.ns == f"tw-{r.name}" and moved.interfaces == r.interfaces
    assert twin.links == lab.links
    with pytest.raises(LabError, match=r"smaller than the lab's, 198.18.0.0/24: give a /24 or larger"):
        _spec(config=LabConfig(ns_prefix="tw-", mgmt_subnet="10.99.0.0/25"))
    with pytest.raises(LabError, match="overlaps the lab's"):
        _spec(config=LabConfig(ns_prefix="tw-", mgmt_subnet="198.18.0.0/16"))
    with pytest.raises(LabError, match="not an IPv4 network"):
        LabConfig(mgmt_subnet="10.99.0.1/23")
