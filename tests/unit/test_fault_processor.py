"""Events to alarms to tickets, on the portal's tables (in PostgreSQL, the stack's engine: the
session's own cluster, tests/unit/postgres_cluster.py) and the demo's NetBox records."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from netoss.data.db import db
from netoss.data.models import Alarm, AlarmEvent, Deployment, Job, Ticket, TicketStatusChange
from netoss.domain.faults.events import Event
from netoss.domain.faults.processor import Processor, Settings
from netoss.domain.faults.topology import Topology
from netoss.web import create_app

RECORDS = json.loads((Path(__file__).parent / "test_data" / "netbox_demo_records.json").read_text())
T0 = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
TOPO = Topology.from_records(RECORDS["devices"], RECORDS["interfaces"], RECORDS["ip_addresses"], RECORDS["circuits"])


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


@pytest.fixture
def app(postgres):
    app = create_app({"SQLALCHEMY_DATABASE_URI": postgres.database(), "SECRET_KEY": "t", "TESTING": True})
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def notified():
    return []


@pytest.fixture
def proc(app, notified):
    return Processor(
        lambda: TOPO,
        Settings(ticket_hold=2, reopen_window=600, flap_count=3, flap_window=60, flap_hold=30),
        on_ticket=lambda kind, ticket, info: notified.append((kind, ticket.ref)),
        changing_templates=lambda: {"config-push"},
    )


def ev(action, device, kind, name, condition, **kw):
    source, problem = kw.pop("source", "syslog"), kw.pop("problem", condition)
    return Event(source=source, action=action, device=device, object_type=kind,
                 object_name=name, condition=condition, specific_problem=problem, **kw)  # fmt: skip


LINK_DOWN = [
    ev("raise", "pe1", "bgp_session", "198.19.128.1", "bgp-session-down", problem="BGP session to 198.19.128.1 down"),
    ev("raise", "pe1", "interface", "eth3", "interface-down", problem="Interface eth3 down"),
    ev("raise", "ce1", "interface", "eth1", "interface-down", problem="Interface eth1 down"),
    ev("raise", "ce1", "bgp_session", "198.19.128.0", "bgp-session-down", problem="BGP session to 198.19.128.0 down"),
    ev("raise", "pe1", "interface", "eth3", "interface-down", problem="Interface eth3 down"),  # zebra says it twice
]
LINK_UP = [ev("clear", e.device, e.object_type, e.object_name, e.condition) for e in LINK_DOWN[:4]]


def _open():
    return list(db.session.scalars(select(Ticket).where(Ticket.status.in_(("acknowledged", "inProgress")))))


def test_a_link_down_is_one_ticket_naming_its_sessions_and_services_and_it_resolves_itself(proc, notified):
    out = proc.ingest(LINK_DOWN, now=at(0))
    assert out.stored == 5 and not out.rejected
    alarms = list(db.session.scalars(select(Alarm)))
    assert len(alarms) == 4  # deduplicated: pe1 eth3 twice is one alarm, twice occurred
    assert next(a for a in alarms if a.object_name == "eth3").occurrences == 2
    proc.tick(now=at(0.5))
    assert not _open()  # held: the rest of the problem may still be arriving
    root = db.session.scalar(select(Alarm).where(Alarm.is_root_cause.is_(True)))
    assert (root.device, root.object_name) == ("pe1", "eth3") and root.correlation == "link ce1:eth1 pe1:eth3"
    assert root.service_affecting and root.affected_services[0]["name"] == "ACME-AMS-0001"
    report = proc.tick(now=at(2.5))
    assert report["opened"] == 1
    (ticket,) = _open()
    assert ticket.ref == "TT-000001" and ticket.severity == "major" and ticket.priority == 2
    assert ticket.name == "Link down: ce1:eth1 - pe1:eth3 (ACME-AMS-0001)"
    assert ticket.expected_resolution_at.replace(tzinfo=dt.UTC) == at(2.5) + dt.timedelta(hours=8)
    kinds = {(r["@referredType"], r["name"]) for r in ticket.related}
    assert ("BgpSession", "pe1 -> 198.19.128.1 (ce1)") in kinds and ("BgpSession", "ce1 -> 198.19.128.0 (pe1)") in kinds
    assert ("Service", "ACME-AMS-0001") in kinds and ("Device", "ce1") in kinds and ("Device", "pe1") in kinds
    assert "Customer services: ACME-AMS-0001 (Acme Corp)" in ticket.description
    assert {a.ticket_id for a in db.session.scalars(select(Alarm))} == {ticket.id}
    proc.tick(now=at(3))
    assert len(_open()) == 1  # one ticket, not one per tick
    # The link comes back: alarms clear, the ticket resolves by itself.
    proc.ingest(LINK_UP[:2], now=at(10))
    proc.tick(now=at(10.5))
    assert _open()  # two alarms still active
    proc.ingest(LINK_UP[2:], now=at(11))
    assert proc.tick(now=at(11.5))["resolved"] == 1
    db.session.refresh(ticket)
    assert ticket.status == "resolved" and ticket.status_reason == "all its alarms cleared"
    assert [c.status for c in db.session.scalars(select(TicketStatusChange).order_by(TicketStatusChange.id))] == [
        "acknowledged",
        "resolved",
    ]
    assert notified == [("opened", "TT-000001"), ("resolved", "TT-000001")]
    # It recurs within the reopen window: the same ticket reopens.
    proc.ingest(LINK_DOWN[1:3], now=at(100))
    assert proc.tick(now=at(103))["reopened"] == 1
    db.session.refresh(ticket)
    assert ticket.status == "inProgress" and ticket.reopen_count == 1
    assert ticket.name == "Link down: ce1:eth1 - pe1:eth3 (ACME-AMS-0001)"  # named after its root cause
    assert db.session.scalar(select(db.func.count(Ticket.id))) == 1
    assert db.session.scalar(select(db.func.count(AlarmEvent.id))) == 5 + 4 + 2


def test_a_flapping_interface_is_one_alarm_until_it_stays_up(proc):
    for i in range(5):
        proc.ingest([ev("raise", "p1", "interface", "eth2", "interface-down")], now=at(i * 4))
        proc.ingest([ev("clear", "p1", "interface", "eth2", "interface-down")], now=at(i * 4 + 1))
    alarms = list(db.session.scalars(select(Alarm)))
    # The first two flaps make alarms of their own; from the third raise it is one flapping alarm.
    flapping = [a for a in alarms if a.flapping]
    assert len(flapping) == 1 and flapping[0].active_key is not None and flapping[0].occurrences == 3
    assert len(alarms) == 3
    proc.tick(now=at(30))
    assert db.session.get(Alarm, flapping[0].id).active_key is not None  # still within the hold
    proc.tick(now=at(17 + 31))
    assert db.session.get(Alarm, flapping[0].id).state == "cleared"


def test_a_batch_tried_again_after_a_failure_is_not_taken_for_a_flap(proc, monkeypatch):
    """The stream consumer tries a failing batch twice, then entry by entry: the raises of the
    attempts that were rolled back must not count towards damping (the alarm was marked
    flapping, and its clear by hand then waited the flap hold)."""
    raise_ = ev("raise", "p1", "interface", "eth2", "interface-down")
    real_commit = db.session.commit

    def failing_commit():
        raise RuntimeError("the database refused the batch")

    monkeypatch.setattr(db.session, "commit", failing_commit)
    for _attempt in range(3):
        with pytest.raises(RuntimeError):
            proc.ingest([raise_], now=at(0))
        db.session.rollback()
    monkeypatch.setattr(db.session, "commit", real_commit)
    proc.ingest([raise_], now=at(1))
    (alarm,) = db.session.scalars(select(Alarm)).all()
    assert not alarm.flapping and alarm.occurrences == 1
    proc.ingest([ev("clear", "p1", "interface", "eth2", "interface-down")], now=at(2))
    assert db.session.get(Alarm, alarm.id).state == "cleared"  # at once: no damped clear


def test_repeated_raises_of_an_active_alarm_are_occurrences_not_flaps(proc):
    for i in range(4):  # syslog, then a health check, then syslog again: the same condition, still down
        proc.ingest([ev("raise", "pe2", "interface", "eth3", "interface-down")], now=at(i))
    proc.ingest([ev("clear", "pe2", "interface", "eth3", "interface-down")], now=at(5))
    (alarm,) = db.session.scalars(select(Alarm)).all()
    assert alarm.occurrences == 4 and not alarm.flapping and alarm.state == "cleared"


def test_bad_and_unknown_events_are_rejected_with_a_reason(proc):
    out = proc.ingest(
        [
            ev("raise", "nope", "interface", "eth1", "interface-down"),
            ev("explode", "pe1", "interface", "eth1", "interface-down"),
            ev("raise", "pe1", "interface", "eth1|x", "interface-down"),
            ev("raise", "pe1", "interface", "eth1", "interface-down", severity="catastrophic"),
        ],
        now=at(0),
    )
    assert out.stored == 0 and out.rejected == {"unknown_device": 1, "invalid_field": 3}
    assert not db.session.scalars(select(Alarm)).all()


def test_an_alarm_soon_after_a_push_names_the_job(proc):
    db.session.add(Job(template="config-push", parameters={}, created_by="alice", limit="pe1,pe2", status="successful",
                       started_at=at(-40), finished_at=at(-20)))  # fmt: skip
    db.session.add(Job(template="config-push", parameters={}, created_by="bob", limit="p1", status="successful",
                       started_at=at(-30), finished_at=at(-10)))  # fmt: skip
    db.session.commit()
    proc.ingest([ev("raise", "pe1", "interface", "eth3", "interface-down")], now=at(0))
    alarm = db.session.scalar(select(Alarm))
    assert alarm.job_id == 1
    assert alarm.details["probable_cause_job"] == "job 1 (config-push by alice) changed pe1 20 s earlier"
    proc.tick(now=at(3))
    (ticket,) = _open()
    assert "Probable cause: job 1 (config-push by alice) changed pe1 20 s earlier." in ticket.description
    assert any(r["@referredType"] == "Job" and r["id"] == "1" for r in ticket.related)


def test_an_alarm_during_a_gitops_deployment_names_it_on_the_devices_it_changes(app, notified):
    """A deployment's job locks every device (no limit) but changes those its plan touches: an
    alarm on one of them names the deployment (commit and author) as its probable cause; one on
    another device does not."""
    proc = Processor(
        lambda: TOPO, Settings(ticket_hold=2, reopen_window=600), changing_templates=lambda: {"gitops-apply"}
    )
    job = Job(template="gitops-apply", parameters={}, created_by="github:erin", status="running", started_at=at(-15))
    db.session.add(job)
    db.session.flush()
    deployment = Deployment(repository="acme/intent", sha="c0ffee" + "0" * 34, author="Erin Engineer",
                            status="running", created_by="github:erin", job_id=job.id, devices=["pe1"])  # fmt: skip
    db.session.add(deployment)
    db.session.commit()
    proc.ingest([ev("raise", "pe1", "interface", "eth3", "interface-down"),
                 ev("raise", "p2", "interface", "eth1", "interface-down")], now=at(0))  # fmt: skip
    on_pe1, on_p2 = (db.session.scalar(select(Alarm).where(Alarm.device == d)) for d in ("pe1", "p2"))
    assert on_pe1.job_id == job.id and on_pe1.details["probable_cause_deployment"] == deployment.id
    assert on_pe1.details["probable_cause_job"] == (
        f"GitOps deployment {deployment.id} of c0ffee000000 by Erin Engineer (job {job.id}) is changing pe1"
    )
    assert on_p2.job_id is None and "probable_cause_deployment" not in on_p2.details
    proc.tick(now=at(3))
    ticket = next(t for t in _open() if t.device == "pe1")
    assert any(r["@referredType"] == "Deployment" and r["id"] == str(deployment.id) for r in ticket.related)


def test_minor_alarms_open_no_ticket(proc):
    proc.ingest([ev("raise", "p1", "ospf_adjacency", "eth9", "ospf-adjacency-down", severity="minor")], now=at(0))
    proc.tick(now=at(5))
    assert not _open()


def test_a_maintenance_window_over_a_device_makes_its_alarms_planned_and_opens_no_ticket(proc):
    from netoss.domain.faults import maintenance
    from netoss.domain.faults.tmf import alarm_json

    window = maintenance.create("eng", "swap pe1's optics", ["pe1"], [], at(-60), at(120))
    db.session.commit()
    proc.ingest(LINK_DOWN, now=at(0))
    for t in (0.5, 2.5, 5, 60):
        assert proc.tick(now=at(t))["opened"] == 0
    assert not _open()
    alarms = list(db.session.scalars(select(Alarm)))
    # pe1's alarms by its device; ce1's too: they affect the same service through the link's root.
    planned = {(a.device, a.object_name): a.planned_outage for a in alarms}
    assert planned[("pe1", "eth3")] and planned[("pe1", "198.19.128.1")]
    assert alarm_json(next(a for a in alarms if a.object_name == "eth3"))["plannedOutageIndicator"] == "OutOfService"
    # The window ends with the link still down: the change overran, the problem is ticketed.
    maintenance.end(window, at(90))
    db.session.commit()
    assert proc.tick(now=at(91))["opened"] == 1
    (ticket,) = _open()
    assert ticket.name == "Link down: ce1:eth1 - pe1:eth3 (ACME-AMS-0001)"
    assert not any(a.planned_outage for a in db.session.scalars(select(Alarm).where(Alarm.device == "pe1")))


def test_a_maintenance_window_over_a_service_covers_the_alarms_that_affect_it(proc):
    from netoss.domain.faults import maintenance

    maintenance.create("eng", "re-home Acme", [], ["ACME-AMS-0001"], at(-1), at(600))
    maintenance.create("eng", "elsewhere, later", ["pe1", "ce1"], [], at(1000), at(2000))
    db.session.commit()
    proc.ingest(LINK_DOWN, now=at(0))
    proc.tick(now=at(0.5))
    assert proc.tick(now=at(5))["opened"] == 0
    root = db.session.scalar(select(Alarm).where(Alarm.is_root_cause.is_(True)))
    assert root.planned_outage and root.affected_services[0]["name"] == "ACME-AMS-0001"


def test_a_problem_ticketed_before_its_window_keeps_its_ticket(proc):
    from netoss.domain.faults import maintenance

    proc.ingest(LINK_DOWN, now=at(0))
    proc.tick(now=at(0.5))
    assert proc.tick(now=at(2.5))["opened"] == 1
    maintenance.create("eng", "late window", ["pe1", "ce1"], [], at(3), at(600))
    db.session.commit()
    proc.tick(now=at(4))
    assert len(_open()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("", ["pe1"], [], at(0), at(60)), "name: 1 to 200 printable characters"),
        (("x", [], [], at(0), at(60)), "a window needs devices or services"),
        (("x", ["pe1"], [], at(60), at(0)), "is not after starts_at"),
        (("x", ["pe1"], [], at(0), at(86400 * 8)), "at most 7 days"),
        (("x", ["pe1\nce1"], [], at(0), at(60)), "is not a name"),
    ],
)
def test_a_bad_maintenance_window_is_refused_naming_why(app, args, message):
    from netoss.domain.faults import maintenance

    with pytest.raises(maintenance.WindowError, match=message):
        maintenance.create("eng", *args)
    with pytest.raises(maintenance.WindowError, match="not in NetBox: device 'pe9'"):
        maintenance.create("eng", "x", ["pe9"], [], at(0), at(60), known=lambda d, s: ["device 'pe9'"])


def test_a_planned_change_is_a_maintenance_window_over_its_devices_while_it_runs(app):
    """A job of a template with maintenance_window that changes devices opens a window over
    them when its run starts and closes it (after a grace) when it ends; a check-mode run or a
    template without it opens none (the signals, as the worker sends them)."""
    from netoss.data.models import MaintenanceWindow
    from netoss.domain import wiring
    from netoss.domain.faults import maintenance
    from netoss.domain.jobs import signals

    wiring.connect()
    job = Job(template="config-push", parameters={}, created_by="alice", limit="pe1,ce1", status="running")
    other = Job(template="backup", parameters={}, created_by="bob", limit="p1", status="running")
    db.session.add_all([job, other])
    db.session.commit()
    signals.started(job, ["ce1", "pe1"], True)
    signals.started(other, ["p1"], False)
    (window,) = db.session.scalars(select(MaintenanceWindow)).all()
    assert (window.devices, window.source, window.job_id) == (["ce1", "pe1"], "job", job.id)
    now = dt.datetime.now(dt.UTC)
    assert maintenance.covered("pe1", [], maintenance.active(now + dt.timedelta(hours=1)))
    signals.ended(job)
    db.session.refresh(window)
    ends = window.ended_at.replace(tzinfo=dt.UTC) if window.ended_at.tzinfo is None else window.ended_at
    assert now < ends <= dt.datetime.now(dt.UTC) + maintenance.JOB_GRACE
    assert not maintenance.active(dt.datetime.now(dt.UTC) + maintenance.JOB_GRACE + dt.timedelta(seconds=1))


QOS_LOSS = ev(
    "raise",
    "pe1",
    "interface",
    "eth3",
    "sla-loss",
    source="alertmanager",
    alarm_type="qualityOfServiceAlarm",
    probable_cause="performanceDegraded",
    problem="sla-loss: service ACME-AMS-0001 (Acme Corp) above the service's objective (loss_ratio)",
)


def test_a_qos_alarm_on_an_access_link_is_ticketed_as_what_it_is_not_as_a_link_down(proc):
    proc.ingest([QOS_LOSS], now=at(0))
    assert proc.tick(now=at(2.5))["opened"] == 1
    (ticket,) = _open()
    assert ticket.name.startswith("pe1 eth3: sla-loss: service ACME-AMS-0001 (Acme Corp)"), ticket.name
    assert ticket.name.endswith("(ACME-AMS-0001)")


def test_a_link_down_is_a_more_fundamental_root_than_a_qos_alarm_on_the_same_link(proc):
    """The loss came first, then the link went down: the link is the root cause and names the
    ticket; the same when the link breaks again after the loss's ticket resolved (a recurrence)."""
    proc.ingest([QOS_LOSS], now=at(0))
    proc.tick(now=at(2.5))
    proc.ingest(LINK_DOWN[1:3], now=at(5))
    proc.tick(now=at(8))
    (ticket,) = _open()
    assert ticket.name == "Link down: ce1:eth1 - pe1:eth3 (ACME-AMS-0001)"
    root = db.session.get(Alarm, ticket.root_alarm_id)
    assert root.condition == "interface-down"
    # Everything clears, the ticket resolves; the link breaks again: reopened, named by the link.
    proc.ingest([ev("clear", "pe1", "interface", "eth3", "sla-loss", source="alertmanager")], now=at(10))
    proc.ingest(LINK_UP[1:3], now=at(10))
    assert proc.tick(now=at(11))["resolved"] == 1
    db.session.refresh(ticket)
    assert ticket.status == "resolved"


def test_a_link_down_after_a_loss_ticket_resolved_reopens_it_under_the_link(proc):
    proc.ingest([QOS_LOSS], now=at(0))
    proc.tick(now=at(2.5))
    proc.ingest([ev("clear", "pe1", "interface", "eth3", "sla-loss", source="alertmanager")], now=at(10))
    assert proc.tick(now=at(11))["resolved"] == 1
    proc.ingest(LINK_DOWN[1:3], now=at(100))
    assert proc.tick(now=at(103))["reopened"] == 1
    (ticket,) = _open()
    assert ticket.name == "Link down: ce1:eth1 - pe1:eth3 (ACME-AMS-0001)"
    assert db.session.get(Alarm, ticket.root_alarm_id).condition == "interface-down"
