"""A simulated SNMPv2c agent for the assurance bench: one recorded walk (a router's IF-MIB with
``--interfaces`` interfaces, its system group and ``--peers`` BGP4-MIB sessions) answered on
``--count`` UDP ports of 127.0.0.1 from ``--port``, so that one process stands for many devices.

It answers GET, GETNEXT and GETBULK as an agent does (lexicographic OID order, endOfMibView),
counters moving with time so that rates are non-zero. Loopback only; stopped by SIGTERM.

    python bench/snmp_sim.py --port 30200 --count 1000 --interfaces 10 --community c0mm
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import signal
import time

from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import api, rfc1902

V2C = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]


def oid(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.strip(".").split("."))


def table(interfaces: int, peers: int) -> list[tuple[tuple[int, ...], object]]:
    """The recorded walk: (OID, value or a function of the time giving it), sorted."""
    rows: dict[tuple[int, ...], object] = {
        oid("1.3.6.1.2.1.1.1.0"): rfc1902.OctetString(b"simulated router"),
        oid("1.3.6.1.2.1.1.3.0"): lambda now: rfc1902.TimeTicks(int(now * 100) % 2**32),
        oid("1.3.6.1.2.1.1.5.0"): rfc1902.OctetString(b"sim"),
    }
    for i in range(1, interfaces + 1):
        name = f"eth{i}".encode()
        rate = 1_000_000 * i  # octets per second, each interface its own

        def octets(now, rate=rate):
            return rfc1902.Counter64(int(now * rate) % 2**64)

        for column, value in (
            ("1.3.6.1.2.1.2.2.1.1", rfc1902.Integer(i)),
            ("1.3.6.1.2.1.2.2.1.2", rfc1902.OctetString(name)),
            ("1.3.6.1.2.1.2.2.1.7", rfc1902.Integer(1)),
            ("1.3.6.1.2.1.2.2.1.8", rfc1902.Integer(1)),
            ("1.3.6.1.2.1.2.2.1.13", rfc1902.Counter32(0)),
            ("1.3.6.1.2.1.2.2.1.14", rfc1902.Counter32(i)),
            ("1.3.6.1.2.1.2.2.1.19", rfc1902.Counter32(0)),
            ("1.3.6.1.2.1.2.2.1.20", rfc1902.Counter32(0)),
            ("1.3.6.1.2.1.31.1.1.1.1", rfc1902.OctetString(name)),
            ("1.3.6.1.2.1.31.1.1.1.6", octets),
            ("1.3.6.1.2.1.31.1.1.1.10", octets),
            ("1.3.6.1.2.1.31.1.1.1.15", rfc1902.Gauge32(10000)),
        ):
            rows[(*oid(column), i)] = value
    for p in range(1, peers + 1):
        peer = (10, 0, 0, p)
        for column, value in (
            ("1.3.6.1.2.1.15.3.1.2", rfc1902.Integer(6)),
            ("1.3.6.1.2.1.15.3.1.9", rfc1902.Integer(65000 + p)),
            ("1.3.6.1.2.1.15.3.1.10", rfc1902.Counter32(p)),
            ("1.3.6.1.2.1.15.3.1.16", rfc1902.Gauge32(3600)),
        ):
            rows[(*oid(column), *peer)] = value
    return sorted(rows.items())


class Agent(asyncio.DatagramProtocol):
    def __init__(self, rows, community: bytes):
        self.oids = [o for o, _v in rows]
        self.values = [v for _o, v in rows]
        self.community = community
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def _value(self, index: int, now: float):
        value = self.values[index]
        return value(now) if callable(value) else value

    def _next(self, name: tuple[int, ...], now: float):
        i = bisect.bisect_right(self.oids, name)
        if i >= len(self.oids):
            return name, rfc1902.EndOfMibView() if hasattr(rfc1902, "EndOfMibView") else V2C.EndOfMibView()
        return self.oids[i], self._value(i, now)

    def datagram_received(self, data, addr):
        try:
            message, _rest = decoder.decode(data, asn1Spec=V2C.Message())
        except Exception:
            return
        if bytes(V2C.apiMessage.get_community(message)) != self.community:
            return  # SNMPv2c: no answer to a wrong community
        request = V2C.apiMessage.get_pdu(message)
        names = [tuple(o) for o, _v in V2C.apiPDU.get_varbinds(request)]
        now = time.time()
        binds = []
        if request.isSameTypeWith(V2C.GetRequestPDU()):
            for name in names:
                i = bisect.bisect_left(self.oids, name)
                found = i < len(self.oids) and self.oids[i] == name
                binds.append((name, self._value(i, now) if found else V2C.NoSuchInstance()))
        elif request.isSameTypeWith(V2C.GetNextRequestPDU()):
            binds = [self._next(name, now) for name in names]
        elif request.isSameTypeWith(V2C.GetBulkRequestPDU()):
            non_rep = int(V2C.apiBulkPDU.get_non_repeaters(request))
            reps = int(V2C.apiBulkPDU.get_max_repetitions(request))
            binds = [self._next(name, now) for name in names[:non_rep]]
            cursors = names[non_rep:]
            for _ in range(max(reps, 0)):
                row = [self._next(c, now) for c in cursors]
                binds += row
                cursors = [o for o, _v in row]
                if all(c >= self.oids[-1] for c in cursors):
                    break
        else:
            return
        response = V2C.apiPDU.get_response(request)
        V2C.apiPDU.set_varbinds(response, binds)
        V2C.apiMessage.set_pdu(message, response)
        self.transport.sendto(encoder.encode(message), addr)


async def main(args) -> None:
    rows = table(args.interfaces, args.peers)
    loop = asyncio.get_running_loop()
    transports = []
    for port in range(args.port, args.port + args.count):
        transport, _protocol = await loop.create_datagram_endpoint(
            lambda: Agent(rows, args.community.encode()), local_addr=("127.0.0.1", port)
        )
        transports.append(transport)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    print(f"ready: {len(transports)} agents on 127.0.0.1:{args.port}-{args.port + args.count - 1}", flush=True)
    await stop.wait()
    for t in transports:
        t.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--interfaces", type=int, default=10)
    ap.add_argument("--peers", type=int, default=2)
    ap.add_argument("--community", required=True)
    asyncio.run(main(ap.parse_args()))
