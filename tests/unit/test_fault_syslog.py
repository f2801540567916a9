"""Syslog parsing (RFC 3164, RFC 5424) and the rules of faults/syslog.yml, on real FRR lines."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from netoss.domain.faults.rules import RuleError, load_rules
from netoss.domain.faults.syslog import MAX_DATAGRAM, Rejected, parse

REPO = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)

# Lines as the lab's relay forwarded them from FRR 8.4 (pe1 eth3 set down, then up).
FRR = {
    "bgp_down": b"<30>Nov 26 19:48:26 pe1 bgpd[15345]: [PXVXG-TFNNT] %ADJCHANGE: neighbor 198.19.128.1(ce1) "
    b"in vrf default Down Interface down",
    "bgp_up": b"<30>Nov 26 19:48:31 pe1 bgpd[15345]: [N9HHH-F8H1M] %ADJCHANGE: neighbor 198.19.128.1(ce1) "
    b"in vrf default Up",
    "if_down": b"<31>Nov 26 19:48:26 pe1 zebra[15340]: [SBFM4-2P25V] MESSAGE: ZEBRA_INTERFACE_DOWN eth3 vrf default(0)",
    "if_up": b"<31>Nov 26 19:48:31 pe1 zebra[15340]: [V6YM8-PV4KB] MESSAGE: ZEBRA_INTERFACE_UP eth3 vrf default(0)",
    "if_delete": b"<31>Nov 26 19:48:31 pe1 zebra[15340]: [V6YM8-PV4KB] MESSAGE: ZEBRA_INTERFACE_DELETE eth3 "
    b"vrf default(0)",
    "bgp_deleted": b"<30>Nov 26 19:48:31 pe1 bgpd[15345]: [PXVXG-TFNNT] %ADJCHANGE: neighbor 198.19.128.1(ce1) "
    b"in vrf default Down Neighbor deleted",
    "ospf_down": b"<29>Nov 26 19:48:03 pe1 ospfd[15352]: [Y05P2-YJVXY] AdjChg: Nbr 198.19.255.1, NbrIP 198.19.0.3 "
    b"(default) on eth1:198.19.0.2: Full -> Deleted (KillNbr)",
    "ospf_full": b"<29>Nov 26 19:48:20 pe1 ospfd[15352]: [Y05P2-YJVXY] AdjChg: Nbr 198.19.255.1, NbrIP 198.19.0.3 "
    b"(default) on eth1:198.19.0.2: Loading -> Full (LoadingDone)",
    "ospf_init": b"<29>Nov 26 19:48:10 pe1 ospfd[15352]: [Y05P2-YJVXY] AdjChg: Nbr 198.19.255.1, NbrIP 198.19.0.3 "
    b"(default) on eth1:198.19.0.2: Init -> 2-Way (2-WayReceived)",
    "bfd_down": b"<31>Nov 26 19:48:26 pe1 bfdd[900]: [Z1BQ6-7A2Q3] state-change: [mhop:no peer:198.19.0.1 "
    b"local:198.19.0.0 vrf:default ifname:eth1] up -> down reason:control-expired",
    "noise": b"<31>Nov 26 19:48:26 pe1 zebra[15340]: [QQWTF-ZKJDD] rib_update: Scheduled VRF (ALL), "
    b"event RIB_UPDATE_KERNEL",
}


@pytest.fixture(scope="module")
def rules():
    return load_rules(REPO / "faults" / "syslog.yml")


def _event(rules, name):
    message = parse(FRR[name], now=NOW)
    return rules.event(message, message.hostname, "now")


def test_rfc3164_with_and_without_hostname():
    m = parse(FRR["bgp_down"], now=NOW)
    assert (m.hostname, m.app, m.procid, m.facility, m.severity) == ("pe1", "bgpd", "15345", 3, 6)
    assert m.timestamp == dt.datetime(2026, 11, 26, 19, 48, 26) and m.text.startswith("[PXVXG-TFNNT] %ADJCHANGE")
    bare = parse(b"<30>Nov  6 12:28:22 bgpd[28313]: hello", now=NOW)  # glibc's syslog(): no HOSTNAME
    assert bare.hostname is None and bare.app == "bgpd" and bare.timestamp.day == 6
    january = parse(b"<30>Dec 31 23:59:59 r1 app: late", now=dt.datetime(2027, 1, 1, 0, 0, 5, tzinfo=dt.UTC))
    assert january.timestamp.year == 2026


def test_rfc5424_with_structured_data():
    m = parse(
        b'<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" '
        b'eventSource="Appli\\"cation" eventID="1011"][second x="]"] \xef\xbb\xbfAn application event'
    )
    assert (m.version, m.hostname, m.app, m.procid, m.msgid) == (1, "mymachine.example.com", "evntslog", None, "ID47")
    assert m.structured["exampleSDID@32473"]["eventSource"] == 'Appli"cation'
    assert m.structured["second"] == {"x": "]"} and m.text == "An application event"
    assert m.timestamp == dt.datetime(2003, 10, 11, 22, 14, 15, 3000, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("data", "reason", "detail"),
    [
        (b"x" * (MAX_DATAGRAM + 1), "oversized", "8193 bytes"),
        (b"<30>Nov 26 19:48:26 pe1 bgpd[1]: caf\xe9", "not_utf8", "byte 36 is not UTF-8"),
        (b"hello world", "malformed", "no <PRI>"),
        (b"<999>Nov 26 19:48:26 pe1 bgpd: x", "malformed", "PRI 999 is out of range"),
        (b"<30>Nov 26 19:4", "malformed", "no RFC 3164 timestamp"),  # truncated
        (b"<30>Foo 26 19:48:26 pe1 bgpd: x", "malformed", "is not a date"),
        (b"<30>Nov 26 19:48:26 pe1 bgpd[1]:   ", "malformed", "empty message"),
        (b"<30>Nov 26 19:48:26 pe1", "malformed", "no TAG"),
        (b"<14>1 2026-11-26T12:00:00Z host", "malformed", "header is cut off at HOSTNAME"),
        (b"<14>1 yesterday host app - - - msg", "malformed", "is not RFC 3339"),
        (b'<14>1 - host app - - [id k="v msg', "malformed", "is not closed"),
        (b"<14>1 - host app - - {x} msg", "malformed", "neither '-' nor"),
    ],
)
def test_bad_datagrams_are_rejected_with_a_reason(data, reason, detail):
    with pytest.raises(Rejected) as err:
        parse(data, now=NOW)
    assert err.value.reason == reason and detail in err.value.detail, str(err.value)


def test_frr_lines_raise_and_clear_by_the_same_key(rules):
    down, up = _event(rules, "bgp_down"), _event(rules, "bgp_up")
    assert (down.action, up.action) == ("raise", "clear") and down.fingerprint == up.fingerprint
    assert down.fingerprint == "pe1|bgp_session:198.19.128.1|bgp-session-down"
    assert down.specific_problem == "BGP session to 198.19.128.1 (ce1) down in vrf default: Interface down"
    assert down.details["peer_name"] == "ce1" and down.severity == "major"
    iface = _event(rules, "if_down")
    assert iface.fingerprint == "pe1|interface:eth3|interface-down" and iface.probable_cause == "lossOfSignal"
    assert _event(rules, "if_up").action == "clear"
    # Gone is not down: a deleted interface or neighbour (a service decommissioned) clears.
    assert _event(rules, "if_delete").action == "clear" and _event(rules, "if_delete").fingerprint == iface.fingerprint
    assert (
        _event(rules, "bgp_deleted").action == "clear" and _event(rules, "bgp_deleted").fingerprint == down.fingerprint
    )
    ospf = _event(rules, "ospf_down")
    assert ospf.fingerprint == "pe1|ospf_adjacency:eth1|ospf-adjacency-down" and ospf.severity == "minor"
    assert _event(rules, "ospf_full").action == "clear"
    assert _event(rules, "ospf_init") == "no_transition"
    bfd = _event(rules, "bfd_down")
    assert bfd.fingerprint == "pe1|bfd_session:198.19.0.1|bfd-session-down" and bfd.action == "raise"
    assert bfd.specific_problem == "BFD session to 198.19.0.1 down: control-expired"
    assert _event(rules, "noise") == "no_rule"


def _rules_file(tmp_path, text):
    path = tmp_path / "faults" / "syslog.yml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


GOOD = """
rules:
  - name: r1
    match: 'link (?P<ifname>\\S+) (?P<state>up|down)'
    object: {type: interface, name: "{ifname}"}
    condition: interface-down
    raise_when: {state: down}
    clear_when: {state: up}
    alarm_type: communicationsAlarm
    severity: major
    probable_cause: lossOfSignal
    specific_problem: "{ifname} down"
"""


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (("severity: major", "severity: huge"), "faults/syslog.yml: rules.0.severity: 'huge' is not one of"),
        (("match: 'link", "match: '(link"), "faults/syslog.yml: rules.0 (r1): match: not a regular expression"),
        (('name: "{ifname}"', 'name: "{port}"'), "rules.0 (r1): object.name: {port} is not a named group of match"),
        (("{state: down}", "{status: down}"), "rules.0 (r1): raise_when.status: not a named group of match"),
        (("    condition: interface-down\n", ""), "rules.0: 'condition' is a required property"),
        (("    severity: major", "    severity: major\n    colour: red"), "Additional properties are not allowed"),
        (('"{ifname} down"', '"{ifname.__class__} down"'), "{ifname.__class__} is not a named group"),
        (("rules:", "rules: [\n"), "not valid YAML"),
    ],
)
def test_a_bad_rules_file_names_the_file_and_key(tmp_path, change, problem):
    with pytest.raises(RuleError) as err:
        load_rules(_rules_file(tmp_path, GOOD.replace(*change)))
    assert any(problem in p for p in err.value.problems), err.value.problems


def test_a_good_rules_file_loads(tmp_path):
    rules = load_rules(_rules_file(tmp_path, GOOD))
    m = parse(b"<30>Nov 26 19:48:26 r9 kern: link eth7 down", now=NOW)
    assert rules.event(m, "r9", "now").fingerprint == "r9|interface:eth7|interface-down"
