"""Poison through the real fault pipeline of the test stack: its receivers, its Redis stream and
its processor daemon on PostgreSQL (SQLite would take what PostgreSQL refuses: NUL bytes,
over-long VARCHARs). From each receiver a poison entry: refused with a reason naming the field,
or normalised and stored; whatever the stream holds that is not an event, and an event the
database refuses, goes to the dead-letter stream, counted; and each time the next good event
still becomes an alarm within seconds. No demo name: the device is one NetBox has.
"""

from __future__ import annotations

import json
import socket
import uuid

import psycopg
import pytest
import redis
from waiting import wait_for

from netoss.domain.faults import snmp
from netoss.domain.faults.events import Event, now_iso
from netoss.domain.faults.pipeline import DEAD, STREAM, QueueFull, counters, publish
from netoss.embedded.stack import portal_app

pytestmark = pytest.mark.integration

ALARMS = "/tmf-api/alarmManagement/v4/alarm"
MARKER = "netoss-poison-" + uuid.uuid4().hex[:8]
REFUSED = MARKER + "-refused-by-the-database"


@pytest.fixture(scope="module")
def config(stack):
    return json.loads(portal_app.config_file(stack).read_text())


@pytest.fixture(scope="module")
def conn(config):
    return redis.Redis.from_url(config["REDIS_URL"])


@pytest.fixture(scope="module")
def device(nb, demo_synced, stack, portal_api):
    """A device of the test NetBox, whichever the intent has. The alarms the module raised on
    it are cleared at its end (by hand, as the admin), so that later modules start clean."""
    name = next(iter(nb.dcim.devices.all())).name
    yield name
    active = portal_api.get(f"{stack.portal_url}{ALARMS}", params={"state": "active", "device": name}, timeout=10)
    for alarm in active.json():
        resp = portal_api.patch(f"{stack.portal_url}{ALARMS}/{alarm['id']}", json={"state": "cleared"}, timeout=30)
        assert resp.status_code in (200, 202), resp.text  # 202: the processor applies it shortly


def _alarm_raised(api, stack, device, condition, timeout=30.0) -> dict:
    """Wait (bounded) for the active alarm of ``condition`` on ``device``; print how long it took."""
    import time

    t0 = time.monotonic()

    def find():
        resp = api.get(f"{stack.portal_url}{ALARMS}", params={"state": "active", "device": device}, timeout=10)
        assert resp.status_code in (200, 202), resp.text  # 202: the processor applies it shortly
        return next((a for a in resp.json() if a["netoss"]["condition"] == condition), None)

    alarm = wait_for(f"the alarm {condition} on {device}", find, timeout=timeout)
    print(f"good event after poison -> alarm in {time.monotonic() - t0:.1f} s")
    return alarm


def _good(api, stack, device, tag) -> dict:
    """A good event through the events API, and its alarm."""
    condition = f"poison-check-{tag}"
    resp = api.post(
        f"{stack.portal_url}/api/v1/faults/events",
        timeout=10,
        json={
            "events": [
                {"action": "raise", "device": device, "condition": condition, "specific_problem": "after the poison"}
            ]
        },
    )
    assert resp.status_code == 200 and resp.json()["accepted"] == 1, resp.text
    return _alarm_raised(api, stack, device, condition)


def _settled(conn):
    return wait_for("the queue to drain", lambda: (c := counters(conn))["queued"] == 0 and c, timeout=30)


def test_a_syslog_datagram_with_a_nul_is_stored_clean_and_the_next_event_is_an_alarm(stack, portal_api, conn, device):
    before = counters(conn)
    peer = "203.0.113.77"
    line = (
        f"<27>Dec  4 21:00:00 {device} bgpd[1]: %ADJCHANGE: neighbor {peer} in vrf default Down Peer\x00closed {MARKER}"
    ).encode()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(line, ("127.0.0.1", stack.port("syslog")))
    alarm = _alarm_raised(portal_api, stack, device, "bgp-session-down")
    assert alarm["alarmedObject"]["name"].endswith(peer) and "\x00" not in alarm["specificProblem"]
    _good(portal_api, stack, device, "syslog")
    c = _settled(conn)
    assert c["stored"]["syslog"] > before["stored"].get("syslog", 0)
    assert c["dead"].get("syslog", 0) == before["dead"].get("syslog", 0)


def test_a_trap_with_a_nul_is_refused_with_its_reason_and_logged(stack, portal_api, conn, device):
    before = counters(conn)
    community = stack.load_secrets()["snmp_community"]
    trap = snmp.build_trap(community, "1.3.6.1.6.3.1.1.5.3", [("1.3.6.1.2.1.31.1.1.1.1.3", "eth\x003")])
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(trap, ("127.0.0.1", stack.port("snmptrap")))
    wait_for(
        "the trap to be counted as invalid_field",
        lambda: (
            counters(conn)["rejected"].get("snmp", {}).get("invalid_field", 0)
            > before["rejected"].get("snmp", {}).get("invalid_field", 0)
        ),
        timeout=30,
    )
    log = (stack.logs / "fault-receiver.log").read_text()
    assert "rejected (invalid_field): object_name:" in log and community not in log
    _good(portal_api, stack, device, "snmp")


def test_an_alert_whose_time_is_too_long_is_refused_naming_it_and_the_good_one_is_an_alarm(stack, portal_api, device):
    alert = {"status": "firing", "labels": {"alertname": "PoisonTest", "device": device}, "startsAt": "2026" * 100}
    good = {
        "status": "firing",
        "labels": {"alertname": "PoisonGood", "device": device},
        "startsAt": "2026-12-04T21:00:00.123456789Z",
    }
    resp = portal_api.post(
        f"{stack.portal_url}/api/v1/faults/alertmanager",
        timeout=10,
        json={"version": "4", "status": "firing", "alerts": [alert, good]},
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["accepted"] == 1 and len(body["rejected"]) == 1, body
    assert body["rejected"][0]["detail"].startswith("time:") and len(resp.text) < 1000, body
    _alarm_raised(portal_api, stack, device, "am-poisongood")


def test_a_tmf_alarm_whose_raised_time_is_too_long_is_refused_naming_it(stack, portal_api, device):
    body = {
        "alarmedObject": {"device": device},
        "condition": "poison-tmf",
        "alarmRaisedTime": "1" * 500,
        "perceivedSeverity": "minor",
    }
    resp = portal_api.post(f"{stack.portal_url}{ALARMS}", json=body, timeout=30)
    assert resp.status_code == 400, resp.text
    assert "time" in resp.text.lower() and len(resp.text) < 1000
    resp = portal_api.post(f"{stack.portal_url}{ALARMS}", json={**body, "alarmRaisedTime": now_iso()}, timeout=30)
    assert resp.status_code in (201, 202), resp.text
    _alarm_raised(portal_api, stack, device, "poison-tmf")


def test_the_events_api_refuses_a_nul_naming_the_field(stack, portal_api, device):
    resp = portal_api.post(
        f"{stack.portal_url}/api/v1/faults/events",
        timeout=10,
        json={"events": [{"action": "raise", "device": device, "condition": "poison-api", "text": "a\x00b"}]},
    )
    assert resp.status_code == 400 and "NUL" in resp.text, resp.text
    resp = portal_api.post(
        f"{stack.portal_url}/api/v1/faults/events",
        timeout=10,
        json={"events": [{"action": "raise", "device": device, "condition": "poison-api", "time": "x" * 300}]},
    )
    assert resp.status_code == 400 and "events.0.time" in resp.text and len(resp.text) < 1000, resp.text
    resp = portal_api.post(
        f"{stack.portal_url}/api/v1/faults/events",
        timeout=10,
        json={"events": [{"action": "raise", "device": device, "condition": "poison-api", "time": "yesterday"}]},
    )
    assert resp.status_code == 200 and resp.json()["rejected"][0]["detail"].startswith("time:"), resp.text
    _good(portal_api, stack, device, "api")


def test_what_the_stream_holds_that_is_not_an_event_is_dead_lettered_and_counted(stack, portal_api, conn, device):
    before = counters(conn)
    pipe = conn.pipeline(transaction=False)
    pipe.xadd(STREAM, {"e": b"\x00not json " + MARKER.encode()})
    pipe.xadd(
        STREAM,
        {
            "e": json.dumps(
                {
                    "source": "api",
                    "action": "raise",
                    "device": ["x"],
                    "object_type": "device",
                    "object_name": "",
                    "condition": MARKER,
                }
            )
        },
    )
    pipe.xadd(STREAM, {"other": "field"})
    pipe.execute()
    _good(portal_api, stack, device, "stream")
    c = _settled(conn)
    assert c["dead"].get("unknown", 0) == before["dead"].get("unknown", 0) + 3, c["dead"]
    resp = portal_api.get(f"{stack.portal_url}/api/v1/faults/dead-letters", params={"limit": 3}, timeout=10)
    assert resp.status_code == 200, resp.text
    dead = resp.json()
    assert {d["reason"] for d in dead} == {"unreadable"}, dead
    assert any("device: a JSON list" in d["error"] for d in dead) and any(MARKER in d["entry"] for d in dead)
    page = portal_api.get(f"{stack.portal_url}/alarms/pipeline", timeout=10)
    assert page.status_code == 200 and "device: a JSON list" in page.text


def test_an_event_the_database_refuses_is_dead_lettered_and_the_rest_of_its_batch_is_stored(
    stack, portal_api, conn, config, device
):
    """A failure no check foresaw (here a constraint the test adds to PostgreSQL): the batch is
    tried twice, then entry by entry; only the entry that fails is dead-lettered, with the
    database's error, and the others of its batch become alarms."""
    url = config["SQLALCHEMY_DATABASE_URI"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(f"ALTER TABLE alarm_events ADD CONSTRAINT poison_test CHECK (text NOT LIKE '%{REFUSED}%') NOT VALID")
        try:
            before = counters(conn)
            events = [
                Event(
                    source="api",
                    action="raise",
                    device=device,
                    object_type="device",
                    object_name="",
                    condition=f"poison-batch-{i}",
                    text=REFUSED if i == 1 else "fine",
                    received=now_iso(),
                )
                for i in range(3)
            ]
            publish(conn, events)
            for i in (0, 2):
                _alarm_raised(portal_api, stack, device, f"poison-batch-{i}")
            c = _settled(conn)
        finally:
            db.execute("ALTER TABLE alarm_events DROP CONSTRAINT poison_test")
    assert c["dead"].get("api", 0) == before["dead"].get("api", 0) + 1, c["dead"]
    (letter,) = [
        d
        for d in portal_api.get(f"{stack.portal_url}/api/v1/faults/dead-letters", timeout=10).json()
        if "poison-batch-1" in d["entry"]
    ]
    assert letter["reason"] == "processing_failed" and "poison_test" in letter["error"], letter
    active = portal_api.get(f"{stack.portal_url}{ALARMS}", params={"state": "active", "device": device}, timeout=10)
    assert "poison-batch-1" not in {a["netoss"]["condition"] for a in active.json()}
    _good(portal_api, stack, device, "db")  # the processor goes on


def test_the_stream_is_bounded_and_what_it_refuses_is_counted(config):
    """The bound, on a database of the stack's Redis that no processor reads."""
    scratch = redis.Redis.from_url(config["REDIS_URL"].rsplit("/", 1)[0] + "/15")
    scratch.flushdb()
    try:
        events = [
            Event(source="syslog", action="raise", device="d", object_type="device", object_name="", condition=f"c{i}")
            for i in range(5)
        ]
        assert publish(scratch, events[:2], maxlen=3) == 2
        with pytest.raises(QueueFull) as err:
            publish(scratch, events[2:], maxlen=3)
        assert err.value.queued == 1 and err.value.refused == ["syslog", "syslog"]
        c = counters(scratch)
        assert c["queued"] == 3 and c["rejected"]["syslog"]["queue_full"] == 2
        assert scratch.xlen(DEAD) == 0
    finally:
        scratch.flushdb()
