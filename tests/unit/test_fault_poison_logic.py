"""Poison for the fault pipeline, in pure logic: every field of an event is checked or
normalised before it is queued, so what a sender puts in it (a NUL byte, a 500-character time,
a float that JSON cannot carry) can always be stored; and what the queue holds is read strictly.
The real processor on PostgreSQL is in tests/integration/test_fault_poison.py."""

from __future__ import annotations

import json

import pytest

from netoss.domain.faults import snmp
from netoss.domain.faults.events import Event, InvalidEvent, check
from netoss.domain.faults.pipeline import syslog_handler, trap_handler
from netoss.domain.faults.rules import load_rules
from netoss.domain.faults.syslog import Rejected

RULES = load_rules(__import__("pathlib").Path(__file__).resolve().parents[2] / "faults" / "syslog.yml")


def _event(**kw) -> Event:
    base = dict(source="api", action="raise", device="edge-7", object_type="device", object_name="", condition="x-test")
    return Event(**{**base, **kw})


@pytest.mark.parametrize("field", ["text", "specific_problem"])
def test_a_nul_in_free_text_is_replaced_not_stored(field):
    e = check(_event(**{field: "peer\x00closed\x01 the session"}))
    assert "\x00" not in getattr(e, field) and "\x01" not in getattr(e, field)
    assert getattr(e, field) == "peer\ufffdclosed\ufffd the session"


@pytest.mark.parametrize("field", ["device", "object_name", "condition", "probable_cause"])
def test_a_nul_or_control_in_a_name_is_refused_naming_the_field(field):
    with pytest.raises(InvalidEvent) as err:
        check(_event(**{field: "edge\x00-7"}))
    assert err.value.detail.startswith(f"{field}:") and err.value.reason == "invalid_field"


@pytest.mark.parametrize(
    ("value", "normal"),
    [
        ("2026-12-04T21:00:00.123456789Z", "2026-12-04T21:00:00.123456+00:00"),  # Alertmanager's nanoseconds
        ("2026-12-04T22:00:00+01:00", "2026-12-04T21:00:00+00:00"),
        ("2026-12-04T21:00:00", "2026-12-04T21:00:00+00:00"),  # no zone: UTC
        ("", None),
        (None, None),
    ],
)
def test_times_are_normalised_to_utc_and_fit_the_column(value, normal):
    e = check(_event(time=value))
    assert e.time == normal and (e.time is None or len(e.time) <= 40)


@pytest.mark.parametrize("value", ["2026-12-04T21:00:00Z" + "0" * 500, "yesterday", "2026-13-45T99:00:00Z", 17])
def test_a_time_that_is_not_one_is_refused_naming_the_field(value):
    with pytest.raises(InvalidEvent) as err:
        check(_event(time=value))
    assert err.value.detail.startswith("time:") and len(err.value.detail) < 120, err.value.detail


def test_details_are_bounded_and_storable():
    e = check(
        _event(
            details={
                "nan": float("nan"),
                "big": 2**80,
                "nested": {"a": [1]},
                "nul": "a\x00b",
                **{f"k{i}": i for i in range(100)},
            }
        )
    )
    assert len(e.details) == 32
    assert json.loads(json.dumps(e.details, allow_nan=False)) == e.details  # strict JSON: PostgreSQL takes it
    assert e.details["nul"] == "a\ufffdb" and e.details["nested"] == '{"a": [1]}'


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "not an object"),
        (json.dumps({"source": "api"}).encode(), "action: missing"),
        (json.dumps({**_event().__dict__, "details": "x"}).encode(), "details: a JSON str"),
        (json.dumps({**_event().__dict__, "device": ["a"]}).encode(), "device: a JSON list"),
        (json.dumps({**_event().__dict__, "evil": 1}).encode(), "unknown field 'evil'"),
    ],
)
def test_a_queue_entry_that_is_not_an_event_says_why(entry, message):
    with pytest.raises(ValueError, match=message):
        Event.from_json(entry)


def test_a_syslog_datagram_with_a_nul_becomes_a_storable_event():
    handle = syslog_handler(RULES)
    line = b"<27>Dec  4 21:00:00 edge-7 bgpd[1]: %ADJCHANGE: neighbor 203.0.113.9 in vrf default Down Peer\x00closed"
    e = handle(line, "127.0.0.1")
    assert isinstance(e, Event) and e.device == "edge-7" and e.object_name == "203.0.113.9"
    assert "\x00" not in e.text and "\x00" not in e.specific_problem


def test_a_trap_whose_interface_name_holds_a_nul_is_refused_with_a_reason():
    handle = trap_handler(["c0mmunity"])
    trap = snmp.build_trap("c0mmunity", "1.3.6.1.6.3.1.1.5.3", [("1.3.6.1.2.1.31.1.1.1.1.3", "eth\x003")])
    with pytest.raises(Rejected) as err:
        handle(trap, "127.0.0.1")
    assert err.value.reason == "invalid_field" and "object_name" in err.value.detail
