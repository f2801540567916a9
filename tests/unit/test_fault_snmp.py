"""SNMPv2c traps: real BER from pysnmp's encoder, decoded and mapped; bad ones rejected with a reason.
A standard linkDown (RFC 2863: ifIndex, ifAdminStatus, ifOperStatus, no name) is mapped to the
interface by the device's index table (NetBox's netoss_ifindex) in the processor."""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import logging

import pytest
from fault_queue import FaultQueue
from flask_migrate import upgrade
from sqlalchemy import select

from netoss.data.db import db
from netoss.data.models import Alarm
from netoss.domain.faults import snmp
from netoss.domain.faults.events import Event
from netoss.domain.faults.pipeline import DatagramReceiver, syslog_handler, trap_handler
from netoss.domain.faults.processor import Processor
from netoss.domain.faults.rules import RuleSet
from netoss.domain.faults.syslog import Rejected
from netoss.domain.faults.topology import Topology
from netoss.web import create_app

LINK_DOWN = [
    ("1.3.6.1.2.1.2.2.1.1.3", 3),  # ifIndex
    ("1.3.6.1.2.1.2.2.1.7.3", 1),  # ifAdminStatus up
    ("1.3.6.1.2.1.2.2.1.8.3", 2),  # ifOperStatus down
    ("1.3.6.1.2.1.31.1.1.1.1.3", "eth3"),  # ifName
]


def test_link_down_and_up_are_the_interface_alarm_of_any_source():
    down = snmp.event(snmp.parse(snmp.build_trap("c0mm", "1.3.6.1.6.3.1.1.5.3", LINK_DOWN), ["c0mm"]), "198.18.0.13")
    up = snmp.event(snmp.parse(snmp.build_trap("c0mm", "1.3.6.1.6.3.1.1.5.4", LINK_DOWN), ["c0mm"]), "198.18.0.13")
    assert (down.action, up.action) == ("raise", "clear")
    assert (down.object_type, down.object_name, down.condition) == ("interface", "eth3", "interface-down")
    assert down.details["source_address"] == "198.18.0.13" and down.source == "snmp"


def test_bgp_backward_transition_names_the_peer_both_mib_versions():
    binds = [("1.3.6.1.2.1.15.3.1.14.198.19.128.1", "\x06\x02"), ("1.3.6.1.2.1.15.3.1.2.198.19.128.1", 1)]
    for oid in ("1.3.6.1.2.1.15.7.2", "1.3.6.1.2.1.15.0.2"):
        e = snmp.event(snmp.parse(snmp.build_trap("c0mm", oid, binds), ["c0mm"]), "198.18.0.13")
        assert (e.object_type, e.object_name, e.condition, e.action) == (
            "bgp_session", "198.19.128.1", "bgp-session-down", "raise",
        )  # fmt: skip
        assert e.specific_problem == "BGP session to 198.19.128.1 down: idle (SNMP)"
    up = snmp.parse(snmp.build_trap("c0mm", "1.3.6.1.2.1.15.0.1", binds), ["c0mm"])
    assert snmp.event(up, "x").action == "clear"


def test_the_trap_address_varbind_wins_over_the_udp_source():
    binds = [*LINK_DOWN, (snmp.SNMP_TRAP_ADDRESS, ("ip", "198.18.0.14"))]
    e = snmp.event(snmp.parse(snmp.build_trap("c0mm", "1.3.6.1.6.3.1.1.5.3", binds), ["c0mm"]), "10.9.9.9")
    assert e.details["source_address"] == "198.18.0.14"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (snmp.build_trap("guess", "1.3.6.1.6.3.1.1.5.3", LINK_DOWN), "unknown_community"),
        (snmp.build_trap("c0mm", "1.3.6.1.6.3.1.1.5.3", LINK_DOWN, version=0), "not_v2c"),
        (snmp.build_trap("c0mm", "1.3.6.1.6.3.1.1.5.3", LINK_DOWN)[:30], "malformed"),  # truncated
        (b"\x30\x03\x02\x01", "malformed"),
        (b"not snmp at all", "malformed"),
        (b"\x00" * 9000, "oversized"),
    ],
    # named, not by their bytes: a trap's request id is random, and xdist's workers must collect alike
    ids=["unknown-community", "v1", "truncated", "short-sequence", "not-snmp", "oversized"],
)
def test_bad_traps_are_rejected_with_a_reason(data, reason):
    with pytest.raises(Rejected) as err:
        snmp.parse(data, ["c0mm"])
    assert err.value.reason == reason, str(err.value)
    assert "guess" not in str(err.value)  # a community is a secret: never in a message


def test_unknown_traps_and_link_traps_naming_no_interface_are_rejected_with_why():
    cold = snmp.parse(snmp.build_trap("c0mm", "1.3.6.1.6.3.1.1.5.1", []), ["c0mm"])  # coldStart
    with pytest.raises(Rejected) as err:
        snmp.event(cold, "x")
    assert err.value.reason == "unknown_trap" and "1.3.6.1.6.3.1.1.5.1" in err.value.detail
    for binds in ([], [("1.3.6.1.2.1.2.2.1.1.3", "three")], [("1.3.6.1.2.1.2.2.1.1.0", 0)]):
        anonymous = snmp.parse(snmp.build_trap("c0mm", "1.3.6.1.6.3.1.1.5.3", binds), ["c0mm"])
        with pytest.raises(Rejected) as err:
            snmp.event(anonymous, "x")
        assert err.value.reason == "malformed" and "ifIndex" in err.value.detail, err.value.detail


# -- a standard linkDown: ifIndex only, mapped through the device's index table -------------

# RFC 2863's linkDown as net-snmp's `snmptrap -v 2c ... IF-MIB::linkDown ifIndex i 7 ...` sends it.
RFC2863_DOWN = [
    ("1.3.6.1.2.1.2.2.1.1.7", 7),  # ifIndex.7
    ("1.3.6.1.2.1.2.2.1.7.7", 1),  # ifAdminStatus.7 up
    ("1.3.6.1.2.1.2.2.1.8.7", 2),  # ifOperStatus.7 down
]
RFC2863_UP = [RFC2863_DOWN[0], RFC2863_DOWN[1], ("1.3.6.1.2.1.2.2.1.8.7", 1)]


def _intf(ident, device, name, ifindex):
    return {"id": ident, "name": name, "device": {"name": device}, "custom_fields": {"netoss_ifindex": ifindex}}


# A device of its own shape: the index table is NetBox's custom field netoss_ifindex.
TOPO = Topology.from_records(
    devices=[{"id": 1, "name": "edge7"}, {"id": 2, "name": "edge8"}],
    interfaces=[
        _intf(11, "edge7", "mgmt0", 1),
        _intf(12, "edge7", "xe-0/0/3", 7),
        _intf(13, "edge7", "xe-0/0/4", None),  # no index known
        _intf(21, "edge8", "et-1/0/0", 7),  # the same index on another device
    ],
    ip_addresses=[{"address": "192.0.2.7/24", "assigned_object_type": "dcim.interface", "assigned_object_id": 11}],
    circuits=[],
)
T0 = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def proc(tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.db'}", "SECRET_KEY": "t", "TESTING": True})
    with app.app_context():
        upgrade()
        yield Processor(lambda: TOPO)


def _trap_event(trap_oid, binds, sender="192.0.2.7"):
    return snmp.event(snmp.parse(snmp.build_trap("c0mm", trap_oid, binds), ["c0mm"]), sender)


def test_a_standard_link_down_carries_its_ifindex_for_the_processor():
    e = _trap_event("1.3.6.1.6.3.1.1.5.3", RFC2863_DOWN)
    assert (e.action, e.object_type, e.object_name, e.condition) == ("raise", "interface", "", "interface-down")
    assert e.details["if_index"] == 7 and e.details["source_address"] == "192.0.2.7"
    assert "ifIndex 7" in e.text and "oper down" in e.text
    assert Event.from_json(e.to_json()).details["if_index"] == 7  # through the stream as it is


def test_a_standard_link_down_is_an_alarm_on_the_interface_of_that_index_and_link_up_clears_it(proc):
    out = proc.ingest([_trap_event("1.3.6.1.6.3.1.1.5.3", RFC2863_DOWN)], now=T0)
    assert out.stored == 1 and not out.rejected, out
    (alarm,) = db.session.scalars(select(Alarm)).all()
    assert (alarm.device, alarm.object_name, alarm.interface_id) == ("edge7", "xe-0/0/3", 12)
    assert alarm.condition == "interface-down" and alarm.active_key == "edge7|interface:xe-0/0/3|interface-down"
    # Any source that names the interface is the same alarm: FRR's syslog, a health check.
    named = Event(source="syslog", action="raise", device="edge7", object_type="interface",
                  object_name="xe-0/0/3", condition="interface-down")  # fmt: skip
    proc.ingest([named], now=T0 + dt.timedelta(seconds=1))
    assert db.session.get(Alarm, alarm.id).occurrences == 2
    proc.ingest([_trap_event("1.3.6.1.6.3.1.1.5.4", RFC2863_UP)], now=T0 + dt.timedelta(seconds=2))
    assert db.session.get(Alarm, alarm.id).state == "cleared"


def test_an_ifindex_the_device_does_not_have_is_rejected_counted_and_logged(proc, caplog):
    caplog.set_level(logging.INFO, logger="netoss.faults")
    unknown = [("1.3.6.1.2.1.2.2.1.1.9", 9), ("1.3.6.1.2.1.2.2.1.8.9", 2)]
    out = proc.ingest([_trap_event("1.3.6.1.6.3.1.1.5.3", unknown)], now=T0)
    assert out.stored == 0 and out.rejected == {"unknown_ifindex": 1}
    assert out.rejected_by_source == {("snmp", "unknown_ifindex"): 1}
    assert not db.session.scalars(select(Alarm)).all()
    assert "rejected (unknown_ifindex)" in caplog.text and "edge7" in caplog.text and "ifIndex 9" in caplog.text


def _receive(source, handle, datagrams, sender="192.0.2.7"):
    conn = FaultQueue()

    async def run():
        receiver = DatagramReceiver(conn, source, handle, show_raw=source != "snmp")
        for data in datagrams:
            receiver.datagram_received(data, (sender, 40000))
        receiver.flush()

    # Its own thread, so its own event loop: when the browser tests ran first in this session,
    # Playwright's sync API keeps a loop running in the main thread.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()
    return conn


def test_every_rejected_datagram_is_logged_with_its_reason_never_with_the_community(caplog):
    caplog.set_level(logging.INFO, logger="netoss.faults")
    traps = [
        snmp.build_trap("c0mm", "1.3.6.1.6.3.1.1.5.1", []),  # coldStart: not a trap netoss maps
        snmp.build_trap("c0mm", "1.3.6.1.6.3.1.1.5.3", []),  # linkDown naming no interface
        snmp.build_trap("wrong", "1.3.6.1.6.3.1.1.5.3", RFC2863_DOWN),
        snmp.build_trap("c0mm", "1.3.6.1.6.3.1.1.5.3", RFC2863_DOWN),  # good: queued for the processor
    ]
    conn = _receive("snmp", trap_handler(["c0mm"]), traps)
    assert conn.counters == {
        "received:snmp": 4,
        "rejected:snmp:unknown_trap": 1,
        "rejected:snmp:malformed": 1,
        "rejected:snmp:unknown_community": 1,
    }
    assert [e.details["if_index"] for e in conn.events] == [7]
    for reason in ("unknown_trap", "malformed", "unknown_community"):
        assert f"snmp from 192.0.2.7 rejected ({reason})" in caplog.text, caplog.text
    assert "c0mm" not in caplog.text and "wrong" not in caplog.text  # communities are secrets
    # Syslog lines no rule knows are rejected too, and said so.
    caplog.clear()
    conn = _receive("syslog", syslog_handler(RuleSet([])), [b"<30>Dec  4 12:00:00 edge7 sshd[1]: hello"])
    assert conn.counters == {"received:syslog": 1, "rejected:syslog:no_rule": 1}
    assert "syslog from 192.0.2.7 rejected (no_rule)" in caplog.text and "sshd" in caplog.text


# --- the fast decoding of plain traps (issue 18: 20,000 events/s) ----------------------------


def _outcome(parse, data: bytes, communities: list[str]):
    try:
        trap = parse(data, communities)
    except Rejected as exc:
        return ("rejected", exc.reason)
    return ("trap", trap.community, trap.oid, trap.varbinds)


def _traps() -> list[bytes]:
    big = [(f"1.3.6.1.4.1.99999.1.{i}", "x" * 40) for i in range(40)]  # long forms of lengths
    return [
        snmp.build_trap("c0mm", "1.3.6.1.6.3.1.1.5.3", LINK_DOWN),
        snmp.build_trap("c0mm", "1.3.6.1.6.3.1.1.5.4", [("1.3.6.1.2.1.31.1.1.1.1.7", "0")]),  # named "0"
        snmp.build_trap("c0mm", "1.3.6.1.2.1.15.0.2", [("1.3.6.1.2.1.15.3.1.2.203.0.113.9", 1)]),
        snmp.build_trap("c0mm", "1.3.6.1.6.3.1.1.5.3", [(snmp.SNMP_TRAP_ADDRESS, ("ip", "198.18.7.1"))]),
        snmp.build_trap("c0mm", "1.3.6.1.6.3.1.1.5.3", [("1.3.6.1.2.1.2.2.1.1.2147483647", 2147483647)]),
        snmp.build_trap("c0mm", "1.3.6.1.6.3.1.1.5.3", [("1.3.6.1.2.1.2.2.1.1.1", -5)]),
        snmp.build_trap("c0mm", "1.3.6.1.4.1.99999.0.1", big),
        snmp.build_trap("other", "1.3.6.1.6.3.1.1.5.3", LINK_DOWN),  # a community not configured
        snmp.build_trap("c0mm", "1.3.6.1.6.3.1.1.5.3", LINK_DOWN, version=0),  # v1 framing
        snmp.build_trap("c0mm", "2.999.1", [("1.3.6.1.2.1.1.5.0", "caf\u00e9".encode().decode("latin-1"))]),
        snmp.build_trap("c0mm", "1.3.6.1.6.3.1.1.5.3", [("1.3.6.1.2.1.2.2.1.1.3", 0)]),
    ]


def test_plain_traps_are_read_without_pysnmp_exactly_as_pysnmp_reads_them():
    for data in _traps():
        fast, slow = _outcome(snmp.parse, data, ["c0mm"]), _outcome(snmp._parse_slowly, data, ["c0mm"])
        assert fast == slow, data.hex()
    assert snmp._plain(_traps()[0]) is not None  # the fast path is the one taken
    named_zero = snmp.parse(_traps()[1], ["c0mm"])
    assert snmp.event(named_zero, "198.18.0.1").object_name == "0"


def test_any_damaged_trap_gets_the_same_answer_from_the_fast_path_as_from_pysnmp():
    """Bytes flipped, cut, added or dropped anywhere in real traps: the fast path reads the trap
    pysnmp reads, or hands the datagram to pysnmp, never anything else."""
    import random

    rng = random.Random(18)  # noqa: S311 - a repeatable fuzz, not a secret
    base = _traps()
    for i in range(4000):
        data = bytearray(rng.choice(base))
        kind = i % 4
        at = rng.randrange(len(data))
        if kind == 0:
            data[at] = rng.randrange(256)
        elif kind == 1:
            data = data[: rng.randrange(len(data))]
        elif kind == 2:
            data[at:at] = bytes([rng.randrange(256)])
        else:
            del data[at]
        data = bytes(data)
        assert _outcome(snmp.parse, data, ["c0mm"]) == _outcome(snmp._parse_slowly, data, ["c0mm"]), data.hex()


def test_a_trap_pyasn1_stumbles_on_is_refused_as_malformed():
    """pyasn1 raises IndexError on this damaged trap (an indefinite length inside a varbind):
    it is a malformed trap, counted so, not a decoder failure."""
    data = bytes.fromhex(
        "30818a020101040463306d6da77f020400f392530201000201003071300e06082b06010201010300430230393017060a"
        "2b06010603010104010006092b0601060301010503300f060a2b0601020102020101030201033080060a2b060102010202"
        "010703020101300f060a2b0601020102020108030201023013060b2b060102011f0101010103040465746833"
    )
    with pytest.raises(Rejected) as exc:
        snmp.parse(data, ["c0mm"])
    assert exc.value.reason == "malformed"
