"""The fault event stream in shards, which processor reads which, and how far each is stored.

Receivers put each event on one of ``SHARDS`` (16) Redis streams (:func:`stream`), chosen by
a hash of who it is about (:func:`shard_of`: the device it names, else the address it came
from), so one device's events stay in the order they came, on one shard. Every shard has its
consumer group ``processors``.

**Leases.** A processor reads only the shards it holds a lease on (a Redis key per shard with
a time to live, renewed about three times per lease). :meth:`Leases.tend` keeps each processor
at its share, ``ceil(shards / processors alive)``: one processor holds them all; a second one
started takes half at its next tend, as the first releases them; when one dies (kill -9), its
leases lapse after ``LEASE_MS`` and the others take its shards, and with them its pending
entries (XAUTOCLAIM). One reader per shard keeps the order of a device's events, and the flap
damping of the processor that reads it (its memory of recent raises) sees all of them.

**Nothing stored twice, nothing counted twice.** How far a shard is stored is a row of
PostgreSQL (``fault_shards``: the last entry id), locked and advanced in the transaction that
stores the batch, with what that batch still has to count in Redis (``unsettled``: counters
and dead letters). After the commit, one Redis script counts the batch and acknowledges its
entries, if they are still this processor's. An entry read again (its processor died between
the commit and the script, or was too slow and lost its shard) is at or below the shard's last
id: it is not stored again, and the batch it belonged to is counted then, from the row, once
(:func:`settle_stored`, run before anything new is stored on the shard).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import zlib

from sqlalchemy import select, text

from netoss.data.db import db
from netoss.data.models import FaultShard, utcnow

STREAM = "netoss:faults:events"  # shard 0 (the single stream of earlier versions); shard k: STREAM:k
GROUP = "processors"
COUNTERS = "netoss:faults:counters"
DEAD = "netoss:faults:dead"
MEMBERS = "netoss:faults:processors"  # processors alive: name -> when its membership lapses (ms)
LEASE = "netoss:faults:lease:"  # + shard: the processor reading it
SHARDS = 16  # a ceiling on the processors that share the work (fixed: every receiver and processor agrees)
LEASE_MS = 10_000  # a dead processor's shards are taken over this long after its last renewal
DEAD_MAXLEN = 10_000  # dead letters kept for reading (all are counted)

log = logging.getLogger("netoss.faults")


def stream(shard: int) -> str:
    return STREAM if shard == 0 else f"{STREAM}:{shard}"


def streams(n: int) -> list[str]:
    return [stream(k) for k in range(n)]


def shard_of(device: str, address: str, n: int) -> int:
    """The shard of an event about ``device`` (else sent from ``address``)."""
    digest = hashlib.blake2b((device or address or "").encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % n


def entry_key(entry_id: str | bytes) -> tuple[int, int]:
    """A stream entry id ("1733480000000-3") as a number pair, in the stream's order."""
    if isinstance(entry_id, bytes):
        entry_id = entry_id.decode()
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


# Register the processor as alive, renew its leases, give back those beyond its share, take
# free ones up to it (from an offset of its own, so that processors starting together do not
# all reach for shard 0). KEYS[1]: MEMBERS; KEYS[2..]: the shards' lease keys. ARGV: name,
# lease ms, offset, "leave" (give everything back: a processor stopping).
_TEND = """
local name, ttl, offset = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local n = #KEYS - 1
if ARGV[4] == 'leave' then
  redis.call('ZREM', KEYS[1], name)
  for k = 2, #KEYS do
    if redis.call('GET', KEYS[k]) == name then redis.call('DEL', KEYS[k]) end
  end
  return {}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + ttl, name)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local target = math.ceil(n / redis.call('ZCARD', KEYS[1]))
local held = {}
for k = 2, #KEYS do
  if redis.call('GET', KEYS[k]) == name then
    redis.call('PEXPIRE', KEYS[k], ttl)
    held[#held + 1] = k - 2
  end
end
while #held > target do
  redis.call('DEL', KEYS[table.remove(held) + 2])
end
for i = 0, n - 1 do
  if #held >= target then break end
  local k = (offset + i) % n
  if redis.call('SET', KEYS[k + 2], name, 'NX', 'PX', ttl) then held[#held + 1] = k end
end
return held
"""


class Leases:
    """This processor's leases on the shards (see the module's text)."""

    def __init__(self, conn, name: str, n: int, lease_ms: int = LEASE_MS):
        self.conn, self.name, self.n, self.lease_ms = conn, name, n, int(lease_ms)
        self.keys = [MEMBERS] + [f"{LEASE}{k}" for k in range(n)]
        self.offset = zlib.crc32(name.encode()) % n
        self.script = conn.register_script(_TEND)

    def tend(self) -> list[int]:
        """The shards held now (renewed, taken, some given back to share the work)."""
        return sorted(int(k) for k in self.script(keys=self.keys, args=[self.name, self.lease_ms, self.offset, ""]))

    def leave(self) -> None:
        self.script(keys=self.keys, args=[self.name, self.lease_ms, self.offset, "leave"])


def live(conn) -> list[str]:
    """The processors alive (their membership not lapsed), by name."""
    now_s, now_us = conn.time()
    now = now_s * 1000 + now_us // 1000
    return sorted(m.decode() for m in conn.zrangebyscore(MEMBERS, now, "+inf"))


def holders(conn, n: int) -> dict[int, str | None]:
    """Each shard's lease holder (None: free)."""
    values = conn.mget([f"{LEASE}{k}" for k in range(n)])
    return {k: (v.decode() if v else None) for k, v in enumerate(values)}


# Count a stored batch and acknowledge its entries, if every one is still pending for this
# consumer (else another processor took them over, and counts them from the row).
# KEYS: stream, counters, dead. ARGV: group, consumer, counts (JSON object), dead letters (JSON
# list of field lists), dead maxlen, then the entry ids.
_SETTLE_OWN = """
local group, consumer = ARGV[1], ARGV[2]
for i = 6, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], group, ARGV[i], ARGV[i], 1, consumer)
  if #p == 0 then return 0 end
end
for field, n in pairs(cjson.decode(ARGV[3])) do redis.call('HINCRBY', KEYS[2], field, n) end
for _, fields in ipairs(cjson.decode(ARGV[4])) do
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], '*', unpack(fields))
end
local ids = {}
for i = 6, #ARGV do ids[#ids + 1] = ARGV[i] end
if #ids > 0 then
  redis.call('XACK', KEYS[1], group, unpack(ids))
  redis.call('XDEL', KEYS[1], unpack(ids))
end
return #ids
"""

# The entries pending at or below the shard's last stored id (whoever holds them): the last
# batch stored, whose counting did not happen. Count it from the row, acknowledge them.
# KEYS: stream, counters, dead. ARGV: group, last id, counts, dead letters, dead maxlen.
_SETTLE_STORED = """
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], '-', ARGV[2], 100000)
if #pending == 0 then return 0 end
for field, n in pairs(cjson.decode(ARGV[3])) do redis.call('HINCRBY', KEYS[2], field, n) end
for _, fields in ipairs(cjson.decode(ARGV[4])) do
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], '*', unpack(fields))
end
local ids = {}
for i, p in ipairs(pending) do
  ids[#ids + 1] = p[1]
  if #ids == 1000 or i == #pending then
    redis.call('XACK', KEYS[1], ARGV[1], unpack(ids))
    redis.call('XDEL', KEYS[1], unpack(ids))
    ids = {}
  end
end
return #pending
"""


def _json(value) -> str:
    # cjson turns an empty JSON object and an empty list alike into an empty table: either is fine
    return json.dumps(value, separators=(",", ":"))


class Progress:
    """How far each shard is stored (``fault_shards``), and the settling of stored batches."""

    def __init__(self, conn):
        self.conn = conn
        self.own = conn.register_script(_SETTLE_OWN)
        self.stored = conn.register_script(_SETTLE_STORED)

    def lock(self, shard: int) -> FaultShard:
        """The shard's row, locked until the transaction ends (one processor stores a shard at a time)."""
        if db.session.get_bind().dialect.name == "postgresql":
            db.session.execute(
                text(
                    "INSERT INTO fault_shards (shard, last_id, unsettled, updated_at) "
                    "VALUES (:k, '0-0', '{}', now()) ON CONFLICT (shard) DO NOTHING"
                ),
                {"k": shard},
            )
        elif db.session.get(FaultShard, shard) is None:
            db.session.add(FaultShard(shard=shard, last_id="0-0", unsettled={}, updated_at=utcnow()))
            db.session.flush()
        return db.session.scalars(
            select(FaultShard)
            .where(FaultShard.shard == shard)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one()

    @staticmethod
    def advance(row: FaultShard, last_id: str, unsettled: dict) -> None:
        row.last_id, row.unsettled, row.updated_at = last_id, unsettled, utcnow()

    def settle_stored(self, shard: int, row: FaultShard, group: str = GROUP) -> int:
        """Count and acknowledge what was stored at or below the row's last id and is still
        pending (the row's ``unsettled``); the number of entries (0: nothing was left)."""
        if row.last_id == "0-0":
            return 0
        u = row.unsettled or {}
        n = self.stored(
            keys=[stream(shard), COUNTERS, DEAD],
            args=[group, row.last_id, _json(u.get("counts") or {}), _json(u.get("dead") or []), DEAD_MAXLEN],
        )
        if n:
            log.warning(
                "shard %d: %d entries stored before (up to %s) and never acknowledged, counted and acknowledged now",
                shard,
                n,
                row.last_id,
            )
        return int(n)

    def settle_own(self, shard: int, consumer: str, ids: list[str], unsettled: dict, group: str = GROUP) -> bool:
        """Count a batch just stored and acknowledge it; False when another processor took its
        entries over in the meantime (it counts them from the row)."""
        done = self.own(
            keys=[stream(shard), COUNTERS, DEAD],
            args=[
                group,
                consumer,
                _json(unsettled.get("counts") or {}),
                _json(unsettled.get("dead") or []),
                DEAD_MAXLEN,
                *ids,
            ],
        )
        return bool(done) or not ids


def dead_fields(at: str, source: str, reason: str, error: str, entry: str, entry_id: str) -> list[str]:
    """A dead letter's fields, as the settling scripts add it to the dead-letter stream."""
    return [
        "at",
        at,
        "source",
        source[:16],
        "reason",
        reason,
        "error",
        error[:500],
        "entry",
        entry,
        "entry_id",
        entry_id,
    ]


def share(n: int, processors: int) -> int:
    """Shards each processor holds at most: ``ceil(n / processors)``."""
    return math.ceil(n / max(1, processors))
