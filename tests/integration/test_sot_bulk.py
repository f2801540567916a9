"""sot_sync's bulk apply on the test stack's real NetBox, inside NetBox branches (so the test
stack's main, and the other tests, never see the fleets written here).

- A generated fleet applied in bulk gives exactly the NetBox state the per-object way (the
  netbox.netbox modules) gives for the same intent.
- At fleet size: a first sync in bulk, then nothing to do, then one edit; an object NetBox
  refuses is named with its intent file and entry, what NetBox accepted is written, and a
  rerun converges once the conflict is gone.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import yaml

from ansible_collections.netoss.core.plugins.module_utils.intent_load import load_intent
from ansible_collections.netoss.core.plugins.module_utils.intent_payloads import (
    MODULE_FOR_KIND,
    build_netbox_objects,
    identity,
    netbox_identity,
)
from ansible_collections.netoss.core.plugins.module_utils.netbox_client import connect
from ansible_collections.netoss.core.plugins.module_utils.sot_plan import fetch, normalize
from netoss.cli import fleet
from netoss.data.netbox import NetBox

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
CATALOG = yaml.safe_load((REPO / "services" / "catalog.yml").read_text())
# A size CI affords for the fleet test (each cable costs NetBox a path trace); bench/bench_scale.py
# runs the same path at 1,000 devices.
FLEET_DEVICES, FLEET_SITES = 30, 3


def _fleet(target: Path, devices: int, sites: int, stem: str, addressing: str) -> Path:
    files = fleet.generate(devices=devices, sites=sites, catalog=CATALOG, site_stem=stem, addressing=addressing,
                           netoss_file=REPO / "inventory/intent/00-netoss.yml")  # fmt: skip
    fleet.write(target, files, load_intent)
    return target


@pytest.fixture(scope="module")
def writer(stack) -> NetBox:
    return NetBox.from_stack(stack, "writer", timeout=120)


@pytest.fixture
def branch_of(writer):
    """new() -> a provisioned branch of main (deleted at the end of the test)."""
    made = []

    def new() -> dict:
        created = writer.create_branch(f"test-bulk-{uuid.uuid4().hex[:8]}", "netoss bulk sync test")
        made.append(created["id"])
        return writer.wait_branch(created["id"], timeout=300)

    yield new
    for branch_id in made:
        writer.delete_branch(branch_id)


def _sync(playbook, intent: Path, schema: str, *extra: str):
    return playbook(
        "sot_sync.yml",
        "-e", f"sot_sync_intent_dir={intent}", "-e", "sot_sync_prune=false", *extra,
        env={"NETBOX_BRANCH": schema},
    )  # fmt: skip


def _state(stack, schema: str, kinds) -> dict:
    """What NetBox holds in a branch, for every kind of the intent: {kind: {identity: fields}}."""
    api, _status = connect(stack.netbox_url, stack.netbox_writer_token(), branch=schema)
    records = fetch(api, "netoss-managed")
    out = {}
    for kind in kinds:
        source = "devices" if kind == "device_primary_ips" else kind
        out[kind] = {netbox_identity(source, r): normalize(source, r) for r in records.get(source, [])}
    return out


def test_a_fleet_in_bulk_gives_the_netbox_state_the_per_object_way_gives(stack, playbook, branch_of, tmp_path):
    intent = _fleet(tmp_path / "small", 6, 2, "blk", "100.80.0.0/16")
    objects = build_netbox_objects(load_intent(intent))
    bulk, per_object = branch_of(), branch_of()
    run = _sync(playbook, intent, bulk["schema_id"])
    assert run.rc == 0, run.output[-3000:]
    assert "Written in" in run.output
    run = _sync(playbook, intent, per_object["schema_id"], "-e", "sot_sync_method=per_object")
    assert run.rc == 0, run.output[-3000:]
    kinds = [k for k in MODULE_FOR_KIND if k != "device_primary_ips"]
    a, b = _state(stack, bulk["schema_id"], kinds), _state(stack, per_object["schema_id"], kinds)
    for kind in kinds:
        assert a[kind] == b[kind], kind
    # And the fleet is all there.
    for kind in ("devices", "interfaces", "ip_addresses", "cables", "circuits"):
        assert {identity(kind, p) for p in objects[kind]} <= set(a[kind]), kind


def test_a_fleet_first_sync_no_op_one_edit_and_a_refusal_named_then_converging(
    stack, playbook, branch_of, tmp_path, writer
):
    intent = _fleet(tmp_path / "fleet", FLEET_DEVICES, FLEET_SITES, "flt", "100.96.0.0/12")
    schema = branch_of()["schema_id"]
    run = _sync(playbook, intent, schema)
    assert run.rc == 0, run.output[-3000:]
    assert run.recap["changed"] >= 1

    check = _sync(playbook, intent, schema, "--check")
    assert check.rc == 0 and "Plan: 0 to create, 0 to update, 0 to delete" in check.output, check.output[-2000:]

    devices_file = intent / "30-devices.yml"
    data = yaml.safe_load(devices_file.read_text())
    index, edited = next((i, d) for i, d in enumerate(data["devices"]) if i >= FLEET_DEVICES // 2 and d["role"] == "ce")
    edited["description"] = "edited by the test"
    # And a new address, which NetBox will refuse: the same address already exists, untagged.
    spare = next(i for i in edited["interfaces"] if not i.get("addresses") and i["name"].startswith("eth"))
    spare["addresses"] = ["100.111.255.1/31"]
    data_prefix = yaml.safe_load((intent / "25-fleet-addressing.yml").read_text())
    data_prefix["prefixes"].append({"prefix": "100.111.255.0/31", "description": "test link"})
    (intent / "25-fleet-addressing.yml").write_text(yaml.safe_dump(data_prefix, sort_keys=False))
    devices_file.write_text(yaml.safe_dump(data, sort_keys=False))
    inside = writer.in_branch(schema).api()
    squatter = inside.ipam.ip_addresses.create(address="100.111.255.1/31", description="not netoss's")

    run = _sync(playbook, intent, schema)
    assert run.rc != 0
    assert "Plan: 2 to create, 1 to update, 0 to delete" in run.output, run.output[-3000:]
    # Named with its intent file and entry, and NetBox's reason.
    assert f"create ip_addresses 100.111.255.1/31 on {edited['name']}:{spare['name']}" in run.output
    assert f"30-devices.yml: devices[{index}] '{edited['name']}'" in run.output
    assert "Duplicate IP address" in run.output
    # What NetBox accepted before the refusal is written: the prefix, the edited description.
    assert inside.dcim.devices.get(name=edited["name"]).description == "edited by the test"

    squatter.delete()
    run = _sync(playbook, intent, schema)
    assert run.rc == 0, run.output[-3000:]
    assert "Plan: 1 to create, 0 to update, 0 to delete" in run.output, run.output[-3000:]
    check = _sync(playbook, intent, schema, "--check")
    assert "Plan: 0 to create, 0 to update, 0 to delete" in check.output, check.output[-2000:]
