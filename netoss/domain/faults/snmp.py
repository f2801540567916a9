"""SNMPv2c traps to events: decoding with pysnmp, community check, and the traps netoss knows.

- IF-MIB linkDown / linkUp (1.3.6.1.6.3.1.1.5.3 / .4): ``interface-down`` on the interface,
  raised or cleared. The interface is named by ifName (or ifDescr) when the trap carries one;
  a standard trap (RFC 2863: ifIndex, ifAdminStatus, ifOperStatus) gives only its ifIndex,
  which the event carries in ``details["if_index"]`` with an empty object name: the processor,
  which knows the device, maps it to the interface through that device's index table
  (NetBox's ``netoss_ifindex``);
- BGP4-MIB bgpBackwardTransition / bgpEstablished (1.3.6.1.2.1.15.7.2 / .1, and their
  RFC 4273 names bgpBackwardTransNotification / bgpEstablishedNotification, 1.3.6.1.2.1.15.0.2 / .1):
  ``bgp-session-down`` on the peer, raised or cleared.

The same conditions as FRR's syslog, so a trap and a log line about one link make one alarm.
The device is the trap's sender (snmpTrapAddress when the trap carries it), which the
processor resolves to the NetBox device that has that address. Anything else is rejected
(:class:`Rejected`) with a reason and what was wrong: ``malformed``, ``not_v2c``, ``not_a_trap``,
``unknown_community``, ``unknown_trap``; never with the community, which is a secret.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from pyasn1.codec.ber import decoder, encoder
from pyasn1.error import PyAsn1Error
from pysnmp.proto import api, rfc1902

from netoss.domain.faults.events import Event, now_iso
from netoss.domain.faults.syslog import MAX_DATAGRAM, Rejected

SNMP_TRAP_OID = "1.3.6.1.6.3.1.1.4.1.0"
SNMP_TRAP_ADDRESS = "1.3.6.1.6.3.18.1.3.0"
IF_INDEX = "1.3.6.1.2.1.2.2.1.1."
IF_DESCR = "1.3.6.1.2.1.2.2.1.2."
IF_NAME = "1.3.6.1.2.1.31.1.1.1.1."
IF_ADMIN_STATUS = "1.3.6.1.2.1.2.2.1.7."
IF_OPER_STATUS = "1.3.6.1.2.1.2.2.1.8."
IF_STATUS = {1: "up", 2: "down", 3: "testing", 4: "unknown", 5: "dormant", 6: "notPresent", 7: "lowerLayerDown"}
MAX_IF_INDEX = 2147483647  # InterfaceIndex: 1..2147483647 (RFC 2863)
BGP_PEER_STATE = "1.3.6.1.2.1.15.3.1.2."
BGP_PEER_LAST_ERROR = "1.3.6.1.2.1.15.3.1.14."
BGP_PEER_REMOTE_ADDR = "1.3.6.1.2.1.15.3.1.7."

TRAPS = {
    "1.3.6.1.6.3.1.1.5.3": ("interface", "raise"),  # IF-MIB linkDown
    "1.3.6.1.6.3.1.1.5.4": ("interface", "clear"),  # IF-MIB linkUp
    "1.3.6.1.2.1.15.7.2": ("bgp", "raise"),  # BGP4-MIB bgpBackwardTransition
    "1.3.6.1.2.1.15.7.1": ("bgp", "clear"),  # BGP4-MIB bgpEstablished
    "1.3.6.1.2.1.15.0.2": ("bgp", "raise"),  # BGP4-MIB (RFC 4273) bgpBackwardTransNotification
    "1.3.6.1.2.1.15.0.1": ("bgp", "clear"),  # BGP4-MIB (RFC 4273) bgpEstablishedNotification
}
BGP_STATES = {1: "idle", 2: "connect", 3: "active", 4: "opensent", 5: "openconfirm", 6: "established"}


@dataclass
class Trap:
    community: str
    oid: str
    varbinds: dict[str, object]


def _value(value):
    """A pyasn1 value as int, str or dotted address (an OCTET STRING stays a string, digits or not:
    an interface named "0" is named "0")."""
    try:
        raw = bytes(value.asOctets())
    except AttributeError:
        try:
            return int(value)
        except (TypeError, ValueError):
            return str(value.prettyPrint())
    if len(raw) == 4 and value.__class__.__name__ in ("IpAddress",):
        return ".".join(str(b) for b in raw)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.hex()


class _NotPlain(Exception):
    """Not a plainly encoded SNMPv2c trap: pysnmp decodes it (and says what is wrong with it)."""


def _tlv(data: bytes, at: int, end: int) -> tuple[int, int, int]:
    """(tag, start of the value, end of the value) of the BER element at ``at``."""
    if at + 2 > end:
        raise _NotPlain
    tag, length = data[at], data[at + 1]
    at += 2
    if length & 0x80:
        n = length & 0x7F
        if n == 0 or n > 4 or at + n > end:  # indefinite or absurd lengths: the slow path
            raise _NotPlain
        length = int.from_bytes(data[at : at + n], "big")
        at += n
    if at + length > end:
        raise _NotPlain
    return tag, at, at + length


def _oid(raw: bytes) -> str:
    if not raw or raw[-1] & 0x80 or raw[0] == 0x80:
        raise _NotPlain
    arcs, value, start = [], 0, True
    for byte in raw:
        if start and byte == 0x80:  # a sub-identifier with a leading zero septet: not minimal
            raise _NotPlain
        value = (value << 7) | (byte & 0x7F)
        start = not byte & 0x80
        if start:
            arcs.append(value)
            value = 0
    first = arcs[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(map(str, head + arcs[1:]))


# INTEGER (Integer32), Counter32, Gauge32, TimeTicks, Counter64: the range each may hold
_INTEGERS = {0x02: (-(2**31), 2**31 - 1), 0x41: (0, 2**32 - 1), 0x42: (0, 2**32 - 1), 0x43: (0, 2**32 - 1),
             0x46: (0, 2**64 - 1)}  # fmt: skip


def _integer(raw: bytes, low: int, high: int) -> int:
    if not raw or len(raw) > 9:
        raise _NotPlain
    value = int.from_bytes(raw, "big", signed=True)  # BER integers are two's complement, whatever their type
    if not low <= value <= high:
        raise _NotPlain
    return value


def _plain_value(tag: int, raw: bytes):
    """A varbind's value as :func:`_value` gives it from pysnmp's decoding."""
    if tag in _INTEGERS:
        return _integer(raw, *_INTEGERS[tag])
    if tag == 0x04:  # OCTET STRING
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.hex()
    if tag == 0x06:
        return _oid(raw)
    if tag == 0x40 and len(raw) == 4:  # IpAddress
        return ".".join(str(b) for b in raw)
    raise _NotPlain  # NULL, Opaque, exceptions (noSuchObject...), anything else: the slow path


def _plain(data: bytes) -> tuple[str, dict[str, object]] | None:
    """(community, varbinds) of an SNMPv2c trap encoded the plain way senders encode them
    (definite lengths, the usual value types), read directly; None for anything else, which
    :func:`parse` hands to pysnmp. Decoding with pyasn1 takes about 0.5 ms a trap; this,
    about 0.02 ms (bench/bench_faults.py: traps are a third of a storm)."""
    try:
        tag, at, end = _tlv(data, 0, len(data))
        if tag != 0x30 or end != len(data):  # nothing after the message (pysnmp refuses it)
            return None
        tag, v0, v1 = _tlv(data, at, end)
        if tag != 0x02 or data[v0:v1] != b"\x01":  # version: v2c
            return None
        tag, c0, c1 = _tlv(data, v1, end)
        if tag != 0x04:
            return None
        tag, p0, p1 = _tlv(data, c1, end)
        if tag != 0xA7 or p1 != end:  # SNMPv2-Trap-PDU, nothing after it
            return None
        at = p0
        for low, high in ((-(2**31), 2**31 - 1), (-(2**63), 2**63), (0, 2**31 - 1)):  # request-id, error-*
            tag, v0, at = _tlv(data, at, p1)
            if tag != 0x02:
                return None
            _integer(data[v0:at], low, high)
        tag, at, b1 = _tlv(data, at, p1)
        if tag != 0x30 or b1 != p1:
            return None
        varbinds: dict[str, object] = {}
        while at < b1:
            tag, v0, at = _tlv(data, at, b1)
            if tag != 0x30:
                return None
            tag, o0, o1 = _tlv(data, v0, at)
            if tag != 0x06:
                return None
            tag, x0, x1 = _tlv(data, o1, at)
            if x1 != at:
                return None
            varbinds[_oid(data[o0:o1])] = _plain_value(tag, data[x0:x1])
        return data[c0:c1].decode("ascii"), varbinds
    except (_NotPlain, UnicodeDecodeError, IndexError):
        return None


def parse(data: bytes, communities: list[str]) -> Trap:
    """One datagram to a :class:`Trap` whose community is one of ``communities``, or Rejected."""
    if len(data) > MAX_DATAGRAM:
        raise Rejected("oversized", f"{len(data)} bytes (at most {MAX_DATAGRAM})")
    plain = _plain(data)
    if plain is not None:
        community, varbinds = plain
        if not any(hmac.compare_digest(community.encode(), c.encode()) for c in communities):
            raise Rejected("unknown_community", "a community that is not configured")  # never logged: a secret
        oid = varbinds.get(SNMP_TRAP_OID)
        if not isinstance(oid, str):
            raise Rejected("malformed", "no snmpTrapOID.0 in the trap")
        return Trap(community, oid, varbinds)
    return _parse_slowly(data, communities)


def _parse_slowly(data: bytes, communities: list[str]) -> Trap:
    """:func:`parse` through pysnmp: any encoding BER allows, and the reason a datagram is refused."""
    try:
        version = int(api.decodeMessageVersion(data))
    except (PyAsn1Error, ValueError, TypeError, IndexError) as exc:  # pyasn1 may stumble on damage
        raise Rejected("malformed", f"not an SNMP message: {str(exc)[:120]}") from None
    if version != api.SNMP_VERSION_2C:
        raise Rejected("not_v2c", f"SNMP version {version + 1} (netoss takes v2c traps)")
    module = api.PROTOCOL_MODULES[version]
    try:
        message, _rest = decoder.decode(data, asn1Spec=module.Message())
        community = str(module.apiMessage.get_community(message))
        pdu = module.apiMessage.get_pdu(message)
    except (PyAsn1Error, ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
        raise Rejected("malformed", f"cannot decode the SNMPv2c message: {str(exc)[:120]}") from None
    if not any(hmac.compare_digest(community.encode(), c.encode()) for c in communities):
        raise Rejected("unknown_community", "a community that is not configured")  # never logged: it is a secret
    if not pdu.isSameTypeWith(module.SNMPv2TrapPDU()):
        raise Rejected("not_a_trap", f"a {pdu.__class__.__name__}, not an SNMPv2-Trap")
    try:
        varbinds = {str(oid): _value(value) for oid, value in module.apiTrapPDU.get_varbinds(pdu)}
    except (PyAsn1Error, ValueError, TypeError, IndexError) as exc:
        raise Rejected("malformed", f"unreadable variable bindings: {str(exc)[:120]}") from None
    oid = varbinds.get(SNMP_TRAP_OID)
    if not isinstance(oid, str):
        raise Rejected("malformed", "no snmpTrapOID.0 in the trap")
    return Trap(community, oid, varbinds)


def _suffix(varbinds: dict, prefix: str):
    for oid, value in varbinds.items():
        if oid.startswith(prefix):
            return oid[len(prefix) :], value
    return None, None


def _if_index(varbinds: dict) -> int | None:
    """The trap's ifIndex: the value of its ifIndex varbind, else the index of its ifAdminStatus,
    ifOperStatus, ifName or ifDescr (the instance suffix); None when it has none."""
    suffix, value = _suffix(varbinds, IF_INDEX)
    if suffix is None:
        for prefix in (IF_OPER_STATUS, IF_ADMIN_STATUS, IF_NAME, IF_DESCR):
            value, _ = _suffix(varbinds, prefix)
            if value is not None:
                break
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or not 1 <= value <= MAX_IF_INDEX:
        return None
    return value


def _status(varbinds: dict, prefix: str) -> str | None:
    _, value = _suffix(varbinds, prefix)
    return IF_STATUS.get(value, str(value)) if value is not None else None


def event(trap: Trap, source_address: str) -> Event:
    """The Event of a known trap; :class:`Rejected` (``unknown_trap``, ``malformed``) says why there is none."""
    known = TRAPS.get(trap.oid)
    if known is None:
        raise Rejected("unknown_trap", f"trap {trap.oid[:120]} is not one netoss makes an alarm of")
    kind, action = known
    address = trap.varbinds.get(SNMP_TRAP_ADDRESS) or source_address
    common = {
        "source": "snmp",
        "action": action,
        "device": "",
        "received": now_iso(),
        "alarm_type": "communicationsAlarm",
    }
    details = {"source_address": str(address), "trap": trap.oid}
    if kind == "interface":
        verb = "linkDown" if action == "raise" else "linkUp"
        index = _if_index(trap.varbinds)
        _, name = _suffix(trap.varbinds, IF_NAME)
        if not name:
            _, name = _suffix(trap.varbinds, IF_DESCR)
        name = str(name or "")[:200]
        if not name and index is None:
            raise Rejected("malformed", f"a {verb} with no ifIndex (1 to {MAX_IF_INDEX}), ifName or ifDescr")
        words = [verb] + ([f"ifIndex {index}"] if index is not None else []) + ([name] if name else [])
        states = {"admin": _status(trap.varbinds, IF_ADMIN_STATUS), "oper": _status(trap.varbinds, IF_OPER_STATUS)}
        if any(states.values()):
            words.append("(" + ", ".join(f"{k} {v}" for k, v in states.items() if v) + ")")
        if index is not None:
            details["if_index"] = index
        # Without a name, the processor names the interface from the device's index table.
        what = f"Interface {name}" if name else f"Interface with ifIndex {index}"
        return Event(
            **common,
            object_type="interface",
            object_name=name,
            condition="interface-down",
            severity="major",
            probable_cause="lossOfSignal",
            specific_problem=f"{what} down (SNMP linkDown)" if action == "raise" else "",
            text=" ".join(words),
            details=details,
        )
    peer, _ = _suffix(trap.varbinds, BGP_PEER_STATE)
    if peer is None:
        peer, _ = _suffix(trap.varbinds, BGP_PEER_LAST_ERROR)
    if peer is None:
        _, peer = _suffix(trap.varbinds, BGP_PEER_REMOTE_ADDR)
    if not peer:
        raise Rejected("malformed", "a BGP trap with no bgpPeerState, bgpPeerLastError or bgpPeerRemoteAddr")
    _, state = _suffix(trap.varbinds, BGP_PEER_STATE)
    state_name = BGP_STATES.get(state, str(state)) if state is not None else "unknown"
    return Event(
        **common,
        object_type="bgp_session",
        object_name=str(peer),
        condition="bgp-session-down",
        severity="major",
        probable_cause="communicationsProtocolError",
        specific_problem=f"BGP session to {peer} down: {state_name} (SNMP)" if action == "raise" else "",
        text=f"{'bgpBackwardTransition' if action == 'raise' else 'bgpEstablished'} {peer} state {state_name}",
        details=details,
    )


def build_trap(community: str, trap_oid: str, varbinds: list[tuple[str, object]], version: int = 1) -> bytes:
    """An SNMPv2c trap (``version`` 0 makes v1 framing, for tests of refusal), as a sender
    encodes it: sysUpTime.0 and snmpTrapOID.0 first, then ``varbinds`` (str, int, or
    ("ip", "a.b.c.d") values). For tests and the bench: what netoss receives is real BER."""
    module = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
    pdu = module.SNMPv2TrapPDU()
    module.apiTrapPDU.set_defaults(pdu)

    def typed(value):
        if isinstance(value, tuple) and value[0] == "ip":
            return rfc1902.IpAddress(value[1])
        if isinstance(value, int):
            return rfc1902.Integer(value)
        return rfc1902.OctetString(str(value))

    binds = [
        ("1.3.6.1.2.1.1.3.0", rfc1902.TimeTicks(12345)),
        (SNMP_TRAP_OID, rfc1902.ObjectIdentifier(trap_oid)),
        *((oid, typed(v)) for oid, v in varbinds),
    ]
    module.apiTrapPDU.set_varbinds(pdu, binds)
    message = module.Message()
    module.apiMessage.set_defaults(message)
    module.apiMessage.set_community(message, community)
    module.apiMessage.set_pdu(message, pdu)
    if version == 0:
        message.setComponentByPosition(0, 0)  # version field: SNMPv1
    return encoder.encode(message)
