"""The fault pipeline's processes and the Redis stream between them.

    receivers (syslog, SNMP traps: `netoss faults receive`; webhooks and the API: the portal)
        -> Redis stream netoss:faults:events (one JSON Event per entry)
        -> `netoss faults process`: alarms, correlation, tickets (PostgreSQL)

Every datagram or request a receiver gets is counted in the Redis hash netoss:faults:counters
as ``received:<source>``, then as ``rejected:<source>:<reason>`` or, once the processor has
stored it, ``stored:<source>``; so received = stored + rejected (+ what is still queued).
The processor reads the stream as a consumer group: an entry is acknowledged and deleted only
after its alarm changes are committed, so a processor that dies loses nothing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Iterable

from .events import Event, now_iso
from .rules import RuleSet
from .syslog import Rejected, parse

STREAM = "netoss:faults:events"
COUNTERS = "netoss:faults:counters"
GROUP = "processors"
RCVBUF = 32 * 1024 * 1024  # a burst of 10,000 datagrams waits in the kernel, not dropped

log = logging.getLogger("netoss.faults")


def count(pipe, what: str, source: str, reason: str | None = None, n: int = 1) -> None:
    pipe.hincrby(COUNTERS, f"{what}:{source}" + (f":{reason}" if reason else ""), n)


def counters(conn) -> dict:
    """{received: {source: n}, stored: {...}, rejected: {source: {reason: n}}, queued: n}."""
    out: dict = {"received": {}, "stored": {}, "rejected": {}, "queued": conn.xlen(STREAM)}
    for key, value in conn.hgetall(COUNTERS).items():
        parts = key.decode().split(":", 2)
        if parts[0] == "rejected" and len(parts) == 3:
            out["rejected"].setdefault(parts[1], {})[parts[2]] = int(value)
        elif parts[0] in ("received", "stored") and len(parts) == 2:
            out[parts[0]][parts[1]] = int(value)
    return out


def publish(conn, events: Iterable[Event]) -> int:
    """Queue events for the processor (one round trip for the batch)."""
    pipe = conn.pipeline(transaction=False)
    n = 0
    for e in events:
        pipe.xadd(STREAM, {"e": e.to_json()})
        n += 1
    if n:
        pipe.execute()
    return n


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

    def __init__(self, conn, source: str, handle, flush_every: float = 0.02, batch: int = 500, show_raw: bool = True):
        self.conn, self.source, self.handle = conn, source, handle
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
        for kind, value in pending:
            if kind == "event":
                pipe.xadd(STREAM, {"e": value.to_json()})
            else:
                reasons[value] = reasons.get(value, 0) + 1
        for reason, n in reasons.items():
            count(pipe, "rejected", self.source, reason, n)
        try:
            pipe.execute()
        except Exception as exc:  # Redis away: the batch is lost, and the log says how much
            log.error("could not queue %d %s datagrams: %s", len(pending), self.source, exc)


def syslog_handler(rules: RuleSet):
    def handle(data: bytes, address: str):
        message = parse(data)
        result = rules.event(message, message.hostname or "", now_iso())
        if not isinstance(result, str):
            result.details["source_address"] = address
        return result

    return handle


def trap_handler(communities: list[str]):
    from . import snmp

    def handle(data: bytes, address: str):
        return snmp.event(snmp.parse(data, communities), address)

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


async def receive(conn, sources: dict[str, tuple[int, object]], bridge=None, hosts=("127.0.0.1",)) -> None:
    """Serve each UDP source (name -> (port, handler)) on loopback, and on the address
    ``bridge()`` gives (the lab's bridge, where its routers send) as soon as there is one."""
    loop = asyncio.get_running_loop()
    bound: dict[tuple[str, str], asyncio.DatagramTransport] = {}

    async def bind(host: str) -> None:
        for source, (port, handle) in sources.items():
            try:
                transport, _ = await loop.create_datagram_endpoint(
                    lambda s=source, h=handle: DatagramReceiver(conn, s, h, show_raw=s != "snmp"),
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


def process_forever(app, processor, conn, consumer: str | None = None, stop=None) -> None:
    """Consume the stream in batches: ingest, commit, acknowledge; tick at least twice a second."""
    from portal.app.extensions import db

    consumer = consumer or f"{socket.gethostname()}:{os.getpid()}"
    try:
        conn.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    except Exception as exc:  # BUSYGROUP: it exists
        if "BUSYGROUP" not in str(exc):
            raise
    # Entries this consumer read before it died are read again first ("0"), then new ones (">").
    cursor = "0"
    last_tick = 0.0
    with app.app_context():
        while stop is None or not stop():
            entries = conn.xreadgroup(GROUP, consumer, {STREAM: cursor}, count=500, block=500)
            batch = entries[0][1] if entries else []
            if cursor == "0" and not batch:
                cursor = ">"
            if batch:
                ids, events, bad = [], [], 0
                for entry_id, fields in batch:
                    ids.append(entry_id)
                    try:
                        events.append(Event.from_json(fields[b"e"]))
                    except (KeyError, ValueError, TypeError):
                        bad += 1
                try:
                    outcome = processor.ingest(events)
                except Exception:
                    db.session.rollback()
                    log.exception("a batch of %d events failed; it will be read again", len(events))
                    time.sleep(1)
                    cursor = "0"
                    continue
                pipe = conn.pipeline(transaction=False)
                for source, n in outcome.stored_by_source.items():
                    count(pipe, "stored", source, n=n)
                for (source, reason), n in outcome.rejected_by_source.items():
                    count(pipe, "rejected", source, reason, n)
                if bad:
                    count(pipe, "rejected", "unknown", "unreadable_entry", bad)
                pipe.xack(STREAM, GROUP, *ids)
                pipe.xdel(STREAM, *ids)
                pipe.execute()
            if time.monotonic() - last_tick >= 0.5:
                last_tick = time.monotonic()
                try:
                    processor.tick()
                except Exception:
                    db.session.rollback()
                    log.exception("tick failed")


class TopologyCache:
    """The NetBox topology for the processor: read at start, then every ``ttl`` seconds, and
    sooner (at most every ``min_gap`` s) when an event names a device it does not know."""

    def __init__(self, netbox_url: str, token: str, ttl: float = 60, min_gap: float = 10):
        import requests

        self.url, self.ttl, self.min_gap = netbox_url, ttl, min_gap
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Token {token}", "Accept": "application/json"})
        self.topo = None
        self.loaded = 0.0

    def __call__(self):
        from .topology import Topology, fetch

        age = time.monotonic() - self.loaded
        if self.topo is None or age >= self.ttl:
            try:
                records = fetch(self.session, self.url)
                self.topo = Topology.from_records(**records)
                self.loaded = time.monotonic()
            except Exception as exc:
                if self.topo is None:
                    raise
                log.warning("NetBox topology not refreshed (%s); using the one from %.0f s ago", exc, age)
                self.loaded = time.monotonic() - self.ttl + self.min_gap  # try again soon
        return self.topo

    def refresh_soon(self) -> None:
        if time.monotonic() - self.loaded >= self.min_gap:
            self.loaded = 0.0
