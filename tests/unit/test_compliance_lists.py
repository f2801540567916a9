"""Compliance lists at fleet size, on PostgreSQL (the portal's engine): a run recorded in one
request stores what one request per device stores; the lists of results, a run's report and a
device's history page and filter in the database (offset/limit, X-Total-Count, device, site,
role, platform, status, feature, rule) and give what filtering every row in Python gives; a bad
parameter is answered 400 naming it; the pages filter and page the same way."""

from __future__ import annotations

import random
import re

import pytest
from sqlalchemy import select

from netoss.data.db import db
from netoss.data.models import User
from netoss.domain import compliance
from netoss.web import create_app
from netoss.web.security import hash_password, new_token

FEATURES = ["logging", "aaa", "interfaces", "bgp"]
RULES = {"logging": ["syslog", "commands"], "aaa": ["no-telnet"], "interfaces": ["interfaces"], "bgp": ["bgp", "log"]}
SITES = ["north-3", "south-12", "west-1"]  # not the demo's
ROLES = ["core", "edge", "access"]


def fleet_run(seed: int, count: int = 240, day: int = 1) -> dict:
    """A run over ``count`` devices (names that sort differently naturally and as text), each in a
    site and a role, about a quarter of them with a feature not compliant, a few in error."""
    rng = random.Random(seed)  # noqa: S311 - seeded test data
    devices = []
    for i in range(count):
        name = f"{SITES[i % 3][:1]}r{i}"
        if i % 41 == 7:
            devices.append({"device": name, "platform": "frr", "site": SITES[i % 3], "role": ROLES[i % 3],
                            "status": "error", "error": "no backup", "features": {}, "rules": []})  # fmt: skip
            continue
        features, rules = {}, []
        for feature in FEATURES:
            roll = rng.random()
            status = "non-compliant" if roll < 0.08 else "exempt" if roll < 0.1 else "compliant"
            features[feature] = status
            if status != "compliant":
                rule = rng.choice(RULES[feature])
                rules.append({"feature": feature, "rule": rule, "status": status, "missing": "x"})
        devices.append({"device": name, "platform": rng.choice(["frr", "eos"]), "site": SITES[i % 3],
                        "role": ROLES[(i // 3) % 3], "status": compliance.runs.device_status({"features": features,
                        "status": "compliant"}), "features": features, "rules": rules})  # fmt: skip
    return {
        "source": "backup",
        "started_at": f"2026-12-{day:02d}T01:00:00+00:00",
        "finished_at": f"2026-12-{day:02d}T01:00:05+00:00",
        "policy": {"features": [{"name": f} for f in FEATURES]},
        "devices": devices,
    }


def natural_names(devices):
    return sorted((d["device"] for d in devices), key=compliance.natural)


def _app(postgres):
    app = create_app({"SQLALCHEMY_DATABASE_URI": postgres.database(), "SECRET_KEY": "t", "TESTING": True})
    with app.app_context():
        user = User(username="recorder", password_hash=hash_password("x" * 12), role="operator")
        db.session.add(user)
        _row, token = new_token(user, "t")
        db.session.commit()
    app.config["TOKEN"] = token
    return app


@pytest.fixture(scope="module")
def app(postgres):
    """Three runs of the same fleet (the history), recorded in one request each."""
    app = _app(postgres)
    client = app.test_client()
    for day, seed in ((1, 1), (2, 2), (3, 3)):
        resp = client.post("/api/v1/compliance/runs", json=fleet_run(seed, day=day), headers=auth(app))
        assert resp.status_code == 201, resp.get_json()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def auth(app):
    return {"Authorization": f"Bearer {app.config['TOKEN']}"}


@pytest.fixture
def client(app):
    return app.test_client()


LATEST = fleet_run(3, day=3)["devices"]


def get(client, app, path, **params):
    resp = client.get(path, query_string=params, headers=auth(app))
    assert resp.status_code == 200, resp.get_json()
    return resp


def every_page(client, app, path, limit, **params):
    """Every item of a paged list, page after page; and the X-Total-Count of each page."""
    items, totals, offset = [], set(), 0
    for _ in range(1000):
        resp = get(client, app, path, limit=limit, offset=offset, **params)
        totals.add(int(resp.headers["X-Total-Count"]))
        page = resp.get_json()
        if not page:
            break
        items += page
        offset += limit
    return items, totals


def test_bulk_recording_stores_what_one_request_per_device_stores(postgres, app):
    one_by_one = _app(postgres)
    client = one_by_one.test_client()
    run = fleet_run(3, count=60, day=3)
    for device in run["devices"]:
        resp = client.post("/api/v1/compliance/runs", json={**run, "devices": [device]}, headers=auth(one_by_one))
        assert resp.status_code == 201
    bulk = _app(postgres)
    assert bulk.test_client().post("/api/v1/compliance/runs", json=run, headers=auth(bulk)).status_code == 201

    def fleet_now(app):
        with app.app_context():
            devices = compliance.latest()
            return [{k: v for k, v in d.items() if k not in ("run", "started_at")} for d in devices], compliance.fleet()

    assert fleet_now(bulk) == fleet_now(one_by_one)
    assert len(fleet_now(bulk)[0]) == 60
    for app_ in (one_by_one, bulk):
        with app_.app_context():
            db.session.remove()
            db.engine.dispose()


def test_the_latest_results_page_in_natural_order(client, app):
    items, totals = every_page(client, app, "/api/v1/compliance/results", 37)
    assert totals == {len(LATEST)}
    assert [d["device"] for d in items] == natural_names(LATEST)
    by_name = {d["device"]: d for d in LATEST}
    for item in items:
        expected = by_name[item["device"]]
        assert item["status"] == expected["status"] and item["features"] == expected["features"]
        assert (item["site"], item["role"]) == (expected["site"], expected["role"])
        assert sorted(r["rule"] for r in item["rules"]) == sorted(r["rule"] for r in expected["rules"])


FILTERS = [
    ({"site": "south-12"}, lambda d: d["site"] == "south-12"),
    ({"role": "edge"}, lambda d: d["role"] == "edge"),
    ({"platform": "eos"}, lambda d: d["platform"] == "eos"),
    ({"status": "non-compliant"}, lambda d: d["status"] == "non-compliant"),
    ({"status": "error"}, lambda d: d["status"] == "error"),
    ({"status": "exempt"}, lambda d: d["status"] == "exempt"),
    ({"feature": "bgp"}, lambda d: "bgp" in d["features"]),
    ({"feature": "bgp", "status": "non-compliant"}, lambda d: d["features"].get("bgp") == "non-compliant"),
    ({"rule": "syslog"}, lambda d: any(r["rule"] == "syslog" and r["status"] == "non-compliant" for r in d["rules"])),
    ({"rule": "bgp/log"}, lambda d: any((r["feature"], r["rule"], r["status"]) == ("bgp", "log", "non-compliant")
                                        for r in d["rules"])),
    ({"rule": "aaa/log"}, lambda d: False),
    ({"q": "R1"}, lambda d: "r1" in d["device"]),
    ({"device": "sr5"}, lambda d: d["device"] == "sr5"),
    ({"site": "west-1", "role": "core", "status": "compliant"},
     lambda d: (d["site"], d["role"], d["status"]) == ("west-1", "core", "compliant")),
]  # fmt: skip


@pytest.mark.parametrize(("params", "keep"), FILTERS, ids=[str(p) for p, _k in FILTERS])
def test_the_latest_results_filter_in_the_database(client, app, params, keep):
    expected = natural_names(d for d in LATEST if keep(d))
    items, totals = every_page(client, app, "/api/v1/compliance/results", 50, **params)
    assert [d["device"] for d in items] == expected
    assert totals == {len(expected)}
    if params in ({"status": "non-compliant"}, {"rule": "syslog"}, {"site": "south-12"}):
        assert expected  # the data exercises the filter


def test_a_runs_report_pages_and_filters_by_the_devices_status_in_that_run(client, app):
    first = get(client, app, "/api/v1/compliance/runs", limit=1, offset=2)
    assert first.headers["X-Total-Count"] == "3"
    run_id = first.get_json()[0]["id"]
    devices = fleet_run(1, day=1)["devices"]
    full = get(client, app, f"/api/v1/compliance/runs/{run_id}").get_json()
    assert "page" not in full and [d["device"] for d in full["devices"]] == natural_names(devices)
    for status in compliance.STATUSES:
        expected = natural_names(d for d in devices if d["status"] == status)
        seen, offset = [], 0
        for _ in range(100):
            resp = get(client, app, f"/api/v1/compliance/runs/{run_id}", status=status, limit=25, offset=offset)
            report = resp.get_json()
            assert report["page"]["total"] == len(expected) == int(resp.headers["X-Total-Count"])
            if not report["devices"]:
                break
            seen += [d["device"] for d in report["devices"]]
            offset += 25
        assert seen == expected, status
    problems = get(client, app, f"/api/v1/compliance/runs/{run_id}", problems="true", site="west-1").get_json()
    expected = natural_names(d for d in devices if d["status"] in ("non-compliant", "error") and d["site"] == "west-1")
    assert [d["device"] for d in problems["devices"]] == expected and expected


def test_a_devices_history_pages_by_run(client, app):
    name = natural_names(LATEST)[3]
    everything = get(client, app, "/api/v1/compliance/history", device=name, limit=200)
    assert everything.headers["X-Total-Count"] == "3"
    runs = [e["run"] for e in everything.get_json()]
    assert runs == sorted(runs, reverse=True) and len(set(runs)) == 3
    older = get(client, app, "/api/v1/compliance/history", device=name, limit=1, offset=1)
    assert {e["run"] for e in older.get_json()} == {sorted(set(runs))[1]}
    one = get(client, app, "/api/v1/compliance/history", device=name, feature="bgp").get_json()
    assert [e["feature"] for e in one] == ["bgp"] * 3


@pytest.mark.parametrize(
    ("path", "params", "named"),
    [
        ("/api/v1/compliance/results", {"status": "bad"}, "status"),
        ("/api/v1/compliance/results", {"limit": "0"}, "limit"),
        ("/api/v1/compliance/results", {"limit": "1001"}, "limit"),
        ("/api/v1/compliance/results", {"offset": "-1"}, "offset"),
        ("/api/v1/compliance/results", {"site": "two words"}, "site"),
        ("/api/v1/compliance/results", {"role": "a|b"}, "role"),
        ("/api/v1/compliance/results", {"rule": "Not A Rule"}, "rule"),
        ("/api/v1/compliance/results", {"feature": "BGP"}, "feature"),
        ("/api/v1/compliance/runs", {"limit": "x"}, "limit"),
        ("/api/v1/compliance/runs/1", {"problems": "yes"}, "problems"),
        ("/api/v1/compliance/runs/1", {"status": "fine"}, "status"),
        ("/api/v1/compliance/history", {}, "device"),
        ("/api/v1/compliance/history", {"device": "sr5", "limit": "500"}, "limit"),
        ("/api/v1/compliance/overview", {"limit": "0"}, "limit"),
    ],
)
def test_a_bad_parameter_is_answered_400_naming_it(client, app, path, params, named):
    resp = client.get(path, query_string=params, headers=auth(app))
    assert resp.status_code == 400
    assert named in resp.get_json()["error"]


def test_the_overview_pages_its_devices_and_counts_the_fleet_in_the_database(client, app):
    whole = get(client, app, "/api/v1/compliance/overview").get_json()
    page = get(client, app, "/api/v1/compliance/overview", limit=10, offset=10).get_json()
    assert page["devices"] == whole["devices"][10:20]
    assert page["devices_page"] == {"offset": 10, "limit": 10, "total": len(LATEST)}
    for key in ("percent", "devices_total", "by_status", "pairs", "features"):
        assert page[key] == whole[key], key
    pairs = {s: 0 for s in compliance.STATUSES}
    for d in LATEST:
        for status in d["features"].values():
            pairs[status] += 1
    assert whole["pairs"] == pairs and whole["features"] == FEATURES


def sign_in(app):
    client = app.test_client()
    with app.app_context():
        db.session.add(User(username="viewer", password_hash=hash_password("y" * 12), role="viewer"))
        db.session.commit()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/login", data={"username": "viewer", "password": "y" * 12, "csrf_token": token})
    return client


def test_the_pages_filter_and_page(app):
    browser = sign_in(app)
    heat = browser.get("/compliance", query_string={"site": "north-3", "status": "non-compliant"})
    assert heat.status_code == 200
    rows = re.findall(r'<tr>\s*<td><a href="/compliance/devices/([^"]+)"', heat.get_data(as_text=True))
    expected = natural_names(d for d in LATEST if d["site"] == "north-3" and d["status"] == "non-compliant")
    assert rows == expected and expected
    assert browser.get("/compliance", query_string={"rule": "Bad Rule"}).status_code == 400
    with app.app_context():
        run_id = db.session.scalars(select(compliance.runs.ComplianceRun.id).order_by("id")).all()[-1]
    every = browser.get(f"/compliance/runs/{run_id}", query_string={"show": "all", "role": "access", "page": 2})
    text = every.get_data(as_text=True)
    shown = re.findall(r'<section class="device" id="device-([^"]+)"', text)
    expected = natural_names(d for d in LATEST if d["role"] == "access")
    assert shown == expected[50:100] and "role=access" in text  # the next/previous links keep the filter
    device = browser.get(f"/compliance/devices/{expected[0]}")
    assert device.status_code == 200 and "bgp" in device.get_data(as_text=True)


def device_variants():
    """A valid device result, and ways of breaking each of its fields (and a few valid twists)."""
    rule = {"feature": "bgp", "rule": "bgp", "kind": "section", "status": "non-compliant", "compliant": False,
            "missing": "x", "extra": "y", "remediation": ["a", "b"], "diff": "d", "message": "m"}  # fmt: skip
    base = {"device": "pop001-pe01", "platform": "frr", "site": "pop001", "role": "pe", "status": "non-compliant",
            "error": "", "features": {"bgp": "non-compliant", "aaa": "compliant"}, "rules": [rule]}  # fmt: skip
    yield base
    changes = [
        ("device", None), ("device", ""), ("device", "a b"), ("device", "a|b"), ("device", "x" * 65),
        ("device", "ok\n"), ("device", 5), ("status", "fine"), ("status", ["compliant"]), ("status", None),
        ("platform", 1), ("platform", "p" * 65), ("site", "s" * 101), ("site", "s" * 100), ("role", None),
        ("error", "e" * 10_001), ("features", None), ("features", []), ("features", {"BGP": "compliant"}),
        ("features", {"bgp": "fine"}), ("features", {"bgp": ["x"]}), ("features", {f"f{i}": "compliant" for i in
        range(201)}), ("rules", None), ("rules", {}), ("rules", ["x"]), ("extra", 1),
    ]  # fmt: skip
    for key, value in changes:
        yield {**base, key: value}
    for key in ("device", "status"):
        yield {k: v for k, v in base.items() if k != key}
    yield {k: v for k, v in base.items() if k not in ("features", "rules", "platform", "site", "role", "error")}
    rule_changes = [
        ("feature", "BGP"), ("feature", 1), ("rule", ""), ("rule", "r" * 101), ("rule", None), ("kind", "k" * 33),
        ("status", "bad"), ("status", {}), ("compliant", 0), ("compliant", "no"), ("missing", "m" * 100_001),
        ("diff", "d" * 1_000_001), ("message", "m" * 10_001), ("remediation", "a"), ("remediation", [1]),
        ("remediation", ["c" * 10_001]), ("remediation", ["c"] * 10_001), ("other", 1), ("remediation", []),
    ]  # fmt: skip
    for key, value in rule_changes:
        yield {**base, "rules": [{**rule, key: value}]}
    for key in ("feature", "rule", "status"):
        yield {**base, "rules": [{k: v for k, v in rule.items() if k != key}]}
    yield "not a device"
    yield None


@pytest.mark.parametrize("device", list(device_variants()))
def test_the_hand_check_of_a_device_agrees_with_the_schema(device):
    import jsonschema

    from netoss.domain.compliance.runs import _plainly_valid_device
    from netoss.domain.compliance.schema import DEVICE_RESULT

    valid = not list(jsonschema.Draft202012Validator(DEVICE_RESULT).iter_errors(device))
    assert _plainly_valid_device(device) == valid


def test_a_run_with_a_bad_device_is_refused_with_jsonschemas_messages():
    run = fleet_run(1, count=30)
    run["devices"][17]["rules"] = [{"feature": "bgp", "rule": "", "status": "non-compliant"}]
    with pytest.raises(compliance.InvalidRun, match=r"devices\.17\.rules\.0\.rule: '' should be non-empty"):
        compliance.validate(run)
    run = fleet_run(1, count=30)
    run["source"] = "cli"
    with pytest.raises(compliance.InvalidRun, match=r"^source: 'cli' is not one of"):
        compliance.validate(run)
    compliance.validate(fleet_run(1, count=30))  # valid: nothing raised
