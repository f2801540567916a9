"""SNMPv2c traps: real BER from pysnmp's encoder, decoded and mapped; bad ones rejected with a reason."""

from __future__ import annotations

import pytest

from portal.faults import snmp
from portal.faults.syslog import Rejected

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
)
def test_bad_traps_are_rejected_with_a_reason(data, reason):
    with pytest.raises(Rejected) as err:
        snmp.parse(data, ["c0mm"])
    assert err.value.reason == reason, str(err.value)
    assert "guess" not in str(err.value)  # a community is a secret: never in a message


def test_unknown_traps_and_traps_without_an_interface_name_make_no_event():
    cold = snmp.parse(snmp.build_trap("c0mm", "1.3.6.1.6.3.1.1.5.1", []), ["c0mm"])  # coldStart
    assert snmp.event(cold, "x") == "unknown_trap"
    nameless = snmp.parse(snmp.build_trap("c0mm", "1.3.6.1.6.3.1.1.5.3", LINK_DOWN[:3]), ["c0mm"])
    assert snmp.event(nameless, "x") == "malformed"
