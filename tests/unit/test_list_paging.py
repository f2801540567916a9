"""The lists the database filters, counts and pages, on PostgreSQL (tests/unit/postgres_cluster.py):
alarms (TMF642), tickets (TMF621) and jobs in the API (offset, limit, X-Total-Count, their
filters; a bad one is a 400 naming it) and in the pages (counts, page links that keep the
filters); the pages of a list add up to the list, whatever the page size; a page costs the same
number of queries however long it is; the indexes the lists need exist."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from portal_users import PASSWORD, add_users_with_tokens
from sqlalchemy import event, insert, text

from netoss.data.db import db
from netoss.data.models import TICKET_OPEN, TICKET_STATES, Alarm, AlarmEvent, Job, Ticket, TicketNote
from netoss.domain.faults.events import SEVERITIES
from netoss.web import create_app

ALARMS = "/tmf-api/alarmManagement/v4/alarm"
TICKETS = "/tmf-api/troubleTicket/v4/troubleTicket"
JOBS = "/api/v1/jobs"
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
NODES = [f"node-{i}" for i in (1, 2, 3, 10, 11)]  # node-1 is in node-10 and node-11: a filter must not mix them


def _alarms():
    out = []
    for i in range(1, 262):
        active = i % 3 != 0
        problem = f"Interface eth{i} down" if i % 10 else f"Path loss 100% on link {i}"
        out.append(
            {
                "id": i,
                "fingerprint": f"fp{i}",
                "active_key": f"fp{i}" if active else None,
                "state": "raised" if active else "cleared",
                "ack_state": "acknowledged" if i % 5 == 0 else "unacknowledged",
                "alarm_type": "communicationsAlarm",
                "severity": SEVERITIES[i % len(SEVERITIES)],
                "probable_cause": "linkDown",
                "specific_problem": problem,
                "device": NODES[i % len(NODES)],
                "object_type": "interface",
                "object_name": f"eth{i}",
                "condition": "interface-down",
                "source": "syslog",
                "raised_at": T0,
                "changed_at": T0,
                "occurrences": 1,
                "flapping": False,
                "is_root_cause": i % 4 != 0,
                "service_affecting": False,
                "affected_services": [],
                "details": {},
            }
        )
    return out


def _tickets():
    out = []
    for i in range(1, 134):
        name = f"Link down {i}" if i % 20 else f"50%_off on {i}"
        updated = T0 + dt.timedelta(minutes=(i * 37) % 133)  # not the id's order
        out.append(
            {
                "id": i,
                "name": name,
                "description": "",
                "severity": SEVERITIES[i % 4],
                "priority": 2,
                "ticket_type": "alarm" if i % 2 else "complaint",
                "status": TICKET_STATES[i % len(TICKET_STATES)],
                "created_at": T0,
                "updated_at": updated,
                "created_by": "netoss",
                "assignee": "ana" if i % 3 == 0 else None,
                "device": NODES[i % len(NODES)],
                "related": [],
                "reopen_count": 0,
            }
        )
    return out


def _jobs():
    out = []
    for i in range(1, 122):
        limit = ",".join(NODES[(i + j) % len(NODES)] for j in range(i % 4)) or None
        out.append(
            {
                "id": i,
                "template": "backup" if i % 2 else "push",
                "parameters": {},
                "check_mode": False,
                "limit": limit,
                "status": ("successful", "failed", "pending")[i % 3],
                "created_by": "otto",
                "created_at": T0,
                "event_count": 0,
            }
        )
    return out


ALARM_ROWS, TICKET_ROWS, JOB_ROWS = _alarms(), _tickets(), _jobs()


@pytest.fixture(scope="module")
def app(postgres):
    app = create_app({"SQLALCHEMY_DATABASE_URI": postgres.database(), "SECRET_KEY": "t", "TESTING": True})
    with app.app_context():
        tokens = add_users_with_tokens()
        db.session.execute(insert(Alarm), ALARM_ROWS)
        db.session.execute(insert(Ticket), TICKET_ROWS)
        db.session.execute(insert(Job), JOB_ROWS)
        # Children, comments and notes, which a page reads in one query each.
        db.session.execute(text("UPDATE alarms SET parent_id = id - 1 WHERE id % 4 = 0"))
        db.session.add_all([AlarmEvent(alarm_id=i, source="api", action="comment", text=f"c{i}") for i in (8, 9)])
        db.session.add_all([TicketNote(ticket_id=i, author="ana", text=f"n{i}") for i in (5, 6)])
        db.session.commit()
        app.config["TOKENS"] = tokens
    yield app  # each request has an app context of its own (and its own g)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _get(app, url, role="viewer"):
    with app.app_context():
        return app.test_client().get(url, headers={"Authorization": f"Bearer {app.config['TOKENS'][role]}"})


def _walk(app, url, size):
    """Every page of ``url`` (limit ``size``): the ids, and each page's X-Total-Count."""
    ids, totals, offset = [], set(), 0
    for _ in range(1000):
        resp = _get(app, f"{url}{'&' if '?' in url else '?'}limit={size}&offset={offset}")
        assert resp.status_code == 200, resp.get_json()
        totals.add(int(resp.headers["X-Total-Count"]))
        rows = resp.get_json()
        ids += [str(r["id"]) for r in rows]
        if len(rows) < size:
            return ids, totals
        offset += size
    raise AssertionError("no last page")


def _alarm_ids(keep):
    return [str(a["id"]) for a in sorted(ALARM_ROWS, key=lambda a: -a["id"]) if keep(a)]


@pytest.mark.parametrize(
    ("query", "keep"),
    [
        ("", lambda a: True),
        ("state=active", lambda a: a["active_key"]),
        ("state=cleared", lambda a: a["state"] == "cleared"),
        ("perceivedSeverity=major&state=active", lambda a: a["severity"] == "major" and a["active_key"]),
        ("device=node-1", lambda a: a["device"] == "node-1"),
        ("isRootCause=false", lambda a: not a["is_root_cause"]),
        ("ackState=acknowledged", lambda a: a["ack_state"] == "acknowledged"),
        ("q=ETH1", lambda a: "eth1" in a["specific_problem"].lower() or "eth1" in a["object_name"]),
        ("q=100%25", lambda a: "100%" in a["specific_problem"]),
        ("q=_", lambda a: "_" in a["specific_problem"] + a["object_name"]),
    ],
)
def test_the_alarm_pages_add_up_to_the_list(app, query, keep):
    expected = _alarm_ids(keep)
    for size in (1000, 37):
        ids, totals = _walk(app, f"{ALARMS}?{query}", size)
        assert ids == expected and totals == {len(expected)}


def _ticket_ids(keep):
    rows = sorted(TICKET_ROWS, key=lambda t: (t["updated_at"], t["id"]), reverse=True)
    return [f"TT-{t['id']:06d}" for t in rows if keep(t)]


@pytest.mark.parametrize(
    ("query", "keep"),
    [
        ("", lambda t: True),
        ("status=open", lambda t: t["status"] in TICKET_OPEN),
        ("status=closed&severity=critical", lambda t: t["status"] == "closed" and t["severity"] == "critical"),
        ("assignee=ana&device=node-10", lambda t: t["assignee"] == "ana" and t["device"] == "node-10"),
        ("ticketType=complaint", lambda t: t["ticket_type"] == "complaint"),
        ("q=50%25_", lambda t: "50%_" in t["name"]),
        ("q=link+DOWN", lambda t: "link down" in t["name"].lower()),
    ],
)
def test_the_ticket_pages_add_up_to_the_queue_in_its_order(app, query, keep):
    expected = _ticket_ids(keep)
    for size in (1000, 17):
        ids, totals = _walk(app, f"{TICKETS}?{query}", size)
        assert ids == expected and totals == {len(expected)}


def test_jobs_by_device_name_it_whole(app):
    ids, totals = _walk(app, f"{JOBS}?device=node-1", 500)
    expected = [str(j["id"]) for j in reversed(JOB_ROWS) if j["limit"] and "node-1" in j["limit"].split(",")]
    assert ids == expected and totals == {len(expected)} and expected
    ids, totals = _walk(app, f"{JOBS}?status=failed&template=push", 7)
    expected = [str(j["id"]) for j in reversed(JOB_ROWS) if j["status"] == "failed" and j["template"] == "push"]
    assert ids == expected and totals == {len(expected)}


@pytest.mark.parametrize("url", [ALARMS, TICKETS, JOBS])
def test_the_edges_of_a_list(app, url):
    total = int(_get(app, url).headers["X-Total-Count"])
    assert total > 100
    last = _get(app, f"{url}?offset={total - 1}&limit=5")
    assert len(last.get_json()) == 1 and last.headers["X-Total-Count"] == str(total)
    for offset in (total, 10_000_000):
        past = _get(app, f"{url}?offset={offset}")
        assert (past.status_code, past.get_json(), past.headers["X-Total-Count"]) == (200, [], str(total))
    assert len(_get(app, f"{url}?limit=1").get_json()) == 1
    nothing = _get(app, f"{url}?device=no-such-device")
    assert (nothing.get_json(), nothing.headers["X-Total-Count"]) == ([], "0")


@pytest.mark.parametrize(
    ("url", "named"),
    [
        (f"{ALARMS}?limit=0", "limit"),
        (f"{ALARMS}?limit=1001", "limit"),
        (f"{ALARMS}?offset=-1", "offset"),
        (f"{ALARMS}?offset=10000001", "offset"),
        (f"{ALARMS}?offset=ten", "offset"),
        (f"{ALARMS}?perceivedSeverity=bad", "perceivedSeverity"),
        (f"{ALARMS}?isRootCause=yes", "isRootCause"),
        (f"{ALARMS}?ackState=maybe", "ackState"),
        (f"{ALARMS}?state=up", "state"),
        (f"{ALARMS}?alarmType=odd", "alarmType"),
        (f"{ALARMS}?ticket=42x", "ticket"),
        (f"{ALARMS}?q={'x' * 101}", "q"),
        (f"{TICKETS}?status=gone", "status"),
        (f"{TICKETS}?severity=bad", "severity"),
        (f"{TICKETS}?limit=-3", "limit"),
        (f"{TICKETS}?q={'x' * 101}", "q"),
        (f"{JOBS}?status=done", "status"),
        (f"{JOBS}?limit=501", "limit"),
        (f"{JOBS}?offset=1.5", "offset"),
        (f"{JOBS}?device={'d' * 256}", "device"),
        (f"/api/v1/compliance/overview?device={'d' * 65}", "device"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(app, url, named):
    resp = _get(app, url)
    assert resp.status_code == 400
    assert resp.get_json()["error"].startswith(named + " ")


def test_a_page_costs_the_same_queries_however_long(app):
    def statements(url):
        seen = []
        with app.app_context():
            engine = db.engine
        listener = lambda *args: seen.append(args[2])  # noqa: E731 - (conn, cursor, statement, ...)
        event.listen(engine, "before_cursor_execute", listener)
        try:
            assert _get(app, url).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(seen)

    for url in (ALARMS, TICKETS, JOBS):
        assert statements(f"{url}?limit=2") == statements(f"{url}?limit=200")


def _sign_in(app, username="vera"):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf})
    return client


def test_the_pages_count_and_link_to_the_other_pages(app):
    client = _sign_in(app)
    open_major = [t for t in TICKET_ROWS if t["status"] in TICKET_OPEN and t["severity"] == "major"]
    first = client.get("/tickets?severity=major&limit=5").get_data(as_text=True)
    assert f"1-5 of {len(open_major)}" in first
    assert first.count('href="/tickets/') == 5
    assert 'href="/tickets?severity=major&amp;limit=5&amp;offset=5" rel="next"' in first
    assert 'rel="prev"' not in first
    last_offset = ((len(open_major) - 1) // 5) * 5
    assert f'href="/tickets?severity=major&amp;limit=5&amp;offset={last_offset}" rel="last"' in first
    last = client.get(f"/tickets?severity=major&limit=5&offset={last_offset}").get_data(as_text=True)
    assert f"{last_offset + 1}-{len(open_major)} of {len(open_major)}" in last and 'rel="next"' not in last
    assert 'href="/tickets?severity=major&amp;limit=5" rel="first"' in last
    every = client.get("/tickets?status=any&limit=500").get_data(as_text=True)
    assert f"1-{len(TICKET_ROWS)} of {len(TICKET_ROWS)}" in every
    jobs = client.get("/jobs?device=node-10&limit=10").get_data(as_text=True)
    with_node = [j for j in JOB_ROWS if j["limit"] and "node-10" in j["limit"].split(",")]
    assert f"1-10 of {len(with_node)}" in jobs and 'offset=10" rel="next"' in jobs
    alarms = client.get("/alarms?perceivedSeverity=major&offset=100").get_data(as_text=True)
    assert 'data-offset="100"' in alarms and "<option selected>major</option>" in alarms
    for url, named in (
        ("/tickets?offset=-1", "offset"),
        ("/tickets?limit=501", "limit"),
        ("/tickets?severity=bad", "severity"),
        ("/tickets?status=gone", "status"),
        ("/jobs?status=done", "status"),
        ("/jobs?offset=x", "offset"),
        ("/alarms?perceivedSeverity=bad", "perceivedSeverity"),
        ("/alarms?limit=0", "limit"),
    ):
        resp = client.get(url)
        assert resp.status_code == 400 and f"{named} must" in resp.get_data(as_text=True), url


def test_the_lists_indexes_are_in_postgresql(app):
    with app.app_context(), db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), db.metadata) == []
        names = set(conn.scalars(text("SELECT indexname FROM pg_indexes WHERE tablename IN ('alarms', 'tickets')")))
    assert {
        "ix_alarms_severity_id",
        "ix_alarms_device_id",
        "ix_tickets_updated_at_id",
        "ix_tickets_status_updated_at_id",
        "ix_alarms_job_id",  # the foreign keys a bulk delete of jobs or alarms sets to NULL
        "ix_tickets_root_alarm_id",
    } <= names


def test_a_list_answers_its_total_exactly_when_the_document_says_so(app):
    with app.app_context():
        document = app.test_client().get("/api/openapi.json").get_json()
    documented = set()
    for path, operations in document["paths"].items():
        get = operations.get("get") or {}
        if "{" in path or not any(p["name"] == "offset" for p in get.get("parameters", [])):
            continue
        says = "X-Total-Count" in get["responses"]["200"].get("headers", {})
        if says:
            documented.add(path)
        resp = _get(app, f"{path}?limit=1")
        if resp.status_code == 200:  # the service inventory has no NetBox here: 503
            assert ("X-Total-Count" in resp.headers) == says, path
    assert {ALARMS, TICKETS, JOBS, "/tmf-api/serviceInventory/v4/service"} <= documented
