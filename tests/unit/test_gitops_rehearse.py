"""The rehearsal's verdict from the routing states of the live network and of its twin (pure:
the states as netoss.core.frr_state returns them; the twin itself runs in
tests/e2e/test_own_network_gitops.py)."""

from __future__ import annotations

import datetime as dt
import ipaddress

from netoss.domain.gitops.plan import Change, Plan
from netoss.domain.gitops.rehearse import Rehearsal, compare, removed_by
from netoss.domain.gitops.repo import Commit
from netoss.domain.gitops.report import text, verdict

MGMT = {"edge": ["10.40.0.0/24", "192.0.2.0/24"], "core": ["10.40.0.0/24", "192.0.2.0/24"]}


def _state(routes: list[str], sessions: dict[str, bool]) -> dict:
    return {
        "routes": [{"prefix": p, "protocol": "bgp", "interfaces": ["ge-0-0-1"]} for p in routes],
        "bgp": [{"neighbor": n, "vrf": "default", "established": up} for n, up in sessions.items()],
    }


def test_a_route_the_twin_lacks_is_unreachable_unless_the_change_removes_it():
    live = {
        "edge": _state(["10.40.0.0/24", "100.64.0.0/30", "203.0.113.0/28", "203.0.113.16/28"], {"100.64.0.2": True}),
        "core": _state(["10.40.0.0/24", "203.0.113.0/28", "203.0.113.16/28"], {"100.64.1.1": True}),
    }
    twin = {
        # The twin's management subnet is another: not compared. The customer session is down,
        # so its prefix is gone; the change renumbered the link (100.64.0.0/30 -> .4/30).
        "edge": _state(["192.0.2.0/24", "100.64.0.4/30", "203.0.113.16/28"], {"100.64.0.6": False}),
        "core": _state(["192.0.2.0/24", "203.0.113.16/28", "203.0.113.32/28"], {"100.64.1.1": True}),
    }
    removed = [ipaddress.ip_network("100.64.0.0/30")]
    unreachable, sessions, gained = compare(live, twin, MGMT, removed)
    assert unreachable == {"edge": ["203.0.113.0/28"], "core": ["203.0.113.0/28"]}
    assert sessions == {"edge": ["100.64.0.2 (default)"]}
    assert gained == {"edge": ["100.64.0.4/30"], "core": ["203.0.113.32/28"]}
    # A router only one side has is not compared.
    assert compare({"x": _state(["198.51.100.0/24"], {})}, {}, {}, []) == ({}, {}, {})


def _plan(changes: list[Change]) -> Plan:
    commit = Commit("a" * 40, "Erin Engineer", "erin@example.net", dt.datetime(2026, 12, 5, tzinfo=dt.UTC), "renumber")
    return Plan(commit=commit, changes=changes, branch={"name": "gitops-x", "schema_id": "abcd1234"})


def test_what_a_change_removes_is_from_its_netbox_plan():
    plan = _plan([
        Change("ipam.prefix", "delete", "203.0.113.64/28", 7, {}, []),
        Change("ipam.ipaddress", "update", "100.64.0.5/30", 9, {"address": ("100.64.0.1/30", "100.64.0.5/30")}, []),
        Change("ipam.ipaddress", "delete", "100.64.9.1/31", 10, {}, []),
        Change("ipam.ipaddress", "update", "100.64.3.1/30", 11, {"description": ("a", "b")}, []),
        Change("ipam.prefix", "create", "203.0.113.80/28", 12, {}, []),
    ])  # fmt: skip
    assert [str(n) for n in removed_by(plan)] == ["100.64.0.0/30", "100.64.9.0/31", "203.0.113.64/28"]


def test_a_broken_rehearsal_breaks_the_plan_and_says_where():
    plan = _plan([])
    plan.lines = {"edge": ["router bgp 65000", " neighbor 100.64.0.6 remote-as 65301"], "core": []}
    plan.rehearsal = Rehearsal(routers=["core", "edge"], seconds={"total": 42.0})
    assert plan.ok and "OK to merge" in verdict(plan)
    assert "on a twin of 2 router(s) in 42 s: nothing breaks" in text(plan)
    plan.rehearsal.problems = {"edge": ["BGP session with 100.64.0.6 (cliente) is Active, not Established"]}
    plan.rehearsal.unreachable = {"core": ["203.0.113.0/28"]}
    assert not plan.ok and "the rehearsal breaks 2 router(s)" in verdict(plan)
    report = text(plan)
    assert "edge: BGP session with 100.64.0.6 (cliente) is Active, not Established" in report
    assert "core: no longer reaches 203.0.113.0/28" in report
    assert plan.to_dict()["rehearsal"]["ok"] is False


def _read(states: dict[str, dict]):
    from netoss.domain.gitops.rehearse import STATE_TASK
    from netoss.domain.jobs.playbooks import PlaybookRun

    events = [
        {"event": "runner_on_ok", "event_data": {"host": host, "task": STATE_TASK, "res": state}}
        for host, state in states.items()
    ]
    return PlaybookRun("playbooks/gitops_rehearse.yml", 0, "successful", 1.0, events)


def test_an_apply_waits_for_the_routes_to_come_back_and_fails_on_one_that_does_not(tmp_path):
    """After a push, a deployment reads the pushed routers' routing tables again until every
    prefix they had is back (but those the change removes), or fails naming what is missing."""
    from netoss.domain.gitops.apply import _routes_kept

    before = {"edge": _state(["203.0.113.0/28", "100.64.0.0/30", "203.0.113.64/28"], {})}
    reads = [
        _read({"edge": _state(["100.64.0.0/30"], {})}),  # the customer's session still coming up
        _read({"edge": _state(["100.64.0.0/30", "203.0.113.0/28"], {})}),  # back; .64/28 was removed
    ]
    logs: list[str] = []

    def run(*args, **kwargs):
        return reads.pop(0)

    removed = [ipaddress.ip_network("203.0.113.64/28")]
    kept = _routes_kept(run, tmp_path, before, removed, 30, env={}, inventory=None, workdir=tmp_path, log=logs.append,
                        interval=0)  # fmt: skip
    assert kept == {} and not reads and "nothing the change does not remove is lost" in logs[-1]
    never = lambda *a, **k: _read({"edge": _state(["100.64.0.0/30"], {})})  # noqa: E731
    lost = _routes_kept(never, tmp_path, before, removed, 0, env={}, inventory=None, workdir=tmp_path, log=logs.append)
    assert lost == {"edge": "no longer reaches 203.0.113.0/28"}
