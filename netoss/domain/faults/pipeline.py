"""The fault pipeline's processes and the Redis stream between them.

    receivers (syslog, SNMP traps: `netoss faults receive`; webhooks and the API: the portal)
        -> Redis stream netoss:faults:events (one JSON Event per entry)
        -> `netoss faults process`: alarms, correlation, tickets (PostgreSQL)

Every datagram or request a receiver gets is counted in the Redis hash netoss:faults:counters
as ``received:<source>``, then as ``rejected:<source>:<reason>`` or, once the processor has
stored it, ``stored:<source>``, or ``dead:<source>`` once dead-lettered; so received = stored +
rejected + dead (+ what is still queued). The processor reads the stream as a consumer group: an
entry is acknowledged and deleted only after its alarm changes are committed, so a processor
that dies loses nothing.

Poison cannot stop the pipeline. Receivers check and normalise every event
(:func:`netoss.domain.faults.events.check`). The stream is bounded: past ``maxlen`` entries
(FAULTS_STREAM_MAXLEN) new events are refused and counted as ``rejected:<source>:queue_full``
(the webhooks answer 503), never trimmed unseen. A batch the processor cannot store is tried
again, then entry by entry; an entry that still fails, or that is not an event at all, goes to
the dead-letter stream netoss:faults:dead with the error, where the portal shows it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import socket
import time
from collections.abc import Iterable

from sqlalchemy import text

from netoss.data.db import db
from netoss.domain.faults import snmp
from netoss.domain.faults.events import Event, InvalidEvent, check, now_iso
from netoss.domain.faults.gone import RemovalLog
from netoss.domain.faults.rules import RuleSet
from netoss.domain.faults.syslog import Rejected, parse
from netoss.domain.faults.topology import Topology, fetch, newest_change

STREAM = "netoss:faults:events"
COUNTERS = "netoss:faults:counters"
DEAD = "netoss:faults:dead"
GROUP = "processors"
STREAM_MAXLEN = 200_000  # queued events (about 0.5 KiB each): FAULTS_STREAM_MAXLEN
DEAD_MAXLEN = 10_000  # dead letters kept for reading (all are counted)
MAX_DEAD_ENTRY = 4096  # characters of a dead entry kept
RCVBUF = 32 * 1024 * 1024  # a burst of 10,000 datagrams waits in the kernel, not dropped

log = logging.getLogger("netoss.faults")


def count(pipe, what: str, source: str, reason: str | None = None, n: int = 1) -> None:
    pipe.hincrby(COUNTERS, f"{what}:{source}" + (f":{reason}" if reason else ""), n)


def counters(conn) -> dict:
    """{received: {source: n}, stored: {...}, rejected: {source: {reason: n}}, dead: {source: n},
    queued: n, dead_letters: n (kept for reading)}."""
    out: dict = {
        "received": {},
        "stored": {},
        "rejected": {},
        "dead": {},
        "queued": conn.xlen(STREAM),
        "dead_letters": conn.xlen(DEAD),
    }
    for key, value in conn.hgetall(COUNTERS).items():
        parts = key.decode().split(":", 2)
        if parts[0] == "rejected" and len(parts) == 3:
            out["rejected"].setdefault(parts[1], {})[parts[2]] = int(value)
        elif parts[0] in ("received", "stored", "dead") and len(parts) == 2:
            out[parts[0]][parts[1]] = int(value)
    return out


# XADD each event while the stream is under its bound; count the others as refused. One script,
# so that concurrent receivers never push the stream past its bound.
_ENQUEUE = """
local len = redis.call('XLEN', KEYS[1])
local max = tonumber(ARGV[1])
local queued = 0
local refused = {}
for i = 2, #ARGV, 2 do
  if len < max then
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', max, '*', 'e', ARGV[i + 1])
    len = len + 1
    queued = queued + 1
  else
    redis.call('HINCRBY', KEYS[2], 'rejected:' .. ARGV[i] .. ':queue_full', 1)
    refused[#refused + 1] = ARGV[i]
  end
end
return {queued, refused}
"""


class QueueFull(RuntimeError):
    """Some events were refused: the stream is at its bound (the processor is behind or down)."""

    def __init__(self, queued: int, refused: list[str]):
        super().__init__(f"the fault queue is full: {len(refused)} events refused, {queued} queued")
        self.queued, self.refused = queued, refused


def publish(conn, events: Iterable[Event], maxlen: int | None = None) -> int:
    """Queue events for the processor (one round trip for the batch); the number queued.

    Past ``maxlen`` queued entries the rest are counted as ``rejected:<source>:queue_full``,
    logged, and :class:`QueueFull` is raised after the others are queued.
    """
    args: list = [int(maxlen or STREAM_MAXLEN)]
    for e in events:
        args += [str(e.source)[:16], e.to_json()]
    if len(args) == 1:
        return 0
    queued, refused = conn.eval(_ENQUEUE, 2, STREAM, COUNTERS, *args)
    if refused:
        refused = [r.decode() if isinstance(r, bytes) else str(r) for r in refused]
        log.error(
            "fault queue full (%d entries): %d events refused (%s), counted as queue_full",
            int(args[0]),
            len(refused),
            ", ".join(sorted(set(refused))),
        )
        raise QueueFull(int(queued), refused)
    return int(queued)


def dead_letter(conn, source: str, reason: str, error: str, entry: bytes | str, entry_id: str = "") -> None:
    """Keep an entry the processor could not use, with why, and count it (dead:<source>)."""
    if isinstance(entry, bytes):
        entry = entry.decode("utf-8", "replace")
    pipe = conn.pipeline(transaction=False)
    pipe.xadd(
        DEAD,
        {
            "at": now_iso(),
            "source": source[:16],
            "reason": reason,
            "error": error[:500],
            "entry": entry[:MAX_DEAD_ENTRY],
            "entry_id": entry_id,
        },
        maxlen=DEAD_MAXLEN,
        approximate=True,
    )
    count(pipe, "dead", source[:16])
    pipe.execute()
    log.error("event dead-lettered (%s) from %s: %s", reason, source, error[:300])


def dead_letters(conn, limit: int = 50) -> list[dict]:
    """The newest dead letters first."""
    out = []
    for entry_id, fields in conn.xrevrange(DEAD, count=limit):
        item = {k.decode(): v.decode("utf-8", "replace") for k, v in fields.items()}
        item["id"] = entry_id.decode()
        out.append(item)
    return out


class LogLimiter:
    """At most ``rate`` rejected-datagram lines per second in the log (at ``level``), then a count of the rest."""

    def __init__(self, rate: int = 20, level: int = logging.WARNING):
        self.rate, self.level, self.window, self.used, self.skipped = rate, level, 0, 0, 0

    def __call__(self, message: str, *args) -> None:
        second = int(time.monotonic())
        if second != self.window:
            if self.skipped:
                log.log(self.level, "... and %d more rejected datagrams in that second", self.skipped)
            self.window, self.used, self.skipped = second, 0, 0
        if self.used < self.rate:
            self.used += 1
            log.log(self.level, message, *args)
        else:
            self.skipped += 1


def _printable(data: bytes, limit: int = 120) -> str:
    return repr(data[:limit])[2:-1] + ("..." if len(data) > limit else "")


class DatagramReceiver(asyncio.DatagramProtocol):
    """One UDP source (syslog, SNMP traps): decode each datagram into an event or a reason,
    queue the events in batches, count everything (received, rejected by reason)."""

    def __init__(
        self,
        conn,
        source: str,
        handle,
        flush_every: float = 0.02,
        batch: int = 500,
        show_raw: bool = True,
        maxlen: int | None = None,
    ):
        self.conn, self.source, self.handle, self.maxlen = conn, source, handle, maxlen
        # SNMP datagrams carry the community (a secret) in clear: their bytes are never logged.
        self.show_raw = show_raw
        self.pending: list[tuple[str, object]] = []  # ("event", Event) or ("rejected", reason)
        self.flush_every, self.batch = flush_every, batch
        self.limiter = LogLimiter()
        # Well-formed datagrams that are no fault netoss knows (a line no rule matches): logged
        # too, at INFO with a small budget of their own, so routine chatter never hides a bad
        # datagram nor floods the log.
        self.unmatched = LogLimiter(rate=5, level=logging.INFO)
        self.flusher: asyncio.TimerHandle | None = None

    def datagram_received(self, data: bytes, addr) -> None:
        try:
            result = self.handle(data, addr[0])
        except Rejected as exc:
            self.limiter(
                "%s from %s rejected (%s): %s: %s", self.source, addr[0], exc.reason, exc.detail, self._raw(data)
            )
            self._queue("rejected", exc.reason)
            return
        except Exception as exc:  # a decoder bug must not stop the receiver: count it, log it
            why = str(exc)[:200] if self.show_raw else "message not shown: it may quote the datagram"
            self.limiter("%s from %s rejected (undecodable): %s: %s", self.source, addr[0], type(exc).__name__, why)
            self._queue("rejected", "undecodable")
            return
        if isinstance(result, str):  # no_rule, no_transition: counted and logged like any rejection
            self.unmatched("%s from %s rejected (%s): %s", self.source, addr[0], result, self._raw(data))
            self._queue("rejected", result)
        else:
            self._queue("event", result)

    def _raw(self, data: bytes) -> str:
        return _printable(data) if self.show_raw else f"({len(data)} bytes, not shown)"

    def _queue(self, kind: str, value) -> None:
        self.pending.append((kind, value))
        if len(self.pending) >= self.batch:
            self.flush()
        elif self.flusher is None:
            self.flusher = asyncio.get_running_loop().call_later(self.flush_every, self.flush)

    def flush(self) -> None:
        if self.flusher is not None:
            self.flusher.cancel()
            self.flusher = None
        pending, self.pending = self.pending, []
        if not pending:
            return
        pipe = self.conn.pipeline(transaction=False)
        count(pipe, "received", self.source, n=len(pending))
        reasons: dict[str, int] = {}
        events = []
        for kind, value in pending:
            if kind == "event":
                events.append(value)
            else:
                reasons[value] = reasons.get(value, 0) + 1
        for reason, n in reasons.items():
            count(pipe, "rejected", self.source, reason, n)
        try:
            pipe.execute()
            publish(self.conn, events, self.maxlen)
        except QueueFull:
            pass  # counted and logged by publish
        except Exception as exc:  # Redis away: the batch is lost, and the log says how much
            log.error("could not queue %d %s datagrams: %s", len(pending), self.source, exc)


def _checked(event: Event) -> Event:
    """The receivers' own check: every field valid and normalised before it is queued (the
    device may still be unknown: the processor finds it from the sender's address)."""
    try:
        return check(event, device_known=False)
    except InvalidEvent as exc:
        raise Rejected(exc.reason, exc.detail) from None


def syslog_handler(rules: RuleSet):
    def handle(data: bytes, address: str):
        message = parse(data)
        result = rules.event(message, message.hostname or "", now_iso())
        if not isinstance(result, str):
            result.details["source_address"] = address
            result = _checked(result)
        return result

    return handle


def trap_handler(communities: list[str]):
    def handle(data: bytes, address: str):
        result = snmp.event(snmp.parse(data, communities), address)
        return result if isinstance(result, str) else _checked(result)

    return handle


def _udp_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.setsockopt(socket.SOL_SOCKET, 33, RCVBUF)  # SO_RCVBUFFORCE (root): beyond rmem_max
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
    sock.bind((host, port))
    return sock


async def receive(
    conn, sources: dict[str, tuple[int, object]], bridge=None, hosts=("127.0.0.1",), maxlen: int | None = None
) -> None:
    """Serve each UDP source (name -> (port, handler)) on loopback, and on the address
    ``bridge()`` gives (the lab's bridge, where its routers send) as soon as there is one."""
    loop = asyncio.get_running_loop()
    bound: dict[tuple[str, str], asyncio.DatagramTransport] = {}

    async def bind(host: str) -> None:
        for source, (port, handle) in sources.items():
            try:
                transport, _ = await loop.create_datagram_endpoint(
                    lambda s=source, h=handle: DatagramReceiver(conn, s, h, show_raw=s != "snmp", maxlen=maxlen),
                    sock=_udp_socket(host, port),
                )
            except OSError as exc:
                log.error("cannot listen for %s on %s:%d: %s", source, host, port, exc)
                continue
            bound[(host, source)] = transport
            log.info("listening for %s on udp/%s:%d", source, host, port)

    for host in hosts:
        await bind(host)
    while True:
        address = bridge() if bridge else None
        if address and not any(h == address for h, _s in bound):
            await bind(address)
        for key in [k for k in bound if k[0] not in hosts and k[0] != address]:
            bound.pop(key).close()  # the lab went away
            log.info("stopped listening for %s on %s (the lab is down)", key[1], key[0])
        await asyncio.sleep(2)


class Consumer:
    """The processor's side of the stream: read a batch, store it, acknowledge it.

    A batch whose storing fails is rolled back and tried once more (a race between two
    processors, a serialisation failure); if it fails again its entries are tried one by one,
    each twice, and an entry that still fails goes to the dead-letter stream with the error,
    so one bad entry never holds the others back. When the database itself is unreachable
    nothing is dead-lettered: the batch waits and is read again.
    """

    def __init__(self, processor, conn, consumer: str | None = None, block_ms: int = 500, batch: int = 500):
        self.processor, self.conn = processor, conn
        self.name = consumer or f"{socket.gethostname()}:{os.getpid()}"
        self.block_ms, self.batch = block_ms, batch
        # Entries this consumer read before it died are read again first ("0"), then new ones (">").
        self.cursor = "0"
        try:
            conn.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
        except Exception as exc:  # BUSYGROUP: it exists
            if "BUSYGROUP" not in str(exc):
                raise

    def step(self) -> int:
        """Read and settle one batch; the number of entries settled (0: none waiting, or the
        database is away and the batch will be read again)."""
        entries = self.conn.xreadgroup(GROUP, self.name, {STREAM: self.cursor}, count=self.batch, block=self.block_ms)
        batch = entries[0][1] if entries else []
        if self.cursor == "0" and not batch:
            self.cursor = ">"
        if not batch:
            return 0
        ids, events, dead = [], [], []
        for entry_id, fields in batch:
            ids.append(entry_id)
            raw = (fields or {}).get(b"e")
            if raw is None:  # trimmed or written by something else: nothing to read
                dead.append(("unreadable", "the entry has no field 'e'", repr(fields)[:MAX_DEAD_ENTRY], entry_id))
                continue
            try:
                events.append((entry_id, raw, Event.from_json(raw)))
            except ValueError as exc:
                dead.append(("unreadable", f"not an event: {exc}", raw, entry_id))
        outcomes = self._store([e for _i, _r, e in events])
        if outcomes is None:  # the database is away: read the batch again, later
            self.cursor = "0"
            time.sleep(1)
            return 0
        stored, failed = outcomes
        for index, error in failed:
            entry_id, raw, event = events[index]
            dead.append(("processing_failed", error, raw, entry_id, event.source))
        pipe = self.conn.pipeline(transaction=False)
        for outcome in stored:
            for source, n in outcome.stored_by_source.items():
                count(pipe, "stored", source, n=n)
            for (source, reason), n in outcome.rejected_by_source.items():
                count(pipe, "rejected", source, reason, n)
        pipe.execute()
        for reason, error, raw, entry_id, *source in dead:
            dead_letter(self.conn, (source or ["unknown"])[0], reason, error, raw, _text(entry_id))
        pipe = self.conn.pipeline(transaction=False)
        pipe.xack(STREAM, GROUP, *ids)
        pipe.xdel(STREAM, *ids)
        pipe.execute()
        return len(ids)

    def _ingest(self, events: list[Event]):
        try:
            return self.processor.ingest(events), None
        except Exception as exc:
            db.session.rollback()
            return None, f"{type(exc).__name__}: {str(exc).splitlines()[0][:400] if str(exc) else ''}"

    def _store(self, events: list[Event]):
        """([Outcome], [(index, error)]) or None when the database is unreachable."""
        if not events:
            return [], []
        for attempt in (1, 2):
            outcome, error = self._ingest(events)
            if outcome is not None:
                return [outcome], []
            if not self._database_up():
                log.error("the database is unreachable (%s): %d events wait in the queue", error, len(events))
                return None
            log.warning("a batch of %d events failed (attempt %d): %s", len(events), attempt, error)
        stored, failed = [], []
        for index, event in enumerate(events):
            for _attempt in (1, 2):
                outcome, error = self._ingest([event])
                if outcome is not None:
                    stored.append(outcome)
                    break
                if not self._database_up():
                    log.error("the database is unreachable (%s): %d events wait in the queue", error, len(events))
                    return None
            else:
                failed.append((index, error))
        log.warning("the batch went entry by entry: %d stored, %d dead-lettered", len(stored), len(failed))
        return stored, failed

    @staticmethod
    def _database_up() -> bool:
        try:
            db.session.execute(text("SELECT 1"))
            db.session.rollback()
            return True
        except Exception:
            db.session.rollback()
            return False


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


TICK_EVERY = 0.5  # seconds: the processor ticks at least this often


def tick_due(settled: int, batch: int, since_tick: float) -> bool:
    """Whether the processor ticks now (correlation, tickets opened and resolved): right after a
    batch that emptied the queue (fewer entries than a full batch), so a problem's ticket follows
    its first event at once; during a storm (full batches) every TICK_EVERY seconds, so ingest is
    not slowed by a correlation pass per batch; and every TICK_EVERY seconds when nothing comes
    (damped clears, holds that pass)."""
    return since_tick >= TICK_EVERY or 0 < settled < batch


def process_forever(app, processor, conn, consumer: str | None = None, stop=None) -> None:
    """Consume the stream in batches: ingest, commit, acknowledge; tick as :func:`tick_due` says."""
    last_tick = 0.0
    with app.app_context():
        reader = Consumer(processor, conn, consumer)
        while stop is None or not stop():
            settled = reader.step()
            if tick_due(settled, reader.batch, time.monotonic() - last_tick):
                last_tick = time.monotonic()
                try:
                    processor.tick()
                except Exception:
                    db.session.rollback()
                    log.exception("tick failed")


class TopologyCache:
    """The NetBox topology for the processor: read at start; then every ``ttl`` seconds, and
    sooner (at most every ``min_gap`` s) when an event names a device it does not know, NetBox's
    change log is asked whether anything changed since the last read (one small request), and
    the topology is read again only when it did, or when it is ``max_age`` seconds old (writes
    that bypass the change log). Reading every interface of a fleet every minute would keep
    NetBox busy serving the processor alone."""

    def __init__(self, netbox, ttl: float = 60, min_gap: float = 10, max_age: float = 3600):
        self.netbox, self.ttl, self.min_gap, self.max_age = netbox, ttl, min_gap, max_age  # a netoss.data.netbox.NetBox
        self.topo = None
        self.loaded = 0.0  # when the topology was last read, or found still current
        self.read = 0.0  # when it was last read
        self.head = None  # NetBox's newest change (id, time) when it was read; None: unknown
        self.removals = RemovalLog()  # deletions from NetBox's change log (alarms cleared as gone)

    def __call__(self):
        age = time.monotonic() - self.loaded
        if self.topo is None or age >= self.ttl:
            try:
                head = newest_change(self.netbox)
                if (
                    self.topo is not None
                    and head is not None
                    and head == self.head
                    and time.monotonic() - self.read < self.max_age
                ):
                    self.loaded = time.monotonic()  # NetBox has not changed: the topology holds
                    return self.topo
                read_at = dt.datetime.now(dt.UTC)
                records = fetch(self.netbox)
                topo = Topology.from_records(**records)
                self.removals.update(self.netbox, read_at)
                topo.removed, topo.read_at = self.removals.removals(topo), read_at
                self.topo, self.head = topo, head
                self.loaded = self.read = time.monotonic()
            except Exception as exc:
                if self.topo is None:
                    raise
                log.warning("NetBox topology not refreshed (%s); using the one from %.0f s ago", exc, age)
                self.loaded = time.monotonic() - self.ttl + self.min_gap  # try again soon
        return self.topo

    def refresh_soon(self) -> None:
        if time.monotonic() - self.loaded >= self.min_gap:
            self.loaded = 0.0
