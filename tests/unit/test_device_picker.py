"""The launch form's device picker and "all matching" launches, on PostgreSQL: the device search
(/api/v1/devices: site, role, tag, name; paged by NetBox, X-Total-Count), a launch that gives a
filter ({"match": {...}}) instead of names (resolved at launch with the template's own filter,
recorded as given, the devices in the limit and the audit; refused, naming what is wrong), the
form (no list of every device; the filter sent by "All matching"), a relaunch resolving again,
and a launch naming devices asking NetBox for those only.

NetBox is a stand-in that filters and pages as NetBox's REST API does, and counts its calls."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from portal_users import PASSWORD, add_users_with_tokens
from sqlalchemy import select

from netoss.data.db import db
from netoss.data.models import AuditEvent, Job, Schedule
from netoss.web import create_app

REPO = Path(__file__).resolve().parents[2]
SITES = ("north", "south", "east")


def _devices(n):
    return [
        {"id": i, "name": f"rtr-{i:03d}", "site": {"slug": SITES[i % 3], "name": SITES[i % 3].title()},
         "role": {"slug": "edge" if i % 2 else "core"}, "tags": [{"slug": "gold"}] if i % 5 == 0 else [],
         "status": {"value": "active"}}
        for i in range(1, n + 1)
    ]  # fmt: skip


class FakeNetBox:
    """Devices, sites, roles and tags as NetBox's REST API filters, orders and pages them."""

    def __init__(self, devices):
        self.devices = devices
        self.calls = []

    def _select(self, params):
        out = []
        for d in self.devices:
            ok = True
            for key, value in params.items():
                wanted = value if isinstance(value, list) else [value]
                if key in ("site", "role"):
                    ok &= d[key]["slug"] in wanted
                elif key == "tag":
                    ok &= any(t["slug"] in wanted for t in d["tags"])
                elif key == "name__ic":
                    ok &= value.lower() in d["name"].lower()
                elif key == "name":
                    ok &= d["name"] in wanted
            if ok:
                out.append(d)
        return sorted(out, key=lambda d: d["name"])

    def get(self, path, params=None):
        assert path == "dcim/devices"
        params = dict(params or {})
        self.calls.append((path, dict(params)))
        offset, limit = params.pop("offset", 0), params.pop("limit", 50)
        params.pop("ordering", None), params.pop("fields", None)
        found = self._select(params)
        return {"count": len(found), "results": found[offset : offset + limit]}

    def get_all(self, path, params=None):
        params = dict(params or {})
        self.calls.append((path, dict(params)))
        if path == "dcim/devices":
            for key in ("limit", "ordering", "fields"):
                params.pop(key, None)
            return self._select(params)
        if path == "dcim/sites":
            return [{"slug": s, "name": s.title()} for s in SITES]
        if path == "dcim/device-roles":
            return [{"slug": "core", "name": "Core"}, {"slug": "edge", "name": "Edge"}]
        return [{"slug": "gold", "name": "Gold"}]

    def endpoint(self, dotted):
        netbox = self

        class Endpoint:
            def filter(self, **params):
                netbox.calls.append((dotted, params))
                if dotted == "dcim.sites":
                    return [SimpleNamespace(slug=s, name=s.title()) for s in SITES]
                assert dotted == "dcim.devices"
                return [SimpleNamespace(name=d["name"]) for d in netbox._select(params)]

        return Endpoint()


@pytest.fixture(scope="module")
def app(postgres, tmp_path_factory):
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": postgres.database(),
            "SECRET_KEY": "t",
            "TESTING": True,
            "JOB_TEMPLATES_DIR": str(REPO / "jobs"),
            "JOBS_DIR": str(tmp_path_factory.mktemp("jobs")),
        }
    )
    with app.app_context():
        tokens = add_users_with_tokens()
        db.session.commit()
        app.config["TOKENS"] = tokens
    yield app  # each request has an app context of its own (and its own g)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def netbox(monkeypatch):
    fake = FakeNetBox(_devices(60))
    monkeypatch.setattr("netoss.domain.jobs.launch._netbox", lambda param=None: fake)
    monkeypatch.setattr("netoss.domain.jobs.queue.enqueuer", lambda app: lambda job, sealed: None)
    from netoss.domain.jobs import launch

    getattr(launch, "CONFIRMED", {}).clear()  # what other tests' launches confirmed
    return fake


def _call(app, method, url, role="operator", **kwargs):
    with app.app_context():
        client = app.test_client()
        headers = {"Authorization": f"Bearer {app.config['TOKENS'][role]}"}
        return client.open(url, method=method, headers=headers, **kwargs)


def _names(devices, keep):
    return [d["name"] for d in sorted(devices, key=lambda d: d["name"]) if keep(d)]


def test_the_device_search_filters_and_pages_in_netbox(app, netbox):
    resp = _call(app, "GET", "/api/v1/devices?role=edge&site=north&limit=4&offset=2", role="viewer")
    expected = _names(netbox.devices, lambda d: d["role"]["slug"] == "edge" and d["site"]["slug"] == "north")
    assert resp.status_code == 200 and resp.headers["X-Total-Count"] == str(len(expected))
    assert [d["name"] for d in resp.get_json()] == expected[2:6]
    assert resp.get_json()[0] == {"name": expected[2], "site": "north", "role": "edge", "status": "active"}
    fields = "id,name,site,role,status"
    assert netbox.calls[-1][1] == {
        "site": "north", "role": "edge", "ordering": "name", "offset": 2, "limit": 4, "fields": fields
    }  # fmt: skip
    found = _call(app, "GET", "/api/v1/devices?q=R-00&tag=gold", role="viewer")
    assert [d["name"] for d in found.get_json()] == ["rtr-005"] and found.headers["X-Total-Count"] == "1"
    for url, named in (("/api/v1/devices?limit=501", "limit"), (f"/api/v1/devices?q={'x' * 101}", "q")):
        bad = _call(app, "GET", url, role="viewer")
        assert bad.status_code == 400 and bad.get_json()["error"].startswith(named), url


def _launch(app, parameters, template="backup"):
    return _call(app, "POST", "/api/v1/jobs", json={"template": template, "parameters": parameters})


def test_all_matching_is_resolved_at_launch_and_recorded_as_given(app, netbox):
    resp = _launch(app, {"devices": {"match": {"role": "core", "tag": "gold"}}})
    assert resp.status_code == 202, resp.get_json()
    job = resp.get_json()
    expected = _names(netbox.devices, lambda d: d["role"]["slug"] == "core" and d["tags"])
    assert job["limit"] == ",".join(expected) and len(expected) > 1
    assert job["parameters"] == {"devices": {"match": {"role": "core", "tag": "gold"}}}
    with app.app_context():
        event = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert event.action == "job.launch" and event.detail["limit"] == job["limit"]
    assert event.detail["devices"] == {"match": {"role": "core", "tag": "gold"}}
    # The template's own filter (the site parameter) holds as well.
    both = _launch(app, {"site": "south", "devices": {"match": {"role": "edge"}}}).get_json()
    assert both["limit"] == ",".join(
        _names(netbox.devices, lambda d: d["role"]["slug"] == "edge" and d["site"]["slug"] == "south")
    )
    # A relaunch resolves the filter again: a device added since is in it.
    netbox.devices.append({**netbox.devices[9], "id": 99, "name": "rtr-new"})  # core and gold, as rtr-010
    again = _call(app, "POST", f"/api/v1/jobs/{job['id']}/relaunch", json={})
    assert again.status_code == 202 and "rtr-new" in again.get_json()["limit"].split(",")


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"devices": {"match": {"colour": "red"}}}, "devices.match.colour: not a filter"),
        ({"devices": {"match": {}}}, "devices.match: at least one of"),
        ({"devices": {"match": {"q": "{{ x }}"}}}, "devices.match.q: 1 to 100 characters"),
        ({"devices": {"match": {"role": "edge"}, "more": 1}}, "devices: a list of devices, or"),
        ({"devices": {"match": {"role": "spine"}}}, "devices: no device matches role=spine"),
        ({"site": "north", "devices": {"match": {"site": "south"}}}, "devices: no device matches site=south"),
        ({"site": {"match": {"role": "edge"}}}, "site: a filter ({'match': ...}) chooses devices only"),
        ({"devices": ["rtr-001", "nope-1"]}, "'nope-1' is not one of"),
    ],
)
def test_a_bad_device_filter_is_refused_naming_it(app, netbox, parameters, message):
    with app.app_context():
        before = db.session.scalar(select(db.func.count(Job.id)))
    resp = _launch(app, parameters)
    assert resp.status_code == 400 and message in resp.get_json()["error"], resp.get_json()
    with app.app_context():
        assert db.session.scalar(select(db.func.count(Job.id))) == before


def test_naming_devices_asks_netbox_for_those_only(app, netbox):
    resp = _launch(app, {"devices": ["rtr-002", "rtr-001"]})
    assert resp.status_code == 202 and resp.get_json()["limit"] == "rtr-002,rtr-001"
    asked = [params for path, params in netbox.calls if path == "dcim.devices"]
    assert asked == [{"name": ["rtr-002", "rtr-001"]}]


def test_the_launch_answers_the_job_as_stored(app, netbox):
    """The launch's answer is made from the job it wrote, without reading it back: it must be
    what the database holds."""
    launched = _launch(app, {"devices": ["rtr-004"]}).get_json()
    stored = _call(app, "GET", f"/api/v1/jobs/{launched['id']}").get_json()
    assert launched == stored and launched["status"] == "pending" and launched["created_at"]


def test_device_names_netbox_confirmed_are_trusted_for_a_minute(app, netbox, monkeypatch):
    """A launch storm naming the same devices does not ask NetBox each time (a blocking call in
    every request): names NetBox confirmed are trusted for a minute, under the same filter; a name
    it has not confirmed is asked, and one it does not have is refused each time."""
    from netoss.domain.jobs import launch

    clock = [1000.0]
    monkeypatch.setattr(launch.time, "monotonic", lambda: clock[0])

    def asked():
        return [params for path, params in netbox.calls if path == "dcim.devices"]

    for _ in range(3):
        assert _launch(app, {"devices": ["rtr-002", "rtr-001"]}).status_code == 202
    assert asked() == [{"name": ["rtr-002", "rtr-001"]}]
    assert _launch(app, {"devices": ["rtr-001", "rtr-003"]}).status_code == 202
    assert asked()[1:] == [{"name": ["rtr-003"]}]  # only the one not confirmed yet
    for _ in range(2):
        resp = _launch(app, {"devices": ["rtr-001", "rtr-999"]})
        assert resp.status_code == 400 and "rtr-999" in resp.get_json()["error"]
    assert asked()[2:] == [{"name": ["rtr-999"]}, {"name": ["rtr-999"]}]  # not there: asked each time
    assert _launch(app, {"site": "south", "devices": ["rtr-001"]}).status_code == 202
    assert asked()[4:] == [{"site": "south", "name": ["rtr-001"]}]  # another filter: asked
    clock[0] += 61
    assert _launch(app, {"devices": ["rtr-002"]}).status_code == 202
    assert asked()[5:] == [{"name": ["rtr-002"]}]  # a minute later: asked again


def _sign_in(app, username="otto"):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf})
    return client


def test_the_form_searches_instead_of_listing_every_device(app, netbox):
    client = _sign_in(app)
    page = client.get("/jobs/new/backup?devices=rtr-001&devices=rtr-004").get_data(as_text=True)
    assert 'class="device-picker"' in page and "picker.js" in page
    assert '<option value="edge" >Edge</option>' in page and '<option value="gold" >Gold</option>' in page
    assert "rtr-002" not in page  # no list of every device
    assert 'name="devices" value="rtr-001"' in page and 'name="devices" value="rtr-004"' in page
    assert not [params for path, params in netbox.calls if path == "dcim.devices"]
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = {"csrf_token": csrf, "devices__all": "on", "devices__role": "edge", "devices__q": "rtr-01",
            "devices__site": "", "devices": ["rtr-001"]}  # fmt: skip
    resp = client.post("/jobs/new/backup", data=form)
    assert resp.status_code == 302, resp.get_data(as_text=True)[-3000:]
    job_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    with app.app_context():
        job = db.session.get(Job, job_id)
        assert job.parameters == {"devices": {"match": {"role": "edge", "q": "rtr-01"}}}
        assert job.limit == ",".join(
            _names(netbox.devices, lambda d: d["role"]["slug"] == "edge" and "rtr-01" in d["name"])
        )
    chosen = client.post("/jobs/new/backup", data={"csrf_token": csrf, "devices": ["rtr-003", "rtr-007"],
                                                   "devices__role": "edge"})  # fmt: skip
    with app.app_context():
        job = db.session.get(Job, int(chosen.headers["Location"].rsplit("/", 1)[1]))
        assert (job.parameters, job.limit) == ({"devices": ["rtr-003", "rtr-007"]}, "rtr-003,rtr-007")
    none = client.post("/jobs/new/backup", data={"csrf_token": csrf, "devices__all": "on", "devices__tag": "bronze"})
    assert none.status_code == 400 and "devices: no device matches tag=bronze" in none.get_data(as_text=True)
    scheduled = client.post("/jobs/new/backup", data={"csrf_token": csrf, "devices__all": "on",
                                                      "devices__site": "east", "cron": "0 2 * * *"})  # fmt: skip
    assert scheduled.status_code == 302
    with app.app_context():
        schedule = db.session.scalars(select(Schedule).order_by(Schedule.id.desc())).first()
        assert schedule.parameters == {"devices": {"match": {"site": "east"}}}
