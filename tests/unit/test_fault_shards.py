"""Fault processors scaled out (``netoss.domain.faults.shards`` and ``pipeline.Consumer``): the
event stream in shards, leases shared between processors, a dead processor's shards and pending
entries taken over, and nothing stored or counted twice, whatever moment a processor dies at.
A real Redis (the session's redis-server) and PostgreSQL; a network of its own, not the demo's."""

from __future__ import annotations

import time

import pytest
import redis
from sqlalchemy import create_engine, func, select, text

from netoss.data.db import db
from netoss.data.models import Alarm, AlarmEvent
from netoss.domain.faults import pipeline, shards
from netoss.domain.faults.events import Event
from netoss.domain.faults.processor import TICK_LOCK, Processor, Settings
from netoss.domain.faults.topology import Topology
from netoss.web import create_app

DEVICES = [f"agg{n:02d}.lon" for n in range(24)]
TOPO = Topology.from_records(
    [{"id": i + 1, "name": name} for i, name in enumerate(DEVICES)],
    [{"id": i + 1, "name": "xe-0/0/1", "device": {"name": name}} for i, name in enumerate(DEVICES)],
    [],
    [],
)
LEASE_MS = 400


@pytest.fixture
def app(postgres):
    app = create_app({"SQLALCHEMY_DATABASE_URI": postgres.database(), "SECRET_KEY": "t", "TESTING": True})
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def conn(redis_url):
    c = redis.Redis.from_url(redis_url)
    c.flushdb()
    yield c
    c.flushdb()


def event(device: str, action: str = "raise", source: str = "syslog") -> Event:
    return Event(source=source, action=action, device=device, object_type="interface", object_name="xe-0/0/1",
                 condition="interface-down", specific_problem="Interface xe-0/0/1 down")  # fmt: skip


def consumer(conn, name: str, batch: int = 500) -> pipeline.Consumer:
    return pipeline.Consumer(
        Processor(lambda: TOPO, Settings()), conn, name, block_ms=20, batch=batch, lease_ms=LEASE_MS
    )


def storm(conn, per_device: int = 10) -> int:
    """Each device's link flaps ``per_device`` times (raise, clear, ...), plus events about a
    device NetBox does not have (rejected); the number of events."""
    events = []
    for i in range(per_device):
        events += [event(d, "raise" if i % 2 == 0 else "clear") for d in DEVICES]
        events.append(event("not-in-netbox"))
    pipeline.publish(conn, events)
    return len(events)


def read(c: pipeline.Consumer) -> list:
    """The next entries the consumer reads (its first read is of its own pending entries: none)."""
    for _ in range(10):
        entries = c.read()
        if entries:
            return entries
    raise AssertionError("nothing to read")


def drain(c: pipeline.Consumer, conn, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while pipeline.queued(conn) and time.monotonic() < deadline:
        c.step()
    assert pipeline.queued(conn) == 0


def accounted(conn) -> dict:
    c = pipeline.counters(conn)
    return {
        "stored": sum(c["stored"].values()),
        "rejected": sum(n for r in c["rejected"].values() for n in r.values()),
        "dead": sum(c["dead"].values()),
    }


def test_a_devices_events_stay_on_one_shard_in_order_and_devices_spread_over_shards(conn):
    pipeline.publish(conn, [event(d, a) for a in ("raise", "clear", "raise") for d in DEVICES])
    seen: dict[str, list[tuple[int, str]]] = {}
    for k in range(shards.SHARDS):
        for _id, fields in conn.xrange(shards.stream(k)):
            e = Event.from_json(fields[b"e"])
            seen.setdefault(e.device, []).append((k, e.action))
    assert set(seen) == set(DEVICES)
    for device, entries in seen.items():
        assert len({k for k, _a in entries}) == 1, device  # one shard per device
        assert [a for _k, a in entries] == ["raise", "clear", "raise"]  # in the order sent
    assert len({entries[0][0] for entries in seen.values()}) >= 8  # spread (24 devices on 16 shards)
    # a trap names no device yet: its sender's address decides, so a sender's traps stay together
    trap = Event(source="snmp", action="raise", device="", object_type="interface", object_name="",
                 condition="interface-down", details={"source_address": "192.0.2.7"})  # fmt: skip
    assert shards.shard_of("", "192.0.2.7", shards.SHARDS) == shards.shard_of("", "192.0.2.7", shards.SHARDS)
    assert pipeline.publish(conn, [trap]) == 1


def test_processors_share_the_shards_and_a_survivor_takes_over_a_dead_ones(conn):
    a = shards.Leases(conn, "proc-a", shards.SHARDS, LEASE_MS)
    b = shards.Leases(conn, "proc-b", shards.SHARDS, LEASE_MS)
    assert len(a.tend()) == shards.SHARDS  # alone: every shard
    assert b.tend() == []  # a second one: none free yet
    assert len(a.tend()) == shards.SHARDS // 2  # the first gives back its share beyond half
    held_b = b.tend()
    assert len(held_b) == shards.SHARDS // 2
    assert set(a.tend()) | set(held_b) == set(range(shards.SHARDS))
    assert sorted(shards.live(conn)) == ["proc-a", "proc-b"]
    time.sleep(LEASE_MS / 1000 + 0.1)  # a dies (kill -9: it never tends again)
    assert len(b.tend()) == shards.SHARDS  # its leases lapsed: b takes them all
    assert shards.live(conn) == ["proc-b"]
    b.leave()  # a processor stopping gives its shards back at once
    assert set(shards.holders(conn, shards.SHARDS).values()) == {None}


def test_one_processor_stores_every_event_once_and_accounts_for_each(app, conn):
    n = storm(conn)
    c = consumer(conn, "proc-a")
    drain(c, conn)
    assert accounted(conn) == {"stored": n - 10, "rejected": 10, "dead": 0}
    assert db.session.scalar(select(func.count(AlarmEvent.id))) == n - 10
    # each device's link went down 5 times within the flap window: one alarm each, flapping, its
    # last clear waiting the quiet time (one reader per shard saw every raise of its devices)
    active = list(db.session.scalars(select(Alarm).where(Alarm.active_key.is_not(None))))
    assert sorted(a.device for a in active) == sorted(DEVICES)
    assert all(a.flapping and a.clear_due_at is not None for a in active)


def _survivor_finishes(conn, n: int) -> None:
    time.sleep(LEASE_MS / 1000 + 0.1)  # the dead processor's leases lapse
    b = consumer(conn, "proc-b")
    drain(b, conn)
    assert not conn.xpending(shards.stream(0), shards.GROUP)["pending"]
    assert sum(conn.xpending(s, shards.GROUP)["pending"] for s in shards.streams(shards.SHARDS)) == 0
    assert accounted(conn) == {"stored": n - 10, "rejected": 10, "dead": 0}  # counted once
    db.session.rollback()
    assert db.session.scalar(select(func.count(AlarmEvent.id))) == n - 10  # stored once


def test_a_processor_killed_after_storing_before_acknowledging_loses_nothing_and_nothing_is_stored_twice(
    app, conn, monkeypatch
):
    n = storm(conn)
    a = consumer(conn, "proc-a", batch=50)
    a.store(read(a))  # some batches stored and counted
    stored_before = accounted(conn)["stored"]
    assert 0 < stored_before < n - 10

    def killed(*args, **kwargs):
        raise SystemExit("kill -9")  # between the commit and the counting

    monkeypatch.setattr(a.progress, "settle_own", killed)
    with pytest.raises(SystemExit):
        a.store(read(a))
    db.session.rollback()
    assert accounted(conn)["stored"] == stored_before  # stored in PostgreSQL, not counted yet
    assert db.session.scalar(select(func.count(AlarmEvent.id))) > stored_before
    _survivor_finishes(conn, n)


def test_a_processor_killed_while_storing_loses_nothing(app, conn, monkeypatch):
    n = storm(conn)
    a = consumer(conn, "proc-a", batch=50)

    def killed(*args, **kwargs):
        raise SystemExit("kill -9")  # in the middle of the transaction

    monkeypatch.setattr(a.processor, "ingest", killed)
    with pytest.raises(SystemExit):
        a.store(read(a))
    db.session.rollback()
    assert accounted(conn)["stored"] == 0
    assert sum(conn.xpending(s, shards.GROUP)["pending"] for s in shards.streams(shards.SHARDS)) > 0
    _survivor_finishes(conn, n)


def test_a_slow_processor_whose_shards_were_taken_stores_nothing_twice(app, conn):
    """A processor paused past its lease (a long GC, a stalled disk) finds, when it goes on,
    that the entries it read were taken over and stored by another: it stores none again."""
    n = storm(conn)
    a = consumer(conn, "proc-a", batch=1000)
    entries = read(a)
    assert len(entries) == n
    time.sleep(LEASE_MS / 1000 + 0.1)
    b = consumer(conn, "proc-b")
    drain(b, conn)
    assert accounted(conn) == {"stored": n - 10, "rejected": 10, "dead": 0}
    assert a.store(entries) == n  # it goes on: every entry is found stored already
    db.session.rollback()
    assert accounted(conn) == {"stored": n - 10, "rejected": 10, "dead": 0}
    assert db.session.scalar(select(func.count(AlarmEvent.id))) == n - 10


def test_unreadable_entries_are_dead_lettered_once_even_when_their_processor_dies(app, conn, monkeypatch):
    conn.xadd(shards.stream(3), {"e": b"{not json"})
    conn.xadd(shards.stream(3), {"other": b"field"})
    a = consumer(conn, "proc-a")
    monkeypatch.setattr(a.progress, "settle_own", lambda *args, **kw: (_ for _ in ()).throw(SystemExit("kill")))
    with pytest.raises(SystemExit):
        a.store(read(a))
    db.session.rollback()
    time.sleep(LEASE_MS / 1000 + 0.1)
    drain(consumer(conn, "proc-b"), conn)
    assert accounted(conn) == {"stored": 0, "rejected": 0, "dead": 2}
    letters = pipeline.dead_letters(conn)
    assert sorted((letter["reason"], letter["error"]) for letter in letters) == [
        (
            "unreadable",
            "not an event: not JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        ),
        ("unreadable", "the entry has no field 'e'"),
    ]


def test_one_processor_ticks_at_a_time(app, postgres):
    proc = Processor(lambda: TOPO, Settings())
    other = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    with other.connect() as c:
        assert c.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": TICK_LOCK})
        assert proc.tick().get("skipped") == 1  # another processor's pass is running
        c.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": TICK_LOCK})
    assert "skipped" not in proc.tick()
    other.dispose()


def test_a_slow_processor_that_lost_its_shards_after_storing_counts_nothing_twice(app, conn, monkeypatch):
    """A processor paused between storing a batch and counting it, long enough for another to
    take its shards over and count that batch from the shards' rows, counts none of it when it
    goes on (its entries are no longer its own)."""
    n = storm(conn)
    a = consumer(conn, "proc-a", batch=1000)
    settle = a.progress.settle_own
    taken = []

    def paused(*args, **kwargs):
        if not taken:
            time.sleep(LEASE_MS / 1000 + 0.1)
            drain(consumer(conn, "proc-b"), conn)  # takes the shards, counts the stored batch
            taken.append(accounted(conn))
        return settle(*args, **kwargs)

    monkeypatch.setattr(a.progress, "settle_own", paused)
    a.store(read(a))
    assert taken == [{"stored": n - 10, "rejected": 10, "dead": 0}]
    assert accounted(conn) == {"stored": n - 10, "rejected": 10, "dead": 0}
    db.session.rollback()
    assert db.session.scalar(select(func.count(AlarmEvent.id))) == n - 10
