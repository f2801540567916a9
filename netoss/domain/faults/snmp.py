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
    """A pyasn1 value as int, str or dotted address."""
    try:
        return int(value)
    except (TypeError, ValueError):
        pass
    try:
        raw = bytes(value.asOctets())
    except AttributeError:
        return str(value.prettyPrint())
    if len(raw) == 4 and value.__class__.__name__ in ("IpAddress",):
        return ".".join(str(b) for b in raw)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.hex()


def parse(data: bytes, communities: list[str]) -> Trap:
    """One datagram to a :class:`Trap` whose community is one of ``communities``, or Rejected."""
    if len(data) > MAX_DATAGRAM:
        raise Rejected("oversized", f"{len(data)} bytes (at most {MAX_DATAGRAM})")
    try:
        version = int(api.decodeMessageVersion(data))
    except (PyAsn1Error, ValueError, TypeError) as exc:
        raise Rejected("malformed", f"not an SNMP message: {str(exc)[:120]}") from None
    if version != api.SNMP_VERSION_2C:
        raise Rejected("not_v2c", f"SNMP version {version + 1} (netoss takes v2c traps)")
    module = api.PROTOCOL_MODULES[version]
    try:
        message, _rest = decoder.decode(data, asn1Spec=module.Message())
        community = str(module.apiMessage.get_community(message))
        pdu = module.apiMessage.get_pdu(message)
    except (PyAsn1Error, ValueError, TypeError, AttributeError) as exc:
        raise Rejected("malformed", f"cannot decode the SNMPv2c message: {str(exc)[:120]}") from None
    if not any(hmac.compare_digest(community.encode(), c.encode()) for c in communities):
        raise Rejected("unknown_community", "a community that is not configured")  # never logged: it is a secret
    if not pdu.isSameTypeWith(module.SNMPv2TrapPDU()):
        raise Rejected("not_a_trap", f"a {pdu.__class__.__name__}, not an SNMPv2-Trap")
    try:
        varbinds = {str(oid): _value(value) for oid, value in module.apiTrapPDU.get_varbinds(pdu)}
    except (PyAsn1Error, ValueError, TypeError) as exc:
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
