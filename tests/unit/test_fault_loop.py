"""The fault processor's loop (``pipeline.process_forever``): when it ticks (correlation, tickets).
A real Redis and PostgreSQL, a processor that only records what is asked of it, and a clock of
the test's own; the real processor is in tests/unit/test_fault_shards.py and tests/integration."""

from __future__ import annotations

import pytest
import redis

from netoss.data.db import db
from netoss.domain.faults import pipeline
from netoss.domain.faults.events import Event
from netoss.domain.faults.processor import Outcome
from netoss.web import create_app


def _events(device: str, n: int) -> list[Event]:
    e = Event(source="syslog", action="raise", device=device, object_type="interface", object_name="e1",
              condition="interface-down", severity="major", specific_problem="Interface e1 down")  # fmt: skip
    return [e] * n


class _Processor:
    """Stores nothing but what the pipeline asks of it (its rows of progress), and says when it
    ingests and ticks; ``plan``: what arrives on the stream after each tick."""

    def __init__(self, log, conn, plan):
        self.log, self.conn, self.plan = log, conn, list(plan)

    def ingest(self, events, before_commit=None):
        self.log.append(f"ingest {len(events)}")
        out = Outcome(stored=len(events), verdicts=[None] * len(events))
        before_commit(out)
        db.session.commit()
        return out

    def tick(self):
        self.log.append("tick")
        if self.plan:
            pipeline.publish(self.conn, self.plan.pop(0))
        return {}


@pytest.fixture
def app(postgres):
    app = create_app({"SQLALCHEMY_DATABASE_URI": postgres.database(), "SECRET_KEY": "t", "TESTING": True})
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]

    def monotonic():
        now[0] += 0.01  # each look at the clock: 10 ms later
        return now[0]

    monkeypatch.setattr(pipeline.time, "monotonic", monotonic)
    return now


def test_a_batch_that_empties_the_queue_is_ticked_at_once_a_storm_twice_a_second(clock, app, redis_url):
    """The first batch after a quiet spell is correlated (and its ticket opened) right away, not
    at the next half second; full batches (a storm) are not each followed by a tick."""
    conn = redis.Redis.from_url(redis_url)
    conn.flushdb()
    log: list[str] = []
    # one device's events (one shard): 1 event; then 1,003 (a storm: two full batches of 500, then 3)
    proc = _Processor(log, conn, [_events("edge7.par", 1), _events("edge7.par", 1003)])
    pipeline.process_forever(app, proc, conn, "c1", stop=lambda: log.count("tick") == 3, block_ms=20)
    assert log == ["tick", "ingest 1", "tick", "ingest 500", "ingest 500", "ingest 3", "tick"]
    conn.flushdb()


def test_when_the_processor_ticks():
    assert pipeline.tick_due(settled=1, full=False, since_tick=0.01)  # a quiet network's first event: now
    assert pipeline.tick_due(settled=499, full=False, since_tick=0.01)  # the queue is empty after it
    assert pipeline.tick_due(settled=900, full=False, since_tick=0.01)  # from several shards, none full
    assert not pipeline.tick_due(settled=500, full=True, since_tick=0.1)  # a storm: more waits behind it
    assert pipeline.tick_due(settled=500, full=True, since_tick=0.5)  # ... but twice a second all the same
    assert not pipeline.tick_due(settled=0, full=False, since_tick=0.2)  # nothing came
    assert pipeline.tick_due(settled=0, full=False, since_tick=0.5)  # damped clears, holds: time decides
