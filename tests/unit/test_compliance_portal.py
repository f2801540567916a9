"""Compliance in the portal: recording the runs the compliance job posts (validation, roles),
the views over them (latest, heat map, over time, history, CSV), the pages, the alarms a run
raises and clears and the one ticket they make per device, and `netoss compliance report`."""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from fault_queue import FaultQueue
from sqlalchemy import func, select
from test_fault_pages import TOPO
from test_portal import app, bearer, client, sign_in, token_for  # noqa: F401 - app and client are fixtures

from netoss.data.db import db
from netoss.data.models import Alarm, AuditEvent, ComplianceDevice, ComplianceResult, ComplianceRun, Job, Ticket
from netoss.domain import compliance
from netoss.domain.compliance.report import run_csv, text_report
from netoss.domain.faults.processor import Processor, Settings

DRIFT = json.loads((Path(__file__).parent / "test_data" / "compliance" / "run-drift.json").read_text())
FEATURES = ["logging", "aaa", "services", "interfaces", "routing-policy", "ospf", "bgp"]  # checked on FRR


def fixed_run() -> dict:
    """The day after the drift run: ce1 fixed, pe1 could not be read; the others not checked."""
    run = copy.deepcopy(DRIFT)
    run["started_at"], run["finished_at"] = "2026-11-27T23:30:00+00:00", "2026-11-27T23:30:02+00:00"
    ce1 = next(d for d in run["devices"] if d["device"] == "ce1")
    ce1.update(status="compliant", features=dict.fromkeys(FEATURES, "compliant"), rules=[])
    pe1 = {"device": "pe1", "platform": "frr", "status": "error", "error": "no backup of pe1 <yet>", "features": {},
           "rules": []}  # fmt: skip
    run["devices"] = [ce1, pe1]
    run["summary"] = {"expired_exceptions": ["compliance/exceptions.yml: exception for banner expired on 2026-11-01"]}
    return run


@pytest.fixture
def queue(monkeypatch):
    fake = FaultQueue()
    monkeypatch.setattr("netoss.web.api.faults.fault_queue", lambda: fake)
    return fake


def post(client, app, run, user="otto"):  # noqa: F811 - the client fixture, passed on
    return client.post("/api/v1/compliance/runs", json=run, headers=bearer(token_for(app, user)))


def test_recording_the_sample_run_stores_it_and_queues_its_alarms(app, client, queue):  # noqa: F811
    resp = post(client, app, DRIFT)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert (body["id"], body["percent"], body["device_count"], body["source"]) == (1, 95.24, 6, "backup")
    assert body["href"] == "http://localhost/compliance/runs/1" and body["recorded_by"] == "otto"
    assert body["alarms"] == {"raised": 2, "cleared": 0, "queued": 2}  # nothing alarmed before: no clear
    assert [(e.action, e.device, e.condition) for e in queue.entries] == [
        ("raise", "ce1", "compliance:logging"),
        ("raise", "ce1", "compliance:aaa"),
    ]
    assert queue.counters == {"received:compliance": 2}
    with app.app_context():
        run = db.session.get(ComplianceRun, 1)
        assert (run.started_at.isoformat()[:19], run.summary["pairs"]["non-compliant"]) == ("2026-11-26T23:30:00", 2)
        assert db.session.scalar(select(func.count(ComplianceResult.id))) == 6 * 7
        row = db.session.scalar(select(ComplianceResult).where(ComplianceResult.feature == "logging",
                                                                ComplianceResult.device == "ce1"))  # fmt: skip
        assert row.status == "non-compliant" and [r["rule"] for r in row.details] == ["syslog"]
        assert {d.device: d.status for d in db.session.scalars(select(ComplianceDevice))}["ce1"] == "non-compliant"
        audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "compliance.record"))
        assert (audit.actor, audit.target, audit.detail["devices"]) == ("otto", "compliance run 1", 6)


def test_a_run_is_kept_when_the_fault_queue_is_away(app, client):  # noqa: F811
    resp = post(client, app, DRIFT)  # no REDIS_URL in unit tests
    assert resp.status_code == 201
    alarms = resp.get_json()["alarms"]
    assert alarms["queued"] == 0 and alarms["raised"] == 2 and "fault queue is not configured" in alarms["error"]
    with app.app_context():
        assert db.session.scalar(select(func.count(ComplianceRun.id))) == 1


def _broken(change):
    run = copy.deepcopy(DRIFT)
    change(run)
    return run


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r["devices"][0].update(status="bogus"), "devices.0.status: 'bogus' is not one of"),
        (lambda r: r["devices"][1].pop("device"), "devices.1: 'device' is a required property"),
        (lambda r: r["devices"][2]["features"].update(logging="fine"), "devices.2.features.logging: 'fine' is not"),
        (lambda r: r["devices"][0]["features"].update(telnet="compliant"),
         "devices.0.features.telnet: not a feature of the policy"),
        (lambda r: r["devices"][1].update(device="ce1"), "devices.1.device: 'ce1' is also devices.0"),
        (lambda r: r["devices"][1].update(device="ce 2"), "devices.1.device: 'ce 2' does not match"),
        (lambda r: r["devices"][0].update(status="compliant"),
         "devices.0.status: 'compliant', but its features make it 'non-compliant'"),
        (lambda r: r["devices"][0]["rules"][0].update(feature="banner"),
         "devices.0.rules.0.feature: 'banner' is not in the device's features"),
        (lambda r: r.update(started_at="yesterday"), "started_at: 'yesterday' is not an ISO 8601 date and time"),
        (lambda r: r.update(source="netbox"), "source: 'netbox' is not one of ['live', 'backup']"),
        (lambda r: r.update(job_id=99), "job_id: no job 99"),
        (lambda r: r["policy"]["features"][0].update(severity="huge"), "policy.features.0.severity: 'huge'"),
        (lambda r: r.pop("devices"), "body: 'devices' is a required property"),
        (lambda r: r["devices"][3].update(error="x\x00y"), "devices.3.error: holds a NUL character"),
    ],
)  # fmt: skip
def test_an_invalid_run_is_refused_naming_the_field(app, client, change, message):  # noqa: F811
    resp = post(client, app, _broken(change))
    assert resp.status_code == 400 and message in resp.get_json()["error"], resp.get_json()
    with app.app_context():
        assert db.session.scalar(select(func.count(ComplianceRun.id))) == 0


def test_a_body_that_is_not_a_json_object_is_refused(app, client):  # noqa: F811
    resp = client.post("/api/v1/compliance/runs", data="[1]", headers=bearer(token_for(app, "otto")))
    assert resp.status_code == 400 and resp.get_json()["error"].startswith("body: a JSON object is needed")


def test_the_job_that_ran_it_is_linked(app, client):  # noqa: F811
    with app.app_context():
        db.session.add(Job(template="compliance", created_by="automation", status="running"))
        db.session.commit()
    run = dict(DRIFT, job_id=1)
    assert post(client, app, run).status_code == 201
    sign_in(client)
    assert 'id="job" href="/jobs/1"' in client.get("/compliance/runs/1").get_data(as_text=True)
    assert client.get("/api/v1/compliance/runs", headers=bearer(token_for(app, "vera"))).get_json()[0]["job_id"] == 1


@pytest.mark.parametrize(
    ("user", "method", "path", "status"),
    [
        ("vera", "post", "/api/v1/compliance/runs", 403),
        ("otto", "post", "/api/v1/compliance/runs", 201),
        (None, "post", "/api/v1/compliance/runs", 401),
        ("vera", "get", "/api/v1/compliance/runs", 200),
        ("vera", "get", "/api/v1/compliance/runs/1", 200),
        ("vera", "get", "/api/v1/compliance/runs/1/csv", 200),
        ("vera", "get", "/api/v1/compliance/overview", 200),
        (None, "get", "/api/v1/compliance/overview", 401),
        (None, "get", "/api/v1/compliance/runs/1/csv", 401),
    ],
)
def test_roles(app, client, user, method, path, status):  # noqa: F811
    if method == "get":
        assert post(client, app, DRIFT).status_code == 201
    headers = bearer(token_for(app, user)) if user else {}
    resp = getattr(client, method)(path, headers=headers, json=DRIFT if method == "post" else None)
    assert resp.status_code == status, resp.get_data(as_text=True)[:300]
    if status == 403:
        assert resp.get_json()["error"] == "this needs the operator role; vera is viewer"


def test_latest_heatmap_and_over_time_after_ce1_is_fixed(app, client, queue):  # noqa: F811
    assert post(client, app, DRIFT).status_code == 201
    second = post(client, app, fixed_run())
    assert second.status_code == 201
    # Only the alarms that were raised are cleared; pe1, which could not be checked, says nothing.
    assert second.get_json()["alarms"] == {"raised": 0, "cleared": 2, "queued": 2}
    assert [(e.action, e.device, e.condition) for e in queue.entries[2:]] == [
        ("clear", "ce1", "compliance:logging"),
        ("clear", "ce1", "compliance:aaa"),
    ]
    with app.app_context():
        latest = {d["device"]: d for d in compliance.latest()}
        assert list(latest) == ["ce1", "ce2", "p1", "p2", "pe1", "pe2"]
        assert (latest["ce1"]["run"], latest["ce1"]["status"], latest["ce1"]["rules"]) == (2, "compliant", [])
        assert list(latest["ce1"]["features"]) == FEATURES  # in the policy's order
        assert (latest["ce2"]["run"], latest["ce2"]["status"]) == (1, "compliant")  # not in run 2: run 1's
        assert (latest["pe1"]["run"], latest["pe1"]["status"], latest["pe1"]["features"]) == (2, "error", {})
        assert latest["pe1"]["error"] == "no backup of pe1 <yet>"

        fleet = compliance.fleet()
        assert (fleet["percent"], fleet["devices_total"]) == (100.0, 6)
        assert fleet["by_status"] == {"compliant": 5, "non-compliant": 0, "exempt": 0, "error": 1}
        assert fleet["pairs"]["compliant"] == 5 * 7

        series = compliance.over_time(3660)
        assert [(p["run"], p["percent"], p["device_count"]) for p in series] == [(1, 95.24, 6), (2, 100.0, 2)]

        heat = compliance.heatmap()
        assert heat["features"] == FEATURES and heat["total"] == 6
        rows = {r["device"]: r for r in heat["rows"]}
        assert rows["ce1"]["cells"] == dict.fromkeys(FEATURES, "compliant") and rows["pe1"]["cells"] == {}
        assert [r["device"] for r in compliance.heatmap(problems=True)["rows"]] == ["pe1"]
        assert [r["device"] for r in compliance.heatmap("ce")["rows"]] == ["ce1", "ce2"]
        assert [r["device"] for r in compliance.heatmap(offset=4, limit=10)["rows"]] == ["pe1", "pe2"]

        history = compliance.history("ce1", "logging")
        assert [(h["run"], h["status"]) for h in history] == [(2, "compliant"), (1, "non-compliant")]
        assert history[1]["rules"][0]["missing"] == "log syslog"
        assert [h["feature"] for h in compliance.history("ce1", runs=1)] == FEATURES

    viewer = bearer(token_for(app, "vera"))
    overview = client.get("/api/v1/compliance/overview?days=3660", headers=viewer).get_json()
    assert overview["percent"] == 100.0 and overview["latest_run"]["id"] == 2
    assert overview["features"] == FEATURES and [p["run"] for p in overview["over_time"]] == [1, 2]
    one = client.get("/api/v1/compliance/overview?device=ce2", headers=bearer(token_for(app, "vera"))).get_json()
    assert [d["device"] for d in one["devices"]] == ["ce2"]
    runs = client.get("/api/v1/compliance/runs?limit=1", headers=bearer(token_for(app, "vera"))).get_json()
    assert [r["id"] for r in runs] == [2]
    assert client.get("/api/v1/compliance/runs?limit=0", headers=bearer(token_for(app, "vera"))).status_code == 400


def test_the_json_report_and_the_csv_of_a_run(app, client):  # noqa: F811
    assert post(client, app, DRIFT).status_code == 201
    viewer = bearer(token_for(app, "vera"))
    report = client.get("/api/v1/compliance/runs/1", headers=viewer).get_json()
    assert [d["device"] for d in report["devices"]] == ["ce1", "ce2", "p1", "p2", "pe1", "pe2"]
    ce1 = report["devices"][0]
    assert ce1["features"] == DRIFT["devices"][0]["features"] and ce1["rules"] == DRIFT["devices"][0]["rules"]
    assert report["summary"]["percent"] == 95.24 and report["policy"] == DRIFT["policy"]
    assert client.get("/api/v1/compliance/runs/2", headers=viewer).status_code == 404

    resp = client.get("/api/v1/compliance/runs/1/csv", headers=viewer)
    assert resp.mimetype == "text/csv"
    assert resp.headers["Content-Disposition"] == 'attachment; filename="compliance-run-1.csv"'
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert len(rows) == 6 * 7  # each non-compliant feature of ce1 has one rule
    logging = next(r for r in rows if (r["device"], r["feature"]) == ("ce1", "logging"))
    assert (logging["rule"], logging["rule_status"], logging["missing"], logging["remediation"]) == (
        "syslog", "non-compliant", "log syslog", "log syslog",
    )  # fmt: skip
    aaa = next(r for r in rows if (r["device"], r["feature"]) == ("ce1", "aaa"))
    assert (aaa["extra"], aaa["remediation"], aaa["device_status"]) == (
        "password <removed>",
        "no password",
        "non-compliant",
    )
    bgp = next(r for r in rows if (r["device"], r["feature"]) == ("pe2", "bgp"))
    assert (bgp["feature_status"], bgp["rule"], bgp["missing"], bgp["run"]) == ("compliant", "", "", "1")


def test_the_csv_has_a_row_per_rule_and_defuses_formulas():
    report = {"id": 3, "devices": [
        {"device": "pe1", "platform": "frr", "status": "non-compliant", "error": "",
         "features": {"bgp": "non-compliant"},
         "rules": [{"feature": "bgp", "rule": "a", "kind": "section", "status": "non-compliant", "missing": "=cmd|x",
                    "extra": "", "remediation": ["router bgp 1", " neighbor x"], "message": ""},
                   {"feature": "bgp", "rule": "b", "kind": "custom", "status": "error", "message": "boom"}]},
        {"device": "p9", "platform": "", "status": "error", "error": "unreachable", "features": {}, "rules": []},
    ]}  # fmt: skip
    rows = list(csv.reader(io.StringIO(run_csv(report))))
    assert rows[1][6:12] == ["a", "section", "non-compliant", "'=cmd|x", "", "router bgp 1\n neighbor x"]
    assert rows[2][6:9] + rows[2][12:] == ["b", "custom", "error", "boom", ""]
    assert rows[3] == ["3", "p9", "", "error", "", "", "", "", "", "", "", "", "", "unreachable"]


def test_the_pages_show_the_heat_map_the_run_and_the_device(app, client, tmp_path):  # noqa: F811
    assert post(client, app, DRIFT).status_code == 201
    assert post(client, app, fixed_run()).status_code == 201
    assert client.get("/compliance").status_code == 302  # anonymous: to the sign-in page
    sign_in(client)  # vera, a viewer
    page = client.get("/compliance?days=3660").get_data(as_text=True)
    assert '<a href="/compliance">Compliance</a>' in page  # in the navigation
    chart = page[page.index('<svg id="compliance-chart"') : page.index("</svg>")]
    assert re.findall(r'<a href="/compliance/runs/(\d+)">', chart) == ["1", "2"]
    assert "run 1, 2026-11-26 23:30 UTC: 95.24% compliant (6 devices, backup)" in chart
    cells = re.findall(r'<td class="cc cc-([a-z-]+)" data-feature="([\w-]+)"[^>]*><a href="([^"]+)">(\w+)<', page)
    assert ("compliant", "logging", "/compliance/devices/ce1?feature=logging", "C") in cells
    assert len(cells) == 5 * 7  # pe1 has one cell: its error
    assert 'class="cc cc-error" colspan="7"' in page and "ERR: no backup of pe1 &lt;yet&gt;" in page
    assert "<yet>" not in page  # escaped
    problems = client.get("/compliance?show=problems").get_data(as_text=True)
    assert "/compliance/devices/pe1" in problems and "/compliance/devices/ce2" not in problems
    assert client.get("/compliance?show=bogus").status_code == 400

    report = client.get("/compliance/runs/1").get_data(as_text=True)
    assert 'href="/api/v1/compliance/runs/1"' in report and 'href="/api/v1/compliance/runs/1/csv"' in report
    assert 'id="device-ce1"' in report and 'id="device-ce2"' not in report  # only what is not compliant
    assert '<pre class="config missing">log syslog</pre>' in report
    assert '<pre class="config extra">password &lt;removed&gt;</pre>' in report
    assert '<pre class="config remediation">no password</pre>' in report and "+log syslog" in report
    assert 'id="job"' not in report  # posted without a job
    second = client.get("/compliance/runs/2").get_data(as_text=True)
    assert "exception for banner expired on 2026-11-01" in second and "no backup of pe1 &lt;yet&gt;" in second
    assert client.get("/compliance/runs/9").status_code == 404

    # The remediate template, as jobs/remediate.yml has it: operators and engineers may launch it.
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "remediate.yml").write_text("---\n")
    (jobs / "remediate.yml").write_text(
        "name: remediate\ndescription: Fix drift\nplaybook: playbooks/remediate.yml\nroles: [operator, engineer]\n"
        "limit: {parameter: devices}\nparameters:\n"
        "  - {name: devices, type: multichoice, choices: [ce1, ce2]}\n"
        "  - {name: features, type: multichoice, choices: [logging, aaa]}\n"
    )
    app.config["JOB_TEMPLATES_DIR"] = str(jobs)
    device = client.get("/compliance/devices/ce1?feature=logging").get_data(as_text=True)
    assert 'id="feature-logging"' in device and 'id="feature-aaa"' not in device
    history = re.findall(r'<a href="/compliance/runs/(\d+)">\1</a>.*?<td class="cc cc-([a-z-]+)">', device, re.S)
    assert history == [("2", "compliant"), ("1", "non-compliant")]  # latest first
    assert 'id="remediate"' not in device and "the remediate template needs the operator or engineer role" in device
    otto = app.test_client()
    sign_in(otto, "otto")
    device = otto.get("/compliance/devices/ce1?feature=logging").get_data(as_text=True)
    link = re.search(r'id="remediate" href="([^"]+)"', device).group(1).replace("&amp;", "&")
    assert link == "/jobs/new/remediate?devices=ce1&features=logging"
    form = otto.get(link).get_data(as_text=True)
    assert re.search(r'<option value="ce1"\s+selected>', form) and re.search(
        r'<option value="logging"\s+selected>', form
    )
    assert 'id="feature-device"' in otto.get("/compliance/devices/pe1").get_data(as_text=True)  # its error row
    assert otto.get("/compliance/devices/nowhere").status_code == 404


def test_alarm_events_raise_what_is_not_compliant_and_clear_the_rest():
    events = compliance.alarm_events(DRIFT, 7)
    raises = [e for e in events if e.action == "raise"]
    assert [(e.device, e.condition, e.severity) for e in raises] == [
        ("ce1", "compliance:logging", "major"),
        ("ce1", "compliance:aaa", "major"),
    ]
    logging, aaa = raises
    assert logging.specific_problem == "not compliant with logging: missing log syslog"
    assert aaa.specific_problem == "not compliant with aaa: extra password <removed>"
    assert (logging.source, logging.object_type, logging.object_name, logging.alarm_type, logging.probable_cause) == (
        "compliance", "device", "", "processingErrorAlarm", "configurationOrCustomizationError",
    )  # fmt: skip
    assert logging.details == {"run": 7, "rules": "syslog"} and logging.fingerprint == "ce1|device:|compliance:logging"
    clears = [e for e in events if e.action == "clear"]
    assert len(clears) == 6 * 7 - 2
    assert {(e.device, e.condition) for e in clears} == {
        (d["device"], f"compliance:{f}") for d in DRIFT["devices"] for f in d["features"]
    } - {("ce1", "compliance:logging"), ("ce1", "compliance:aaa")}
    only = compliance.alarm_events(DRIFT, 7, alarmed={("pe1", "bgp")})
    assert [(e.action, e.device, e.condition) for e in only if e.action == "clear"] == [
        ("clear", "pe1", "compliance:bgp")
    ]
    # A feature that could not be checked, or a device, says nothing either way.
    broken = copy.deepcopy(DRIFT)
    broken["devices"][1]["features"]["bgp"] = "error"
    broken["devices"][2].update(status="error", features={}, error="unreachable")
    names = {(e.device, e.condition) for e in compliance.alarm_events(broken, 8)}
    assert ("ce2", "compliance:bgp") not in names and not any(d == "p1" for d, _c in names)


def test_the_specific_problem_is_bounded_and_says_what_is_wrong():
    missing = "router bgp 1\n neighbor a b\n" * 30
    rules = [{"feature": "bgp", "rule": "x", "status": "non-compliant", "missing": missing},
             {"feature": "bgp", "rule": "y", "status": "non-compliant", "message": "custom check said no"},
             {"feature": "bgp", "rule": "z", "status": "exempt"}]  # fmt: skip
    text = compliance.specific_problem("bgp", rules)
    assert len(text) == 200 and text.startswith("not compliant with bgp: missing router bgp 1, neighbor a b, ")
    assert text.endswith("...")
    assert compliance.specific_problem("bgp", rules[1:]) == "not compliant with bgp: custom check said no"


def test_the_alarms_of_a_device_make_one_ticket_that_resolves_when_it_is_fixed(app):  # noqa: F811
    run = dict(DRIFT, job_id=5)
    with app.app_context():
        proc = Processor(lambda: TOPO, Settings(ticket_hold=2))
        t0 = dt.datetime.now(dt.UTC)
        assert proc.ingest(compliance.alarm_events(run, 1), now=t0).stored == 42
        proc.tick(now=t0 + dt.timedelta(seconds=3))
        tickets = db.session.scalars(select(Ticket)).all()
        assert [(t.name, t.severity, t.device) for t in tickets] == [
            ("ce1 not compliant: logging, aaa (ACME-AMS-0001)", "major", "ce1")
        ]
        related = {(r["@referredType"], r["role"]): r["name"] for r in tickets[0].related}
        assert related[("Job", "detectedBy")] == "job 5 (compliance)"
        assert "Root cause: ce1: not compliant with logging: missing log syslog" in tickets[0].description
        alarms = db.session.scalars(select(Alarm).order_by(Alarm.id)).all()
        assert [(a.condition, a.details) for a in alarms] == [
            ("compliance:logging", {"run": 1, "rules": "syslog", "job": 5}),
            ("compliance:aaa", {"run": 1, "rules": "no-plaintext-password", "job": 5}),
        ]
        proc.ingest(
            compliance.alarm_events(fixed_run(), 2, {("ce1", "logging"), ("ce1", "aaa")}),
            now=t0 + dt.timedelta(minutes=1),
        )
        proc.tick(now=t0 + dt.timedelta(minutes=1, seconds=1))
        assert db.session.scalar(select(Ticket)).status == "resolved"


def _overview(app, client):  # noqa: F811
    assert post(client, app, DRIFT).status_code == 201
    return client.get("/api/v1/compliance/overview", headers=bearer(token_for(app, "vera"))).get_json()


def test_the_cli_report_marks_each_device_feature_and_says_what_is_wrong(app, client):  # noqa: F811
    text = text_report(_overview(app, client))
    lines = text.splitlines()
    assert lines[0] == ("compliance: 95.24% of the checked device features are compliant "
                        "(6 devices: 5 compliant, 1 non-compliant)")  # fmt: skip
    assert lines[1] == "latest run: 1 at 2026-11-26 23:30:00 UTC (backup)"
    assert lines[3].split() == ["DEVICE", *FEATURES]
    assert lines[4].split() == ["ce1", "NC", "NC", "C", "C", "C", "C", "C"]
    assert lines[5].split() == ["ce2", *["C"] * 7]
    tail = text[text.index("ce1 (frr): non-compliant, run 1") :].splitlines()
    assert tail == [
        "ce1 (frr): non-compliant, run 1",
        "  logging/syslog (required): non-compliant",
        "    missing:",
        "      log syslog",
        "    fix:",
        "      log syslog",
        "  aaa/no-plaintext-password (forbidden): non-compliant",
        "    extra:",
        "      password <removed>",
        "    fix:",
        "      no password",
    ]
    empty = {"devices": [], "percent": None}
    assert text_report(empty).startswith("no compliance run recorded yet")


def test_the_cli_command_prints_the_report_or_why_it_cannot(app, client, monkeypatch):  # noqa: F811
    from netoss.cli import main
    from netoss.data.portal_client import ClientError, PortalClient

    overview = _overview(app, client)
    calls = []

    def answer(self, method, path, **kwargs):
        calls.append((self.url, method, path, kwargs.get("params")))
        return overview

    monkeypatch.setattr(PortalClient, "_call", answer)
    env = {"PORTAL_URL": "http://portal.example", "PORTAL_TOKEN": "nto_x_y"}
    result = CliRunner().invoke(main, ["compliance", "report", "--device", "ce1"], env=env)
    assert result.exit_code == 0 and "ce1 (frr): non-compliant" in result.output
    assert calls == [("http://portal.example", "GET", "/api/v1/compliance/overview", {"days": 30, "device": "ce1"})]
    as_json = CliRunner().invoke(main, ["compliance", "report", "--json"], env=env)
    assert as_json.exit_code == 0 and json.loads(as_json.output)["percent"] == 95.24

    def refuse(self, method, path, **kwargs):
        raise ClientError("HTTP 401: unknown API token")

    monkeypatch.setattr(PortalClient, "_call", refuse)
    refused = CliRunner().invoke(main, ["compliance", "report"], env=env)
    assert refused.exit_code == 1
    assert "cannot read the compliance report: HTTP 401: unknown API token" in refused.output
