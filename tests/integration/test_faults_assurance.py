"""Service assurance end to end, in the real lab: snmpd and FRR's AgentX in each router,
Prometheus scraping them through snmp_exporter with NetBox's names, blackbox_exporter probing
each customer service from its PE, thresholds (the checkout's policy at the test's quick
intervals, conftest.quick_assurance_policy) raising qualityOfServiceAlarms through
Alertmanager into the fault pipeline, which tickets them.

The lab is the fault modules' (conftest.fault_lab: f<device>, netoss-fbr0, built once for
test_faults.py and this module, which follows it). Which router and service each test uses is
read from NetBox and the targets, not named: the tests hold on another network. How long things
take is printed, not asserted (bench/bench_assurance.py).
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest
import requests
from waiting import wait_for

pytestmark = pytest.mark.integration

TICKETS = "/tmf-api/troubleTicket/v4/troubleTicket"
ALARMS = "/tmf-api/alarmManagement/v4/alarm"
LOSS_TABLE = "netoss_test_loss"


@pytest.fixture
def assurance_lab(fault_lab):
    return fault_lab


@pytest.fixture(scope="module")
def prom(stack):
    """query(promql) -> the result vector of the test stack's Prometheus (basic authentication)."""
    session = requests.Session()
    session.auth = ("netoss", stack.load_secrets()["assurance_password"])
    base = f"http://127.0.0.1:{stack.port('prometheus')}/api/v1"

    class Prom:
        def query(self, promql: str) -> list[dict]:
            resp = session.get(f"{base}/query", params={"query": promql}, timeout=10)
            assert resp.status_code == 200, resp.text
            return resp.json()["data"]["result"]

        def targets(self) -> list[dict]:
            resp = session.get(f"{base}/targets", params={"state": "active"}, timeout=10)
            assert resp.status_code == 200, resp.text
            return resp.json()["data"]["activeTargets"]

    return Prom()


@pytest.fixture
def probed(stack, assurance_lab):
    """The services the assurance daemon probes (its probes.json), once every lab router's
    probe is in it: [(labels, customer address)]."""
    path = stack.state_dir / "assurance" / "targets" / "probes.json"

    def ready():
        groups = json.loads(path.read_text()) if path.exists() else []
        return [(g["labels"], g["targets"][0]) for g in groups] or None

    return wait_for("the services' probes in the targets", ready, timeout=60)


def _value(result: list[dict]) -> float | None:
    return float(result[0]["value"][1]) if result else None


def test_every_router_is_scraped_with_netbox_names(assurance_lab, prom, nb):
    """Each router NetBox lists is a target named after its device; its interfaces' counters
    carry their NetBox names; BGP sessions come from FRR's BGP4-MIB over AgentX."""
    routers = {r.name for r in assurance_lab.routers}
    wait_for(
        "every router's SNMP scrape up",
        lambda: {s["metric"]["device"] for s in prom.query('up{job="netoss-snmp"} == 1')} >= routers,
        timeout=60,
    )
    for r in assurance_lab.routers:
        names = {s["metric"]["interface"] for s in prom.query(f'ifHCInOctets{{device="{r.name}"}}')}
        assert set(r.interfaces) <= names, (r.name, names)
    wait_for(
        "an established BGP session in BGP4-MIB",
        lambda: prom.query('bgpPeerState{job="netoss-snmp"} == 6'),
        timeout=90,
    )
    # Routes received per session (BGP4-MIB's route table, counted by a recording rule), uptimes.
    wait_for(
        "a session's received routes counted",
        lambda: prom.query("netoss:bgp_prefixes_received:count > 0"),
        timeout=60,
    )
    assert {s["metric"]["device"] for s in prom.query('sysUpTime{job="netoss-snmp"} > 0')} >= routers
    devices = {d.name for d in nb.dcim.devices.all()}
    info = {s["metric"]["device"] for s in prom.query("netoss_device_info")}
    assert info == devices


def test_traffic_shows_in_utilisation_labelled_with_customer_and_circuit(probed, prom, assurance_lab):
    labels, address = probed[0]
    pe, interface = labels["device"], labels["interface"]
    series = f'netoss:interface_traffic:bits_rate{{device="{pe}", interface="{interface}", direction="out"}}'
    before = _value(prom.query(series)) or 0.0
    t0 = time.monotonic()
    # Bounded: at most 200,000 packets or 20 s, whichever comes first.
    ping = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            assurance_lab.router(pe).ns,
            "ping",
            "-f",
            "-q",
            "-s",
            "1400",
            "-c",
            "200000",
            "-w",
            "20",
            address,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        result = wait_for(
            "the traffic in the interface's utilisation",
            lambda: (r := prom.query(series)) and float(r[0]["value"][1]) > max(10 * before, 1e6) and r,
            timeout=60,
            interval=0.5,
        )
    finally:
        ping.terminate()
        ping.wait(10)
    print(f"traffic -> utilisation series in {time.monotonic() - t0:.1f} s (scrape interval 5 s)")
    metric = result[0]["metric"]
    assert metric["customer"] == labels["customer"] and metric["circuit"] == labels["circuit"], metric
    util = prom.query(f'netoss:interface_utilisation:ratio{{device="{pe}", interface="{interface}"}}')
    assert util and util[0]["metric"]["customer"] == labels["customer"] and float(util[0]["value"][1]) > 0
    # "every interface of customer X" is one query.
    mine = prom.query(f'netoss:interface_traffic:bits_rate{{customer="{labels["customer"]}"}}')
    assert {(s["metric"]["device"], s["metric"]["interface"]) for s in mine} >= {(pe, interface)}


def test_the_portal_draws_graphs_from_prometheus(probed, portal_api, stack):
    """The service page (SLA, round trip and loss with the objective drawn, the access link's
    traffic), the PE's device and interface pages, and the home page's worst services."""
    labels, _address = probed[0]
    service, pe, interface = labels["service"], labels["device"], labels["interface"]
    page = portal_api.get(f"{stack.portal_url}/services/{service}", params={"range": "1h"}, timeout=30)
    assert page.status_code == 200, page.text[:500]
    html = page.text
    assert 'id="sla"' in html and html.count('<svg class="chart"') == 4, html[:2000]
    assert "Round trip from the PE" in html and 'class="objective"' in html and f"Traffic on {pe} {interface}" in html
    assert f"Utilisation of the access link ({pe} {interface})" in html
    assert "<polyline" in html  # measured: lines, not "no measurement"
    device = portal_api.get(f"{stack.portal_url}/assurance/devices/{pe}", timeout=30)
    assert device.status_code == 200 and f">{interface}</a>" in device.text, device.text[:1000]
    intf = portal_api.get(
        f"{stack.portal_url}/assurance/interface",
        params={"device": pe, "interface": interface, "range": "6h"},
        timeout=30,
    )
    # Over 6 hours a point is 2 minutes: a young stack has a point or two (dots, not yet lines).
    assert intf.status_code == 200 and "Errors and discards" in intf.text
    assert "<polyline" in intf.text or "<circle" in intf.text
    bad = portal_api.get(f"{stack.portal_url}/assurance/devices/{pe}", params={"range": "1y"}, timeout=30)
    assert bad.status_code == 400 and "range must be one of" in bad.text
    home = portal_api.get(f"{stack.portal_url}/", timeout=30)
    assert home.status_code == 200 and 'id="worst-services"' in home.text and service in home.text


def test_a_viewer_sees_the_service_graphs_in_a_browser(probed, sign_in):
    """Chromium draws the service page's charts (inline SVG) under the portal's Content Security
    Policy, and the home page lists the service among the worst."""
    labels, _address = probed[0]
    page = sign_in("olga")
    violations = []
    page.on("console", lambda m: "Content Security Policy" in m.text and violations.append(m.text[:300]))
    assert page.locator("#worst-services").count() == 1
    page.click(f"#worst-services >> text={labels['service']}")
    # "attached", not Playwright's default "visible": a steady measure (a round trip that does not
    # move, no loss) draws a horizontal line, whose box has no height, which Playwright counts as
    # not visible though Chromium strokes it. The charts themselves must be visible and sized.
    page.wait_for_selector("svg.chart polyline", state="attached")
    charts = page.locator("figure.chart svg.chart")
    assert charts.count() == 4
    box = charts.first.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 100  # drawn, not collapsed
    line = page.locator("svg.chart polyline").first
    assert line.evaluate("l => l.points.numberOfItems") >= 2
    assert line.evaluate("l => getComputedStyle(l).stroke") not in ("", "none")
    assert page.locator("#sla").inner_text() in ("met", "at-risk", "violated")
    assert not violations, violations


def _loss(ns: str, interface: str, percent: int | None) -> None:
    """Drop ``percent`` % of what leaves ``interface`` in namespace ``ns`` (None: stop). tc's
    netem is not in this kernel: nftables' random numbers do the same to the probes."""
    subprocess.run(
        ["ip", "netns", "exec", ns, "nft", "delete", "table", "inet", LOSS_TABLE], capture_output=True, check=False
    )
    if percent is None:
        return
    rules = (
        f"table inet {LOSS_TABLE} {{\n  chain out {{\n    type filter hook postrouting priority 0;\n"
        f'    oifname "{interface}" numgen random mod 100 < {percent} drop\n  }}\n}}\n'
    )
    subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=rules, text=True, check=True)


def _open_tickets_about(api, stack, service: str) -> list[dict]:
    resp = api.get(f"{stack.portal_url}{TICKETS}", params={"status": "open", "limit": 1000}, timeout=10)
    assert resp.status_code == 200, resp.text
    return [
        t
        for t in resp.json()
        if any(r["@referredType"] == "Service" and r["name"] == service for r in t["relatedEntity"])
    ]


def _qos_alarms(api, stack, service: str, state: str | None = "active") -> list[dict]:
    """The sla-loss alarms affecting ``service`` (active ones, or all with ``state`` None)."""
    params = {"alarmType": "qualityOfServiceAlarm", "limit": 1000, **({"state": state} if state else {})}
    alarms = api.get(f"{stack.portal_url}{ALARMS}", params=params, timeout=10).json()
    return [
        a
        for a in alarms
        if a["netoss"]["condition"] == "sla-loss" and any(s["name"] == service for s in a["affectedService"])
    ]


def _tickets_of(api, stack, service: str, alarm_id: str) -> list[dict]:
    """The open tickets about ``service`` that hold alarm ``alarm_id``."""
    return [
        t
        for t in _open_tickets_about(api, stack, service)
        if any(r["@referredType"] == "Alarm" and r["id"] == alarm_id for r in t["relatedEntity"])
    ]


def test_loss_raises_a_qos_alarm_and_one_ticket_unless_a_maintenance_window_covers_the_service(
    probed, prom, portal_api, stack, assurance_lab
):
    """20 % loss on two services' access links at once: the first's qualityOfServiceAlarm opens
    one ticket naming it and its customer (TMF638: violated), cleared and resolved once the loss
    is gone; the second is under a maintenance window: its alarm is planned and opens none."""
    assert len(probed) >= 2, "the test network needs two probed services"
    (open_labels, _a), (planned_labels, _b) = probed[0], probed[1]
    quiet = planned_labels["service"]
    resp = portal_api.post(
        f"{stack.portal_url}/api/v1/maintenance-windows",
        json={"name": f"re-home {quiet}", "services": [quiet], "durationMinutes": 30},
        timeout=30,
    )
    assert resp.status_code == 201, resp.text
    window = resp.json()
    assert window["state"] == "active" and window["services"] == [quiet]
    try:
        _loss_on_two_services(portal_api, stack, prom, assurance_lab, open_labels, planned_labels)
    finally:  # ended whatever happened: a window left open would plan the next tests' alarms
        ended = portal_api.delete(f"{stack.portal_url}/api/v1/maintenance-windows/{window['id']}", timeout=30)
    assert ended.status_code == 200 and ended.json()["state"] == "over", ended.text


def _loss_on_two_services(portal_api, stack, prom, assurance_lab, open_labels, planned_labels):
    service, customer = open_labels["service"], open_labels["customer"]
    quiet = planned_labels["service"]
    bad = portal_api.post(  # unknown objects are refused by name, nothing is made
        f"{stack.portal_url}/api/v1/maintenance-windows",
        json={"name": "typo", "devices": ["no-such-router"], "durationMinutes": 5},
        timeout=30,
    )
    assert bad.status_code == 400 and "device 'no-such-router'" in bad.json()["error"], bad.text
    for labels in (open_labels, planned_labels):
        wait_for(
            f"{labels['service']}'s probes answered",
            lambda labels=labels: _value(prom.query(f'probe_success{{service="{labels["service"]}"}}')) == 1,
            timeout=60,
        )

    # A clean start: no loss alarm on either service. The lab's own start (its sessions converging
    # while the probes begin), and other tests' changes to the shared lab, raise some, each cleared
    # within a window or two; what follows must be this loss's. A ticket of such an alarm may still
    # be open, or resolve meanwhile: what the window must prevent is a new one.
    wait_for(
        "no loss alarm on either service",
        lambda: not any(_qos_alarms(portal_api, stack, lb["service"]) for lb in (open_labels, planned_labels)),
        timeout=180,
    )
    quiet_before = {t["id"] for t in _open_tickets_about(portal_api, stack, quiet)}
    links = [(assurance_lab.router(lb["device"]).ns, lb["interface"]) for lb in (open_labels, planned_labels)]
    t0 = time.monotonic()
    for ns, interface in links:
        _loss(ns, interface, 20)
    try:
        (alarm,) = wait_for(
            "a qualityOfServiceAlarm for the service", lambda: _qos_alarms(portal_api, stack, service), timeout=90
        )
        print(f"20% loss -> qualityOfServiceAlarm in {time.monotonic() - t0:.1f} s")
        assert alarm["alarmType"] == "qualityOfServiceAlarm" and alarm["probableCause"] == "performanceDegraded"
        assert customer in alarm["specificProblem"] and alarm["plannedOutageIndicator"] == "InService"
        wait_for("a ticket for the alarm", lambda: _tickets_of(portal_api, stack, service, alarm["id"]), timeout=30)
        (planned,) = wait_for("the covered service's alarm", lambda: _qos_alarms(portal_api, stack, quiet), timeout=90)
        assert planned["plannedOutageIndicator"] == "OutOfService"
        time.sleep(3)  # later evaluations of the same loss fold in; ticketing passes run meanwhile
        tickets = _tickets_of(portal_api, stack, service, alarm["id"])
        assert len(tickets) == 1, [t["name"] for t in tickets]
        assert len(_qos_alarms(portal_api, stack, service)) == 1  # one alarm for the loss, still
        ticket = tickets[0]
        assert f"{service} ({customer})" in ticket["description"], ticket["description"]
        assert not {t["id"] for t in _open_tickets_about(portal_api, stack, quiet)} - quiet_before  # none new
        # TMF638: the service's SLA state beside its alarms and tickets.
        tmf = portal_api.get(f"{stack.portal_url}/tmf-api/serviceInventory/v4/service/{service}", timeout=30).json()
        sla = tmf["netoss"]["sla"]
        assert sla["state"] == "violated" and sla["objectives"]["loss_ratio"] > 0, sla
        assert "sla-loss" in sla["alerts"]["firing"] and any(a["id"] == alarm["id"] for a in tmf["netoss"]["alarms"])
    finally:
        for ns, interface in links:
            _loss(ns, interface, None)
    t1 = time.monotonic()

    def resolved():
        if _qos_alarms(portal_api, stack, service):
            return None
        t = portal_api.get(f"{stack.portal_url}{TICKETS}/{ticket['id']}", timeout=10).json()
        return t if t["status"] == "resolved" else None

    done = wait_for("the alarm cleared and the ticket resolved", resolved, timeout=120)
    print(f"loss removed -> alarm cleared, ticket resolved in {time.monotonic() - t1:.1f} s")
    assert done["statusChangeReason"] == "all its alarms cleared"
    # The window ends (in the caller) once the covered alarm has cleared (ended before, the
    # outage would have overrun it: ticketed).
    wait_for("the planned alarm cleared", lambda: not _qos_alarms(portal_api, stack, quiet), timeout=120)
    assert not {t["id"] for t in _open_tickets_about(portal_api, stack, quiet)} - quiet_before


def test_a_device_added_to_netbox_is_scraped_and_a_removed_one_is_not(prom, nb, assurance_lab):
    """No restart: the assurance daemon rewrites the targets when NetBox's change log moves."""
    model = nb.dcim.devices.get(name=assurance_lab.routers[0].name)
    name = f"assurance-probe-{int(time.time())}"
    device = nb.dcim.devices.create(
        name=name, device_type=model.device_type.id, role=model.role.id, site=model.site.id, status="active"
    )
    try:
        intf = nb.dcim.interfaces.create(device=device.id, name="mgmt0", type="virtual")
        # An address of the test lab's management subnet that no router has: polled, unanswered.
        subnet = str(assurance_lab.bridge_ip.network)
        address = nb.ipam.ip_addresses.create(
            address=f"{assurance_lab.bridge_ip.network[250]}/{assurance_lab.bridge_ip.network.prefixlen}",
            assigned_object_type="dcim.interface",
            assigned_object_id=intf.id,
        )
        device.primary_ip4 = address.id
        device.save()
        t0 = time.monotonic()
        wait_for(
            "the new device among Prometheus' targets",
            lambda: any(t["labels"].get("device") == name for t in prom.targets()),
            timeout=90,
        )
        print(f"device added in NetBox ({subnet}) -> scraped target in {time.monotonic() - t0:.1f} s")
    finally:
        device.delete()
        for leftover in nb.ipam.ip_addresses.filter(address=f"{assurance_lab.bridge_ip.network[250]}"):
            leftover.delete()
    wait_for(
        "the removed device gone from Prometheus' targets",
        lambda: not any(t["labels"].get("device") == name for t in prom.targets()),
        timeout=90,
    )
