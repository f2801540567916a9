"""Service orders end to end, in a lab of their own, through the portal's TMF641 API.

- Bad orders (a port in use, an unknown device, an overlapping prefix, a bad AS number) are
  refused with the problem named, and nothing is touched.
- Two orders submitted together (DIA on pe1/ce3, static access on pe2/ce4) go live with
  distinct /31s from the NetBox prefix of role pe-ce-links: BGP up with the customer prefixes
  received. Each is verified as a single customer's would be: from the core (a P router pings
  the customer's loopback), and the customer's router reaches a provider address through the
  route the PE gives it (DIA: a default route and the provider's aggregates, and nothing else;
  static: a static default), never through another customer.
- The DIA service is modified (a prefix added, the rate changed), then both are deleted: NetBox
  and the routers are exactly as before (an empty diff), and no alarm of the deleted BGP session
  stays raised, even for a "session down" line that comes after the order (its ticket resolves).
- An order that fails verification (max_prefix below what the customer announces) is rolled
  back fully, and a ticket says why.

The lab has its own names here (s<device>, bridge netoss-sbr0, account netopss).
"""

from __future__ import annotations

import ipaddress
import json
import re
import time

import pytest
from benches import assert_headings, lab_names, run_bench
from waiting import wait_for

from netoss.embedded import lab
from netoss.embedded.lab import runtime
from netoss.embedded.lab.spec import LabConfig

pytestmark = pytest.mark.integration

ORDERS_LAB = LabConfig(ns_prefix="s", bridge="netoss-sbr0", user="netopss")
ORDERS = "/tmf-api/serviceOrdering/v4/serviceOrder"
SERVICES = "/tmf-api/serviceInventory/v4/service"
TICKETS = "/tmf-api/troubleTicket/v4/troubleTicket"
ALARMS = "/tmf-api/alarmManagement/v4/alarm"
FINAL = ("completed", "failed", "partial", "cancelled")
ROUTERS = ("pe1", "pe2", "ce1", "ce2", "ce3", "ce4")


@pytest.fixture(scope="module")
def orders_lab(stack, nb, demo_synced):
    spec = lab.up(stack, nb, ORDERS_LAB, log=print)
    try:
        assert lab.converge(stack, spec, log=print, force=True)
        yield spec
    finally:
        lab.down(stack, log=print)


def _item(item_id="1", action="add", service="dia-ebgp", service_id=None, **values):
    body = {"serviceCharacteristic": [{"name": k, "value": v} for k, v in values.items()]}
    if service_id:
        body["id"] = service_id
    else:
        body["serviceSpecification"] = {"name": service}
    return {"id": item_id, "action": action, "service": body}


def _dia(**changes):
    values = {
        "customer": "Initech",
        "pe": "pe1",
        "pe_interface": "eth4",
        "ce": "ce3",
        "ce_interface": "eth1",
        "customer_asn": 64510,
        "prefixes": ["203.0.113.32/28"],
        "bandwidth": 50000,
        "max_prefix": 10,
    }
    values.update(changes)
    return _item(**values)


def _static():
    return _item(
        service="static-access",
        customer="Hooli",
        pe="pe2",
        pe_interface="eth4",
        ce="ce4",
        ce_interface="eth1",
        prefixes=["203.0.113.64/28"],
    )


def _submit(portal_api, stack, *items):
    return portal_api.post(f"{stack.portal_url}{ORDERS}", json={"serviceOrderItem": list(items)}, timeout=60)


def _wait(portal_api, stack, order_id, timeout=240) -> dict:
    return wait_for(
        f"order {order_id} to end",
        lambda: (
            (o := portal_api.get(f"{stack.portal_url}{ORDERS}/{order_id}", timeout=10).json())["state"] in FINAL and o
        ),
        timeout,
        interval=0.5,
    )


def _job_output(portal_api, stack, order, tail=4000) -> str:
    job = (order.get("netoss") or {}).get("job")
    if not job:
        return "(no job)"
    events = portal_api.get(f"{stack.portal_url}/api/v1/jobs/{job}/events?limit=5000", timeout=10).json()
    text = "\n".join(e["stdout"] or "" for e in events)
    return text[-tail:] if tail else text


def _netbox(nb) -> dict:
    """What an order may touch in NetBox, without ids or timestamps: a diff of two is what changed."""

    def name(obj):
        return getattr(obj, "name", None) if obj else None

    return {
        "circuits": sorted((c.cid, c.status.value, name(c.tenant), c.commit_rate) for c in nb.circuits.circuits.all()),
        "terminations": sorted((t.circuit.cid, t.term_side) for t in nb.circuits.circuit_terminations.all()),
        "cables": sorted(
            tuple(sorted(f"{t.object_type}:{t.object_id}" for t in (c.a_terminations + c.b_terminations)))
            for c in nb.dcim.cables.all()
        ),
        "prefixes": sorted((p.prefix, p.status.value, name(p.tenant), p.description) for p in nb.ipam.prefixes.all()),
        "addresses": sorted(
            (a.address, a.assigned_object_id or 0, a.role.value if a.role else "") for a in nb.ipam.ip_addresses.all()
        ),
        "tenants": sorted(t.name for t in nb.tenancy.tenants.all()),
        "asns": sorted((a.asn, name(a.tenant)) for a in nb.ipam.asns.all()),
        "devices": sorted((d.name, name(d.tenant)) for d in nb.dcim.devices.all()),
        "interfaces": sorted((i.device.name, i.name, i.description) for i in nb.dcim.interfaces.all()),
    }


def _configs(spec) -> dict:
    out = {}
    for name in ROUTERS:
        text = runtime.vtysh(spec.router(name), "show running-config")
        out[name] = [line for line in text.splitlines() if not line.startswith(("Building", "Current", "frr version"))]
    return out


def _vtysh(spec, device, command):
    return runtime.vtysh(spec.router(device), command)


def _ping(spec, device, source, destination) -> bool:
    import subprocess

    ns = spec.router(device).ns
    cmd = ["ip", "netns", "exec", ns, "ping", "-n", "-c", "2", "-W", "1", "-I", source, destination]
    return subprocess.run(cmd, capture_output=True, check=False).returncode == 0


def test_bad_orders_are_refused_and_touch_nothing(orders_lab, portal_api, stack, nb):
    before = _netbox(nb)
    count = len(portal_api.get(f"{stack.portal_url}{ORDERS}", params={"limit": 1000}, timeout=10).json())
    cases = [
        (_dia(pe_interface="eth3"), "pe_interface: pe1:eth3 is in use"),
        (_dia(pe="pe9"), "pe: no device 'pe9' in NetBox"),
        (_dia(prefixes=["203.0.113.0/29"]), "prefixes: 203.0.113.0/29 overlaps 203.0.113.0/28 in NetBox (Acme Corp)"),
        (_dia(customer_asn=23456), "customer_asn: 23456 is AS_TRANS"),
        (_dia(customer_asn=64501), "customer_asn: AS64501 belongs to Acme Corp in NetBox"),
        (
            _dia(prefixes=["198.51.100.0/28"]),
            "prefixes: 198.51.100.0/28 is not inside a prefix of role 'customer-space' in NetBox (203.0.113.0/24)",
        ),
    ]
    for item, problem in cases:
        resp = _submit(portal_api, stack, item)
        assert resp.status_code == 400, resp.text
        assert any(problem in p for p in resp.json()["problems"]), resp.json()
    assert len(portal_api.get(f"{stack.portal_url}{ORDERS}", params={"limit": 1000}, timeout=10).json()) == count
    assert _netbox(nb) == before


def test_orders_go_live_then_modify_then_delete_leaves_no_trace(orders_lab, portal_api, stack, nb):
    spec = orders_lab
    before_nb, before_cfg = _netbox(nb), _configs(spec)

    # Two orders at the same time: distinct /31s from the pool.
    t0 = time.monotonic()
    dia, static = _submit(portal_api, stack, _dia()), _submit(portal_api, stack, _static())
    assert dia.status_code == 201 and static.status_code == 201, (dia.text, static.text)
    assert dia.json()["state"] == "acknowledged"
    orders = [_wait(portal_api, stack, r.json()["id"]) for r in (dia, static)]
    print(f"two orders submitted together: both ended in {time.monotonic() - t0:.1f} s")
    for order in orders:
        assert order["state"] == "completed", _job_output(portal_api, stack, order)
    dia_cid = orders[0]["serviceOrderItem"][0]["service"]["id"]
    static_cid = orders[1]["serviceOrderItem"][0]["service"]["id"]
    assert dia_cid.startswith("INITECH-AMS1-") and static_cid.startswith("HOOLI-FRA1-")
    links = {
        p.prefix: p.custom_fields["netoss_circuit"]
        for p in nb.ipam.prefixes.filter(within="198.19.128.0/24", mask_length=31)
        if p.custom_fields.get("netoss_circuit")
    }
    assert sorted(links.values()) == sorted([dia_cid, static_cid]) and len(links) == 2

    # DIA: BGP up, the customer prefix received on the PE, reachable from the other site.
    circuit = nb.circuits.circuits.get(cid=dia_cid)
    assert circuit.status.value == "active"
    assert (circuit.custom_fields["netoss_routing"], circuit.custom_fields["netoss_announce"]) == (
        "ebgp",
        "default+aggregates",
    )
    summary = _vtysh(spec, "pe1", "show bgp summary")
    assert "ce3 (Initech" in summary
    routes = _vtysh(spec, "pe1", "show bgp ipv4 unicast 203.0.113.32/28")
    assert "64510" in routes
    assert _ping(spec, "ce2", "203.0.113.17", "203.0.113.33")
    # ... and as a single customer's: the order verified it from the core (pe1's neighbour at the
    # other site, p2), both ways; ce3 has from pe1 a default route and the provider's aggregates
    # (NetBox's), nothing else, and reaches the core's addresses through them.
    output = _job_output(portal_api, stack, orders[0], tail=None)
    assert f"{dia_cid}: p2 to 203.0.113.33" in output and f"{dia_cid}: ce3 to 198.19.255.2" in output, output
    dia_pe_end = str(ipaddress.ip_network(next(p for p, cid in links.items() if cid == dia_cid))[0])
    received = json.loads(_vtysh(spec, "ce3", f"show bgp ipv4 unicast neighbors {dia_pe_end} routes json"))
    assert set(received["routes"]) == {"0.0.0.0/0", "198.19.0.0/16", "203.0.113.0/24"}, received
    assert _ping(spec, "ce3", "203.0.113.33", "198.19.255.1")  # p1's loopback: a provider address
    assert _ping(spec, "p1", "198.19.255.1", "203.0.113.33")
    # Static access: routed by pe2, reachable from the other site and from the core; ce4's
    # static default reaches the core.
    assert "203.0.113.64/28" in _vtysh(spec, "pe2", "show ip route static")
    assert _ping(spec, "ce1", "203.0.113.1", "203.0.113.65")
    assert f"{static_cid}: ce4 to 198.19.255." in _job_output(portal_api, stack, orders[1], tail=None)
    assert _ping(spec, "ce4", "203.0.113.65", "198.19.255.1")

    # The service inventory (TMF638) shows them active, with their characteristics.
    service = portal_api.get(f"{stack.portal_url}{SERVICES}/{dia_cid}", timeout=30).json()
    assert service["state"] == "active"
    chars = {c["name"]: c["value"] for c in service["serviceCharacteristic"]}
    assert chars["customer_asn"] == 64510 and chars["prefixes"] == ["203.0.113.32/28"]

    # Modify: one more prefix, a new rate.
    resp = _submit(
        portal_api,
        stack,
        _item(action="modify", service_id=dia_cid, prefixes=["203.0.113.32/28", "203.0.113.48/29"], bandwidth=200000),
    )
    assert resp.status_code == 201, resp.text
    order = _wait(portal_api, stack, resp.json()["id"])
    assert order["state"] == "completed", _job_output(portal_api, stack, order)
    assert nb.circuits.circuits.get(cid=dia_cid).commit_rate == 200000
    assert "64510" in _vtysh(spec, "pe1", "show bgp ipv4 unicast 203.0.113.48/29")

    # Delete both: NetBox and the routers are as before.
    dia_link = ipaddress.ip_network(next(p for p, cid in links.items() if cid == dia_cid))
    sessions = {("pe1", str(dia_link[1])), ("ce3", str(dia_link[0]))}  # each end's session to the other
    for cid in (dia_cid, static_cid):
        resp = _submit(portal_api, stack, _item(action="delete", service_id=cid))
        assert resp.status_code == 201, resp.text
        order = _wait(portal_api, stack, resp.json()["id"])
        assert order["state"] == "completed", _job_output(portal_api, stack, order)
        if cid == dia_cid:
            dia_delete_job = order["netoss"]["job"]
    assert _netbox(nb) == before_nb
    assert _configs(spec) == before_cfg

    # No alarm of the deleted session stays: whichever router was pushed second logged its end
    # down, and the lines may come late (sent here once more, as a router would after the order).
    _late_session_down(stack, sessions)
    alarms = _session_alarms_cleared(portal_api, stack, sessions)
    for a in alarms:
        assert a["state"] == "cleared", a
        if a["netoss"]["clearedAsGone"]:
            assert "removed from NetBox" in a["netoss"]["clearedAsGone"], a
    late = [a for a in alarms if "late line" in a["specificProblem"]]
    assert len(late) == 2 and all(f"job {dia_delete_job} " in a["netoss"]["clearedAsGone"] for a in late), late
    for ref in {a["netoss"]["ticket"] for a in alarms} - {None}:
        ticket = portal_api.get(f"{stack.portal_url}{TICKETS}/{ref}", timeout=10).json()
        assert ticket["status"] == "resolved", ticket


def _late_session_down(stack, sessions) -> None:
    """Each end's "session down" line, as FRR's bgpd writes it, straight to the stack's receiver."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for device, peer in sorted(sessions):
            line = (
                f"<28>{time.strftime('%b %e %H:%M:%S')} {device} bgpd[999]: [PXVXG-TFNNT] %ADJCHANGE: "
                f"neighbor {peer}(late line) in vrf default Down Peer closed the session"
            )
            s.sendto(line.encode(), ("127.0.0.1", stack.port("syslog")))


def _session_alarms_cleared(portal_api, stack, sessions, timeout=150) -> list[dict]:
    """The alarms of ``sessions`` once the late lines made theirs and all are cleared (bounded)."""

    def alarms():
        found = []
        for device in {d for d, _p in sessions}:
            resp = portal_api.get(f"{stack.portal_url}{ALARMS}", params={"device": device, "limit": 1000}, timeout=10)
            found += [a for a in resp.json() if (device, a["alarmedObject"]["name"].split()[-1]) in sessions]
        return found

    def settled():
        found = alarms()
        late = [a for a in found if "late line" in a["specificProblem"]]
        return len(late) == len(sessions) and all(a["state"] == "cleared" for a in found) and found

    try:
        return wait_for("the deleted session's alarms to clear", settled, timeout, interval=1)
    except Exception:
        print("alarms of the deleted session:", [(a["id"], a["state"], a["alarmedObject"]["name"],
                                                  a["specificProblem"]) for a in alarms()])  # fmt: skip
        raise


def _fill(page, **values):
    for name, value in values.items():
        field = page.locator(f"#f-{name}")
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(label=value)
        else:
            field.fill(str(value))


def test_an_order_that_fails_verification_is_rolled_back_with_a_ticket(orders_lab, portal_api, stack, nb, sign_in):
    """Through the portal's form, as an operator: free ports only, a problem shown at its field,
    then an order whose verification fails."""
    spec = orders_lab
    before_nb, before_cfg = _netbox(nb), _configs(spec)
    page = sign_in("olga")
    page.goto(f"{stack.portal_url}/orders/new?service=dia-ebgp&action=add")
    page.select_option("#f-pe", label="pe1")
    page.wait_for_selector("#f-pe_interface option:text-is('eth4')", state="attached")
    ports = page.locator("#f-pe_interface option").all_text_contents()
    assert "eth4" in ports and "eth3" not in ports  # eth3 carries ACME-AMS-0001
    page.select_option("#f-ce", label="ce3")
    page.wait_for_selector("#f-ce_interface option:text-is('eth1')", state="attached")
    _fill(page, customer="Initech", pe_interface="eth4", ce_interface="eth1", prefixes="203.0.113.32/28")
    _fill(page, customer_asn=64501)  # Acme Corp's
    page.click("#order button[type=submit]")
    problem = page.locator(".field-problem[data-field=customer_asn]")
    assert "AS64501 belongs to Acme Corp" in problem.inner_text()
    assert _netbox(nb) == before_nb
    # ce3 announces its aggregate and its loopback: two prefixes, above a maximum of one.
    _fill(page, customer_asn=64510, max_prefix=1)
    page.click("#order button[type=submit]")
    page.wait_for_url(re.compile(r".*/orders/\d+$"))
    order_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    order = _wait(portal_api, stack, order_id)
    assert order["state"] == "failed", _job_output(portal_api, stack, order)
    reason = order["netoss"]["reason"]
    assert "maximum-prefix" in reason and "rolled back" in reason, reason
    assert _netbox(nb) == before_nb
    assert _configs(spec) == before_cfg
    ticket_id = order["netoss"]["ticket"]
    assert ticket_id, order
    ticket = portal_api.get(f"{stack.portal_url}{TICKETS}/{ticket_id}", timeout=10).json()
    assert "failed" in ticket["name"] and "maximum-prefix" in ticket["description"]


def test_bench_service_orders_smoke(orders_lab, stack):
    """bench/bench_service_orders.py at its smoke size on this module's lab (tests/integration/
    test_bench_smoke.py): one order on the spare CE the module's orders used, added and deleted;
    last in the module, and the bench checks that NetBox is left without its customer."""
    out = run_bench(
        "bench_service_orders.py",
        "--smoke",
        "--stack",
        str(stack.state_dir),
        "--lab",
        lab_names(ORDERS_LAB),
        "--spare",
        "pe1:eth4:ce3:eth1",
    )
    assert_headings(
        out, "adds: 1 orders, 1 completed", "deletes: 1 orders, 1 completed", "result: every order completed"
    )
