"""Maintenance windows through the API and the portal's page: who may open and end them, what is
refused (by name), and what the list says (the portal without NetBox: no names are checked)."""

from __future__ import annotations

from test_service_orders_portal import app, auth, csrf, repo, sign_in  # noqa: F401 - fixtures

WINDOWS = "/api/v1/maintenance-windows"


def test_an_engineer_opens_and_ends_a_window_through_the_api(app):  # noqa: F811 - the fixture
    client = app.test_client()
    body = {"name": "swap optics", "devices": ["agg-1"], "services": ["C-9"], "durationMinutes": 30}
    assert client.post(WINDOWS, json=body, headers=auth(app, "otto")).status_code == 403  # operator
    created = client.post(WINDOWS, json=body, headers=auth(app, "erin"))
    assert created.status_code == 201, created.get_data(as_text=True)
    window = created.get_json()
    assert (window["state"], window["devices"], window["services"], window["source"]) == (
        "active", ["agg-1"], ["C-9"], "manual",
    )  # fmt: skip
    listed = client.get(WINDOWS, query_string={"state": "active"}, headers=auth(app, "vera")).get_json()
    assert [w["id"] for w in listed] == [window["id"]]
    ended = client.delete(f"{WINDOWS}/{window['id']}", headers=auth(app, "erin"))
    assert ended.status_code == 200 and ended.get_json()["state"] == "over"
    again = client.delete(f"{WINDOWS}/{window['id']}", headers=auth(app, "erin"))
    assert again.status_code == 409 and "already over" in again.get_json()["error"]
    assert client.delete(f"{WINDOWS}/999", headers=auth(app, "erin")).status_code == 404


def test_a_bad_window_is_refused_naming_what_is_wrong(app):  # noqa: F811 - the fixture
    client, headers = app.test_client(), auth(app, "erin")
    for body, message in (
        ({"name": "x", "durationMinutes": 5}, "a window needs devices or services"),
        ({"name": "x", "devices": ["a"]}, "endsAt or durationMinutes is needed"),
        ({"name": "x", "devices": ["a"], "endsAt": "2026-12-01T10:00:00"}, "has no time zone"),
        ({"name": "x", "devices": ["a"], "startsAt": "soon", "durationMinutes": 5}, "is not an ISO 8601 time"),
        ({"name": "x", "devices": ["a"], "durationMinutes": 20000}, "durationMinutes"),
        ({"name": "x", "devices": ["a"], "durationMinutes": 5, "extra": 1}, "extra"),
    ):
        resp = client.post(WINDOWS, json=body, headers=headers)
        assert resp.status_code == 400 and message in resp.get_json()["error"], (body, resp.get_json())
    assert client.get(WINDOWS, headers=headers).get_json() == []


def test_the_page_lists_windows_and_lets_an_engineer_open_and_end_one(app):  # noqa: F811 - the fixture
    viewer = sign_in(app.test_client(), "vera")
    page = viewer.get("/assurance/maintenance").get_data(as_text=True)
    assert 'id="new-window"' not in page and 'id="windows">None.' in page
    token = csrf(viewer, "/assurance/maintenance")
    refused = viewer.post(
        "/assurance/maintenance", data={"csrf_token": token, "name": "x", "devices": "a", "minutes": "5"}
    )
    assert refused.status_code == 403
    engineer = sign_in(app.test_client(), "erin")
    token = csrf(engineer, "/assurance/maintenance")
    bad = engineer.post("/assurance/maintenance", data={"csrf_token": token, "name": "x", "minutes": "5"})
    assert bad.status_code == 400 and "a window needs devices or services" in bad.get_data(as_text=True)
    opened = engineer.post(
        "/assurance/maintenance",
        data={"csrf_token": token, "name": "re-home", "devices": "agg-1, agg-2\ncore-1", "minutes": "45"},
    )
    assert opened.status_code == 302
    page = engineer.get("/assurance/maintenance").get_data(as_text=True)
    assert "re-home" in page and "agg-1, agg-2, core-1" in page and "End now" in page
    ended = engineer.post("/assurance/maintenance", data={"csrf_token": token, "end": "1"})
    assert ended.status_code == 302
    assert "End now" not in engineer.get("/assurance/maintenance").get_data(as_text=True)


def test_the_list_filters_and_pages_in_the_database(app):  # noqa: F811 - the fixture
    """An active window stays listed under ?state=active however many windows came after it
    (a long window and thousands of jobs' own); limit/offset page, X-Total-Count counts."""
    import datetime as dt

    from netoss.data.db import db
    from netoss.data.models import MaintenanceWindow

    now = dt.datetime.now(dt.UTC)
    with app.app_context():

        def window(name, start, end, ended=None):
            return MaintenanceWindow(
                name=name, starts_at=now + start, ends_at=now + end, ended_at=ended and now + ended,
                devices=["agg-1"], services=[], source="job", created_by="erin",
            )  # fmt: skip

        hour = dt.timedelta(hours=1)
        db.session.add(window("long change", -hour, 5 * hour))
        db.session.add_all(window(f"job {i}", -2 * hour, -hour) for i in range(1100))
        db.session.add(window("ended early", -hour, hour, ended=-dt.timedelta(minutes=1)))
        db.session.add(window("tonight", 2 * hour, 3 * hour))
        db.session.commit()
    client, headers = app.test_client(), auth(app, "vera")
    active = client.get(WINDOWS, query_string={"state": "active"}, headers=headers)
    assert [w["name"] for w in active.get_json()] == ["long change"] and active.headers["X-Total-Count"] == "1"
    scheduled = client.get(WINDOWS, query_string={"state": "scheduled"}, headers=headers).get_json()
    assert [w["name"] for w in scheduled] == ["tonight"]
    over = client.get(WINDOWS, query_string={"state": "over", "limit": 2, "offset": 1}, headers=headers)
    assert [w["name"] for w in over.get_json()] == ["job 1099", "job 1098"], over.get_json()
    assert over.headers["X-Total-Count"] == "1101"
    everything = client.get(WINDOWS, query_string={"limit": 500}, headers=headers)
    assert len(everything.get_json()) == 500 and everything.headers["X-Total-Count"] == "1103"
    bad = client.get(WINDOWS, query_string={"limit": 0}, headers=headers)
    assert bad.status_code == 400 and "limit" in bad.get_json()["error"]
    page = sign_in(app.test_client(), "vera").get("/assurance/maintenance").get_data(as_text=True)
    assert page.index("long change") < page.index("tonight") < page.index("ended early")
    assert "job 1051" in page and "job 1050" not in page and "1051 earlier windows are over" in page
    # A scheduled window ended before its start is called off: over, not scheduled any more.
    tonight = scheduled[0]["id"]
    called_off = client.delete(f"{WINDOWS}/{tonight}", headers=auth(app, "erin")).get_json()
    assert called_off["state"] == "over"
    assert client.get(WINDOWS, query_string={"state": "scheduled"}, headers=headers).get_json() == []
