"""Service assurance end to end, in the real lab: snmpd and FRR's AgentX in each router,
Prometheus scraping them through snmp_exporter with NetBox's names, blackbox_exporter probing
each customer service from its PE, thresholds (the checkout's policy at the test's quick
intervals, conftest.quick_assurance_policy) raising qualityOfServiceAlarms through
Alertmanager into the fault pipeline, which tickets them.

The lab has its own names here (a<device>, bridge netoss-abr0, account netopsa). Which router
and service each test uses is read from NetBox and the targets, not named: the tests hold on
another network. How long things take is printed, not asserted (bench/bench_assurance.py).
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest
import requests
from waiting import wait_for

from netoss.embedded import lab
from netoss.embedded.lab.spec import LabConfig

pytestmark = pytest.mark.integration

ASSURANCE_LAB = LabConfig(ns_prefix="a", bridge="netoss-abr0", user="netopsa")
TICKETS = "/tmf-api/troubleTicket/v4/troubleTicket"
ALARMS = "/tmf-api/alarmManagement/v4/alarm"
LOSS_TABLE = "netoss_test_loss"


@pytest.fixture(scope="module")
def assurance_lab(stack, nb, demo_synced):
    spec = lab.up(stack, nb, ASSURANCE_LAB, log=print)
    try:
        assert lab.converge(stack, spec, log=print, force=True)
        yield spec
    finally:
        lab.down(stack, log=print)


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


@pytest.fixture(scope="module")
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
    page.wait_for_selector("svg.chart polyline")
    charts = page.locator("figure.chart svg.chart")
    assert charts.count() == 4
    box = charts.first.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 100  # drawn, not collapsed
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


def test_loss_on_an_access_link_raises_a_qos_alarm_and_one_ticket_and_clears(
    probed, prom, portal_api, stack, assurance_lab
):
    labels, _address = probed[0]
    service, pe, interface = labels["service"], labels["device"], labels["interface"]
    wait_for(
        "the service's probes answered",
        lambda: _value(prom.query(f'probe_success{{service="{service}"}}')) == 1,
        timeout=60,
    )
    ns = assurance_lab.router(pe).ns
    t0 = time.monotonic()
    _loss(ns, interface, 20)
    try:

        def qos_alarm():
            alarms = portal_api.get(
                f"{stack.portal_url}{ALARMS}",
                params={"state": "active", "alarmType": "qualityOfServiceAlarm", "device": pe},
                timeout=10,
            ).json()
            return [a for a in alarms if a["netoss"]["condition"] == "sla-loss"]

        alarms = wait_for("a qualityOfServiceAlarm for the service", qos_alarm, timeout=90)
        print(f"20% loss -> qualityOfServiceAlarm in {time.monotonic() - t0:.1f} s")
        (alarm,) = alarms
        assert alarm["alarmType"] == "qualityOfServiceAlarm" and alarm["probableCause"] == "performanceDegraded"
        assert service in json.dumps(alarm["affectedService"]) and labels["customer"] in alarm["specificProblem"]
        tickets = wait_for(
            "a ticket for the service", lambda: _open_tickets_about(portal_api, stack, service), timeout=30
        )
        time.sleep(3)  # later evaluations of the same loss fold into it
        tickets = _open_tickets_about(portal_api, stack, service)
        assert len(tickets) == 1, [t["name"] for t in tickets]
        ticket = tickets[0]
        assert f"{service} ({labels['customer']})" in ticket["description"], ticket["description"]
        # TMF638: the service's SLA state beside its alarms and tickets.
        tmf = portal_api.get(f"{stack.portal_url}/tmf-api/serviceInventory/v4/service/{service}", timeout=30).json()
        assert tmf["netoss"]["sla"]["state"] == "violated", tmf["netoss"]["sla"]
        assert (
            tmf["netoss"]["sla"]["objectives"]["loss_ratio"] > 0
            and "sla-loss" in tmf["netoss"]["sla"]["alerts"]["firing"]
        )
        assert any(a["id"] == alarm["id"] for a in tmf["netoss"]["alarms"])
    finally:
        _loss(ns, interface, None)
    t1 = time.monotonic()
    wait_for(
        "the alarm cleared",
        lambda: portal_api.get(f"{stack.portal_url}{ALARMS}/{alarm['id']}", timeout=10).json()["state"] == "cleared",
        timeout=120,
    )
    resolved = wait_for(
        "the ticket resolved",
        lambda: (
            (t := portal_api.get(f"{stack.portal_url}{TICKETS}/{ticket['id']}", timeout=10).json())["status"]
            == "resolved"
            and t
        ),
        timeout=120,
    )
    print(f"loss removed -> alarm cleared, ticket resolved in {time.monotonic() - t1:.1f} s")
    assert resolved["statusChangeReason"] == "all its alarms cleared"


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


def test_a_maintenance_window_over_the_link_marks_the_alarm_planned_and_opens_no_ticket(
    probed, prom, portal_api, stack, assurance_lab
):
    labels, _address = probed[0]
    service, pe, interface = labels["service"], labels["device"], labels["interface"]
    resp = portal_api.post(
        f"{stack.portal_url}/api/v1/maintenance-windows",
        json={"name": f"re-home {service}", "services": [service], "durationMinutes": 30},
        timeout=30,
    )
    assert resp.status_code == 201, resp.text
    window = resp.json()
    assert window["state"] == "active" and window["services"] == [service]
    # Unknown objects are refused by name, nothing is made.
    bad = portal_api.post(
        f"{stack.portal_url}/api/v1/maintenance-windows",
        json={"name": "typo", "devices": ["no-such-router"], "durationMinutes": 5},
        timeout=30,
    )
    assert bad.status_code == 400 and "device 'no-such-router'" in bad.json()["error"], bad.text
    wait_for(
        "the service's probes answered",
        lambda: _value(prom.query(f'probe_success{{service="{service}"}}')) == 1,
        timeout=60,
    )
    before = {t["id"] for t in _open_tickets_about(portal_api, stack, service)}
    ns = assurance_lab.router(pe).ns
    _loss(ns, interface, 20)
    try:

        def planned_alarm():
            alarms = portal_api.get(
                f"{stack.portal_url}{ALARMS}",
                params={"state": "active", "alarmType": "qualityOfServiceAlarm", "device": pe},
                timeout=10,
            ).json()
            return [
                a
                for a in alarms
                if a["netoss"]["condition"] == "sla-loss" and a["plannedOutageIndicator"] == "OutOfService"
            ]

        (_alarm,) = wait_for("a planned qualityOfServiceAlarm", planned_alarm, timeout=90)
        time.sleep(5)  # ticketing passes have run meanwhile
        assert {t["id"] for t in _open_tickets_about(portal_api, stack, service)} == before
    finally:
        _loss(ns, interface, None)
        try:
            # The window ends once the loss is gone and the alarm has cleared (ended while the
            # alarm is active, the outage would have overrun it: ticketed).
            wait_for(
                "the planned alarm cleared",
                lambda: all(a["state"] == "cleared" for a in planned_alarm_states(portal_api, stack, pe)),
                timeout=120,
            )
        finally:
            ended = portal_api.delete(f"{stack.portal_url}/api/v1/maintenance-windows/{window['id']}", timeout=30)
            assert ended.status_code == 200 and ended.json()["state"] == "over", ended.text
    assert {t["id"] for t in _open_tickets_about(portal_api, stack, service)} == before


def planned_alarm_states(api, stack, device: str) -> list[dict]:
    """The sla-loss alarms of ``device`` raised in the last ten minutes, active or cleared."""
    alarms = api.get(
        f"{stack.portal_url}{ALARMS}", params={"alarmType": "qualityOfServiceAlarm", "device": device}, timeout=10
    ).json()
    return [
        a for a in alarms if a["netoss"]["condition"] == "sla-loss" and a["plannedOutageIndicator"] == "OutOfService"
    ]
