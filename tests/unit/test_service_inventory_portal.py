"""The service inventory (TMF638): NetBox circuit statuses as TMF638 states, health from the
open alarms that affect a service, the open tickets related to it, the TMF638 JSON of a
described circuit, the API's filters, and the pages. NetBox is the fake of the order tests."""

from __future__ import annotations

import copy

import pytest
from test_service_orders_portal import SERVICE, app, auth, netbox, repo, sign_in  # noqa: F401 - fixtures

from netoss.data.db import db
from netoss.data.models import Alarm, ServiceOrder, Ticket, utcnow
from netoss.domain.assurance import sla
from netoss.domain.provisioning import inventory

SERVICES = "/tmf-api/serviceInventory/v4/service"


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("planned", "designed"),
        ("provisioning", "reserved"),
        ("active", "active"),
        ("offline", "inactive"),
        ("deprovisioning", "inactive"),
        ("decommissioned", "terminated"),
        ("something-new", "inactive"),
        (None, "inactive"),
    ],
)
def test_circuit_status_to_tmf638_state(status, state):
    assert inventory.tmf_state(status) == state


@pytest.mark.parametrize(
    ("severities", "health"),
    [
        ([], "ok"),
        (["warning"], "degraded"),
        (["minor", "indeterminate"], "degraded"),
        (["minor", "major"], "down"),
        (["critical"], "down"),
    ],
)
def test_health_from_the_open_alarms(severities, health):
    assert inventory.health(iter(severities)) == health


def test_a_described_circuit_as_tmf638_json():
    found = inventory.Faults(
        alarms={"INITECH-AMS-0001": [{"id": "4", "severity": "minor", "specificProblem": "BGP flapping"}]},
        tickets={"INITECH-AMS-0001": [{"id": "TT-000002", "name": "Initech slow", "status": "inProgress"}]},
        levels={
            "INITECH-AMS-0001": sla.state(
                sla.Level({"loss_ratio": 0.2}, {"loss_ratio": 0.01}, firing=["sla-loss"], pending=[])
            )
        },
    )
    out = inventory.service_json(SERVICE, found)
    assert out["id"] == out["name"] == "INITECH-AMS-0001"
    assert out["href"] == "/tmf-api/serviceInventory/v4/service/INITECH-AMS-0001"
    assert (out["@type"], out["state"], out["description"]) == ("Service", "active", "Initech internet access")
    assert out["serviceSpecification"] == {"name": "dia-ebgp"}
    assert {"name": "prefixes", "value": ["203.0.113.32/28"]} in out["serviceCharacteristic"]
    assert out["supportingResource"][:2] == [
        {"id": "7", "name": "INITECH-AMS-0001", "@referredType": "Circuit", "href": "http://nb/circuits/circuits/7/"},
        {"id": "3", "name": "pe1", "@referredType": "Device", "href": "http://nb/dcim/devices/3/"},
    ]
    assert [r["@referredType"] for r in out["supportingResource"]] == ["Circuit", "Device", "Interface", "Prefix"]
    assert out["relatedParty"] == [{"role": "customer", "name": "Initech", "@referredType": "Organization"}]
    assert out["place"] == [{"role": "site", "name": "ams"}]
    assert out["netoss"] == {
        "status": "active",
        "health": "degraded",
        "alarms": found.alarms["INITECH-AMS-0001"],
        "tickets": found.tickets["INITECH-AMS-0001"],
        "sla": {
            "state": "violated",
            "measures": {"loss_ratio": 0.2},
            "objectives": {"loss_ratio": 0.01},
            "alerts": {"firing": ["sla-loss"], "pending": []},
        },
        "order": 1,
    }
    bare = inventory.service_json(
        {"id": "X-1", "service": None, "status": "planned", "customer": None, "site": None}, inventory.Faults()
    )
    assert "serviceSpecification" not in bare and (bare["relatedParty"], bare["place"]) == ([], [])
    assert (bare["state"], bare["netoss"]["health"], bare["supportingResource"]) == ("designed", "ok", [])


def _alarm(n, severity, services, active=True, device="pe1"):
    return Alarm(
        fingerprint=f"{device}|interface|eth{n}|interface-down",
        active_key=f"{device}|interface|eth{n}|interface-down" if active else None,
        state="raised" if active else "cleared",
        alarm_type="communicationsAlarm",
        severity=severity,
        probable_cause="linkDown",
        specific_problem=f"Interface eth{n} down",
        device=device,
        object_type="interface",
        object_name=f"eth{n}",
        condition="interface-down",
        source="syslog",
        service_affecting=bool(services),
        affected_services=[{"id": 7, "name": s, "type": "circuit", "tenant": "Initech"} for s in services],
    )


def _ticket(name, status, services):
    now = utcnow()
    related = [{"@referredType": "Service", "id": "7", "name": s, "role": "affectedService"} for s in services]
    related.append({"@referredType": "Device", "id": "3", "name": "pe1", "role": "affected"})
    return Ticket(name=name, severity="major", priority=2, ticket_type="alarm", status=status, created_at=now,
                  updated_at=now, created_by="netoss", related=related)  # fmt: skip


@pytest.fixture
def faults(app):  # noqa: F811 - the app fixture
    with app.app_context():
        db.session.add_all(
            [
                _alarm(4, "major", ["INITECH-AMS-0001"]),
                _alarm(5, "minor", ["INITECH-AMS-0001", "ACME-AMS-0001"]),
                _alarm(6, "critical", ["INITECH-AMS-0001"], active=False),  # cleared
                _alarm(7, "critical", []),  # affects no service
                _ticket("Link down: pe1:eth4 (INITECH-AMS-0001)", "inProgress", ["INITECH-AMS-0001"]),
                _ticket("Old", "closed", ["INITECH-AMS-0001"]),
                _ticket("Acme slow", "acknowledged", ["ACME-AMS-0001"]),
            ]
        )
        db.session.add(ServiceOrder(requested_by="otto", state="completed", items=[], state_changes=[]))
        db.session.commit()


def test_open_alarms_and_tickets_by_the_services_they_affect(app, faults):  # noqa: F811
    with app.app_context():
        found = inventory.faults()
    assert [(a["id"], a["severity"]) for a in found.alarms["INITECH-AMS-0001"]] == [("1", "major"), ("2", "minor")]
    assert [a["id"] for a in found.alarms["ACME-AMS-0001"]] == ["2"]
    assert found.tickets["INITECH-AMS-0001"] == [
        {"id": "TT-000001", "name": "Link down: pe1:eth4 (INITECH-AMS-0001)", "status": "inProgress"}
    ]
    assert [t["id"] for t in found.tickets["ACME-AMS-0001"]] == ["TT-000003"]


def _add_service(view, cid, **changes):
    s = copy.deepcopy(SERVICE)
    s.update(id=cid, **changes)
    s["resources"][0]["name"] = cid
    view.services[cid] = s


def test_the_service_list_and_its_filters(app, netbox, faults):  # noqa: F811
    _add_service(netbox.view, "ACME-AMS-0001", customer="Acme", status="provisioning", order=None)
    _add_service(netbox.view, "HOOLI-RTM-0001", customer="Hooli", service="static-access", status="decommissioned")
    client, vera = app.test_client(), auth(app, "vera")
    listed = client.get(SERVICES, headers=vera).get_json()
    assert [(s["id"], s["state"], s["netoss"]["health"]) for s in listed] == [
        ("INITECH-AMS-0001", "active", "down"),
        ("ACME-AMS-0001", "reserved", "degraded"),
        ("HOOLI-RTM-0001", "terminated", "ok"),
    ]
    assert listed[0]["netoss"]["tickets"][0]["id"] == "TT-000001"

    def ids(query):
        return [s["id"] for s in client.get(f"{SERVICES}?{query}", headers=vera).get_json()]

    assert ids("state=reserved") == ["ACME-AMS-0001"]
    assert ids("relatedParty.name=Hooli") == ["HOOLI-RTM-0001"]
    assert ids("serviceSpecification.name=dia-ebgp") == ["INITECH-AMS-0001", "ACME-AMS-0001"]
    assert ids("serviceSpecification.name=dia-ebgp&relatedParty.name=Acme") == ["ACME-AMS-0001"]
    assert ids("limit=1&offset=1") == ["ACME-AMS-0001"]
    bad = client.get(f"{SERVICES}?state=up", headers=vera)
    assert bad.status_code == 400 and bad.get_json()["error"].startswith("state must be one of feasibilityChecked")
    assert client.get(f"{SERVICES}?limit=5000", headers=vera).status_code == 400
    one = client.get(f"{SERVICES}/INITECH-AMS-0001", headers=vera)
    assert one.status_code == 200 and one.get_json() == listed[0]
    assert client.get(f"{SERVICES}/NOPE-0001", headers=vera).status_code == 404
    assert client.get(SERVICES).status_code == 401


def test_the_inventory_without_netbox_is_503(app):  # noqa: F811
    resp = app.test_client().get(SERVICES, headers=auth(app, "vera"))
    assert resp.status_code == 503 and "the portal has no NetBox" in resp.get_json()["error"]


def test_netbox_failing_is_503_saying_so(app, netbox):  # noqa: F811
    def broken(view, cid):
        raise TimeoutError("read timed out")

    netbox.logic.describe = broken
    resp = app.test_client().get(f"{SERVICES}/INITECH-AMS-0001", headers=auth(app, "vera"))
    assert resp.status_code == 503
    assert (
        resp.get_json()["error"] == "service INITECH-AMS-0001: NetBox could not be read (TimeoutError: read timed out)"
    )


def test_the_service_pages(app, netbox, faults):  # noqa: F811
    client = sign_in(app.test_client(), "vera")
    listing = client.get("/services")
    assert listing.status_code == 200
    text = listing.get_data(as_text=True)
    assert '<a href="/services/INITECH-AMS-0001">INITECH-AMS-0001</a>' in text
    assert "<td>pe1:eth4</td>" in text and "<td>ce3</td>" in text and "<td>203.0.113.32/28</td>" in text
    assert 'class="badge health-down"' in text
    assert "No services match" in client.get("/services?customer=Nobody").get_data(as_text=True)
    assert client.get("/services?state=up").status_code == 400
    page = client.get("/services/INITECH-AMS-0001")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'id="health" class="badge health-down"' in text
    assert '<a href="http://nb/dcim/interfaces/41/">41</a>' in text
    assert '<a href="/tmf-api/alarmManagement/v4/alarm/1">1</a>' in text and "Interface eth5 down" in text
    assert '<a href="/tickets/1">TT-000001</a>' in text
    assert '<a href="/orders/1">service order 1</a> (completed)' in text
    assert client.get("/services/NOPE-0001").status_code == 404


def test_the_service_pages_say_when_netbox_is_away(app):  # noqa: F811
    resp = sign_in(app.test_client(), "vera").get("/services")
    assert resp.status_code == 503 and "the portal has no NetBox" in resp.get_data(as_text=True)
