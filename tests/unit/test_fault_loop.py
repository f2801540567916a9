"""The fault processor's loop (``pipeline.process_forever``): when it ticks (correlation, tickets).
A Redis stream and a processor that only record what is asked of them, and a clock of the
test's own; the real stream and processor are in tests/integration/test_faults.py."""

from __future__ import annotations

import flask
import pytest

from netoss.domain.faults import pipeline
from netoss.domain.faults.events import Event
from netoss.domain.faults.processor import Outcome


def _entries(first: int, n: int) -> list:
    e = Event(source="syslog", action="raise", device="r1", object_type="interface", object_name="e1",
              condition="interface-down", severity="major", specific_problem="Interface e1 down")  # fmt: skip
    return [(f"{first + i}-0".encode(), {b"e": e.to_json().encode()}) for i in range(n)]


class _Stream:
    """xreadgroup answers the batches given, one per call, then nothing (and the loop stops)."""

    def __init__(self, batches, log):
        self.batches, self.log = list(batches), log

    def xgroup_create(self, *args, **kwargs):
        pass

    def xreadgroup(self, group, consumer, streams, count, block):
        if not self.batches:
            self.log.append("empty")
            return []
        batch = self.batches.pop(0)
        self.log.append(f"read {len(batch)}")
        return [(pipeline.STREAM.encode(), batch)] if batch else []

    def pipeline(self, transaction=False):
        return self

    def hincrby(self, *args):
        return self

    def xack(self, *args):
        return self

    def xdel(self, *args):
        return self

    def execute(self):
        return []


class _Processor:
    def __init__(self, log):
        self.log = log

    def ingest(self, events):
        out = Outcome(stored=len(events))
        out.stored_by_source = {"syslog": len(events)}
        return out

    def tick(self):
        self.log.append("tick")
        return {}


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]

    def monotonic():
        now[0] += 0.01  # each look at the clock: 10 ms later
        return now[0]

    monkeypatch.setattr(pipeline.time, "monotonic", monotonic)
    return now


def test_a_batch_that_empties_the_queue_is_ticked_at_once_a_storm_twice_a_second(clock):
    """The first batch after a quiet spell is correlated (and its ticket opened) right away, not
    at the next half second; full batches (a storm) are not each followed by a tick."""
    log: list[str] = []
    full = 500  # the consumer's batch
    batches = [_entries(1, 1), _entries(10, full), _entries(1000, full), _entries(2000, 3)]
    stream = _Stream(batches, log)
    pipeline.process_forever(flask.Flask("t"), _Processor(log), stream, "c1", stop=lambda: log[-1:] == ["empty"])
    assert log == ["read 1", "tick", "read 500", "read 500", "read 3", "tick", "empty"]


def test_when_the_processor_ticks():
    assert pipeline.tick_due(settled=1, batch=500, since_tick=0.01)  # a quiet network's first event: now
    assert pipeline.tick_due(settled=499, batch=500, since_tick=0.01)  # the queue is empty after it
    assert not pipeline.tick_due(settled=500, batch=500, since_tick=0.1)  # a storm: more waits behind it
    assert pipeline.tick_due(settled=500, batch=500, since_tick=0.5)  # ... but twice a second all the same
    assert not pipeline.tick_due(settled=0, batch=500, since_tick=0.2)  # nothing came
    assert pipeline.tick_due(settled=0, batch=500, since_tick=0.5)  # damped clears, holds: time decides
