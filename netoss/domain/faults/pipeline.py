"""The fault pipeline's processes and the Redis stream between them.

    receivers (syslog, SNMP traps: `netoss faults receive`, one process per core; webhooks and
    the API: the portal)
        -> the Redis stream netoss:faults:events in 16 shards, by device (one JSON Event per entry)
        -> `netoss faults process`, one or more: alarms, correlation, tickets (PostgreSQL)

Every datagram or request a receiver gets is counted in the Redis hash netoss:faults:counters
as ``received:<source>``, then as ``rejected:<source>:<reason>`` or, once a processor has
stored it, ``stored:<source>``, or ``dead:<source>`` once dead-lettered; so received = stored +
rejected + dead (+ what is still queued). Processors read the shards they hold leases on, each
shard as a consumer group (``netoss.domain.faults.shards``): an entry is acknowledged and
deleted only after its alarm changes are committed and counted, so a processor that dies loses
nothing, and an entry read again is neither stored nor counted twice.

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
import math
import os
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import text

from netoss.data.db import db
from netoss.domain.faults import shards, snmp
from netoss.domain.faults.events import Event, InvalidEvent, check, now_iso
from netoss.domain.faults.gone import RemovalLog
from netoss.domain.faults.rules import RuleSet
from netoss.domain.faults.syslog import Rejected, parse
from netoss.domain.faults.topology import Topology, fetch, newest_change

STREAM, GROUP, COUNTERS, DEAD = shards.STREAM, shards.GROUP, shards.COUNTERS, shards.DEAD
STREAM_MAXLEN = 200_000  # queued events (about 0.5 KiB each): FAULTS_STREAM_MAXLEN
DEAD_MAXLEN = shards.DEAD_MAXLEN
MAX_DEAD_ENTRY = 4096  # characters of a dead entry kept
RCVBUF = 32 * 1024 * 1024  # a burst of 10,000 datagrams waits in the kernel, not dropped

log = logging.getLogger("netoss.faults")


def count(pipe, what: str, source: str, reason: str | None = None, n: int = 1) -> None:
    pipe.hincrby(COUNTERS, f"{what}:{source}" + (f":{reason}" if reason else ""), n)


def queued(conn) -> int:
    """Events waiting in the shards' streams (read or not)."""
    pipe = conn.pipeline(transaction=False)
    for name in shards.streams(shards.SHARDS):
        pipe.xlen(name)
    return sum(pipe.execute())


def counters(conn) -> dict:
    """{received: {source: n}, stored: {...}, rejected: {source: {reason: n}}, dead: {source: n},
    queued: n, dead_letters: n (kept for reading)}."""
    out: dict = {
        "received": {},
        "stored": {},
        "rejected": {},
        "dead": {},
        "queued": queued(conn),
        "dead_letters": conn.xlen(DEAD),
    }
    for key, value in conn.hgetall(COUNTERS).items():
        parts = key.decode().split(":", 2)
        if parts[0] == "rejected" and len(parts) == 3:
            out["rejected"].setdefault(parts[1], {})[parts[2]] = int(value)
        elif parts[0] in ("received", "stored", "dead") and len(parts) == 2:
            out[parts[0]][parts[1]] = int(value)
    return out


# XADD each event to its shard while the shards together are under their bound; count the
# others as refused. One script, so that concurrent receivers never push the queue past its bound.
# KEYS[1]: the counters, KEYS[2..]: the shards' streams. ARGV[1]: the bound, then (source,
# shard, event) for each event.
_ENQUEUE = """
local len = 0
for k = 2, #KEYS do len = len + redis.call('XLEN', KEYS[k]) end
local max = tonumber(ARGV[1])
local queued = 0
local refused = {}
for i = 2, #ARGV, 3 do
  if len < max then
    redis.call('XADD', KEYS[tonumber(ARGV[i + 1]) + 2], '*', 'e', ARGV[i + 2])
    len = len + 1
    queued = queued + 1
  else
    redis.call('HINCRBY', KEYS[1], 'rejected:' .. ARGV[i] .. ':queue_full', 1)
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
        shard = shards.shard_of(e.device, str((e.details or {}).get("source_address", "")), shards.SHARDS)
        args += [str(e.source)[:16], shard, e.to_json()]
    if len(args) == 1:
        return 0
    queued, refused = conn.eval(_ENQUEUE, 1 + shards.SHARDS, COUNTERS, *shards.streams(shards.SHARDS), *args)
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

    def drain(self, sock: socket.socket, most: int = 1000) -> None:
        """Read what the socket holds (up to ``most`` datagrams): one wake-up of the event loop
        for a burst, not one per datagram."""
        for _ in range(most):
            try:
                data, addr = sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # an ICMP error reported on the socket, ...: go on
                log.warning("%s socket: %s", self.source, exc)
                return
            self.datagram_received(data, addr)

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
    # Several receiver processes share the port (`netoss faults receive --processes N`): the
    # kernel spreads the senders over them, each sender's datagrams to one (so in order).
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
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
    bound: dict[tuple[str, str], tuple[socket.socket, DatagramReceiver]] = {}

    async def bind(host: str) -> None:
        for source, (port, handle) in sources.items():
            try:
                sock = _udp_socket(host, port)
            except OSError as exc:
                log.error("cannot listen for %s on %s:%d: %s", source, host, port, exc)
                continue
            sock.setblocking(False)
            receiver = DatagramReceiver(conn, source, handle, show_raw=source != "snmp", maxlen=maxlen)
            loop.add_reader(sock.fileno(), receiver.drain, sock)
            bound[(host, source)] = (sock, receiver)
            log.info("listening for %s on udp/%s:%d", source, host, port)

    def close(key) -> None:
        sock, receiver = bound.pop(key)
        loop.remove_reader(sock.fileno())
        sock.close()
        receiver.flush()

    for host in hosts:
        await bind(host)
    while True:
        address = bridge() if bridge else None
        if address and not any(h == address for h, _s in bound):
            await bind(address)
        for key in [k for k in bound if k[0] not in hosts and k[0] != address]:
            close(key)  # the lab went away
            log.info("stopped listening for %s on %s (the lab is down)", key[1], key[0])
        await asyncio.sleep(2)


@dataclass
class _Entry:
    """One entry read from a shard: its event, or why it is none (a dead letter)."""

    shard: int
    id: str  # the entry's id in its shard's stream (the same id may be in another shard's)
    raw: str
    event: Event | None = None
    dead: tuple[str, str] | None = None  # (reason, error)

    @property
    def key(self) -> tuple[int, str]:
        return self.shard, self.id

    @property
    def source(self) -> str:
        return str(self.event.source)[:16] if self.event is not None else "unknown"


class Consumer:
    """The processor's side of the stream: read the shards it holds, store, count, acknowledge.

    Each read takes up to ``batch`` entries from every shard held, and stores them in one
    transaction that also advances each shard's row (``netoss.domain.faults.shards``); then
    one Redis script per shard counts them and acknowledges them. A batch whose storing fails is
    rolled back and tried once more (a race between two processors, a serialisation failure);
    if it fails again its entries are tried one by one, each twice, and an entry that still
    fails goes to the dead-letter stream with the error, so one bad entry never holds the
    others back. When the database itself is unreachable nothing is dead-lettered: the batch
    waits and is read again.
    """

    def __init__(
        self,
        processor,
        conn,
        consumer: str | None = None,
        block_ms: int = 500,
        batch: int = 500,
        lease_ms: int = shards.LEASE_MS,
    ):
        self.processor, self.conn = processor, conn
        self.name = consumer or f"{socket.gethostname()}:{os.getpid()}"
        self.block_ms, self.batch = block_ms, batch
        self.leases = shards.Leases(conn, self.name, shards.SHARDS, lease_ms)
        self.progress = shards.Progress(conn)
        # The shards held: "0" to read first the entries pending for this consumer (read before
        # and not acknowledged: its own from a life before, or a dead processor's it claimed), then ">".
        self.cursors: dict[int, str] = {}
        self.tended = -math.inf
        self.changes = 0  # alarms raised or cleared by what this consumer stored (the loop resets it)
        for name in shards.streams(shards.SHARDS):
            try:
                conn.xgroup_create(name, GROUP, id="0", mkstream=True)
            except Exception as exc:  # BUSYGROUP: it exists
                if "BUSYGROUP" not in str(exc):
                    raise

    def tend(self) -> None:
        """Renew the leases, take a share of the shards, claim what dead processors left pending."""
        held = self.leases.tend()
        for k in held:
            taken = k not in self.cursors
            claimed = self._claim(k, 0 if taken else self.leases.lease_ms)
            if taken or claimed:
                self.cursors[k] = "0"
            if taken:
                log.info("shard %d taken (%d pending entries of other processors claimed)", k, claimed)
            elif claimed:
                log.warning("shard %d: %d entries another processor left pending claimed", k, claimed)
        for k in set(self.cursors) - set(held):
            del self.cursors[k]
            log.info("shard %d given up (shared with another processor, or its lease lapsed)", k)
        self.tended = time.monotonic()

    def _claim(self, shard: int, min_idle_ms: int) -> int:
        total, start = 0, "0-0"
        for _ in range(1000):
            reply = self.conn.xautoclaim(shards.stream(shard), GROUP, self.name, min_idle_ms, start, count=1000)
            total += len(reply[1])
            start = _text(reply[0])
            if start == "0-0":
                break
        return total

    def leave(self) -> None:
        """Give the shards back at once (a processor stopping): the others take them at their next tend."""
        self.leases.leave()
        self.cursors = {}

    def step(self, block_ms: int | None = None) -> int:
        """Read and settle one batch per shard held, waiting at most ``block_ms`` (default: the
        consumer's) for one; the number of entries settled (0: none waiting, or the database is
        away and the batch will be read again)."""
        return self.store(self.read(block_ms))

    def read(self, block_ms: int | None = None) -> list[_Entry]:
        """One batch from each shard held (tending the leases when it is time), waiting at most
        ``block_ms`` for one (0: not at all)."""
        block_ms = self.block_ms if block_ms is None else max(0, int(block_ms))
        if time.monotonic() - self.tended >= self.leases.lease_ms / 3000:
            self.tend()
        if not self.cursors:
            time.sleep(block_ms / 1000)
            return []
        history = any(c == "0" for c in self.cursors.values()) or block_ms == 0
        reply = self.conn.xreadgroup(
            GROUP,
            self.name,
            {shards.stream(k): c for k, c in sorted(self.cursors.items())},
            count=self.batch,
            block=None if history else block_ms,
        )
        by_name = {shards.stream(k): k for k in self.cursors}
        read: dict[int, list] = {}
        for name, batch in reply or []:
            read[by_name[_text(name)]] = batch
        for k, cursor in self.cursors.items():
            if cursor == "0" and len(read.get(k) or ()) < self.batch:
                self.cursors[k] = ">"  # its history is all read
        return [self._entry(k, entry_id, fields) for k, batch in read.items() for entry_id, fields in batch]

    def store(self, entries: list[_Entry]) -> int:
        """Store, count and acknowledge entries read; how many (0 when the database is away:
        they are read again, later)."""
        if not entries:
            return 0
        if not self._store(entries):
            for k in {e.shard for e in entries} & set(self.cursors):
                self.cursors[k] = "0"
            time.sleep(1)
            return 0
        return len(entries)

    @staticmethod
    def _entry(shard: int, entry_id, fields) -> _Entry:
        raw = (fields or {}).get(b"e")
        if raw is None:  # trimmed or written by something else: nothing to read
            return _Entry(
                shard, _text(entry_id), repr(fields)[:MAX_DEAD_ENTRY], dead=("unreadable", "the entry has no field 'e'")
            )
        text_ = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        try:
            return _Entry(shard, _text(entry_id), text_, event=Event.from_json(raw))
        except ValueError as exc:
            return _Entry(shard, _text(entry_id), text_, dead=("unreadable", f"not an event: {exc}"))

    def _commit(self, entries: list[_Entry], failed: dict[tuple[int, str], str] | None = None) -> None:
        """Store ``entries`` (or dead-letter those named in ``failed``: key -> error) in one
        transaction that advances their shards' rows, then count and acknowledge them."""
        by_shard: dict[int, list[_Entry]] = {}
        for e in entries:
            by_shard.setdefault(e.shard, []).append(e)
        rows = {k: self.progress.lock(k) for k in sorted(by_shard)}
        fresh: set[tuple[int, str]] = set()  # the entries not stored before (by this processor or another)
        for k, row in rows.items():
            self.progress.settle_stored(k, row)  # a batch stored before and never counted: now
            last = shards.entry_key(row.last_id)
            fresh |= {e.key for e in by_shard[k] if shards.entry_key(e.id) > last}
        failed = failed or {}
        storing = [e for e in entries if e.key in fresh and e.event is not None and e.key not in failed]
        unsettled: dict[int, dict] = {}

        def record(outcome) -> None:
            verdicts = dict(zip((e.key for e in storing), outcome.verdicts if outcome else [], strict=False))
            at = now_iso()
            for k, row in rows.items():
                counts: dict[str, int] = {}
                dead: list[list[str]] = []
                for e in by_shard[k]:
                    if e.key not in fresh:
                        continue
                    if e.dead is not None or e.key in failed:
                        reason, error = e.dead or ("processing_failed", failed[e.key])
                        key = f"dead:{e.source}"
                        dead.append(shards.dead_fields(at, e.source, reason, error, e.raw[:MAX_DEAD_ENTRY], e.id))
                        log.error("event dead-lettered (%s) from %s: %s", reason, e.source, error[:300])
                    elif verdicts.get(e.key):
                        key = f"rejected:{e.source}:{verdicts[e.key]}"
                    else:
                        key = f"stored:{e.source}"
                    counts[key] = counts.get(key, 0) + 1
                unsettled[k] = {"counts": counts, "dead": dead}
                newest = max((e.id for e in by_shard[k]), key=shards.entry_key)
                if shards.entry_key(newest) > shards.entry_key(row.last_id):
                    self.progress.advance(row, newest, unsettled[k])

        if storing:
            outcome = self.processor.ingest([e.event for e in storing], before_commit=record)
            self.changes += getattr(outcome, "changes", 0)
        else:
            record(None)
            db.session.commit()
        for k in rows:
            ids = [e.id for e in by_shard[k] if e.key in fresh]
            if ids and not self.progress.settle_own(k, self.name, ids, unsettled[k]):
                log.warning(
                    "shard %d: %d entries stored, then taken over by another processor, which counts them", k, len(ids)
                )

    def _try(self, entries: list[_Entry], failed: dict[tuple[int, str], str] | None = None) -> str | None:
        """None when stored, else the error (the transaction rolled back)."""
        try:
            self._commit(entries, failed)
            return None
        except Exception as exc:
            db.session.rollback()
            return f"{type(exc).__name__}: {str(exc).splitlines()[0][:400] if str(exc) else ''}"

    def _store(self, entries: list[_Entry]) -> bool:
        """Store and settle every entry (False: the database is unreachable, nothing settled)."""
        for attempt in (1, 2):
            error = self._try(entries)
            if error is None:
                return True
            if not self._database_up():
                log.error("the database is unreachable (%s): %d events wait in the queue", error, len(entries))
                return False
            log.warning("a batch of %d events failed (attempt %d): %s", len(entries), attempt, error)
        stored = failed = 0
        for entry in entries:
            for _attempt in (1, 2):
                error = self._try([entry])
                if error is None:
                    stored += 1
                    break
                if not self._database_up():
                    log.error("the database is unreachable (%s): %d events wait in the queue", error, len(entries))
                    return False
            else:
                error = self._try([entry], failed={entry.key: error})
                if error is not None:
                    if not self._database_up():
                        return False
                    raise RuntimeError(f"entry {entry.id} can be neither stored nor dead-lettered: {error}")
                failed += 1
        log.warning("the batch went entry by entry: %d stored, %d dead-lettered", stored, failed)
        return True

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
TICK_GAP = 0.2  # seconds: and at most this often


def tick_due(changes: int, since_tick: float, since_change_tick: float) -> bool:
    """Whether the processor ticks now (correlation, tickets opened and resolved): as soon as
    alarms were raised or cleared since the last tick, so a problem's ticket follows its first
    event at once, but not sooner than TICK_GAP after the last tick that changes brought (in a
    storm a correlation pass per batch would slow ingest down); and every TICK_EVERY seconds
    whatever came (damped clears and holds that are due, severities that changed, another
    processor's alarms), which does not delay the next change's tick."""
    return since_tick >= TICK_EVERY or (changes > 0 and since_change_tick >= TICK_GAP)


def process_forever(app, processor, conn, consumer: str | None = None, stop=None, **options) -> None:
    """Consume the shards held in batches: ingest, commit, acknowledge; tick as :func:`tick_due`
    says (one processor at a time: the others skip their tick while one runs). ``options``:
    the :class:`Consumer`'s (batch, block_ms, lease_ms)."""
    last_tick = last_change_tick = -math.inf
    with app.app_context():
        reader = Consumer(processor, conn, consumer, **options)
        try:
            while stop is None or not stop():
                since = time.monotonic() - last_change_tick
                if reader.changes > 0 and since < TICK_GAP:
                    # A tick owed: read what is there without waiting (Redis times a blocking
                    # read out at its own 100 ms granularity), and look again shortly.
                    if not reader.step(0):
                        time.sleep(min(TICK_GAP - since, 0.02))
                else:
                    reader.step()
                now = time.monotonic()
                if tick_due(reader.changes, now - last_tick, now - last_change_tick):
                    changes, reader.changes = reader.changes, 0
                    last_tick = now
                    if changes:
                        last_change_tick = now
                    try:
                        if (processor.tick() or {}).get("skipped"):
                            reader.changes = changes  # another processor's pass: this one's changes wait the next
                    except Exception:
                        db.session.rollback()
                        log.exception("tick failed")
        finally:
            try:
                reader.leave()
            except Exception as exc:  # Redis away: the leases lapse by themselves
                log.warning("could not give the shards back (%s): they are taken over when their leases lapse", exc)


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
