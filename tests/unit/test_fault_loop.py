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
    ingests and ticks (each event raises an alarm); ``plan``: what arrives on the stream after
    each tick."""

    def __init__(self, log, conn, plan):
        self.log, self.conn, self.plan = log, conn, list(plan)

    def ingest(self, events, before_commit=None):
        self.log.append((f"ingest {len(events)}", pipeline.time.monotonic()))
        out = Outcome(stored=len(events), verdicts=[None] * len(events), changes=len(events))
        before_commit(out)
        db.session.commit()
        return out

    def tick(self):
        self.log.append(("tick", pipeline.time.monotonic()))
        if self.plan:
            pipeline.publish(self.conn, self.plan.pop(0))
        return {}


class _Unblocked:
    """The Redis client, its reads never blocking: the test's clock runs apart from Redis's (whose
    blocking reads time out at its own 100 ms granularity, whatever they ask)."""

    def __init__(self, conn):
        self.conn = conn

    def __getattr__(self, name):
        return getattr(self.conn, name)

    def xreadgroup(self, *args, block=None, **kwargs):
        return self.conn.xreadgroup(*args, block=None, **kwargs)


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
        now[0] += 0.001  # each look at the clock: 1 ms later
        return now[0]

    monkeypatch.setattr(pipeline.time, "monotonic", monotonic)
    return now


def test_new_alarms_are_ticked_within_the_gap_and_a_storm_is_not_ticked_batch_by_batch(clock, app, redis_url):
    """The alarm of a quiet network's first event is correlated (and its ticket opened) within
    TICK_GAP, not at the next periodic tick; a storm's batches are not each followed by a
    correlation pass."""
    conn = redis.Redis.from_url(redis_url)
    conn.flushdb()
    log: list[tuple[str, float]] = []
    # one device's events (one shard): 1 event; then 1,003 (two full batches of 500, then 3)
    proc = _Processor(log, conn, [_events("edge7.par", 1), _events("edge7.par", 1003)])
    stop = lambda: [w for w, _t in log].count("tick") == 3  # noqa: E731
    pipeline.process_forever(app, proc, _Unblocked(conn), "c1", stop=stop, block_ms=20)
    assert [what for what, _t in log] == ["tick", "ingest 1", "tick", "ingest 500", "ingest 500", "ingest 3", "tick"]
    times = dict(zip(range(len(log)), (t for _w, t in log), strict=True))
    assert times[2] - times[1] <= pipeline.TICK_GAP + 0.01  # the first event's alarm: ticked within the gap
    assert times[6] - times[5] <= pipeline.TICK_GAP + 0.01
    conn.flushdb()


def test_when_the_processor_ticks():
    gap, every = pipeline.TICK_GAP, pipeline.TICK_EVERY
    assert pipeline.tick_due(changes=1, since_tick=0.01, since_change_tick=1.0)  # a quiet network's first alarm: now,
    # however recent the last periodic tick
    assert pipeline.tick_due(changes=3, since_tick=gap, since_change_tick=gap)  # alarms, and the gap has passed
    assert not pipeline.tick_due(changes=500, since_tick=0.05, since_change_tick=0.05)  # a storm: not a pass per batch
    assert pipeline.tick_due(changes=0, since_tick=every, since_change_tick=every)  # damped clears, holds: time decides
    assert not pipeline.tick_due(changes=0, since_tick=0.3, since_change_tick=5)  # duplicates only: nothing new
