"""Fault management end to end, in the real lab: FRR's own syslog -> the stack's receiver ->
the processor -> alarms and one ticket, which resolves itself when the link comes back.

The lab has its own names here (f<device>, bridge netoss-fbr0, account netopsf). How long
detection takes is printed, not asserted (shared machines); bench/bench_faults.py measures it.
"""

from __future__ import annotations

import subprocess
import time

import pytest
import requests
from benches import assert_headings, lab_names, run_bench
from waiting import wait_for

pytestmark = pytest.mark.integration

TICKETS = "/tmf-api/troubleTicket/v4/troubleTicket"
ALARMS = "/tmf-api/alarmManagement/v4/alarm"
# Tickets opened by the tests, by what they are about: later tests look them up by id.
OPENED: dict[str, str] = {}
LINK_NAME = "Link down: ce1:eth1 - pe1:eth3 (ACME-AMS-0001)"


@pytest.fixture(scope="module")
def api(portal_api):
    return portal_api


def _open_tickets(api, stack) -> dict[str, dict]:
    resp = api.get(f"{stack.portal_url}{TICKETS}", params={"status": "open", "limit": 1000}, timeout=10)
    assert resp.status_code == 200, resp.text
    return {t["id"]: t for t in resp.json()}


def _link(spec, router, interface, state):
    subprocess.run(["ip", "-n", spec.router(router).ns, "link", "set", interface, state], check=True)


def _about(ticket, device) -> bool:
    return any(r["@referredType"] == "Device" and r["name"] == device for r in ticket["relatedEntity"])


def _clean_slate(api, stack, devices):
    """Clear by hand (as the admin) what earlier tests, and the lab's own start, left active on
    these devices, until none is: the fault processor applies a clear after the events queued
    before it (a lab's start sends many), a flapping alarm's clear waits its quiet seconds, and
    an SLA alarm of the lab's convergence may still be on its way. Each alarm is cleared once
    (clearing a flapping one again would restart its wait)."""
    cleared = set()

    def quiet():
        active = [
            a["id"]
            for device in devices
            for a in api.get(
                f"{stack.portal_url}{ALARMS}", params={"state": "active", "device": device}, timeout=10
            ).json()
        ]
        for alarm in set(active) - cleared:
            resp = api.patch(f"{stack.portal_url}{ALARMS}/{alarm}", json={"state": "cleared"}, timeout=30)
            assert resp.status_code in (200, 202), resp.text  # 202: applied shortly (or after its quiet time)
            cleared.add(alarm)
        return not active

    wait_for(f"no active alarm on {', '.join(devices)}", quiet, timeout=120, interval=1)


def test_a_link_down_is_one_ticket_with_its_sessions_and_services_and_up_resolves_it(fault_lab, api, stack):
    from netoss.domain.faults.pipeline import counters

    _clean_slate(api, stack, ["pe1", "ce1"])
    before = set(_open_tickets(api, stack))
    t0 = time.monotonic()
    _link(fault_lab, "pe1", "eth3", "down")  # pe1 to ce1: access circuit ACME-AMS-0001
    try:
        new = wait_for(
            "a ticket for the link",
            lambda: {k: v for k, v in _open_tickets(api, stack).items() if k not in before},
            timeout=60,
        )
        print(f"link down -> ticket open in {time.monotonic() - t0:.1f} s")
        time.sleep(3)  # the rest of the problem has arrived: still exactly one ticket
        new = {k: v for k, v in _open_tickets(api, stack).items() if k not in before}
        assert len(new) == 1, list(new)
        ((ref, ticket),) = new.items()
        assert ticket["name"] == LINK_NAME, ticket["name"]
        OPENED["link"] = ref
        related = {(r["@referredType"], r["name"]) for r in ticket["relatedEntity"]}
        assert {("BgpSession", "pe1 -> 198.19.128.1 (ce1)"), ("BgpSession", "ce1 -> 198.19.128.0 (pe1)")} <= related
        assert ("Service", "ACME-AMS-0001") in related and {("Device", "pe1"), ("Device", "ce1")} <= related
        assert "Customer services: ACME-AMS-0001 (Acme Corp)." in ticket["description"]
        alarms = api.get(f"{stack.portal_url}{ALARMS}", params={"ticket": ref, "state": "active"}, timeout=10).json()
        roots = [a for a in alarms if a["isRootCause"]]
        assert len(roots) == 1 and roots[0]["alarmedObjectType"] == "Interface", alarms
        assert {a["netoss"]["condition"] for a in alarms} == {"interface-down", "bgp-session-down"}
        assert all(a["netoss"]["source"] == "syslog" for a in alarms)  # all from FRR's own syslog
        assert all(
            a["parentAlarm"] == [{"id": roots[0]["id"], "href": roots[0]["href"]}] for a in alarms if a is not roots[0]
        )
    finally:
        _link(fault_lab, "pe1", "eth3", "up")
    t1 = time.monotonic()
    resolved = wait_for(
        "the ticket resolving itself",
        lambda: (t := api.get(f"{stack.portal_url}{TICKETS}/{ref}", timeout=10).json())["status"] == "resolved" and t,
        timeout=120,
    )
    print(f"link up -> ticket resolved in {time.monotonic() - t1:.1f} s")
    assert resolved["statusChangeReason"] == "all its alarms cleared"
    # Opened (or reopened: the same link broke in an earlier test within the hour), then resolved.
    assert [c["status"] for c in resolved["statusChange"]][-2:] in (
        ["acknowledged", "resolved"],
        ["inProgress", "resolved"],
    )
    alarms = api.get(f"{stack.portal_url}{ALARMS}", params={"ticket": ref}, timeout=10).json()
    assert all(a["state"] == "cleared" for a in alarms)
    # Whatever cleared last (the BGP sessions come back after the carrier), the ticket is still
    # the link's, with the interface alarm as its one root cause.
    assert resolved["name"] == LINK_NAME, resolved["name"]
    roots = [a for a in alarms if a["isRootCause"]]
    assert len(roots) == 1 and roots[0]["alarmedObjectType"] == "Interface", alarms
    assert resolved["netoss"]["rootAlarm"] == int(roots[0]["id"])
    related = [r for r in resolved["relatedEntity"] if r["@referredType"] == "Alarm"]
    assert [r["id"] for r in related if r["role"] == "rootCause"] == [roots[0]["id"]], related
    # Every datagram is accounted for.
    import redis

    c = counters(redis.Redis.from_url(_redis_url(stack)))
    syslog = c["received"]["syslog"]
    assert syslog == c["stored"].get("syslog", 0) + sum(c["rejected"].get("syslog", {}).values()) + c["queued"]


def _redis_url(stack) -> str:
    import json

    from netoss.embedded.stack import portal_app

    return json.loads(portal_app.config_file(stack).read_text())["REDIS_URL"]


def test_a_core_link_keeps_its_name_and_root_cause_while_ospf_outlasts_the_carrier(fault_lab, api, stack):
    """A link between two routers with OSPF over it (the lab's first cable, not a circuit): when it
    comes back the interfaces clear at once and the OSPF adjacency only once it is Full again.
    The ticket stays the link's, with the interface alarm its one root cause, to its resolution."""
    link = fault_lab.links[0]  # cables come before circuits in the lab's links
    (d1, i1), (d2, i2) = sorted([(link.a_router, link.a_if), (link.b_router, link.b_if)])
    name = f"Link down: {d1}:{i1} - {d2}:{i2}"
    _clean_slate(api, stack, [link.a_router, link.b_router])
    before = set(_open_tickets(api, stack))
    _link(fault_lab, link.a_router, link.a_if, "down")
    try:
        found = wait_for(
            "a ticket for the core link",
            lambda: [t for k, t in _open_tickets(api, stack).items() if k not in before and t["name"] == name],
            timeout=60,
        )
        ref = found[0]["id"]
        wait_for(
            "the OSPF adjacency's alarm on the link's ticket",
            lambda: any(
                a["netoss"]["condition"] == "ospf-adjacency-down"
                for a in api.get(f"{stack.portal_url}{ALARMS}", params={"ticket": ref}, timeout=10).json()
            ),
            timeout=60,
        )
    finally:
        _link(fault_lab, link.a_router, link.a_if, "up")
    resolved = wait_for(
        "the core link's ticket resolving itself",
        lambda: (t := api.get(f"{stack.portal_url}{TICKETS}/{ref}", timeout=10).json())["status"] == "resolved" and t,
        timeout=180,
    )
    alarms = api.get(f"{stack.portal_url}{ALARMS}", params={"ticket": ref}, timeout=10).json()
    for a in sorted(alarms, key=lambda a: a["alarmClearedTime"] or ""):
        print(f"cleared {a['alarmClearedTime']}: {a['alarmedObject']['name']} {a['netoss']['condition']}")
    assert resolved["name"] == name, resolved["name"]
    roots = [a for a in alarms if a["isRootCause"]]
    assert len(roots) == 1 and roots[0]["netoss"]["condition"] == "interface-down", alarms
    assert resolved["netoss"]["rootAlarm"] == int(roots[0]["id"])
    related = [r for r in resolved["relatedEntity"] if r["@referredType"] == "Alarm"]
    assert [r["id"] for r in related if r["role"] == "rootCause"] == [roots[0]["id"]], related


def test_a_job_that_cannot_reach_a_router_opens_a_ticket_naming_it_and_the_job(fault_lab, api, stack, run_job):
    router = fault_lab.router("ce2")
    address = str(router.mgmt_ip)
    _clean_slate(api, stack, ["ce2"])
    before = set(_open_tickets(api, stack))
    subprocess.run(["ip", "-n", router.ns, "addr", "del", address, "dev", router.mgmt_if], check=True)
    try:
        job = run_job({"template": "backup", "parameters": {"devices": ["ce2"]}})
        assert job["status"] == "failed" and job["stats"]["dark"] == {"ce2": 1}, job
        # Only the tickets about ce2: the lab's other routers may still report the end of the
        # previous test (a BGP session that flaps once more when its link comes back).
        new = wait_for(
            "a ticket for the unreachable router",
            lambda: {k: v for k, v in _open_tickets(api, stack).items() if k not in before and _about(v, "ce2")},
            timeout=60,
        )
        ((ref, ticket),) = new.items()
        assert ticket["name"] == "ce2 unreachable (GLOBEX-FRA-0001)", ticket["name"]
        assert f"ce2 unreachable in job {job['id']} (config_backup.yml)" in ticket["description"]
        assert {"@referredType": "Job", "id": str(job["id"]), "name": f"job {job['id']} (config_backup.yml)",
                "role": "detectedBy"} in ticket["relatedEntity"]  # fmt: skip
    finally:
        subprocess.run(["ip", "-n", router.ns, "addr", "add", address, "dev", router.mgmt_if], check=True)
    again = run_job({"template": "backup", "parameters": {"devices": ["ce2"]}})
    assert again["status"] == "successful", again
    resolved = wait_for(
        "the ticket resolving once a run reaches the router",
        lambda: (t := api.get(f"{stack.portal_url}{TICKETS}/{ref}", timeout=10).json())["status"] == "resolved" and t,
        timeout=60,
    )
    assert resolved["statusChangeReason"] == "all its alarms cleared"


def test_the_ticket_is_in_netbox_and_in_the_cli(fault_lab, api, stack, nb_env, nb):
    import json
    from pathlib import Path

    netoss = str(Path(__file__).resolve().parents[2] / ".venv/bin/netoss")
    proc = subprocess.run([netoss, "tickets", "list", "--json"], env=nb_env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    tickets = json.loads(proc.stdout)
    link = next(t for t in tickets if t["id"] == OPENED["link"])
    text = subprocess.run([netoss, "tickets", "list"], env=nb_env, capture_output=True, text=True, timeout=60).stdout
    assert link["id"] in text and "resolved" in text
    devices = [int(r["id"]) for r in link["relatedEntity"] if r["@referredType"] == "Device"]
    entries = wait_for(
        "the ticket's journal entries in NetBox",
        lambda: [
            e
            for e in nb.extras.journal_entries.filter(assigned_object_type="dcim.device", assigned_object_id=devices)
            if link["id"] in e.comments
        ],
        timeout=30,
    )
    assert {e.kind.value for e in entries} >= {"warning", "success"}  # opened, resolved


def test_bad_input_is_counted_as_rejected_and_the_receivers_keep_running(fault_lab, stack, api, demo_synced):
    import socket

    import redis

    from netoss.domain.faults import snmp
    from netoss.domain.faults.pipeline import counters
    from netoss.embedded.stack.supervisor import Supervisor

    conn = redis.Redis.from_url(_redis_url(stack))
    pid = Supervisor(stack).processes()["fault-receiver"]["pid"]
    before = counters(conn)
    community = stack.load_secrets()["snmp_community"]
    syslog_port, trap_port = stack.port("syslog"), stack.port("snmptrap")
    bad_syslog = [
        b"hello world",  # no <PRI>
        b"<30>Nov 26 19:4",  # truncated
        b"<30>Nov 26 19:48:26 pe1 bgpd[1]: caf\xe9 \xff\xfe",  # not UTF-8
        b"<30>Nov 26 19:48:26 pe1 bgpd[1]: " + b"x" * 9000,  # oversized
        b"<999>Nov 26 19:48:26 pe1 bgpd: x",
        b"",
    ]
    bad_traps = [
        snmp.build_trap("not-the-community", "1.3.6.1.6.3.1.1.5.3", [("1.3.6.1.2.1.31.1.1.1.1.3", "eth3")]),
        snmp.build_trap(community, "1.3.6.1.6.3.1.1.5.3", [], version=0),
        b"\x30\x82\xff\xff garbage",
    ]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for data in bad_syslog:
        s.sendto(data, ("127.0.0.1", syslog_port))
    for data in bad_traps:
        s.sendto(data, ("127.0.0.1", trap_port))
    # A good trap after them: from loopback, which no NetBox device has, so the processor
    # rejects it as unknown_device (stored would need a device): still accounted for.
    s.sendto(snmp.build_trap(community, "1.3.6.1.6.3.1.1.5.3", [("1.3.6.1.2.1.31.1.1.1.1.3", "eth3")]),
             ("127.0.0.1", trap_port))  # fmt: skip

    def grew():
        c = counters(conn)
        syslog = c["received"].get("syslog", 0) - before["received"].get("syslog", 0)
        traps = c["received"].get("snmp", 0) - before["received"].get("snmp", 0)
        rejected_traps = sum(c["rejected"].get("snmp", {}).values()) - sum(before["rejected"].get("snmp", {}).values())
        done = syslog == len(bad_syslog) and traps == len(bad_traps) + 1 and rejected_traps == 4
        return done and c["queued"] == 0 and c

    c = wait_for("the datagrams to be counted", grew, timeout=30)
    rejected = c["rejected"]
    for reason in ("malformed", "not_utf8", "oversized"):
        assert rejected["syslog"].get(reason, 0) > before["rejected"].get("syslog", {}).get(reason, 0), reason
    for reason in ("unknown_community", "not_v2c", "malformed", "unknown_device"):
        assert rejected["snmp"].get(reason, 0) > before["rejected"].get("snmp", {}).get(reason, 0), reason
    for source in ("syslog", "snmp"):  # every datagram is accounted for
        assert c["received"][source] == c["stored"].get(source, 0) + sum(rejected[source].values()), source
    log = (stack.logs / "fault-receiver.log").read_text()
    assert "rejected (not_utf8)" in log and "rejected (unknown_community)" in log
    assert "not-the-community" not in log and community not in log  # communities are secrets
    assert Supervisor(stack).processes()["fault-receiver"]["pid"] == pid  # still the same process
    # A webhook without a valid token is 401.
    resp = requests.post(f"{stack.portal_url}/api/v1/faults/alertmanager", json={"version": "4"}, timeout=10)
    assert resp.status_code == 401


IF_MIB_LINK_DOWN, IF_MIB_LINK_UP = "1.3.6.1.6.3.1.1.5.3", "1.3.6.1.6.3.1.1.5.4"


def _snmptrap(spec, stack, router, trap_oid, if_index, oper, conf_dir):
    """net-snmp's snmptrap, from inside ``router``'s namespace to the receiver on the lab's bridge:
    RFC 2863's linkDown/linkUp (ifIndex, ifAdminStatus, ifOperStatus; no ifName), by number (Debian
    ships no IF-MIB). The community comes from ``conf_dir``/snmp.conf, never the command line."""
    import os

    argv = ["ip", "netns", "exec", spec.router(router).ns, "snmptrap", "-v", "2c",
            f"{spec.bridge_ip.ip}:{stack.port('snmptrap')}", "", trap_oid,
            f"1.3.6.1.2.1.2.2.1.1.{if_index}", "i", str(if_index),
            f"1.3.6.1.2.1.2.2.1.7.{if_index}", "i", "1",
            f"1.3.6.1.2.1.2.2.1.8.{if_index}", "i", str(oper)]  # fmt: skip
    env = {**os.environ, "SNMPCONFPATH": str(conf_dir), "SNMP_PERSISTENT_DIR": str(conf_dir / "persist"), "MIBS": ""}
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr


def test_a_standard_link_down_trap_from_net_snmp_is_an_alarm_on_the_interface_of_its_ifindex(
    fault_lab, api, stack, nb, tmp_path
):
    import json

    import redis

    from netoss.domain.faults.pipeline import counters
    from netoss.domain.faults.topology import IFINDEX_FIELD

    conf = tmp_path / "snmp"
    conf.mkdir(mode=0o700)
    (conf / "snmp.conf").touch(mode=0o600)
    (conf / "snmp.conf").write_text(f"defCommunity {stack.load_secrets()['snmp_community']}\n")
    # Any router with a cabled interface: its kernel ifindex is what its traps give.
    router = next(r for r in fault_lab.routers if r.interfaces)
    interface = router.interfaces[-1]
    links = json.loads(subprocess.run(["ip", "-n", router.ns, "-j", "link", "show", "dev", interface],
                                      capture_output=True, text=True, check=True).stdout)  # fmt: skip
    if_index = links[0]["ifindex"]
    # `netoss lab up` put each router's ifIndex table in NetBox.
    record = nb.dcim.interfaces.get(device=router.name, name=interface)
    assert record.custom_fields[IFINDEX_FIELD] == if_index, record.custom_fields
    _clean_slate(api, stack, [router.name])
    conn = redis.Redis.from_url(_redis_url(stack))
    before = counters(conn)

    def active_alarm():
        params = {"device": router.name, "state": "active"}
        alarms = api.get(f"{stack.portal_url}{ALARMS}", params=params, timeout=10).json()
        about = ("interface-down", f"{router.name} {interface}")
        found = [a for a in alarms if (a["netoss"]["condition"], a["alarmedObject"]["name"]) == about]
        return found[0] if found else None

    _snmptrap(fault_lab, stack, router.name, IF_MIB_LINK_DOWN, if_index, 2, conf)
    raised = wait_for("the linkDown trap's alarm", active_alarm, timeout=30)
    assert raised["netoss"]["source"] == "snmp", raised  # the link is up: only the trap says otherwise
    assert raised["alarmedObjectType"] == "Interface" and raised["alarmedObject"]["id"] == str(record.id), raised
    _snmptrap(fault_lab, stack, router.name, IF_MIB_LINK_UP, if_index, 1, conf)
    wait_for(
        "the linkUp trap clearing it",
        lambda: api.get(f"{stack.portal_url}{ALARMS}/{raised['id']}", timeout=10).json()["state"] == "cleared",
        timeout=30,
    )
    # An index the router's table does not have: rejected, counted and logged with device and index.
    _snmptrap(fault_lab, stack, router.name, IF_MIB_LINK_DOWN, 2000000000, 2, conf)

    def refused():
        c = counters(conn)
        n = c["rejected"].get("snmp", {}).get("unknown_ifindex", 0)
        return n > before["rejected"].get("snmp", {}).get("unknown_ifindex", 0) and c

    wait_for("the unknown ifIndex to be counted", refused, timeout=30)
    log = (stack.logs / "fault-processor.log").read_text()
    assert f"rejected (unknown_ifindex): {router.name} has no interface with ifIndex 2000000000" in log
    assert "defCommunity" not in log and stack.load_secrets()["snmp_community"] not in log


def test_bench_fault_latency_smoke(fault_lab, stack):
    """bench/bench_fault_latency.py on this lab: a link down to its one ticket, and back."""
    out = run_bench(
        "bench_fault_latency.py", "--stack", str(stack.state_dir), "--lab", lab_names(fault_lab.config), "--smoke"
    )
    assert_headings(
        out,
        "machine:",
        "  round 1: ",
        "link down -> first alarm stored (its raise time): median",
        "link down -> ticket in the API:",
        "every round: exactly one open ticket for the link",
    )
