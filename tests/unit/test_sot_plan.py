"""The sot_sync plan, on NetBox 4.7 records of the demo network captured from a real NetBox
(tests/unit/test_data/netbox_demo_records.json, written by fetch() after a sync of the demo)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from ansible_collections.netoss.core.plugins.module_utils.intent_load import load_intent
from ansible_collections.netoss.core.plugins.module_utils.intent_payloads import (
    MODULE_FOR_KIND,
    NETBOX_ENDPOINT_FOR_KIND,
    build_netbox_objects,
)
from ansible_collections.netoss.core.plugins.module_utils.sot_plan import (
    differences,
    diffs,
    label,
    managed_count,
    normalize,
    plan,
    prune_refusal,
)

REPO = Path(__file__).resolve().parents[2]
RECORDS = json.loads((Path(__file__).parent / "test_data" / "netbox_demo_records.json").read_text())


@pytest.fixture(scope="module")
def demo():
    return build_netbox_objects(load_intent(REPO / "inventory" / "intent"))


def test_demo_synced_into_netbox_plans_nothing(demo):
    result = plan(RECORDS, demo)
    assert result["changes"] == []
    assert result["counts"] == {"create": 0, "update": 0, "delete": 0, "unchanged": sum(len(v) for v in demo.values())}
    assert all(v == [] for v in result["apply"].values())
    assert list(result["apply"]) == list(MODULE_FOR_KIND)


def test_empty_netbox_plans_every_object_as_a_create(demo):
    result = plan({}, demo)
    assert result["counts"]["create"] == sum(len(v) for v in demo.values())
    assert result["apply"] == {kind: demo.get(kind, []) for kind in MODULE_FOR_KIND}
    assert result["counts"]["delete"] == 0


def test_a_changed_field_is_an_update_of_that_field_only(demo):
    changed = copy.deepcopy(demo)
    pe1 = next(d for d in changed["devices"] if d["name"] == "pe1")
    pe1["description"] = "moved"
    lo = next(i for i in changed["interfaces"] if i["device"] == "pe1" and i["name"] == "lo")
    lo["mtu"] = 9000
    result = plan(RECORDS, changed)
    assert result["counts"]["update"] == 2
    assert result["apply"]["devices"] == [pe1] and result["apply"]["interfaces"] == [lo]
    by_object = {c["object"]: c for c in result["changes"]}
    assert by_object["pe1"]["fields"] == {"description": ("PE router, Amsterdam", "moved")}
    assert by_object["pe1:lo"]["fields"] == {"mtu": (None, 9000)}


def test_untagged_objects_are_neither_compared_nor_deleted(demo):
    records = copy.deepcopy(RECORDS)
    # pe2 lost its tag in NetBox (someone edited it): it is planned as a create, which the
    # netbox.netbox module turns into an adoption; nothing is deleted.
    records["devices"] = [d for d in records["devices"] if d["name"] != "pe2"]
    result = plan(records, demo)
    assert [c["object"] for c in result["changes"]] == ["pe2", "pe2"]  # device, then its primary IP
    assert {c["action"] for c in result["changes"]} == {"create"}


def test_objects_dropped_from_the_intent_are_deleted_in_dependency_order(demo):
    smaller = copy.deepcopy(demo)
    smaller["devices"] = [d for d in smaller["devices"] if d["name"] != "ce2"]
    smaller["device_primary_ips"] = [d for d in smaller["device_primary_ips"] if d["name"] != "ce2"]
    smaller["interfaces"] = [i for i in smaller["interfaces"] if i["device"] != "ce2"]
    smaller["ip_addresses"] = [a for a in smaller["ip_addresses"] if a["assigned_object"]["device"] != "ce2"]
    # ce2's access circuit goes with it: the circuit, its terminations and both its cables.
    smaller["circuits"] = [c for c in smaller["circuits"] if c["cid"] != "GLOBEX-FRA-0001"]
    smaller["circuit_terminations"] = [t for t in smaller["circuit_terminations"] if t["circuit"] != "GLOBEX-FRA-0001"]
    smaller["cables"] = [
        c
        for c in smaller["cables"]
        if "ce2" not in (c["termination_a"].get("device"), c["termination_b"].get("device"))
        and c["termination_b"].get("circuit") != "GLOBEX-FRA-0001"
    ]
    result = plan(RECORDS, smaller)
    deletes = [(c["kind"], c["object"]) for c in result["changes"] if c["action"] == "delete"]
    kinds = [k for k, _ in deletes]
    assert kinds == sorted(kinds, key=lambda k: -list(NETBOX_ENDPOINT_FOR_KIND).index(k))
    assert ("devices", "ce2") in deletes and ("circuits", "GLOBEX-FRA-0001") in deletes
    assert ("cables", "ce2:eth1 <> circuit GLOBEX-FRA-0001:Z") in deletes
    assert ("cables", "pe2:eth3 <> circuit GLOBEX-FRA-0001:A") in deletes
    assert ("interfaces", "ce2:mgmt0") in deletes and ("ip_addresses", "198.18.0.16/24 on ce2:mgmt0") in deletes
    assert result["delete"]["devices"] == [{"name": "ce2"}]
    assert result["counts"]["create"] == result["counts"]["update"] == 0


def test_normalize_maps_nested_objects_and_choices():
    device = next(d for d in RECORDS["devices"] if d["name"] == "pe1")
    n = normalize("devices", device)
    assert n["site"] == "ams1" and n["device_role"] == "pe" and n["platform"] == "frr"
    assert n["status"] == "active" and n["tags"] == ["netoss-managed"]
    assert n["primary_ip4"].startswith("198.18.0.")
    ip = next(r for r in RECORDS["ip_addresses"] if r["address"].startswith("198.19.255."))
    assert normalize("ip_addresses", ip)["role"] == "Loopback"
    cable = RECORDS["cables"][0]
    assert set(normalize("cables", cable)["termination_a"]) == {"device", "name"}


def test_differences_tolerate_order_of_tags_and_empty_descriptions():
    site = RECORDS["sites"][0]
    payload = {"name": site["name"], "tags": ["netoss-managed"], "description": site["description"]}
    assert differences("sites", payload, site) == {}
    assert differences("sites", dict(payload, status="planned"), site) == {"status": ("active", "planned")}


def test_diffs_are_ansible_before_after_entries(demo):
    changed = copy.deepcopy(demo)
    changed["devices"][0]["description"] = "x"
    entries = diffs(plan(RECORDS, changed)["changes"])
    assert len(entries) == 1
    entry = entries[0]
    assert entry["after"] == {"description": "x"} and "description" in entry["before"]
    assert entry["before_header"].startswith("devices ") and entry["after_header"].endswith("(intent)")


def test_labels():
    assert (
        label(
            "cables", {"termination_a": {"device": "a", "name": "e1"}, "termination_b": {"device": "b", "name": "e2"}}
        )
        == "a:e1 <> b:e2"
    )
    assert label("interfaces", {"device": "a", "name": "e1"}) == "a:e1"


class _FakeEndpoint:
    """Stands in for a pynetbox endpoint: records what was asked, answers from a list."""

    def __init__(self, records, calls, name):
        self.records, self.calls, self.name = records, calls, name

    def all(self):
        self.calls.append((self.name, "all"))
        return list(self.records)

    def filter(self, **kwargs):
        self.calls.append((self.name, kwargs))
        return [r for r in self.records if kwargs.get("tag") in [t["slug"] for t in r.get("tags", [])]]


class _FakeApi:
    def __init__(self, records_by_endpoint, calls):
        self._records, self._calls = records_by_endpoint, calls

    def __getattr__(self, app):
        records, calls = self._records, self._calls

        class _App:
            def __getattr__(self, name):
                return _FakeEndpoint(records.get(f"{app}.{name}", []), calls, f"{app}.{name}")

        return _App()


def test_fetch_on_an_empty_netbox_does_not_filter_on_a_missing_tag():
    from ansible_collections.netoss.core.plugins.module_utils.sot_plan import fetch

    calls = []
    records = fetch(_FakeApi({}, calls), "netoss-managed")
    # Nothing filtered on a tag NetBox does not have (only on the fields read).
    assert all(how == "all" or set(how) == {"fields"} for _name, how in calls), calls
    assert records["devices"] == [] and records["tags"] == []


def test_fetch_reads_tagged_objects_once_the_tag_exists():
    from ansible_collections.netoss.core.plugins.module_utils.sot_plan import fetch

    calls = []
    api = _FakeApi({"extras.tags": RECORDS["tags"], "dcim.devices": RECORDS["devices"]}, calls)
    records = fetch(api, "netoss-managed")
    from ansible_collections.netoss.core.plugins.module_utils.sot_plan import PLAN_FIELDS

    assert ("dcim.devices", {"tag": "netoss-managed", "fields": PLAN_FIELDS["devices"]}) in calls
    assert [d["name"] for d in records["devices"]] == [d["name"] for d in RECORDS["devices"]]


@pytest.mark.parametrize(
    "deleted, managed, limit, confirmed, refused",
    [
        (0, 0, 50, False, False),  # an empty NetBox
        (1, 200, 50, False, False),  # a device removed from the intent
        (100, 200, 50, False, False),  # exactly the limit
        (101, 200, 50, False, True),  # more than half: another network's intent, an empty directory
        (101, 200, 50, True, False),  # confirmed
        (3, 4, 50, False, True),  # a small network is not exempt
        (3, 4, 100, False, False),  # the check turned off
        (1, 200, 0, False, True),  # no deletion without confirmation
    ],
)
def test_a_plan_deleting_most_of_what_netoss_manages_needs_a_confirmation(deleted, managed, limit, confirmed, refused):
    why = prune_refusal({"delete": deleted}, managed, limit, confirmed)
    assert bool(why) is refused
    if refused:
        assert f"deletes {deleted} of the {managed} objects" in why and f"limit of {limit}%" in why
        assert "sot_sync_confirm_prune" in why


def test_the_wrong_intent_is_refused_and_counted_on_real_records(demo):
    # Applying a one-site intent to the demo's NetBox: most of the managed objects would go.
    small = {kind: payloads[:1] for kind, payloads in demo.items()}
    result = plan(RECORDS, small)
    managed = managed_count(RECORDS)
    assert managed == sum(len(RECORDS.get(k, [])) for k in NETBOX_ENDPOINT_FOR_KIND) > 0
    assert result["counts"]["delete"] > managed // 2
    assert "refusing to prune" in prune_refusal(result["counts"], managed, 50, False)
    assert prune_refusal(plan(RECORDS, demo)["counts"], managed, 50, False) is None


def _as_graphql(kind, record):
    """The GraphQL answer NetBox 4.7 gives for a REST ``record`` (the fields the plan asks)."""
    tags = [{"slug": t["slug"]} for t in record.get("tags") or []]
    if kind == "interfaces":
        row = {k: record[k] for k in ("name", "label", "description", "enabled", "mgmt_only", "mtu")}
        cable = record.get("cable")
        return dict(row, id=str(record["id"]), type=record["type"]["value"], device={"name": record["device"]["name"]},
                    tags=tags, cable={"id": str(cable["id"])} if cable else None)  # fmt: skip
    if kind == "ip_addresses":
        assigned = record.get("assigned_object")
        return {
            "id": str(record["id"]), "address": record["address"], "status": record["status"]["value"],
            "role": (record.get("role") or {}).get("value") or "", "dns_name": record["dns_name"],
            "description": record["description"], "tags": tags, "vrf": record.get("vrf"),
            "assigned_object": {"__typename": "InterfaceType", "name": assigned["name"],
                                "device": {"name": assigned["device"]["name"]}} if assigned else None,
        }  # fmt: skip
    terminations = []
    for side in ("a", "b"):
        for t in record[f"{side}_terminations"]:
            obj = t["object"]
            if t["object_type"] == "dcim.interface":
                term = {"__typename": "InterfaceType", "name": obj["name"], "device": {"name": obj["device"]["name"]}}
            else:
                term = {"__typename": "CircuitTerminationType", "term_side": obj["term_side"],
                        "circuit": {"cid": obj["circuit"]["cid"]}}  # fmt: skip
            terminations.append({"cable_end": side.upper(), "termination": term})
    return {"id": str(record["id"]), "status": record["status"]["value"], "label": record["label"],
            "description": record["description"], "tags": tags, "terminations": terminations}  # fmt: skip


@pytest.mark.parametrize("kind", ["interfaces", "ip_addresses", "cables"])
def test_records_read_through_graphql_plan_like_the_rest_records(kind, demo):
    from ansible_collections.netoss.core.plugins.module_utils.intent_payloads import netbox_identity
    from ansible_collections.netoss.core.plugins.module_utils.sot_plan import _rest_shape

    assert RECORDS[kind]
    for record in RECORDS[kind]:
        shaped = _rest_shape(kind, _as_graphql(kind, record))
        assert shaped["id"] == record["id"]
        # Every field the intent's payloads of this kind set reads the same.
        keys = set().union(*(p.keys() for p in demo[kind]))
        assert {k: normalize(kind, shaped).get(k) for k in keys} == {k: normalize(kind, record).get(k) for k in keys}
        assert netbox_identity(kind, shaped) == netbox_identity(kind, record)
    # And so the plan of the demo against them: nothing to do.
    records = dict(RECORDS, **{kind: [_rest_shape(kind, _as_graphql(kind, r)) for r in RECORDS[kind]]})
    assert plan(records, demo)["changes"] == []
