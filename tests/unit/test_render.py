"""Rendering: NetBox records -> structured data -> FRR, EOS and IOS configurations.

Golden files: the same NetBox data (records captured from the demo) renders to the files
under test_data/render/golden/<platform>/<device>.cfg; CI fails when the output differs.
After an intended change, regenerate them and review the diff:
    NETOSS_REGEN_GOLDEN=1 .venv/bin/pytest tests/unit/test_render.py
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest
import yaml

from ansible_collections.netoss.core.plugins.module_utils import config_render, device_data

REPO = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "test_data" / "render"
TEMPLATES = REPO / "roles" / "config_render" / "templates"
PLATFORMS = ("frr", "eos", "ios")
DEVICES = ("ce1", "ce2", "p1", "p2", "pe1", "pe2")
REGEN = os.environ.get("NETOSS_REGEN_GOLDEN") == "1"


@pytest.fixture(scope="module")
def records():
    return json.loads((DATA / "netbox_records.json").read_text())


@pytest.fixture(scope="module")
def snapshot(records):
    return device_data.Snapshot(**records)


def _golden(path: Path, text: str):
    if REGEN:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"no golden file {path}: run with NETOSS_REGEN_GOLDEN=1 and review it"
    assert text == path.read_text(), f"{path.name} differs from its golden file"


@pytest.mark.parametrize("device", DEVICES)
def test_structured_data_matches_golden(snapshot, device):
    data = device_data.build(snapshot, device)
    _golden(DATA / "golden" / "data" / f"{device}.yml", yaml.safe_dump(data, sort_keys=False))


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("device", DEVICES)
def test_render_matches_golden(snapshot, device, platform):
    data = device_data.build(snapshot, device)
    text = config_render.render(data, str(TEMPLATES), platform)
    _golden(DATA / "golden" / platform / f"{device}.cfg", text)


def test_every_platform_has_the_same_features():
    features = {
        p: sorted(f.split("-", 1)[1] for f in config_render.feature_files(str(TEMPLATES), p)) for p in PLATFORMS
    }
    assert features["eos"] == features["frr"] == features["ios"]


# --- what the data says about the demo network ----------------------------------------------


def test_route_reflectors_and_clients(snapshot):
    p1 = device_data.build(snapshot, "p1")["bgp"]
    pe1 = device_data.build(snapshot, "pe1")["bgp"]
    assert {n["description"]: n["route_reflector_client"] for n in p1["neighbors"]} == {
        "p2": False,
        "pe1": True,
        "pe2": True,
    }
    ibgp = [n for n in pe1["neighbors"] if n["type"] == "ibgp"]
    assert [n["description"] for n in ibgp] == ["p1", "p2"]  # clients peer only with the RRs
    assert all(n["next_hop_self"] and n["update_source"] == "lo" for n in ibgp)


def test_ebgp_to_the_customer_from_asns_and_cables(snapshot):
    pe1 = device_data.build(snapshot, "pe1")
    ce1 = device_data.build(snapshot, "ce1")
    ebgp = [n for n in pe1["bgp"]["neighbors"] if n["type"] == "ebgp"]
    assert [(n["address"], n["remote_as"]) for n in ebgp] == [("198.19.128.1", 64501)]
    assert pe1["prefix_lists"] == [
        {"name": "PL-ACME-CORP-IN", "entries": [{"seq": 5, "action": "permit", "prefix": "203.0.113.0/28", "le": 32}]},
        {
            "name": "PL-CUSTOMER-OUT-DEFAULT",
            "entries": [{"seq": 5, "action": "permit", "prefix": "0.0.0.0/0", "le": None}],
        },
    ]
    # The PE sends its customer a default route and nothing else (a circuit of the intent).
    assert ebgp[0]["default_originate"] and ebgp[0]["route_map_out"] == "RM-CUSTOMER-OUT-DEFAULT"
    # The customer announces its aggregate (held by a blackhole route) and its loopback.
    assert ce1["bgp"]["asn"] == 64501 and ce1["bgp"]["networks"] == ["203.0.113.0/28", "203.0.113.1/32"]
    assert ce1["static_routes"] == [
        {"prefix": "203.0.113.0/28", "next_hop": "blackhole", "description": "customer aggregate", "announce": False}
    ]
    assert ce1["ospf"] is None  # customers do not join the provider's IGP


def test_ospf_only_on_core_links(snapshot):
    pe1 = {i["name"]: i["ospf"] for i in device_data.build(snapshot, "pe1")["interfaces"]}
    assert pe1["eth1"] == {"area": "0.0.0.0", "passive": False, "network": "point-to-point"}  # noqa: S104
    assert pe1["lo"]["passive"] is True
    assert pe1["eth3"] is None and pe1["mgmt0"] is None  # customer link, management


# --- bad input: one clear error per device ----------------------------------------------------


def _without_loopback(records, device):
    records = copy.deepcopy(records)
    dev_id = next(d["id"] for d in records["devices"] if d["name"] == device)
    lo = {i["id"] for i in records["interfaces"] if i["device"]["id"] == dev_id and i["name"] == "lo"}
    records["ip_addresses"] = [a for a in records["ip_addresses"] if a.get("assigned_object_id") not in lo]
    return records


def test_a_device_without_loopback_fails_alone(records):
    snapshot = device_data.Snapshot(**_without_loopback(records, "p2"))
    good, bad = device_data.build_all(snapshot, list(DEVICES))
    assert list(bad) == ["p2"]
    assert "p2 runs OSPF but has no IPv4 loopback address" in bad["p2"]
    # Its iBGP peers still render, without the session to p2, and say so.
    assert "198.19.255.2" not in [n["address"] for n in good["pe1"]["bgp"]["neighbors"]]
    assert good["pe1"]["warnings"] == [
        "iBGP peer p2 left out: p2 runs iBGP but has no IPv4 loopback address (an address with role loopback) "
        "for its router ID"
    ]


def test_unknown_device_and_missing_platform(records):
    records = copy.deepcopy(records)
    next(d for d in records["devices"] if d["name"] == "ce2")["platform"] = None
    good, bad = device_data.build_all(device_data.Snapshot(**records), ["ce1", "ce2", "nope"])
    assert list(good) == ["ce1"]
    assert bad["nope"] == "no device 'nope' in NetBox"
    assert "ce2 has no platform in NetBox" in bad["ce2"]


def test_platform_without_templates(snapshot, tmp_path):
    data = device_data.build(snapshot, "pe1")
    with pytest.raises(config_render.RenderError, match=r"no templates for platform 'junos'.*frr"):
        config_render.render(data, str(TEMPLATES), "junos")


def test_template_errors_name_file_and_line(snapshot, tmp_path):
    data = device_data.build(snapshot, "pe1")
    (tmp_path / "frr").mkdir()
    (tmp_path / "frr" / "00-base.j2").write_text("hostname {{ hostname }}\n")
    (tmp_path / "frr" / "10-broken.j2").write_text("ok\n{{ bgp.no_such_key }}\n")
    with pytest.raises(config_render.RenderError, match=r"frr/10-broken.j2 line 2: .*no_such_key"):
        config_render.render(data, str(tmp_path))
    (tmp_path / "frr" / "10-broken.j2").write_text("{% for x in %}\n")
    with pytest.raises(config_render.RenderError, match=r"frr/10-broken.j2 line 1: "):
        config_render.render(data, str(tmp_path))


def test_templates_cannot_reach_pythons_internals(snapshot, tmp_path):
    """Templates may come from a commit of the intent repository (GitOps: a merge request's own
    templates are rendered to plan it): they are rendered in Jinja's sandbox, so a template
    cannot climb from a string to Python's classes and run code on the worker."""
    data = device_data.build(snapshot, "pe1")
    (tmp_path / "frr").mkdir()
    marker = tmp_path / "pwned"
    escape = (
        "{% for c in ''.__class__.__mro__[1].__subclasses__() %}{% if c.__name__ == 'Popen' %}"
        "{{ c(['touch', '" + str(marker) + "']).wait() }}{% endif %}{% endfor %}\n"
    )
    (tmp_path / "frr" / "00-base.j2").write_text("hostname {{ hostname }}\n" + escape)
    with pytest.raises(config_render.RenderError, match=r"frr/00-base.j2.*unsafe"):
        config_render.render(data, str(tmp_path))
    assert not marker.exists()
    (tmp_path / "frr" / "00-base.j2").write_text("hostname {{ hostname }}\n{{ hostname.__class__.__name__ }}\n")
    with pytest.raises(config_render.RenderError, match=r"unsafe"):
        config_render.render(data, str(tmp_path))


def test_users_get_their_secret_hash_from_the_controller(snapshot):
    data = device_data.build(snapshot, "pe1")
    eos = config_render.render(data, str(TEMPLATES), "eos", user_secrets={"netops": "$6$salt$hash"})
    ios = config_render.render(data, str(TEMPLATES), "ios", user_secrets={"netops": "$9$salt$hash"})
    assert "username netops privilege 15 role network-admin secret sha512 $6$salt$hash" in eos
    assert "username netops privilege 15 secret 9 $9$salt$hash" in ios
    without = config_render.render(data, str(TEMPLATES), "eos")
    assert "username netops" not in without.replace("! username netops skipped", "")


# --- configuration injection: a value from NetBox never adds a line ---------------------------

INJECTION = "Acme Corp\nrouter bgp 64500\n neighbor 192.0.2.66 remote-as 666"


def _records_with(records, endpoint, match, field, value):
    records = copy.deepcopy(records)
    for record in records[endpoint]:
        if match(record):
            *path, last = field.split(".")
            target = record
            for key in path:
                target = target[key]
            target[last] = value
    return records


def test_a_tenant_name_with_a_newline_in_netbox_stops_the_device(records):
    # Written into NetBox by hand (not through netoss): ce1's customer is pe1's eBGP neighbour.
    bad = _records_with(records, "devices", lambda d: d["name"] == "ce1", "tenant.name", INJECTION)
    good, failed = device_data.build_all(device_data.Snapshot(**bad), list(DEVICES))
    assert sorted(failed) == ["pe1"]
    message = failed["pe1"]
    assert message.startswith("NetBox tenancy.tenant (id 2), the customer of ce1, field name: ")
    assert "contains a line break" in message
    assert "remote-as 666" not in message  # a short excerpt only
    assert "pe1" not in good


def test_an_interface_description_with_a_newline_in_netbox_stops_the_device(records):
    bad = _records_with(records, "interfaces", lambda i: i["id"] == 15, "description", "to ce1\n shutdown")
    _good, failed = device_data.build_all(device_data.Snapshot(**bad), list(DEVICES))
    assert list(failed) == ["pe1"]
    assert failed["pe1"] == (
        "NetBox dcim.interface pe1 eth3 (id 15), field description: 'to ce1\\n shutdown' contains a line break: "
        "it would add lines to the device configuration"
    )


@pytest.mark.parametrize(
    ("endpoint", "match", "field", "value", "message"),
    [
        (
            "interfaces",
            lambda i: i["id"] == 15,
            "description",
            "ce1 ? help",
            "field description: 'ce1 ? help' contains '?'",
        ),
        ("interfaces", lambda i: i["id"] == 15, "description", "x" * 300, "is longer than 240 characters"),
        ("interfaces", lambda i: i["id"] == 15, "name", "eth3 shutdown", "dcim.interface pe1 ? (id 15), field name"),
        ("devices", lambda d: d["name"] == "pe1", "config_context.netoss.banner", "Hi\nEOF\nhostname x", "EOF"),
        (
            "devices",
            lambda d: d["name"] == "pe1",
            "config_context.netoss.banner",
            "Hi ^C\nhostname evil",
            "dcim.device pe1 (id 3) config context, field netoss.banner line 1: 'Hi ^C' contains '^'",
        ),
        (
            "devices",
            lambda d: d["name"] == "pe1",
            "config_context.netoss.syslog.level",
            "informational\nno router bgp",
            "field netoss.syslog.level: 'informational\\nno router bgp' is not a syslog level",
        ),
        (
            "devices",
            lambda d: d["name"] == "pe1",
            "config_context.netoss.snmp.enabled",
            "yes\nno agentx",
            "field netoss.snmp.enabled: 'yes\\nno agentx' is not true or false",
        ),
        (
            "devices",
            lambda d: d["name"] == "pe1",
            "config_context.netoss.users",
            [{"name": "netops\nusername evil", "privilege": 15}],
            "field netoss.users[0].name: 'netops\\nusername evil' contains a line break",
        ),
    ],
)
def test_every_netbox_value_in_a_line_is_checked(records, endpoint, match, field, value, message):
    bad = _records_with(records, endpoint, match, field, value)
    with pytest.raises(device_data.DeviceDataError) as err:
        device_data.build(device_data.Snapshot(**bad), "pe1")
    assert message in str(err.value)
    assert len(str(err.value)) < 300


def _ebgp(data):
    return next(n for n in data["bgp"]["neighbors"] if n["type"] == "ebgp")


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: _ebgp(d).update(description=INJECTION), "bgp.neighbors[198.19.128.1].description"),
        (lambda d: d["interfaces"][2].update(description="ok\r\nshutdown"), "interfaces[eth3].description"),
        (lambda d: d.update(hostname="pe1\nline vty 0 4"), "hostname"),
        (lambda d: d["interfaces"][0].update(name="eth1\n shutdown"), "interfaces[0].name"),
        (lambda d: d["bgp"]["neighbors"][0].update(update_source="lo\nx"), "update_source"),
        (lambda d: d["route_maps"][0].update(name="RM IN"), "route_maps[0].name"),
        (lambda d: d["static_routes"].append({"prefix": "10.0.0.0/8", "next_hop": "192.0.2.1 x"}), "next_hop"),
        (lambda d: d.update(banner="welcome\x1b[2J"), "banner line 1"),
        (lambda d: d["logging"]["servers"].append({"host": "198.18.0.1\nlogging host 192.0.2.9"}), "host"),
        (lambda d: d.update(extra={"any": "text\nwith a newline"}), "data.extra.any"),
    ],
)
def test_render_refuses_data_that_would_add_a_line(snapshot, platform, change, where):
    """The render step checks the data whoever built it (the config_render module takes any dict)."""
    data = copy.deepcopy(device_data.build(snapshot, "pe1"))
    change(data)
    with pytest.raises(config_render.RenderError, match=r"^refusing to render: ") as err:
        config_render.render(data, str(TEMPLATES), platform)
    assert where in str(err.value)


def test_a_bad_secret_hash_is_refused_and_never_quoted(snapshot):
    data = device_data.build(snapshot, "pe1")
    with pytest.raises(config_render.RenderError) as err:
        config_render.render(data, str(TEMPLATES), "eos", user_secrets={"netops": "$6$s3cr3t\nusername x"})
    assert "user_secrets[netops]" in str(err.value) and "s3cr3t" not in str(err.value)


def test_long_descriptions_made_of_names_are_shortened_not_refused(records):
    long_name = "Customer " + "x" * 90  # a tenant name NetBox takes (100 characters)
    recs = _records_with(records, "devices", lambda d: d["name"] == "ce1", "tenant.name", long_name)
    recs = _records_with(recs, "interfaces", lambda i: i["id"] == 15, "description", "ce1:eth1")
    data = device_data.build(device_data.Snapshot(**recs), "pe1")
    description = _ebgp(data)["description"]
    assert description.startswith("ce1 (Customer xxx") and len(description) <= 240
