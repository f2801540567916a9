"""A job's progress: the plan from netoss.core.job_plan, and tasks and hosts done of their totals."""

from __future__ import annotations

import json

from netoss.domain.jobs.progress import summarize
from netoss.domain.jobs.runner import parse_plan

PLAYBOOK = {
    "kind": "playbook",
    "plays": [
        {"play": "Back up", "hosts": ["pe1", "pe2"], "tasks": 3},
        {"play": "Commit", "hosts": None, "tasks": 2},  # a templated pattern: unknown until it starts
    ],
}


def _lines(*records):
    return "".join(json.dumps(r) + "\n" for r in records)


def test_the_playbook_estimate_is_corrected_by_each_play_as_it_starts():
    plays = parse_plan(_lines(PLAYBOOK))
    assert plays[1]["hosts"] is None
    text = _lines(PLAYBOOK, {"kind": "play", "index": 1, "play": "Commit", "hosts": ["localhost"], "tasks": 2})
    assert parse_plan(text) == [
        {"play": "Back up", "hosts": ["pe1", "pe2"], "tasks": 3},
        {"play": "Commit", "hosts": ["localhost"], "tasks": 2},
    ]


def test_half_written_and_foreign_lines_are_skipped():
    text = _lines(PLAYBOOK) + '["not", "a", "record"]\n{"kind": "play", "index": -1}\n{"kind": "play", "ind'
    assert [p["play"] for p in parse_plan(text)] == ["Back up", "Commit"]
    # A play line without a playbook line (a run that began elsewhere) still counts.
    assert parse_plan(_lines({"kind": "play", "index": 1, "play": "B", "hosts": ["x"], "tasks": 1})) == [
        {"play": "", "hosts": None, "tasks": None},
        {"play": "B", "hosts": ["x"], "tasks": 1},
    ]
    # Hostile values are bounded and typed.
    (play,) = parse_plan(_lines({"kind": "play", "index": 0, "play": "p" * 999, "hosts": "all", "tasks": -3}))
    assert len(play["play"]) == 200 and play["hosts"] is None and play["tasks"] is None


PLAN = [
    {"play": "Back up", "hosts": ["pe1", "pe2", "pe3"], "tasks": 3},
    {"play": "Commit", "hosts": ["localhost"], "tasks": 1},
]


def test_totals_and_hosts_done():
    hosts = {
        "pe1": {"ok": 2, "skipped": 1, "started": 3},  # all three tasks: done
        "pe2": {"ok": 1, "failed": 1, "started": 2},  # failed: nothing more runs on it
        "pe3": {"ok": 1, "started": 2},  # halfway
    }
    p = summarize(PLAN, hosts, tasks_started=2, ended=False)
    assert (p["tasks_total"], p["hosts_total"], p["hosts_finished"]) == (4, 4, 2)
    assert p["hosts"]["pe1"] | {} == {
        "ok": 2, "failed": 0, "unreachable": 0, "skipped": 1, "started": 3,
        "done": 3, "state": "ok", "expected": 3, "finished": True,
    }  # fmt: skip
    assert p["hosts"]["pe2"]["state"] == "failed" and p["hosts"]["pe2"]["finished"]
    assert not p["hosts"]["pe3"]["finished"]
    # A host of the plan that has not reported yet is listed, waiting.
    assert p["hosts"]["localhost"]["state"] == "pending" and p["hosts"]["localhost"]["done"] == 0
    # When the job ends every host is done, also one a run_once task left short of results.
    assert summarize(PLAN, hosts, tasks_started=4, ended=True)["hosts_finished"] == 4


def test_without_a_plan_the_totals_are_unknown():
    p = summarize(None, {"pe1": {"unreachable": 1}}, tasks_started=1, ended=False)
    assert p["tasks_total"] is None and p["hosts_total"] is None
    assert p["hosts"]["pe1"]["state"] == "unreachable" and p["hosts_finished"] == 1
    unknown = [{"play": "x", "hosts": None, "tasks": 3}]
    assert summarize(unknown, {}, 0, False)["tasks_total"] is None
