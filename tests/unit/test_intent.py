"""Tests of the intent model: the demo network, bad inputs, and identities used for pruning.

Regenerate the golden file after an intended change of the demo or of the payloads:
    NETOSS_REGEN_GOLDEN=1 .venv/bin/pytest tests/unit/test_intent.py
"""

import gc
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ansible_collections.netoss.core.plugins.module_utils.intent_load import load_intent
from ansible_collections.netoss.core.plugins.module_utils.intent_payloads import (
    MODULE_FOR_KIND,
    NETBOX_ENDPOINT_FOR_KIND,
    absent_payload,
    build_netbox_objects,
    identity,
    netbox_identity,
)
from ansible_collections.netoss.core.plugins.module_utils.intent_schema import IntentError, slugify
from ansible_collections.netoss.core.plugins.module_utils.schema_files import Problem

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "inventory" / "intent"
DATA = Path(__file__).parent / "test_data" / "intent"
GOLDEN = DATA / "demo_objects.json"
BAD_CASES = sorted(p.name for p in (DATA / "bad").iterdir() if p.is_dir())


@pytest.fixture(scope="module")
def demo():
    return build_netbox_objects(load_intent(DEMO))


# --- the demo network ------------------------------------------------------------------------


def test_demo_counts(demo):
    assert list(demo) == list(MODULE_FOR_KIND)
    assert {kind: len(payloads) for kind, payloads in demo.items()} == {
        "tags": 2,  # netoss-managed, and netoss-ordered for what service orders make
        "custom_field_choice_sets": 1,
        "custom_fields": 10,
        "tenants": 3,
        "rirs": 3,  # AS numbers, and the two address blocks of the aggregates
        "asns": 3,
        "manufacturers": 3,
        "platforms": 3,
        "config_contexts": 7,
        "device_types": 1,
        "device_roles": 3,
        "sites": 2,
        "prefix_roles": 2,  # pe-ce-links and customer-space: where service orders take addresses
        "aggregates": 2,
        "prefixes": 10,  # with the two PE-CE links the pool has given
        "devices": 8,  # with the spare CEs ce3 and ce4
        "interfaces": 34,
        "ip_addresses": 28,
        "device_primary_ips": 8,
        "providers": 1,
        "circuit_types": 1,
        "circuits": 2,
        "circuit_terminations": 4,
        "cables": 9,  # 5 core cables, and each circuit's two ends
    }


def test_demo_matches_golden(demo):
    if os.environ.get("NETOSS_REGEN_GOLDEN"):
        GOLDEN.write_text(json.dumps(demo, indent=2) + "\n")
    assert demo == json.loads(GOLDEN.read_text()), "regenerate with NETOSS_REGEN_GOLDEN=1 if intended"


def test_demo_payload_shapes(demo):
    managed = ["netoss-managed"]
    for kind, payloads in demo.items():
        for payload in payloads:
            taggable = kind in NETBOX_ENDPOINT_FOR_KIND
            assert (payload.get("tags") == managed) is taggable, (kind, payload)
    pe1 = next(d for d in demo["devices"] if d["name"] == "pe1")
    assert pe1 == {
        "name": "pe1",
        "device_type": "frr-router",
        "device_role": "pe",
        "site": "ams1",
        "platform": "frr",
        "status": "active",
        "description": "PE router, Amsterdam",
        "tags": managed,
    }
    loopback = next(ip for ip in demo["ip_addresses"] if ip["address"] == "198.19.255.3/32")
    assert loopback["assigned_object"] == {"device": "pe1", "name": "lo"}
    assert loopback["role"] == "Loopback"
    frr = next(c for c in demo["config_contexts"] if c["platforms"] == ["frr"])
    assert frr["name"] == "netoss-platform-frr"
    assert frr["data"] == {
        "ansible_network_os": "netoss.core.frr",
        "ansible_connection": "netoss.core.network_cli",
    }
    assert {"name": "ce1", "primary_ip4": "198.18.0.15/24"} in demo["device_primary_ips"]
    # PE-CE links in service: a /31 from the PE-CE pool on each end.
    pe_ce = sorted(
        (ip["assigned_object"]["device"], ip["address"])
        for ip in demo["ip_addresses"]
        if ip["address"].startswith("198.19.128.")
    )
    assert pe_ce == [
        ("ce1", "198.19.128.1/31"),
        ("ce2", "198.19.128.3/31"),
        ("pe1", "198.19.128.0/31"),
        ("pe2", "198.19.128.2/31"),
    ]
    customer = next(c for c in demo["config_contexts"] if c["name"] == "netoss-customer-edge")
    assert customer["roles"] == ["ce"] and customer["data"] == {"netoss": {"bgp": {"policy": "customer"}}}


def test_demo_lab_addressing(demo):
    mgmt = sorted(ip["address"] for ip in demo["ip_addresses"] if ip["assigned_object"]["name"] == "mgmt0")
    assert mgmt == [f"198.18.0.{n}/24" for n in range(11, 19)]  # .1 is the lab bridge


def test_single_file_and_missing_path(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    intent = load_intent(DATA / "base" / "00-base.yml")
    assert [site["name"] for site in intent.items("sites")] == ["lab1"]
    assert intent.files == ["tests/unit/test_data/intent/base/00-base.yml"]  # relative to the cwd
    with pytest.raises(IntentError, match="no such file or directory"):
        load_intent(tmp_path / "nowhere")


def test_managed_tag_is_added_when_not_defined():
    objects = build_netbox_objects(load_intent(DATA / "base"), managed_tag="Managed By Netoss")
    assert objects["tags"][0]["slug"] == "managed-by-netoss"
    assert {tuple(d["tags"]) for d in objects["devices"]} == {("managed-by-netoss",)}


def test_slugify():
    assert slugify("netoss Demo Carrier") == "netoss-demo-carrier"
    assert slugify("RFC 5398") == "rfc-5398"
    assert slugify("  a -- b_c! ") == "a-b_c"


# --- bad inputs ------------------------------------------------------------------------------


def test_base_of_bad_cases_is_valid():
    load_intent(DATA / "base")


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_intent(case, tmp_path, monkeypatch):
    """Each case adds its files to the valid base (same name: replaces it) and must fail with
    every line of expected.txt somewhere in the error."""
    case_dir = DATA / "bad" / case
    target = tmp_path / "intent"
    target.mkdir()
    if not (case_dir / "NO_BASE").exists():
        for file in (DATA / "base").iterdir():
            shutil.copy(file, target)
    for file in case_dir.iterdir():
        if file.name not in ("expected.txt", "NO_BASE"):
            shutil.copy(file, target)
    expected = [line for line in (case_dir / "expected.txt").read_text().splitlines() if line.strip()]
    assert expected

    monkeypatch.chdir(tmp_path)
    with pytest.raises(IntentError) as raised:
        load_intent("intent")

    message = str(raised.value)
    for line in expected:
        assert line in message
    assert gc.isenabled()  # paused while a file is parsed, whatever the file holds
    # One error carries every problem, each on its own line under the count header.
    problems = raised.value.problems
    assert all(isinstance(p, Problem) for p in problems)
    assert message.splitlines() == [message.splitlines()[0]] + [f"  {p}" for p in problems]
    header = f"intent has {len(problems)} problem{'' if len(problems) == 1 else 's'}:"
    assert message.splitlines()[0] == header


@pytest.mark.parametrize("case", BAD_CASES)
def test_entries_known_valid_are_not_checked_again_and_hide_no_problem(case, tmp_path, monkeypatch):
    """With the digests of the entries found valid in the base (as the plan's cache passes them
    after an edit), every bad case reports exactly the problems of a load that checks all."""
    known = load_intent(DATA / "base").valid
    assert known
    target = tmp_path / "intent"
    if (DATA / "bad" / case / "NO_BASE").exists():
        target.mkdir()
    else:
        shutil.copytree(DATA / "base", target)
    for file in (DATA / "bad" / case).iterdir():
        if file.name not in ("expected.txt", "NO_BASE"):
            shutil.copy(file, target)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(IntentError) as cold:
        load_intent("intent")
    with pytest.raises(IntentError) as warm:
        load_intent("intent", known_valid=known)
    assert warm.value.problems == cold.value.problems


def test_an_edited_entry_is_checked_again_and_the_others_are_not(tmp_path, monkeypatch):
    target = tmp_path / "intent"
    shutil.copytree(DATA / "base", target)
    first = load_intent(target)
    checked = []
    from ansible_collections.netoss.core.plugins.module_utils import intent_load

    real = intent_load.schema_problems
    monkeypatch.setattr(intent_load, "schema_problems", lambda *a, **kw: checked.append(kw.get("at")) or real(*a, **kw))
    assert load_intent(target, known_valid=first.valid).entries == first.entries
    assert checked == [None] * len(first.files)  # each file's shape only
    name = next(f for f in sorted(target.iterdir()) if "sites:" in f.read_text())
    name.write_text(name.read_text().replace("sites:", "sites:\n  - name: added site\n    bogus: 1", 1))
    checked.clear()
    with pytest.raises(IntentError, match="unknown key 'bogus'"):
        load_intent(target, known_valid=first.valid)
    assert [at for at in checked if at] == [("sites", 0)]


def test_an_entry_that_cannot_be_told_apart_is_always_checked():
    from ansible_collections.netoss.core.plugins.module_utils.intent_load import entry_digest

    assert entry_digest("sites", {"name": "a", "built": __import__("datetime").date(2026, 1, 1)}) is None
    assert entry_digest("sites", {"name": "a"}) != entry_digest("tenants", {"name": "a"})
    assert entry_digest("sites", {"asn": 1}) != entry_digest("sites", {"asn": True})
    assert entry_digest("sites", {"asn": 1}) != entry_digest("sites", {"asn": "1"})


def test_device_and_interface_names_as_real_networks_have_them(tmp_path):
    """Device names as NetBox holds them for network gear (FQDNs, capitals, _), interface names
    as vendors spell them: the lab's limits are the lab's own (netoss/embedded/lab), not the intent's."""
    target = tmp_path / "intent"
    shutil.copytree(DATA / "base", target)
    for f in target.glob("*.yml"):
        text = f.read_text().replace("r1", "ams-core-router-01.example.net").replace("r2", "FRA_PE-2")
        f.write_text(text.replace("eth1", "GigabitEthernet0/0/0/12"))
    intent = load_intent(target)
    assert [d["name"] for d in intent.items("devices")] == ["ams-core-router-01.example.net", "FRA_PE-2"]
    cable = build_netbox_objects(intent)["cables"][0]
    assert cable["termination_a"] == {"device": "ams-core-router-01.example.net", "name": "GigabitEthernet0/0/0/12"}


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("r1/core", "device"),
        ("../r1", "device"),
        ("-r1", "device"),
        ("r1 core", "device"),
        ("köln-pe1", "device"),
        ("r" * 65, "device"),
        ("Gi0/0 ", "interface"),
        ("eth1:1", "interface"),
        ("1/1/1", "interface"),
        ("e" * 65, "interface"),
    ],
)
def test_names_that_are_not_safe_in_files_and_configurations_are_refused(name, kind, tmp_path):
    target = tmp_path / "intent"
    shutil.copytree(DATA / "base", target)
    devices = target / "30-devices.yml"
    old = "name: r1" if kind == "device" else "name: mgmt0"
    devices.write_text(devices.read_text().replace(old, f"name: {json.dumps(name)}", 1))
    with pytest.raises(IntentError, match=r"name: .* does not match"):
        load_intent(target)


def test_problem_str():
    problem = Problem("inventory/intent/30-devices.yml", "devices[2] 'pe1'", "site: no site 'x'")
    assert str(problem) == "inventory/intent/30-devices.yml: devices[2] 'pe1': site: no site 'x'"
    assert str(Problem("a.yml", "", "unknown top-level key 'x'")) == "a.yml: unknown top-level key 'x'"


# --- identities, for pruning -----------------------------------------------------------------

# Records shaped like NetBox 4.7 REST API output (GET /api/<app>/<endpoint>/), trimmed.
TAG = {
    "id": 1,
    "url": "http://netbox.test/api/extras/tags/1/",
    "name": "netoss-managed",
    "slug": "netoss-managed",
}
DEVICE_PE1 = {"id": 3, "url": "http://netbox.test/api/dcim/devices/3/", "display": "pe1", "name": "pe1"}
RECORDS = {
    "tenants": {"id": 2, "display": "Acme Corp", "name": "Acme Corp", "slug": "acme-corp", "tags": [TAG]},
    "rirs": {"id": 1, "name": "RFC 5398", "slug": "rfc-5398", "is_private": True, "tags": [TAG]},
    "asns": {"id": 1, "asn": 64501, "rir": {"id": 1, "name": "RFC 5398", "slug": "rfc-5398"}, "tags": [TAG]},
    "manufacturers": {"id": 1, "name": "FRRouting", "slug": "frrouting", "tags": [TAG]},
    "platforms": {
        "id": 1,
        "name": "FRR",
        "slug": "frr",
        "manufacturer": {"id": 1, "name": "FRRouting", "slug": "frrouting"},
        "tags": [TAG],
    },
    "device_types": {
        "id": 1,
        "manufacturer": {"id": 1, "name": "FRRouting", "slug": "frrouting"},
        "model": "FRR router",
        "slug": "frr-router",
        "u_height": 0.0,
        "tags": [TAG],
    },
    "device_roles": {"id": 2, "name": "PE", "slug": "pe", "color": "009688", "_depth": 0, "tags": [TAG]},
    "sites": {
        "id": 1,
        "name": "ams1",
        "slug": "ams1",
        "status": {"value": "active", "label": "Active"},
        "tenant": {"id": 1, "name": "netoss Demo Carrier", "slug": "netoss-demo-carrier"},
        "asns": [{"id": 1, "asn": 64500}],
        "tags": [TAG],
    },
    "prefix_roles": {"id": 1, "name": "PE-CE links", "slug": "pe-ce-links", "weight": 1000, "tags": [TAG]},
    "aggregates": {
        "id": 1,
        "prefix": "198.19.0.0/16",
        "rir": {"id": 2, "name": "RFC 2544", "slug": "rfc-2544"},
        "tenant": {"id": 1, "name": "netoss Demo Carrier", "slug": "netoss-demo-carrier"},
        "tags": [TAG],
    },
    "prefixes": {
        "id": 3,
        "family": {"value": 4, "label": "IPv4"},
        "prefix": "198.19.0.0/24",
        "vrf": None,
        "scope_type": None,
        "scope_id": None,
        "scope": None,
        "status": {"value": "active", "label": "Active"},
        "tags": [TAG],
    },
    "devices": {
        **DEVICE_PE1,
        "device_type": {"id": 1, "model": "FRR router", "slug": "frr-router"},
        "role": {"id": 2, "name": "PE", "slug": "pe"},
        "site": {"id": 1, "name": "ams1", "slug": "ams1"},
        "primary_ip4": {"id": 7, "family": {"value": 4, "label": "IPv4"}, "address": "198.18.0.13/24"},
        "tags": [TAG],
    },
    "interfaces": {
        "id": 12,
        "device": DEVICE_PE1,
        "name": "eth1",
        "type": {"value": "10gbase-x-sfpp", "label": "SFP+ (10GE)"},
        "cable": {"id": 2, "label": ""},
        "tags": [TAG],
    },
    "ip_addresses": {
        "id": 9,
        "address": "198.19.0.2/31",
        "vrf": None,
        "status": {"value": "active", "label": "Active"},
        "assigned_object_type": "dcim.interface",
        "assigned_object_id": 12,
        "assigned_object": {"id": 12, "device": DEVICE_PE1, "name": "eth1", "cable": 2, "_occupied": True},
        "tags": [TAG],
    },
    "cables": {
        "id": 2,
        "type": "",
        "a_terminations": [
            {
                "object_type": "dcim.interface",
                "object_id": 12,
                "object": {"id": 12, "device": DEVICE_PE1, "name": "eth1", "cable": 2, "_occupied": True},
            }
        ],
        "b_terminations": [
            {
                "object_type": "dcim.interface",
                "object_id": 4,
                "object": {
                    "id": 4,
                    "device": {"id": 1, "name": "p1"},
                    "name": "eth2",
                    "cable": 2,
                    "_occupied": True,
                },
            }
        ],
        "status": {"value": "connected", "label": "Connected"},
        "tags": [TAG],
    },
    "providers": {"id": 1, "name": "netoss Access", "slug": "netoss-access", "tags": [TAG]},
    "circuit_types": {"id": 1, "name": "IP transit", "slug": "ip-transit", "color": "", "tags": [TAG]},
    "circuits": {
        "id": 1,
        "cid": "ACME-AMS-0001",
        "provider": {"id": 1, "name": "netoss Access", "slug": "netoss-access"},
        "type": {"id": 1, "name": "IP transit", "slug": "ip-transit"},
        "status": {"value": "active", "label": "Active"},
        "tenant": {"id": 2, "name": "Acme Corp", "slug": "acme-corp"},
        "commit_rate": 1000000,
        "tags": [TAG],
    },
}

EXPECTED_IDENTITY = {
    "tenants": ("acme-corp",),
    "rirs": ("rfc-5398",),
    "asns": (64501,),
    "manufacturers": ("frrouting",),
    "platforms": ("frr",),
    "device_types": ("frr-router",),
    "device_roles": ("pe",),
    "sites": ("ams1",),
    "prefix_roles": ("pe-ce-links",),
    "aggregates": ("198.19.0.0/16",),
    "prefixes": ("198.19.0.0/24",),
    "devices": ("pe1",),
    "interfaces": ("pe1", "eth1"),
    "ip_addresses": ("198.19.0.2/31", "pe1", "eth1"),
    "cables": ("pe1", "eth1", "p1", "eth2"),
    "providers": ("netoss-access",),
    "circuit_types": ("ip-transit",),
    "circuits": ("ACME-AMS-0001",),
}

EXPECTED_ABSENT = {
    "tenants": {"name": "Acme Corp", "slug": "acme-corp"},
    "asns": {"asn": 64501},
    "device_types": {"model": "FRR router", "slug": "frr-router"},
    "aggregates": {"prefix": "198.19.0.0/16", "rir": "rfc-2544"},
    "prefixes": {"prefix": "198.19.0.0/24"},
    "devices": {"name": "pe1"},
    "interfaces": {"device": "pe1", "name": "eth1"},
    "ip_addresses": {"address": "198.19.0.2/31", "assigned_object": {"device": "pe1", "name": "eth1"}},
    "cables": {
        "termination_a_type": "dcim.interface",
        "termination_a": {"device": "pe1", "name": "eth1"},
        "termination_b_type": "dcim.interface",
        "termination_b": {"device": "p1", "name": "eth2"},
    },
    "circuits": {"cid": "ACME-AMS-0001", "provider": "netoss-access"},
}


def test_records_cover_prunable_kinds():
    assert set(RECORDS) == set(NETBOX_ENDPOINT_FOR_KIND)
    assert list(NETBOX_ENDPOINT_FOR_KIND) == [k for k in MODULE_FOR_KIND if k in NETBOX_ENDPOINT_FOR_KIND]


@pytest.mark.parametrize("kind", sorted(RECORDS))
def test_netbox_identity_matches_the_intent(kind, demo):
    key = netbox_identity(kind, RECORDS[kind])
    assert key == EXPECTED_IDENTITY[kind]
    assert key in {identity(kind, payload) for payload in demo[kind]}, "the demo intent keeps this object"


@pytest.mark.parametrize("kind", sorted(RECORDS))
def test_absent_payload_finds_the_same_object(kind):
    payload = absent_payload(kind, RECORDS[kind])
    assert identity(kind, payload) == netbox_identity(kind, RECORDS[kind])
    if kind in EXPECTED_ABSENT:
        assert payload == EXPECTED_ABSENT[kind]


@pytest.mark.parametrize("kind", list(MODULE_FOR_KIND))
def test_identities_are_unique_in_the_demo(kind, demo):
    keys = [identity(kind, payload) for payload in demo[kind]]
    assert len(set(keys)) == len(keys)
    assert all(hash(key) is not None for key in keys)


def test_objects_outside_the_intent_are_not_matched(demo):
    stale_interface = dict(RECORDS["interfaces"], name="eth9")
    assert netbox_identity("interfaces", stale_interface) not in {identity("interfaces", p) for p in demo["interfaces"]}
    moved_ip = dict(RECORDS["ip_addresses"], address="198.19.0.3/31")  # p1's address, now on pe1
    assert netbox_identity("ip_addresses", moved_ip) not in {identity("ip_addresses", p) for p in demo["ip_addresses"]}


def test_unassigned_ip_and_vrf_prefix():
    ip = dict(RECORDS["ip_addresses"], assigned_object=None, assigned_object_type=None, assigned_object_id=None)
    assert netbox_identity("ip_addresses", ip) == ("198.19.0.2/31", None, None)
    assert absent_payload("ip_addresses", ip) == {"address": "198.19.0.2/31"}
    prefix = dict(RECORDS["prefixes"], vrf={"id": 4, "name": "cust-acme", "rd": "64500:1"})
    assert absent_payload("prefixes", prefix) == {"prefix": "198.19.0.0/24", "vrf": "cust-acme"}


def test_unknown_kind():
    with pytest.raises(ValueError, match="unknown kind"):
        identity("widgets", {})
    with pytest.raises(ValueError, match="unknown kind"):
        absent_payload("widgets", {})


# --- the Ansible module ----------------------------------------------------------------------

VENV_BIN = REPO / ".venv" / "bin"
needs_venv = pytest.mark.skipif(not (VENV_BIN / "ansible-doc").exists(), reason="no .venv with ansible")


def _ansible_env(tmp_path):
    env = dict(os.environ, PATH=f"{VENV_BIN}:{os.environ.get('PATH', '')}")
    env["ANSIBLE_LOCAL_TEMP"] = str(tmp_path / "ansible-tmp")  # keep the repository clean
    return env


@needs_venv
def test_ansible_doc(tmp_path):
    result = subprocess.run(
        ["ansible-doc", "-t", "module", "netoss.core.sot_intent"],
        cwd=REPO,
        env=_ansible_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "managed_tag" in result.stdout


def _run_module(tmp_path, path):
    env = dict(_ansible_env(tmp_path), ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="json")
    result = subprocess.run(
        [
            *("ansible", "localhost", "-i", "localhost,", "-c", "local", "-m", "netoss.core.sot_intent"),
            *("-a", f"path={path}", "-e", f"ansible_python_interpreter={VENV_BIN / 'python'}"),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return json.loads(result.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]


@needs_venv
def test_module_returns_payloads(tmp_path, demo):
    result = _run_module(tmp_path, DEMO)
    assert not result.get("failed") and result["changed"] is False
    assert result["objects"] == demo
    assert result["kinds"] == list(MODULE_FOR_KIND)
    assert result["modules"]["devices"] == "netbox.netbox.netbox_device"
    assert result["msg"].startswith(f"intent OK (8 files in {DEMO}): 2 sites, 8 devices, 34 interfaces")


@needs_venv
def test_module_reports_problems(tmp_path):
    bad = DATA / "bad" / "unknown-key-top-level" / "50-case.yml"
    result = _run_module(tmp_path, bad)
    assert result["failed"]
    assert result["problems"] == [
        {
            "file": str(bad.relative_to(REPO)),
            "where": "",
            "message": result["problems"][0]["message"],
        }
    ]
    assert "unknown top-level key 'devicess'" in result["msg"]


def test_a_circuit_is_two_terminations_cabled_to_its_ends(demo):
    cables = [c for c in demo["cables"] if c["termination_b_type"] == "circuits.circuittermination"]
    assert [(c["termination_a"], c["termination_b"]) for c in cables[:2]] == [
        ({"device": "pe1", "name": "eth3"}, {"circuit": "ACME-AMS-0001", "term_side": "A"}),
        ({"device": "ce1", "name": "eth1"}, {"circuit": "ACME-AMS-0001", "term_side": "Z"}),
    ]
    record = {
        "a_terminations": [{"object_type": "dcim.interface", "object": {"device": {"name": "pe1"}, "name": "eth3"}}],
        "b_terminations": [
            {
                "object_type": "circuits.circuittermination",
                "object": {"id": 1, "circuit": {"id": 1, "cid": "ACME-AMS-0001"}, "term_side": "A"},
            }
        ],
    }
    assert netbox_identity("cables", record) == ("pe1", "eth3", "circuit ACME-AMS-0001", "A")
    assert netbox_identity("cables", record) == identity("cables", cables[0])
    assert absent_payload("cables", record)["termination_b"] == {"circuit": "ACME-AMS-0001", "term_side": "A"}
