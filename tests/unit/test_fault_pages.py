"""The fault pages (alarm list, ticket queue, ticket page with its timeline) and the ticket API's
life cycle rules, on SQLite with tickets made by the real processor."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import select

from netoss.data.db import db
from netoss.data.models import Job, Ticket, TicketNote, User
from netoss.domain.faults.events import Event
from netoss.domain.faults.processor import Processor, Settings
from netoss.domain.faults.topology import Topology
from netoss.web import create_app
from netoss.web.security import hash_password, new_token

REPO = Path(__file__).resolve().parents[2]
RECORDS = json.loads((Path(__file__).parent / "test_data" / "netbox_demo_records.json").read_text())
TOPO = Topology.from_records(RECORDS["devices"], RECORDS["interfaces"], RECORDS["ip_addresses"], RECORDS["circuits"])
PASSWORD = "correct horse battery"


@pytest.fixture
def app(tmp_path, monkeypatch):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.db'}", "SECRET_KEY": "t", "TESTING": True,
                      "JOB_TEMPLATES_DIR": str(REPO / "jobs")})  # fmt: skip
    monkeypatch.setattr("netoss.web.tmf._notify", lambda kind, ticket: None)
    with app.app_context():
        upgrade()
        for name, role in (("vera", "viewer"), ("otto", "operator"), ("erin", "engineer")):
            db.session.add(User(username=name, password_hash=hash_password(PASSWORD), role=role))
        db.session.commit()
        t0 = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30)
        proc = Processor(lambda: TOPO, Settings(ticket_hold=2))
        events = [
            Event(
                source="syslog", action="raise", device=d, object_type=k, object_name=n, condition=c, specific_problem=p
            )
            for d, k, n, c, p in (
                ("pe1", "interface", "eth3", "interface-down", "Interface eth3 down"),
                ("ce1", "interface", "eth1", "interface-down", "Interface eth1 down"),
                ("pe1", "bgp_session", "198.19.128.1", "bgp-session-down", "BGP session to 198.19.128.1 down"),
            )
        ]
        proc.ingest(events, now=t0)
        proc.tick(now=t0 + dt.timedelta(seconds=3))
    return app


def _sign_in(client, username):
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf})
    return client


def _csrf(client, path):
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def test_the_pages_show_alarms_tickets_and_the_timeline(app):
    client = _sign_in(app.test_client(), "vera")
    assert "Active alarms" in client.get("/alarms").get_data(as_text=True)
    queue = client.get("/tickets").get_data(as_text=True)
    assert "TT-000001" in queue and "Link down: ce1:eth1 - pe1:eth3 (ACME-AMS-0001)" in queue
    assert "TT-000001" not in client.get("/tickets?status=resolved").get_data(as_text=True)
    assert client.get("/tickets?status=bogus").status_code == 400
    page = client.get("/tickets/1").get_data(as_text=True)
    assert (
        "Interface eth3 down" in page
        and "raised (root cause, major)" in page
        and "acknowledged: opened from an alarm" in page
    )
    assert "Service: ACME-AMS-0001" in page and "Work on it" not in page  # a viewer only reads
    assert client.post("/tickets/1", data={"csrf_token": _csrf(client, "/tickets/1"), "note": "x"}).status_code == 403
    assert client.get("/tickets/99").status_code == 404


def test_an_operator_works_the_ticket_and_launches_a_remediation_from_it(app):
    client = _sign_in(app.test_client(), "otto")
    page = client.get("/tickets/1").get_data(as_text=True)
    link = re.search(r'href="(/jobs/new/config-push\?[^"]+)"', page)
    assert link is None  # config-push is for engineers: the operator is not offered it
    backup = re.search(r'href="(/jobs/new/backup\?[^"]+)"', page).group(1).replace("&amp;", "&")
    assert "ticket=1" in backup and "devices=pe1" in backup and "devices=ce1" in backup
    form = client.get(backup).get_data(as_text=True)
    assert 'name="ticket" value="1"' in form and "Launched from ticket" in form
    csrf = _csrf(client, "/tickets/1")
    bad = client.post("/tickets/1", data={"csrf_token": csrf, "status": "resolved", "reason": ""})
    assert bad.status_code == 400 and "statusChangeReason: say why" in bad.get_data(as_text=True)
    nobody = client.post("/tickets/1", data={"csrf_token": csrf, "assignee": "ghost"})
    assert "no active user" in nobody.get_data(as_text=True)
    ok = client.post("/tickets/1", data={"csrf_token": csrf, "status": "inProgress", "reason": "looking",
                                         "assignee": "otto", "note": "Called the customer"})  # fmt: skip
    assert ok.status_code == 302
    with app.app_context():
        t = db.session.get(Ticket, 1)
        assert (t.status, t.assignee) == ("inProgress", "otto")
        assert [n.text for n in db.session.scalars(select(TicketNote))] == ["Called the customer"]
    page = client.get("/tickets/1").get_data(as_text=True)
    assert "inProgress: looking" in page and "Called the customer" in page


def test_the_ticket_api_follows_the_life_cycle_and_links_launched_jobs(app, monkeypatch):
    monkeypatch.setattr("netoss.domain.jobs.queue.enqueuer", lambda app: lambda job, sealed: None)
    monkeypatch.setattr("netoss.domain.jobs.launch.netbox_choices", lambda param, values, wanted=None: ["pe1", "ce1"])
    with app.app_context():
        token = new_token(db.session.scalar(select(User).where(User.username == "erin")), "t")[1]
        db.session.commit()
    client = app.test_client()
    h = {"Authorization": f"Bearer {token}"}
    url = "/tmf-api/troubleTicket/v4/troubleTicket/TT-000001"
    assert client.patch(url, json={"status": "closed", "statusChangeReason": "x"}, headers=h).status_code == 409
    resolved = client.patch(url, json={"status": "resolved", "statusChangeReason": "fixed"}, headers=h).get_json()
    assert resolved["status"] == "resolved" and resolved["resolutionDate"]
    reopened = client.patch(url, json={"status": "inProgress", "statusChangeReason": "not fixed"}, headers=h).get_json()
    assert reopened["resolutionDate"] is None and reopened["netoss"]["reopenCount"] == 1
    assert client.get("/tmf-api/troubleTicket/v4/troubleTicket/nope", headers=h).status_code == 404
    launch = {"template": "config-push", "parameters": {"devices": ["pe1"]}, "check": True, "ticket": 1}
    job = client.post("/api/v1/jobs", json=launch, headers=h)
    assert job.status_code == 202 and job.get_json()["ticket"] == "TT-000001"
    missing = client.post("/api/v1/jobs", json={"template": "config-push", "ticket": 99}, headers=h)
    assert missing.status_code == 400 and "no ticket 99" in missing.get_json()["error"]
    with app.app_context():
        assert db.session.scalar(select(Job)).ticket_id == 1
    notes = client.get(url, headers=h).get_json()["note"]
    assert notes[-1]["text"].startswith("Job 1 (config-push in check mode, limit pe1) launched from this ticket")


def test_a_ticket_opened_by_hand_from_the_queue_page(app, monkeypatch):
    monkeypatch.setattr("netoss.web.tmf._netbox_device_id", lambda name, field="relatedEntity": 3)
    client = _sign_in(app.test_client(), "otto")
    csrf = _csrf(client, "/tickets")
    form = {
        "name": "Acme: slow",
        "severity": "major",
        "ticketType": "complaint",
        "devices": "pe1",
        "services": "ACME-AMS-0001",
    }
    resp = client.post("/tickets", data={"csrf_token": csrf, **form})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/tickets/2")
    with app.app_context():
        t = db.session.get(Ticket, 2)
        assert (t.name, t.severity, t.priority, t.ticket_type, t.device, t.created_by) == (
            "Acme: slow", "major", 2, "complaint", "pe1", "otto",
        )  # fmt: skip
        assert {(r["@referredType"], r["name"]) for r in t.related} == {("Device", "pe1"), ("Service", "ACME-AMS-0001")}
    empty = client.post("/tickets", data={"csrf_token": csrf, "name": ""})
    assert empty.status_code == 400 and "name" in empty.get_data(as_text=True)
    viewer = _sign_in(app.test_client(), "vera")
    assert viewer.post("/tickets", data={"csrf_token": _csrf(viewer, "/tickets"), "name": "x"}).status_code == 403


def test_the_timeline_has_the_devices_netbox_journal_read_through_the_netbox_client(app):
    """The ticket page reads its devices' NetBox journal around its time (a loopback NetBox),
    leaves out the ticket's own entries, and says so when NetBox refuses."""
    from netbox_fake import FakeNetBox

    with app.app_context():
        ticket = db.session.get(Ticket, 1)
        ids = sorted(str(r["id"]) for r in ticket.related if r["@referredType"] == "Device")
        first = next(r for r in ticket.related if r["@referredType"] == "Device")
    at = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
    with FakeNetBox() as fake:
        app.config.update(NETBOX_URL=fake.url, NETBOX_TOKEN=fake.token)
        fake.journal = [
            {"id": 9, "created": at, "assigned_object_id": int(first["id"]), "comments": "Configuration pushed\n+ line",
             "display_url": f"{fake.url}/extras/journal-entries/9/"},
            {"id": 10, "created": at, "assigned_object_id": int(first["id"]), "comments": "**TT-000001** opened: x"},
        ]  # fmt: skip
        page = _sign_in(app.test_client(), "vera").get("/tickets/1").get_data(as_text=True)
        (asked,) = fake.asked("/api/extras/journal-entries/")
    assert f"{first['name']}: Configuration pushed" in page and f"{fake.url}/extras/journal-entries/9/" in page
    assert "**TT-000001** opened" not in page
    assert sorted(asked["query"]["assigned_object_id"]) == ids and asked["auth"] == f"Bearer {fake.token}"
    with FakeNetBox() as refusing:
        refusing.refuse_reads = 401
        app.config.update(NETBOX_URL=refusing.url, NETBOX_TOKEN=refusing.token)
        page = _sign_in(app.test_client(), "vera").get("/tickets/1").get_data(as_text=True)
    assert f"NetBox&#39;s journal could not be read: NetBox at {refusing.url} rejected the token" in page


def test_clearing_an_alarm_by_hand_says_whether_the_processor_applied_it(app, monkeypatch):
    """PATCH state=cleared queues a clear for the fault processor and waits for it: 200 and the
    cleared alarm once applied; 202 and the alarm as it still is when the processor is behind
    (not a 200 that reads as done while the alarm is still raised)."""
    with app.app_context():
        token = new_token(db.session.scalar(select(User).where(User.username == "erin")), "t")[1]
        db.session.commit()
    client, h = app.test_client(), {"Authorization": f"Bearer {token}"}
    alarms = client.get("/tmf-api/alarmManagement/v4/alarm", query_string={"state": "active"}, headers=h).get_json()
    first, second = (a["id"] for a in alarms[:2])
    url = "/tmf-api/alarmManagement/v4/alarm/"
    monkeypatch.setattr("netoss.web.tmf._WAIT_SECONDS", 0.3)
    monkeypatch.setattr("netoss.web.tmf._queue", lambda event: None)  # a processor that is behind
    behind = client.patch(url + first, json={"state": "cleared"}, headers=h)
    assert behind.status_code == 202 and behind.get_json()["state"] != "cleared", behind.get_json()
    proc = Processor(lambda: TOPO, Settings())
    monkeypatch.setattr("netoss.web.tmf._queue", lambda event: proc.ingest([event]))  # one that keeps up
    done = client.patch(url + second, json={"state": "cleared"}, headers=h)
    assert done.status_code == 200 and done.get_json()["state"] == "cleared", done.get_json()
    # The same problem again (a new alarm, the cleared one in its history): a clear that is
    # behind is still 202, not the older cleared alarm's 200.
    cleared = done.get_json()["alarmedObject"]["name"].split(" ", 1)
    with app.app_context():
        kind = "bgp_session" if "." in cleared[1] else "interface"
        again = Event(source="syslog", action="raise", device=cleared[0], object_type=kind, object_name=cleared[1],
                      condition=done.get_json()["netoss"]["condition"], specific_problem="again")  # fmt: skip
        proc.ingest([again], now=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10))
    third = next(
        a["id"]
        for a in client.get("/tmf-api/alarmManagement/v4/alarm", query_string={"state": "active"}, headers=h).get_json()
        if a["specificProblem"] == "again"
    )
    monkeypatch.setattr("netoss.web.tmf._queue", lambda event: None)
    late = client.patch(url + third, json={"state": "cleared"}, headers=h)
    assert late.status_code == 202 and late.get_json()["state"] != "cleared", late.get_json()
