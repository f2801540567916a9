"""The stack's Redis as far as the fault receivers and the portal use it, for unit tests of
their logic: counters, the queued events (the bounded enqueue script of ``publish`` included),
the dead letters. The real Redis is in tests/integration/test_fault_poison.py."""

from __future__ import annotations

from netoss.domain.faults.events import Event


class FaultQueue:
    def __init__(self):
        self.counters: dict[str, int] = {}
        self.events: list[Event] = []

    entries = property(lambda self: self.events)  # the name some tests read it by

    def pipeline(self, transaction=False):
        return self

    def hincrby(self, key, field, n=1):
        self.counters[field] = self.counters.get(field, 0) + n
        return self

    def xadd(self, key, fields, **kwargs):
        self.events.append(Event.from_json(fields["e"]))
        return self

    def eval(self, script, nkeys, *args):
        """publish's enqueue: the events while the stream is under its bound, the others refused."""
        maxlen, triples = int(args[nkeys]), args[nkeys + 1 :]
        refused = []
        for source, _shard, entry in zip(triples[::3], triples[1::3], triples[2::3], strict=True):
            if len(self.events) < maxlen:
                self.events.append(Event.from_json(entry))
            else:
                self.hincrby("counters", f"rejected:{source}:queue_full")
                refused.append(source)
        return [len(triples) // 3 - len(refused), refused]

    def execute(self):
        return []

    def xlen(self, key):
        return 0

    def hgetall(self, key):
        return {}

    def xrevrange(self, key, count=None):
        return []
