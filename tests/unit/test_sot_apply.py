"""sot_sync's bulk apply, on a NetBox kept in memory that answers like pynetbox's endpoints:
the order of the writes, references as IDs, chunks, adoption, moved addresses, refusals named."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
import requests

from ansible_collections.netoss.core.plugins.module_utils.intent_load import load_intent
from ansible_collections.netoss.core.plugins.module_utils.intent_payloads import build_netbox_objects, origins
from ansible_collections.netoss.core.plugins.module_utils.sot_apply import ApplyError, apply, rest_body
from ansible_collections.netoss.core.plugins.module_utils.sot_plan import plan

REPO = Path(__file__).resolve().parents[2]
RECORDS = json.loads((Path(__file__).parent / "test_data" / "netbox_demo_records.json").read_text())


class Refused(requests.RequestException):
    """A write NetBox refused (pynetbox's RequestError is one of these too)."""

    error = '{"name": ["refused by the test"]}'


class FakeEndpoint:
    def __init__(self, nb, name):
        self.nb, self.name = nb, name

    def create(self, bodies):
        many = isinstance(bodies, list)
        bodies = bodies if many else [bodies]
        self.nb.calls.append(("POST", self.name, len(bodies)))
        if any(self.nb.refuse(self.name, b) for b in bodies):
            raise Refused()
        out = [dict(b, id=next(self.nb.ids)) for b in bodies]
        return out if many else out[0]

    def update(self, bodies):
        self.nb.calls.append(("PATCH", self.name, len(bodies)))
        if any(self.nb.refuse(self.name, b) for b in bodies):
            raise Refused()
        self.nb.patched.extend((self.name, b) for b in bodies)
        return [dict(b) for b in bodies]

    def delete(self, ids):
        self.nb.calls.append(("DELETE", self.name, len(ids)))
        self.nb.deleted.extend((self.name, i) for i in ids)
        return True

    def filter(self, **filters):
        self.nb.calls.append(("GET", self.name, filters))
        return [r for r in self.nb.untagged.get(self.name, []) if all(r.get(k) in v for k, v in filters.items())]

    def get(self, record_id):
        return None


class FakeNetBox:
    def __init__(self, refuse=lambda endpoint, body: False, untagged=None):
        self.calls, self.patched, self.deleted = [], [], []
        self.ids = itertools.count(100000)
        self.refuse, self.untagged = refuse, untagged or {}

    def __getattr__(self, app):
        nb = self

        class App:
            def __getattr__(self, name):
                return FakeEndpoint(nb, f"{app}.{name}")

        return App()


@pytest.fixture(scope="module")
def demo():
    return build_netbox_objects(load_intent(REPO / "inventory" / "intent"))


def _writes(nb):
    return [c for c in nb.calls if c[0] != "GET"]


def test_an_empty_netbox_gets_one_request_per_kind_in_dependency_order(demo):
    nb = FakeNetBox()
    the_plan = plan({}, demo)
    done = apply(nb, {}, the_plan, objects=demo)
    posts = [(endpoint, n) for method, endpoint, n in _writes(nb) if method == "POST"]
    kinds = [endpoint for endpoint, _n in posts]
    # Each kind once (the demo's kinds each fit a chunk), parents before children.
    assert len(kinds) == len(set(kinds))
    for parent, child in (("dcim.sites", "dcim.devices"), ("dcim.devices", "dcim.interfaces"),
                          ("dcim.interfaces", "ipam.ip_addresses"), ("circuits.circuits", "dcim.cables"),
                          ("circuits.circuit_terminations", "dcim.cables")):  # fmt: skip
        assert kinds.index(parent) < kinds.index(child)
    assert sum(n for _e, n in posts) == sum(done["written"]["create"].values())
    # Primary IPs: one PATCH of the devices, after the addresses exist.
    assert ("PATCH", "dcim.devices", len(demo["device_primary_ips"])) in nb.calls
    assert done["failed"] == []


def test_chunks_split_a_kind_into_requests_of_at_most_chunk_objects(demo):
    nb = FakeNetBox()
    apply(nb, {}, plan({}, demo), objects=demo, chunk=7)
    interfaces = [n for method, endpoint, n in nb.calls if (method, endpoint) == ("POST", "dcim.interfaces")]
    assert sum(interfaces) == len(demo["interfaces"])
    assert max(interfaces) == 7 and len(interfaces) == -(-len(demo["interfaces"]) // 7)


def test_a_synced_netbox_gets_no_write(demo):
    nb = FakeNetBox()
    done = apply(nb, RECORDS, plan(RECORDS, demo), objects=demo)
    assert _writes(nb) == [] and done["requests"] == 0


def test_references_are_netbox_ids():
    ids_plan = plan({}, {"devices": [], "interfaces": []})
    assert ids_plan["counts"]["create"] == 0
    device = next(r for r in RECORDS["devices"])
    site = next(s for s in RECORDS["sites"] if s["id"] == device["site"]["id"])
    from ansible_collections.netoss.core.plugins.module_utils.sot_apply import _Ids

    ids = _Ids(RECORDS)
    body = rest_body(
        "devices",
        {"name": "x1", "site": site["slug"], "device_role": device["role"]["slug"],
         "device_type": device["device_type"]["slug"], "platform": device["platform"]["slug"],
         "status": "active", "tags": ["netoss-managed"]},
        ids,
    )  # fmt: skip
    assert body["site"] == site["id"] and body["role"] == device["role"]["id"]
    assert all(isinstance(t, int) for t in body["tags"])
    with pytest.raises(LookupError, match="site 'nowhere' is not in NetBox"):
        rest_body("devices", {"name": "x2", "site": "nowhere"}, ids)


def test_an_address_moved_to_another_interface_is_updated_not_recreated(demo):
    moved = json.loads(json.dumps(demo))
    used = {(a["assigned_object"]["device"], a["assigned_object"]["name"]) for a in moved["ip_addresses"]}
    spare = next(i for i in moved["interfaces"] if not i.get("mgmt_only") and (i["device"], i["name"]) not in used)
    address = next(
        a for a in moved["ip_addresses"] if a["assigned_object"]["device"] == spare["device"] and "/31" in a["address"]
    )
    address["assigned_object"] = {"device": spare["device"], "name": spare["name"]}
    the_plan = plan(RECORDS, moved)
    assert the_plan["counts"]["create"] == 1 and the_plan["counts"]["delete"] == 1
    nb = FakeNetBox()
    done = apply(nb, RECORDS, the_plan, objects=moved)
    assert done["written"] == {"create": {}, "update": {"ip_addresses": 1}, "delete": {}}
    assert not [c for c in nb.calls if c[0] in ("POST", "DELETE") and c[1] == "ipam.ip_addresses"]


def test_an_untagged_object_with_the_same_identity_is_adopted(demo):
    records = {k: v for k, v in RECORDS.items() if k != "tenants"}
    untagged = [dict(t, tags=[]) for t in RECORDS["tenants"]]
    nb = FakeNetBox(untagged={"tenancy.tenants": untagged})
    the_plan = plan(records, demo)
    done = apply(nb, records, the_plan, objects=demo)
    assert done["written"]["update"] == {"tenants": len(untagged)}
    assert "tenants" not in done["written"]["create"]


def test_a_refused_chunk_is_written_one_by_one_and_each_refusal_named_with_its_intent_entry(demo):
    bad = {demo["devices"][1]["name"]}
    nb = FakeNetBox(refuse=lambda endpoint, body: endpoint == "dcim.devices" and body.get("name") in bad)
    index = origins(load_intent(REPO / "inventory" / "intent"))
    from ansible_collections.netoss.core.plugins.module_utils.intent_payloads import identity

    with pytest.raises(ApplyError) as caught:
        apply(nb, {}, plan({}, demo), objects=demo, origin=lambda k, p: index.get((k, identity(k, p))))
    result = caught.value.result
    assert result["written"]["create"]["devices"] == len(demo["devices"]) - 1
    [failure] = result["failed"]
    assert failure["object"] in bad and "30-devices.yml: devices[1]" in failure["origin"]
    assert "refused by the test" in failure["error"]
    # Nothing after the devices: the interfaces wait for a rerun, which plans them.
    assert not [c for c in nb.calls if c[1] == "dcim.interfaces"]
    assert "nothing after devices was written" in str(caught.value)
