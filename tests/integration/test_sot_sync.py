"""sot_sync against the real NetBox of the test stack: apply, idempotency, check-mode diff,
pruning of owned objects only, and the errors that must stop it before any write.

The tests run in file order and build on each other (first sync, then idempotency...).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration


def _edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _devices_file(intent_dir: Path) -> Path:
    for f in sorted(intent_dir.glob("*.yml")):
        if "devices" in (yaml.safe_load(f.read_text()) or {}):
            return f
    raise AssertionError("no intent file holds devices")


def test_first_sync_creates_the_demo_network(demo_synced, nb):
    assert demo_synced.recap["changed"] > 0
    names = sorted(d.name for d in nb.dcim.devices.all())
    assert names == ["ce1", "ce2", "ce3", "ce4", "p1", "p2", "pe1", "pe2"]
    pe1 = nb.dcim.devices.get(name="pe1")
    assert str(pe1.primary_ip4.address).startswith("198.18.100.")
    assert pe1.site.slug == "ams1" and pe1.role.slug == "pe" and pe1.platform.slug == "frr"
    assert "netoss-managed" in [t.slug for t in pe1.tags]
    assert len(list(nb.dcim.cables.all())) == 9  # 5 core, and each access circuit's two ends
    for cable in nb.dcim.cables.all():
        assert cable.a_terminations and cable.b_terminations
    # Access circuits: terminations at the sites, and NetBox traces PE to CE through them.
    acme = nb.circuits.circuits.get(cid="ACME-AMS-0001")
    assert acme.provider.slug == "netoss-access" and acme.tenant.slug == "acme-corp"
    sides = {t.term_side: t for t in nb.circuits.circuit_terminations.filter(circuit_id=acme.id)}
    assert sorted(sides) == ["A", "Z"] and sides["A"].termination_type == "dcim.site"
    pe1_eth3 = nb.dcim.interfaces.get(device="pe1", name="eth3")
    assert [(e.device.name, e.name) for e in pe1_eth3.connected_endpoints] == [("ce1", "eth1")]
    sites = sorted(s.slug for s in nb.dcim.sites.all())
    assert sites == ["ams1", "fra1"]
    assert {str(p.prefix) for p in nb.ipam.prefixes.all()} >= {
        "198.18.100.0/24",
        "198.19.0.0/16",
        "203.0.113.0/24",
    }
    fields = {cf.name for cf in nb.extras.custom_fields.all()}
    assert {"netoss_last_backup", "netoss_compliance_status", "netoss_routing", "netoss_announce"} <= fields
    # Where service orders take addresses (prefixes by role), and the provider's aggregates.
    roles = {str(p.prefix): p.role.slug for p in nb.ipam.prefixes.filter(role=["pe-ce-links", "customer-space"])}
    assert roles == {"198.19.128.0/24": "pe-ce-links", "203.0.113.0/24": "customer-space"}
    aggregates = sorted((str(a.prefix), a.rir.slug, a.tenant.slug) for a in nb.ipam.aggregates.all())
    assert aggregates == [
        ("198.19.0.0/16", "rfc-2544", "netoss-demo-carrier"),
        ("203.0.113.0/24", "rfc-5737", "netoss-demo-carrier"),
    ]


def test_second_sync_changes_nothing(demo_synced, playbook):
    run = playbook("sot_sync.yml")
    assert run.rc == 0, run.output[-4000:]
    assert run.recap["changed"] == 0, run.output[-6000:]
    # The plan compared every object and found nothing to do, so no netbox.netbox module ran.
    assert "Plan: 0 to create, 0 to update, 0 to delete" in run.output


def _read_and_plan(run) -> tuple[str, str]:
    read = re.search(r"NetBox read: ([^\"'\n]*)", run.output)
    plan = re.search(r"Plan: [^\"\n]*?\(\d+ unchanged\)", run.output)
    assert read and plan, run.output[-3000:]
    return read.group(1), plan.group(0)


def test_hand_edits_are_read_from_the_change_log_and_planned_as_a_full_read_plans(demo_synced, playbook, nb):
    """The plan keeps what it read of NetBox and reads again only what NetBox's change log says
    changed: hand edits (a device's and an interface's description, the managed tag taken off an
    interface) are planned exactly as a run that reads everything plans them; a rename reads
    everything."""
    warm = playbook("sot_sync.yml")  # the cache up to date
    assert warm.rc == 0, warm.output[-4000:]
    device = next(d for d in nb.dcim.devices.filter(tag="netoss-managed") if d.description)
    described = [i for i in nb.dcim.interfaces.filter(device_id=device.id, tag="netoss-managed") if i.description]
    assert len(described) >= 2, f"{device.name}: fewer than 2 managed interfaces with a description"
    edited, untagged = described[:2]
    before = (device.description, edited.description)
    try:
        device.description = "edited by hand"
        device.save()
        edited.description = "edited by hand"
        edited.save()
        untagged.tags = [t for t in untagged.tags if t.slug != "netoss-managed"]
        untagged.save()

        read, plan = _read_and_plan(playbook("sot_sync.yml", "--check"))
        assert read.startswith("incremental: ") and "objects read again" in read, read
        full_read, full_plan = _read_and_plan(playbook("sot_sync.yml", "--check", "-e", "sot_sync_incremental=false"))
        assert full_read == "full read (no cache)" and plan == full_plan
        assert plan.startswith("Plan: 1 to create, 2 to update, 0 to delete"), plan  # the untagged one adopted
    finally:
        apply = playbook("sot_sync.yml")
    assert apply.rc == 0, apply.output[-4000:]
    assert (nb.dcim.devices.get(device.id).description, nb.dcim.interfaces.get(edited.id).description) == before
    assert "netoss-managed" in [t.slug for t in nb.dcim.interfaces.get(untagged.id).tags]
    read, plan = _read_and_plan(playbook("sot_sync.yml", "--check"))
    assert read.startswith("incremental"), read  # what the apply wrote was folded in after it
    assert plan.startswith("Plan: 0 to create, 0 to update, 0 to delete"), plan

    # A rename changes what other objects' records show of it: everything is read again.
    name = device.name
    renamed = nb.dcim.devices.get(device.id)
    renamed.name = f"{name}-renamed-by-hand"
    renamed.save()
    try:
        read, plan = _read_and_plan(playbook("sot_sync.yml", "--check"))
        assert read.startswith("full read (dcim.device ") and "changed its name" in read, read
        assert plan == _read_and_plan(playbook("sot_sync.yml", "--check", "-e", "sot_sync_incremental=false"))[1]
    finally:
        renamed.name = name
        renamed.save()


def test_check_mode_plans_new_objects_that_depend_on_each_other(demo_synced, playbook, nb, intent_copy):
    intent = intent_copy
    sites_file = next(f for f in sorted(intent.glob("*.yml")) if "sites" in (yaml.safe_load(f.read_text()) or {}))
    _edit(sites_file, lambda data: data["sites"].append({"name": "lon1", "description": "London"}))

    def add_router(data):
        data["devices"].append(
            {
                "name": "pe3",
                "site": "lon1",
                "role": "pe",
                "platform": "frr",
                "device_type": "frr-router",
                "primary_ip4": "198.18.100.99/24",
                "interfaces": [{"name": "mgmt0", "type": "1000base-t", "addresses": ["198.18.100.99/24"]}],
            }
        )

    _edit(_devices_file(intent), add_router)
    run = playbook("sot_sync.yml", "--check", "--diff", "-e", f"sot_sync_intent_dir={intent}")
    assert run.rc == 0, run.output[-4000:]
    assert "Plan: 5 to create, 0 to update, 0 to delete" in run.output  # site, device, interface, IP, primary IP
    assert "devices pe3 (intent)" in run.output and "sites lon1 (intent)" in run.output
    assert nb.dcim.sites.get(slug="lon1") is None and nb.dcim.devices.get(name="pe3") is None


def test_changed_intent_shows_diff_in_check_mode_then_applies(playbook, nb, intent_copy):
    intent = intent_copy

    def describe_pe1(data):
        for d in data["devices"]:
            if d["name"] == "pe1":
                d["description"] = "PE Amsterdam, changed by the test"

    _edit(_devices_file(intent), describe_pe1)
    before = nb.dcim.devices.get(name="pe1").description

    check = playbook("sot_sync.yml", "--check", "--diff", "-e", f"sot_sync_intent_dir={intent}")
    assert check.rc == 0, check.output[-4000:]
    assert check.recap["changed"] >= 1
    assert "PE Amsterdam, changed by the test" in check.output
    assert nb.dcim.devices.get(name="pe1").description == before, "check mode wrote to NetBox"

    apply = playbook("sot_sync.yml", "--diff", "-e", f"sot_sync_intent_dir={intent}")
    assert apply.rc == 0, apply.output[-4000:]
    assert nb.dcim.devices.get(name="pe1").description == "PE Amsterdam, changed by the test"

    restore = playbook("sot_sync.yml")
    assert restore.rc == 0 and restore.recap["changed"] >= 1
    assert nb.dcim.devices.get(name="pe1").description == before


def test_prune_deletes_only_owned_objects(playbook, nb, intent_copy):
    intent = intent_copy

    def add_router(data):
        data["devices"].append(
            {
                "name": "pe9",
                "site": "ams1",
                "role": "pe",
                "platform": "frr",
                "device_type": "frr-router",
                "interfaces": [{"name": "eth9", "type": "1000base-t"}],
            }
        )

    _edit(_devices_file(intent), add_router)
    assert playbook("sot_sync.yml", "-e", f"sot_sync_intent_dir={intent}").rc == 0
    assert nb.dcim.devices.get(name="pe9") is not None

    # An object made by hand (no netoss-managed tag) must survive the prune.
    site = nb.dcim.sites.get(slug="ams1")
    role = nb.dcim.device_roles.get(slug="pe")
    dtype = nb.dcim.device_types.get(slug="frr-router")
    manual = nb.dcim.devices.create(name="handmade1", site=site.id, role=role.id, device_type=dtype.id)
    try:
        run = playbook("sot_sync.yml", "--diff")  # the test intent: pe9 is gone from it
        assert run.rc == 0, run.output[-4000:]
        assert nb.dcim.devices.get(name="pe9") is None
        assert list(nb.dcim.interfaces.filter(name="eth9")) == []
        assert nb.dcim.devices.get(name="handmade1") is not None
    finally:
        manual.delete()


def test_the_playbook_applies_the_intent_netoss_env_names(stack, nb_env, intent_copy, nb, demo_synced):
    """No -e: the intent comes from NETOSS_INTENT (what `netoss env` exports), never the demo."""
    import subprocess

    def describe_pe1(data):
        for d in data["devices"]:
            if d["name"] == "pe1":
                d["description"] = "read from NETOSS_INTENT"

    _edit(_devices_file(intent_copy), describe_pe1)
    repo = Path(__file__).resolve().parents[2]
    exported = subprocess.run(
        [str(repo / ".venv/bin/netoss"), "env"],
        env={**nb_env, "NETOSS_PORT_BASE": str(stack.port_base)},
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    assert f"export NETOSS_INTENT={stack.intent_dir}" in exported  # the test stack's recorded intent
    run = subprocess.run(
        [str(repo / ".venv/bin/ansible-playbook"), "playbooks/sot_sync.yml", "--check", "--diff"],
        cwd=repo, env={**nb_env, "NETOSS_INTENT": str(intent_copy)}, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert f"files in {intent_copy})" in output
    assert "Plan: 0 to create, 1 to update, 0 to delete" in output and "read from NETOSS_INTENT" in output


def test_a_sync_that_would_delete_most_of_the_network_stops_even_in_check_mode(playbook, nb, intent_copy):
    for f in list(intent_copy.glob("*.yml")):
        if {"devices", "cables", "circuits"} & set(yaml.safe_load(f.read_text()) or {}):
            f.unlink()
    before = _count_objects(nb)
    for mode in (["--check"], []):
        run = playbook("sot_sync.yml", *mode, "-e", f"sot_sync_intent_dir={intent_copy}")
        assert run.rc != 0, run.output[-3000:]
        assert "refusing to prune: the plan deletes" in run.output and "sot_sync_confirm_prune" in run.output
        assert "would_delete" in run.output and "pe1" in run.output, run.output[-3000:]  # what it would delete
        assert _count_objects(nb) == before
    # Confirmed, check mode plans the deletions (and still writes nothing).
    run = playbook(
        "sot_sync.yml", "--check", "-e", f"sot_sync_intent_dir={intent_copy}", "-e", "sot_sync_confirm_prune=true"
    )
    assert run.rc == 0, run.output[-3000:]
    assert "to delete" in run.output and _count_objects(nb) == before


def _count_objects(nb) -> tuple[int, int, int]:
    return (nb.dcim.devices.count(), nb.dcim.interfaces.count(), nb.ipam.ip_addresses.count())


BAD_INTENT_CASES = {
    "unknown key": (
        lambda data: data["devices"][0].update({"plattform": "frr"}),
        ["plattform", "devices[0]"],
    ),
    "duplicate device": (
        lambda data: data["devices"].append(dict(data["devices"][0], interfaces=[])),
        ["duplicate", "devices["],
    ),
    "invalid IP address": (
        lambda data: data["devices"][0]["interfaces"][0].update({"addresses": ["198.18.100.300/24"]}),
        ["198.18.100.300/24", "devices[0]"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INTENT_CASES))
def test_bad_intent_fails_before_writing(playbook, nb, intent_copy, case):
    change, expected = BAD_INTENT_CASES[case]
    intent = intent_copy
    devices_file = _devices_file(intent)
    _edit(devices_file, change)
    before = _count_objects(nb)
    run = playbook("sot_sync.yml", "-e", f"sot_sync_intent_dir={intent}")
    assert run.rc != 0
    assert devices_file.name in run.output
    for text in expected:
        assert text in run.output, f"{text!r} missing from:\n{run.output[-3000:]}"
    assert run.recap["changed"] == 0
    assert _count_objects(nb) == before


def test_cable_to_missing_interface_fails_before_writing(playbook, nb, intent_copy):
    intent = intent_copy
    cables_file = next(f for f in sorted(intent.glob("*.yml")) if "cables" in (yaml.safe_load(f.read_text()) or {}))
    _edit(cables_file, lambda data: data["cables"].append({"a": "pe1:eth42", "b": "pe2:eth42"}))
    before = _count_objects(nb)
    run = playbook("sot_sync.yml", "-e", f"sot_sync_intent_dir={intent}")
    assert run.rc != 0
    assert cables_file.name in run.output and "eth42" in run.output
    assert _count_objects(nb) == before


def test_unreachable_netbox_fails_clearly(playbook, nb):
    # A loopback port where nothing listens.
    run = playbook("sot_sync.yml", env={"NETBOX_API": "http://127.0.0.1:9"})
    assert run.rc != 0
    assert "unreachable" in run.output and "127.0.0.1:9" in run.output
    assert run.recap["changed"] == 0


def test_wrong_token_fails_clearly(playbook, nb):
    before = _count_objects(nb)
    run = playbook("sot_sync.yml", env={"NETBOX_TOKEN": "nbt_AAAAAAAAAAAA." + "B" * 40})
    assert run.rc != 0
    assert "rejected the token" in run.output
    assert "B" * 40 not in run.output, "the token leaked into the output"
    assert _count_objects(nb) == before
