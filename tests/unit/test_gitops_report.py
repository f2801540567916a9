"""GitOps plans as people read them (pure logic): NetBox Branching's change records made into a
plan, and the plan as text, Markdown and JSON, with the verdict that sets the exit status."""

from __future__ import annotations

import datetime as dt
import json

from ansible_collections.netoss.core.plugins.module_utils.schema_files import Problem
from netoss.domain.gitops import report
from netoss.domain.gitops.plan import Plan, change_of
from netoss.domain.gitops.repo import Commit

COMMIT = Commit("a" * 40, "Erin Engineer", "erin@example.net", dt.datetime(2026, 12, 5, tzinfo=dt.UTC), "more space")


def record(action, kind, name, before=None, after=None, conflicts=None, object_id=7):
    return {
        "object_type": kind,
        "object_id": object_id,
        "object_repr": name,
        "action": {"value": action, "label": action.title()},
        "original_data": before,
        "modified_data": after,
        "conflicts": conflicts,
    }


def test_a_change_record_keeps_the_fields_that_change_and_drops_the_noise():
    created = change_of(
        record(
            "create",
            "ipam.prefix",
            "10.9.0.0/28",
            after={"prefix": "10.9.0.0/28", "tenant": 3, "created": "x", "last_updated": "y", "comments": "", "id": 9},
        )
    )
    assert created.fields == {"prefix": (None, "10.9.0.0/28"), "tenant": (None, 3)}
    updated = change_of(
        record(
            "update",
            "dcim.device",
            "edge-7",
            before={"status": "planned", "serial": "X", "last_updated": "a"},
            after={"status": "active", "serial": "X", "last_updated": "b"},
            conflicts=["status"],
        )
    )
    assert updated.fields == {"status": ("planned", "active")} and updated.conflicts == ["status"]
    assert change_of(record("delete", "dcim.cable", "#4", before={"id": 4})).fields == {}


def _plan(**kw) -> Plan:
    plan = Plan(commit=COMMIT, branch={"id": 1, "name": "gitops-aaaaaaaaaaaa", "schema_id": "k3x9", "status": {}})
    for key, value in kw.items():
        setattr(plan, key, value)
    return plan


def test_a_clean_plan_may_merge_and_says_what_it_does_in_each_format():
    plan = _plan(
        changes=[change_of(record("create", "ipam.prefix", "10.9.0.0/28", after={"prefix": "10.9.0.0/28"}))],
        lines={"edge-7": ["ip prefix-list CUST seq 20 permit 10.9.0.0/28"], "core-1": []},
    )
    assert plan.ok and plan.touched == ["edge-7"]
    text = report.text(plan)
    assert "OK to merge" in text and "create ipam.prefix 10.9.0.0/28" in text
    assert "    ip prefix-list CUST seq 20 permit 10.9.0.0/28" in text and "unchanged: core-1" in text
    md = report.markdown(plan)
    assert md.startswith("### ✅ netoss plan for `aaaaaaaaaaaa`") and "+ create ipam.prefix 10.9.0.0/28" in md
    assert "<summary><code>edge-7</code>: 1 line(s)</summary>" in md
    data = json.loads(report.as_json(plan))
    assert (
        data["ok"]
        and data["touched"] == ["edge-7"]
        and data["netbox"][0]["fields"] == {"prefix": [None, "10.9.0.0/28"]}
    )


def test_conflicts_compliance_and_unplanned_devices_each_break_a_plan():
    conflict = change_of(record("update", "dcim.device", "edge-7", {"status": "a"}, {"status": "b"}, ["status"]))
    for kw, said in [
        ({"changes": [conflict]}, "1 conflict(s) with main"),
        (
            {"compliance": {"edge-7": [{"feature": "aaa", "rule": "no-telnet", "status": "non-compliant"}]}},
            "not compliant",
        ),
        ({"device_errors": {"edge-8": "unreachable"}}, "1 device(s) not planned"),
    ]:
        plan = _plan(**kw)
        assert not plan.ok and said in report.verdict(plan), kw
        assert report.markdown(plan).startswith("### ❌")


def test_an_invalid_commit_lists_every_problem_by_file_and_key():
    plan = _plan(problems=[Problem("net/30-devices.yml", "devices[3] 'edge-9'", "role: required"),
                           Problem("netoss-gitops.yml", "drift", "expected one of refuse, overwrite")])  # fmt: skip
    assert not plan.ok and "is invalid: 2 problem(s)" in report.verdict(plan)
    text = report.text(plan)
    assert "net/30-devices.yml: devices[3] 'edge-9': role: required" in text
    assert "| `netoss-gitops.yml` | drift | expected one of refuse, overwrite |" in report.markdown(plan)


def test_a_long_value_is_cut_in_a_line():
    change = change_of(record("update", "dcim.device", "edge-7", {"comments": ""}, {"comments": "x" * 500}))
    line = report.text(_plan(changes=[change])).splitlines()
    assert any(len(entry) < 120 and entry.strip().startswith("comments:") for entry in line)


def test_drift_breaks_a_plan_unless_the_repository_lets_the_merge_overwrite_it():
    from netoss.domain.gitops.settings import DEFAULTS, Settings

    hand = [{"action": "update", "kind": "devices", "object": "edge-7", "fields": {"description": ["by hand", "edge"]}}]
    refuse = _plan(drift=hand, settings=Settings(**DEFAULTS), base=COMMIT)
    assert not refuse.ok and refuse.drift_refused
    assert "1 NetBox object(s) changed by hand, which the repository refuses to overwrite" in report.verdict(refuse)
    text = report.text(refuse)
    assert "update devices edge-7: description: by hand (intent: edge)" in text and "drift: refuse" in text
    overwrite = _plan(drift=hand, settings=Settings(**{**DEFAULTS, "drift": "overwrite"}), base=COMMIT)
    assert overwrite.ok and "the merge overwrites it" in report.markdown(overwrite)
    assert json.loads(report.as_json(overwrite))["drift"] == hand
    assert _plan(drift=[], settings=Settings(**DEFAULTS)).ok  # compared, nothing drifted
    unknown = _plan(drift=None, notes=["drift not checked: the base commit aaaa does not validate (2 problem(s))"])
    assert unknown.ok and "drift not checked" in report.text(unknown)
