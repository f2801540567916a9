"""Alertmanager's webhook: the mapping to events, authentication, and bad payloads counted."""

from __future__ import annotations

import json

import pytest
from fault_queue import FaultQueue
from flask_migrate import upgrade

from netoss.data.db import db
from netoss.data.models import User
from netoss.domain.faults import alertmanager
from netoss.web import create_app
from netoss.web.security import hash_password, new_token

FIRING = {
    "version": "4",
    "groupKey": '{}:{alertname="InterfaceDown"}',
    "truncatedAlerts": 0,
    "status": "firing",
    "receiver": "netoss",
    "groupLabels": {"alertname": "InterfaceDown"},
    "commonLabels": {"alertname": "InterfaceDown"},
    "commonAnnotations": {},
    "externalURL": "http://127.0.0.1:9093",
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "InterfaceDown",
                "instance": "198.18.0.13:9100",
                "ifName": "eth3",
                "severity": "critical",
                "netoss_condition": "interface-down",
            },
            "annotations": {"summary": "eth3 is down"},
            "startsAt": "2026-11-26T12:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus/graph",
            "fingerprint": "a1b2c3",
        },
        {
            "status": "resolved",
            "labels": {"alertname": "High CPU Load", "device": "p1"},
            "startsAt": "2026-11-26T11:00:00Z",
        },
    ],
}


def test_alerts_map_to_events_that_dedupe_with_other_sources():
    first, second = alertmanager.events(alertmanager.check(FIRING))
    assert (first.action, first.device, first.object_type, first.object_name) == (
        "raise",
        "198.18.0.13",
        "interface",
        "eth3",
    )
    assert first.condition == "interface-down" and first.severity == "critical"  # same alarm as FRR's syslog says
    assert first.details["source_address"] == "198.18.0.13" and first.specific_problem == "eth3 is down"
    assert (second.action, second.device, second.condition) == ("clear", "p1", "am-high-cpu-load")


@pytest.mark.parametrize(
    ("payload", "reason", "detail"),
    [
        ([1, 2], "invalid_json", "not a JSON object"),
        ({**FIRING, "colour": "red"}, "unknown_field", "body: Additional properties are not allowed ('colour'"),
        ({**FIRING, "version": "3"}, "invalid_field", "version: '4' was expected"),
        (
            {**FIRING, "alerts": [{"status": "firing", "labels": {}, "startsAt": "x"}]},
            "invalid_field",
            "alerts.0.labels: 'alertname' is a required property",
        ),
    ],
)
def test_bad_payloads_name_the_field(payload, reason, detail):
    with pytest.raises(alertmanager.PayloadError) as err:
        alertmanager.check(payload)
    assert err.value.reason == reason and detail in err.value.detail, err.value.detail


@pytest.fixture
def app(tmp_path, monkeypatch):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.db'}", "SECRET_KEY": "t", "TESTING": True})
    with app.app_context():
        upgrade()
        for name, role in (("vera", "viewer"), ("otto", "operator")):
            db.session.add(User(username=name, password_hash=hash_password("x" * 12), role=role))
        db.session.commit()
        tokens = {
            name: new_token(db.session.query(User).filter_by(username=name).one(), "t")[1] for name in ("vera", "otto")
        }
        db.session.commit()
    app.config["TOKENS"] = tokens
    recorder = FaultQueue()
    monkeypatch.setattr("netoss.web.api.faults.fault_queue", lambda: recorder)
    app.config["RECORDER"] = recorder
    return app


def _post(app, body, token=None, raw=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {app.config['TOKENS'][token]}"
    data = raw if raw is not None else json.dumps(body)
    return app.test_client().post("/api/v1/faults/alertmanager", data=data, headers=headers)


def test_the_webhook_needs_a_token_of_an_operator(app):
    assert _post(app, FIRING).status_code == 401
    bad = _post(app, FIRING, raw=json.dumps(FIRING))
    assert bad.status_code == 401
    headers = {"Authorization": "Bearer nto_nope_nope", "Content-Type": "application/json"}
    assert app.test_client().post("/api/v1/faults/alertmanager", json=FIRING, headers=headers).status_code == 401
    assert _post(app, FIRING, "vera").status_code == 403
    assert not app.config["RECORDER"].events


def test_the_webhook_queues_good_alerts_and_counts_bad_payloads(app):
    rec = app.config["RECORDER"]
    ok = _post(app, FIRING, "otto")
    assert ok.status_code == 200 and ok.get_json() == {"accepted": 2, "rejected": []}
    assert [e.action for e in rec.events] == ["raise", "clear"]
    assert _post(app, None, "otto", raw="{not json").status_code == 400
    unknown = _post(app, {**FIRING, "colour": "red"}, "otto")
    assert unknown.status_code == 400 and "unknown_field" in unknown.get_json()["error"]
    bad_device = {**FIRING, "alerts": [{**FIRING["alerts"][1], "labels": {"alertname": "X", "device": "a|b"}}]}
    partly = _post(app, bad_device, "otto").get_json()
    assert partly["accepted"] == 0 and partly["rejected"][0]["reason"] == "invalid_field"
    assert rec.counters == {
        "received:alertmanager": 2 + 1 + 1 + 1,
        "rejected:alertmanager:invalid_json": 1,
        "rejected:alertmanager:unknown_field": 1,
        "rejected:alertmanager:invalid_field": 1,
    }


def test_a_full_queue_answers_503_with_retry_after_and_counts_the_refused(app):
    """Past FAULTS_STREAM_MAXLEN the stream refuses: the webhook says 503 (Alertmanager sends
    again), the refused alerts are counted as queue_full, nothing is trimmed unseen."""
    rec = app.config["RECORDER"]
    app.config["FAULTS_STREAM_MAXLEN"] = 1
    resp = _post(app, FIRING, "otto")
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "10", resp.get_data(as_text=True)
    assert "the fault queue is full: 1 events refused, 1 queued" in resp.get_json()["error"]
    assert len(rec.events) == 1 and rec.counters["rejected:alertmanager:queue_full"] == 1
    assert rec.counters["received:alertmanager"] == 2
