"""Service orders in the portal (TMF641): the shape of an order and the order check's problems
refuse it before anything is stored; a good one is stored acknowledged and launches its
service-order job on its devices; the job's progress moves it to an end, where it stays; a
failed or partial order opens one ticket; the runner's hook fails an order its job left open;
cancellation while the job is pending; roles; the pages and the order form.

NetBox and the shared order logic are replaced by a fake (the values are still checked by the
real service catalog); the job queue by a recorder, except where a job really runs.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select

from ansible_collections.netoss.core.plugins.module_utils.service_catalog import check_values, load_catalog
from netoss.data.db import db
from netoss.data.models import AuditEvent, Job, ServiceOrder, Ticket, TicketStatusChange, User
from netoss.domain.jobs import runner
from netoss.domain.provisioning import catalog, orders
from netoss.web import create_app
from netoss.web.security import hash_password, new_token
from netoss.web.services.forms import form_order, problems_by_field

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"
PASSWORD_HASH = hash_password(PASSWORD)  # once: argon2 is slow on purpose
ORDERS = "/tmf-api/serviceOrdering/v4/serviceOrder"
CANCEL = "/tmf-api/serviceOrdering/v4/cancelServiceOrder"

TEMPLATE = """
name: service-order
description: Runs a service order (the unit tests' copy of the shape of jobs/service-order.yml)
playbook: playbooks/service_order.yml
roles: [operator, engineer]
check_mode: never
limit: {parameter: devices}
parameters:
  - {name: order, type: integer, required: true, minimum: 1, var: service_order_id}
  - {name: devices, type: multichoice, required: true, choices_from: {netbox: dcim.devices, value: name}}
"""
PLAYBOOK = """
- name: Run the order
  hosts: all
  gather_facts: false
  tasks:
    - name: Say which
      ansible.builtin.debug:
        msg: "order {{ service_order_id }} on {{ inventory_hostname }}"
"""
INVENTORY = """
all:
  vars:
    ansible_connection: local
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  hosts:
    pe1:
    ce3:
"""

DIA = {
    "customer": "Initech",
    "pe": "pe1",
    "pe_interface": "eth4",
    "ce": "ce3",
    "ce_interface": "eth1",
    "customer_asn": 64510,
    "prefixes": ["203.0.113.32/28"],
}
SERVICE = {  # INITECH-AMS-0001 as service_inventory.describe gives it
    "id": "INITECH-AMS-0001",
    "service": "dia-ebgp",
    "status": "active",
    "customer": "Initech",
    "site": "ams",
    "description": "Initech internet access",
    "values": dict(DIA, bandwidth=100000, max_prefix=100),
    "resources": [
        {"type": "circuits.circuit", "id": 7, "name": "INITECH-AMS-0001", "url": "http://nb/circuits/circuits/7/"},
        {"type": "dcim.device", "id": 3, "name": "pe1", "url": "http://nb/dcim/devices/3/"},
        {"type": "dcim.interface", "id": 41, "name": "pe1:eth4", "url": "http://nb/dcim/interfaces/41/"},
        {"type": "ipam.prefix", "id": 12, "name": "203.0.113.32/28", "url": "http://nb/ipam/prefixes/12/"},
    ],
    "order": 1,
}


ROLES = {"pe1": "pe", "pe2": "pe", "ce1": "ce", "ce3": "ce"}


class FakeNetbox:
    """NetBox as the fake logic reads it: devices by role, free and used interfaces, services."""

    def __init__(self):
        self.roles = dict(ROLES)
        self.interfaces = {"pe1": ["eth3", "eth4", "eth5"], "pe2": ["eth3"], "ce1": ["eth1"], "ce3": ["eth1"]}
        self.used = {("pe1", "eth3"): "cable #12"}
        self.tenants = ["Acme", "Initech"]
        self.services = {SERVICE["id"]: SERVICE}

    def problems(self, service, values):
        out = []
        for c in service.characteristics:
            value = values.get(c.name)
            if c.type == "device" and value not in self.roles:
                out.append(f"{c.name}: no device {value!r} in NetBox")
            if c.type == "interface" and values.get(c.device) in self.roles:
                device = values[c.device]
                if value not in self.interfaces[device]:
                    out.append(f"{c.name}: {device} has no interface {value!r}")
                elif (device, value) in self.used:
                    out.append(f"{c.name}: {device}:{value} is in use ({self.used[device, value]})")
        return out


class FakeLogic:
    """The shared order logic's functions, over FakeNetbox (values checked by the real catalog)."""

    def __init__(self):
        self.checked = []

    def check_order(self, services, items, view):
        self.checked.append(items)
        clean, problems = [], []
        for raw in items:
            service = raw["service"]
            given = {c["name"]: c["value"] for c in service.get("serviceCharacteristic", [])}
            current = view.services.get(service.get("id") or "")
            # A modify or delete may leave the specification out: the service's own.
            name = (service.get("serviceSpecification") or {}).get("name") or (current or {}).get("service", "dia-ebgp")
            spec = services.get(name)
            if spec is None:
                found, values = ([f"serviceSpecification: {name!r} is not in the catalog"], {})
            elif raw["action"] == "add":
                values, found = check_values(spec, given)
                found = found or view.problems(spec, values)
            elif current is None:
                found, values = [f"service.id: no service {service.get('id')!r}"], {}
            else:
                found, values = [], dict(current["values"], **given)
            problems += [f"item {raw['id']}: {p}" for p in found]
            clean.append({"id": raw["id"], "action": raw["action"], "service": spec.name if spec else None,
                          "service_id": service.get("id"), "values": values})  # fmt: skip
        return (clean if not problems else []), problems

    def devices_of(self, items):
        return sorted({i["values"][k] for i in items for k in ("pe", "ce") if i["values"].get(k)})

    def describe(self, view, cid):
        return view.services.get(cid)

    def list_services(self, view, service_only=False):
        return list(view.services.values())

    def page_services(self, view, offset=0, limit=None, filters=None, customer=None, service=None, service_only=False):
        """The real one's answer, with NetBox's circuit filters (status, status__n) on the fake's services."""
        filters = filters or {}
        found = [
            s
            for s in view.services.values()
            if s["status"] in filters.get("status", [s["status"]])
            and s["status"] not in filters.get("status__n", [])
            and customer in (None, s["customer"])
            and service in (None, s["service"])
        ]
        return len(found), found[offset : None if limit is None else offset + limit]

    def choices(self, service, name, view, values):
        c = service.characteristic(name)
        if c.type == "device":
            return sorted(d for d, role in view.roles.items() if role == c.role)
        if c.type == "interface":
            device = values.get(c.device)
            return [i for i in view.interfaces.get(device, []) if (device, i) not in view.used]
        return view.tenants if c.type == "tenant" else []


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    for sub in ("jobs", "playbooks", "services", "inventory"):
        (root / sub).mkdir(parents=True)
    (root / "jobs" / "service-order.yml").write_text(TEMPLATE)
    (root / "playbooks" / "service_order.yml").write_text(PLAYBOOK)
    (root / "inventory" / "netbox.yml").write_text(INVENTORY)
    (root / "ansible.cfg").write_text(f"[defaults]\ncollections_path = {REPO / '.collections'}\n")
    shutil.copy(REPO / "services" / "catalog.yml", root / "services" / "catalog.yml")
    return root


@pytest.fixture
def app(tmp_path, repo, monkeypatch):
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'portal.db'}",
            "SECRET_KEY": "test-secret",
            "TESTING": True,
            "JOB_TEMPLATES_DIR": str(repo / "jobs"),
            "JOBS_DIR": str(tmp_path / "runs"),
            "PORTAL_URL": "https://portal.example",
            "LINK_HOSTS": ["nb"],  # the stand-in NetBox's links (http://nb/...) are shown as links
        }
    )
    monkeypatch.setattr("netoss.web.tmf._notify", lambda kind, ticket: None)
    monkeypatch.setattr("netoss.domain.jobs.launch.netbox_choices", lambda param, values, wanted=None: sorted(ROLES))
    with app.app_context():
        upgrade()
        for name, role in (("vera", "viewer"), ("otto", "operator"), ("erin", "engineer")):
            db.session.add(User(username=name, password_hash=PASSWORD_HASH, role=role))
        db.session.commit()
    return app


@pytest.fixture
def netbox(monkeypatch):
    """NetBox and the shared order logic, faked."""
    fake, logic = FakeNetbox(), FakeLogic()
    monkeypatch.setattr(catalog, "logic", lambda: logic)
    monkeypatch.setattr(catalog, "view", lambda: fake)
    return SimpleNamespace(view=fake, logic=logic)


@pytest.fixture
def queued(monkeypatch):
    """The jobs handed to the queue (none runs)."""
    jobs = []
    monkeypatch.setattr("netoss.domain.jobs.queue.enqueuer", lambda app: lambda job, sealed: jobs.append(job.id))
    return jobs


def auth(app, username):
    with app.app_context():
        _row, token = new_token(db.session.scalar(select(User).where(User.username == username)), "test")
        db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def item(action="add", values=None, service_id=None, item_id="1", spec="dia-ebgp"):
    service = {"serviceSpecification": {"name": spec}}
    if service_id:
        service["id"] = service_id
    if values is not None:
        service["serviceCharacteristic"] = [{"name": k, "value": v} for k, v in values.items()]
    return {"id": item_id, "action": action, "service": service}


def order_body(*items, **extra):
    return {"serviceOrderItem": list(items) or [item(values=DIA)], **extra}


def submit(client, app, body=None, user="otto"):
    body = order_body(externalId="BSS-42") if body is None else body
    return client.post(ORDERS, json=body, headers=auth(app, user))


def progress(client, app, order_id, body, user="otto"):
    """A report of the order's own job, as its run makes it: the job running, with its run's
    token (only that job may report: tests/unit/test_job_safety_logic.py)."""
    headers = auth(app, user)
    with app.app_context():
        order = db.session.get(ServiceOrder, order_id)
        job = db.session.get(Job, order.job_id) if order is not None and order.job_id else None
        if job is not None and job.status in ("pending", "running"):
            job.status = "running"
            headers[orders.JOB_TOKEN_HEADER] = runner.new_run_token(job)
            db.session.commit()
    return client.post(f"/api/v1/service-orders/{order_id}/progress", json=body, headers=headers)


def count(model):
    return db.session.scalar(select(func.count()).select_from(model))


# -- submitting -------------------------------------------------------------------------------


def test_a_valid_order_is_stored_acknowledged_and_launches_its_job_on_its_devices(app, netbox, queued):
    client = app.test_client()
    resp = submit(client, app)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert (body["id"], body["href"], body["state"], body["externalId"]) == (
        "1",
        f"{ORDERS}/1",
        "acknowledged",
        "BSS-42",
    )
    assert body["orderDate"] and body["completionDate"] is None
    [entry] = body["serviceOrderItem"]
    assert (entry["id"], entry["action"], entry["state"]) == ("1", "add", "acknowledged")
    assert entry["service"]["serviceSpecification"] == {"name": "dia-ebgp"} and "id" not in entry["service"]
    values = {c["name"]: c["value"] for c in entry["service"]["serviceCharacteristic"]}
    assert values == dict(DIA, bandwidth=100000, max_prefix=100)  # the catalog's defaults filled in
    assert body["netoss"]["job"] == 1 and body["netoss"]["ticket"] is None
    assert [c["state"] for c in body["netoss"]["stateChange"]] == ["acknowledged"]
    assert queued == [1]
    with app.app_context():
        job = db.session.get(Job, 1)
        assert (job.template, job.created_by, job.limit, job.check_mode) == ("service-order", "otto", "ce3,pe1", False)
        assert job.parameters == {"order": 1, "devices": ["ce3", "pe1"]}
        assert db.session.get(ServiceOrder, 1).job_id == 1
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "service_order.submit"))
        assert (event.actor, event.target, event.outcome, event.detail["job"]) == ("otto", "service order 1", "ok", 1)
    got = client.get(f"{ORDERS}/1", headers=auth(app, "vera")).get_json()
    assert got == body


def test_the_order_list_filters_by_state_and_external_id(app, netbox, queued):
    client = app.test_client()
    assert submit(client, app).status_code == 201
    assert submit(client, app, order_body(externalId="BSS-43")).status_code == 201
    assert progress(client, app, 2, {"state": "inProgress", "step": "reserve"}).status_code == 200
    vera = auth(app, "vera")
    assert [o["id"] for o in client.get(ORDERS, headers=vera).get_json()] == ["2", "1"]
    assert [o["id"] for o in client.get(f"{ORDERS}?state=inProgress", headers=vera).get_json()] == ["2"]
    assert [o["id"] for o in client.get(f"{ORDERS}?externalId=BSS-42", headers=vera).get_json()] == ["1"]
    assert [o["id"] for o in client.get(f"{ORDERS}?limit=1&offset=1", headers=vera).get_json()] == ["1"]
    bad = client.get(f"{ORDERS}?state=done", headers=vera)
    assert bad.status_code == 400 and bad.get_json()["error"].startswith("state must be one of acknowledged")
    assert client.get(f"{ORDERS}?limit=0", headers=vera).status_code == 400
    assert client.get(f"{ORDERS}?externalId={'x' * 101}", headers=vera).status_code == 400
    assert client.get(f"{ORDERS}/99", headers=vera).status_code == 404


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "body: 'serviceOrderItem' is a required property"),
        ({"serviceOrderItem": []}, "serviceOrderItem: [] should be non-empty"),
        (order_body(dict(item(), action="create")), "serviceOrderItem.0.action: 'create' is not one of"),
        (order_body({"id": "1", "action": "add"}), "serviceOrderItem.0: 'service' is a required property"),
        (order_body(item(spec="DIA ebgp")), "serviceSpecification.name: 'DIA ebgp' does not match"),
        (order_body(item(values={"prefixes": {"a": 1}})), "serviceOrderItem.0.service.serviceCharacteristic.0.value"),
        (order_body(item(action="modify", values={"bandwidth": 2000})),
         "serviceOrderItem.0.service.id: a modify item names the service (its circuit ID)"),
        (order_body(item(action="delete")), "serviceOrderItem.0.service.id: a delete item names the service"),
        (order_body(item(values=DIA, service_id="X-1")), "serviceOrderItem.0.service.id: an add item makes a new"),
        (order_body({"id": "1", "action": "add", "service": {"serviceCharacteristic": []}}),
         "serviceOrderItem.0.service.serviceSpecification: an add item names the catalog service"),
        (order_body(item(values=DIA), item(values=DIA)), "serviceOrderItem.1.id: '1' is also serviceOrderItem.0"),
        (order_body(dict(item(), service={"serviceSpecification": {"name": "dia-ebgp"}, "serviceCharacteristic": [
            {"name": "pe", "value": "pe1"}, {"name": "pe", "value": "pe2"}]})),
         "serviceOrderItem.0.service.serviceCharacteristic.1.name: 'pe' is also serviceCharacteristic.0"),
        (dict(order_body(), state="completed"), "body: Additional properties are not allowed ('state' was unexpected)"),
    ],
)  # fmt: skip
def test_an_order_of_the_wrong_shape_is_refused_naming_the_field(app, netbox, queued, body, message):
    resp = submit(app.test_client(), app, body)
    assert resp.status_code == 400 and message in resp.get_json()["error"], resp.get_json()
    assert any(message in p for p in resp.get_json()["problems"])
    assert netbox.logic.checked == [] and queued == []  # never reached the order check
    with app.app_context():
        assert count(ServiceOrder) == 0 and count(Job) == 0


def test_a_body_that_is_not_a_json_object_is_refused(app, netbox, queued):
    resp = app.test_client().post(ORDERS, data="[1]", headers=auth(app, "otto"))
    assert resp.status_code == 400 and resp.get_json()["error"].startswith("body: a JSON object is needed")


def test_problems_from_the_order_check_give_400_and_store_nothing(app, netbox, queued):
    bad = dict(DIA, pe_interface="eth3", customer_asn=23456)
    resp = submit(app.test_client(), app, order_body(item(values=bad), item(values=dict(DIA, pe="pe9"), item_id="2")))
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["problems"] == [
        "item 1: customer_asn: 23456 is AS_TRANS (RFC 6793)",
        "item 2: pe: no device 'pe9' in NetBox",
    ]
    assert body["error"] == "the order has 2 problems: item 1: customer_asn: 23456 is AS_TRANS (RFC 6793)"
    in_use = submit(app.test_client(), app, order_body(item(values=dict(DIA, pe_interface="eth3"))))
    assert in_use.get_json()["problems"] == ["item 1: pe_interface: pe1:eth3 is in use (cable #12)"]
    assert queued == []
    with app.app_context():
        assert count(ServiceOrder) == 0 and count(Job) == 0
        refused = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "service_order.submit")).all()
        assert [e.outcome for e in refused] == ["refused", "refused"]
        assert refused[0].detail["problems"][1] == "item 2: pe: no device 'pe9' in NetBox"


def test_without_netbox_an_order_is_503_and_nothing_is_stored(app, queued):
    resp = submit(app.test_client(), app)  # no NETBOX_URL in unit tests
    assert resp.status_code == 503 and "the portal has no NetBox" in resp.get_json()["error"]
    with app.app_context():
        assert count(ServiceOrder) == 0


def test_netbox_failing_during_the_check_is_503(app, netbox, queued):
    def broken(*args):
        raise ConnectionError("connection refused")

    netbox.logic.check_order = broken
    resp = submit(app.test_client(), app)
    assert resp.status_code == 503
    assert resp.get_json()["error"] == "the order check: NetBox could not be read (ConnectionError: connection refused)"


def test_an_order_whose_job_cannot_be_queued_fails_saying_so(app, netbox, monkeypatch):
    def no_queue(app):
        def enqueue(job, sealed):
            raise ConnectionError("redis is away")

        return enqueue

    monkeypatch.setattr("netoss.domain.jobs.queue.enqueuer", no_queue)
    resp = submit(app.test_client(), app)
    assert resp.status_code == 503
    assert resp.get_json()["error"].startswith("service order 1 failed: its job could not be launched: the job queue")
    with app.app_context():
        order = db.session.get(ServiceOrder, 1)
        assert order.state == "failed" and "redis is away" in order.state_reason and order.ticket_id == 1
        assert order.job_id == 1 and db.session.get(Job, 1).status == "error"


def test_a_template_that_refuses_the_launch_stores_nothing(app, netbox, queued, repo):
    (repo / "jobs" / "service-order.yml").write_text(TEMPLATE.replace("roles: [operator, engineer]", "roles: [admin]"))
    resp = submit(app.test_client(), app)
    assert resp.status_code == 403 and "not allowed for the operator role" in resp.get_json()["error"]
    with app.app_context():
        assert count(ServiceOrder) == 0 and count(Job) == 0


# -- progress ---------------------------------------------------------------------------------


def test_progress_moves_the_order_and_its_items_then_a_final_state_stays(app, netbox, queued):
    client = app.test_client()
    assert submit(client, app).status_code == 201
    resources = [{"type": "circuits.circuit", "id": 7, "name": "INITECH-AMS-0001"}]
    reserved = {"id": "1", "state": "inProgress", "service_id": "INITECH-AMS-0001", "resources": resources}
    step = {"state": "inProgress", "step": "reserve", "reason": None, "items": [reserved]}
    resp = progress(client, app, 1, step)
    assert resp.status_code == 200, resp.get_json()
    entry = resp.get_json()["serviceOrderItem"][0]
    assert entry["state"] == "inProgress" and entry["netoss"]["resources"] == resources
    assert entry["service"]["id"] == "INITECH-AMS-0001"
    assert entry["service"]["href"] == "/tmf-api/serviceInventory/v4/service/INITECH-AMS-0001"
    assert progress(client, app, 1, {"state": "inProgress", "step": "configure"}).status_code == 200
    done = progress(client, app, 1, {"state": "completed", "step": "activate", "reason": "the service is live"})
    body = done.get_json()
    assert (body["state"], body["serviceOrderItem"][0]["state"], body["netoss"]["reason"]) == (
        "completed", "completed", "the service is live"
    )  # fmt: skip
    assert body["completionDate"]
    assert [(c["state"], c["step"]) for c in body["netoss"]["stateChange"]] == [
        ("acknowledged", None), ("inProgress", "reserve"), ("inProgress", "configure"), ("completed", "activate"),
    ]  # fmt: skip
    for again in ({"state": "failed", "reason": "late"}, {"state": "inProgress"}, {"state": "completed"}):
        late = progress(client, app, 1, again)
        assert late.status_code == 409
        assert late.get_json()["error"].startswith("service order 1 is completed, which is final: it cannot become")
    with app.app_context():
        assert db.session.get(ServiceOrder, 1).state == "completed" and count(Ticket) == 0
        outcomes = db.session.scalars(
            select(AuditEvent.outcome).where(AuditEvent.action == "service_order.progress").order_by(AuditEvent.id)
        ).all()
        assert outcomes == ["ok", "ok", "ok", "refused", "refused", "refused"]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"state": "done"}, 400, "state: 'done' is not one of ['inProgress', 'completed', 'failed', 'partial']"),
        ({"state": "acknowledged"}, 400, "state: 'acknowledged' is not one of"),
        ({"step": "reserve"}, 400, "body: 'state' is a required property"),
        ({"state": "inProgress", "step": "Reserve Now"}, 400, "step: 'Reserve Now' does not match"),
        ({"state": "inProgress", "items": [{"id": "9"}]}, 400, "items.0.id: order 1 has no item '9' (it has: 1)"),
        ({"state": "inProgress", "items": [{"id": "1", "state": "partial"}]}, 400, "items.0.state: 'partial'"),
        ({"state": "inProgress", "items": [{"id": "1", "service_id": "A B"}]}, 400, "items.0.service_id"),
    ],
)
def test_a_bad_progress_report_is_refused_naming_the_field(app, netbox, queued, body, status, message):
    client = app.test_client()
    assert submit(client, app).status_code == 201
    resp = progress(client, app, 1, body)
    assert resp.status_code == status and message in resp.get_json()["error"], resp.get_json()
    with app.app_context():
        assert db.session.get(ServiceOrder, 1).state == "acknowledged"


def test_progress_of_an_unknown_order_is_404(app):
    assert progress(app.test_client(), app, 5, {"state": "inProgress"}).status_code == 404


def _ticket(app, ticket_id=1):
    with app.app_context():
        ticket = db.session.get(Ticket, ticket_id)
        db.session.expunge(ticket)
        return ticket


def test_a_failed_order_opens_one_ticket_with_its_reason(app, netbox, queued):
    client = app.test_client()
    assert submit(client, app).status_code == 201
    items = [{"id": "1", "service_id": "INITECH-AMS-0001", "resources": SERVICE["resources"]}]
    assert progress(client, app, 1, {"state": "inProgress", "step": "verify", "items": items}).status_code == 200
    reason = "BGP session pe1 -> 198.19.128.1 did not come up within 30 s\nrolled back: configs and NetBox"
    resp = progress(client, app, 1, {"state": "failed", "step": "rollback", "reason": reason})
    body = resp.get_json()
    assert resp.status_code == 200 and body["state"] == "failed" and body["netoss"]["ticket"] == "TT-000001"
    assert body["serviceOrderItem"][0]["state"] == "failed" and body["netoss"]["reason"] == reason
    ticket = _ticket(app)
    assert ticket.name == "Service order 1 failed: BGP session pe1 -> 198.19.128.1 did not come up within 30 s"
    assert (ticket.ticket_type, ticket.severity, ticket.priority, ticket.status) == (
        "incident",
        "major",
        2,
        "acknowledged",
    )
    assert (ticket.created_by, ticket.device, ticket.status_reason) == ("netoss", "ce3", "opened by service order 1")
    assert reason in ticket.description and "at step rollback" in ticket.description
    assert (
        "https://portal.example/jobs/1" in ticket.description
        and "https://portal.example/orders/1" in ticket.description
    )
    assert [(r["@referredType"], r["id"], r["name"], r["role"]) for r in ticket.related] == [
        ("Device", "ce3", "ce3", "affected"),
        ("Device", "3", "pe1", "affected"),  # NetBox's id, from the resources the job reported
        ("Service", "7", "INITECH-AMS-0001", "affectedService"),
        ("Job", "1", "job 1 (service-order)", "execution"),
        ("ServiceOrder", "1", "service order 1", "failed"),
    ]
    assert ticket.related[2]["tenant"] == "Initech"
    tmf = client.get("/tmf-api/troubleTicket/v4/troubleTicket/TT-000001", headers=auth(app, "vera")).get_json()
    assert tmf["statusChange"][0]["changeReason"] == "opened by service order 1"
    assert progress(client, app, 1, {"state": "failed", "reason": "again"}).status_code == 409
    with app.app_context():
        assert count(Ticket) == 1


def test_a_partial_order_opens_a_ticket_that_says_so(app, netbox, queued):
    client = app.test_client()
    assert submit(client, app, order_body(item(values=DIA), item(values=dict(DIA, pe="pe2", pe_interface="eth3"),
                                                             item_id="2"))).status_code == 201  # fmt: skip
    report = {"state": "partial", "step": "verify", "reason": "item 2: prefix not reachable from pe2",
              "items": [{"id": "1", "state": "completed"}]}  # fmt: skip
    body = progress(client, app, 1, report).get_json()
    assert [i["state"] for i in body["serviceOrderItem"]] == ["completed", "failed"]
    assert _ticket(app).name == "Service order 1 partially done: item 2: prefix not reachable from pe2"


def test_an_order_is_never_seen_failed_without_its_ticket(app, netbox, queued, monkeypatch):
    """Whoever watches the order (the API, the bench, an OSS polling TMF641) sees it end and its
    ticket in one step: once its state is final, its ticket is linked."""
    client = app.test_client()
    assert submit(client, app).status_code == 201
    seen: list[tuple] = []
    real = orders.open_incident

    def watching(*args, **kwargs):
        with db.engine.connect() as other:  # what another process would read now
            seen.append(tuple(other.execute(select(ServiceOrder.state, ServiceOrder.ticket_id)).one()))
        return real(*args, **kwargs)

    monkeypatch.setattr(orders, "open_incident", watching)
    assert progress(client, app, 1, {"state": "failed", "reason": "pe1 refused"}).status_code == 200
    assert len(seen) == 1 and seen[0][0] != "failed" and seen[0][1] is None, seen
    with app.app_context():
        order = db.session.get(ServiceOrder, 1)
        assert order.state == "failed" and order.ticket_id == 1


def test_a_ticket_that_cannot_be_opened_does_not_leave_the_order_open(app, netbox, queued, monkeypatch, caplog):
    client = app.test_client()
    assert submit(client, app).status_code == 201

    def broken(*args, **kwargs):
        raise RuntimeError("the tickets table is locked")

    monkeypatch.setattr(orders, "open_incident", broken)
    assert progress(client, app, 1, {"state": "failed", "reason": "pe1 refused"}).status_code == 200
    with app.app_context():
        order = db.session.get(ServiceOrder, 1)
        assert order.state == "failed" and order.ticket_id is None and order.state_reason == "pe1 refused"
        assert [c["state"] for c in order.state_changes][-1] == "failed"
    assert "service order 1: its ticket could not be opened: RuntimeError: the tickets table is locked" in caplog.text


# -- the job runner's hook, and cancellation ---------------------------------------------------


def test_an_order_its_job_left_open_fails_when_the_job_ends(app, netbox, queued):
    """A real run, by the runner as a worker does (no request): the job ends (successfully,
    here) without the order reporting its end."""
    assert submit(app.test_client(), app).status_code == 201
    runner.execute(1, app=app, env={"PATH": "/usr/bin:/bin"})
    with app.app_context():
        job, order = db.session.get(Job, 1), db.session.get(ServiceOrder, 1)
        assert job.status == "successful", job.error
        assert order.state == "failed" and order.ticket_id == 1
        assert order.state_reason == "job 1: the job ended successful before the order finished"
        assert order.state_changes[-1]["step"] == "job"
        ticket = db.session.get(Ticket, 1)
        assert ticket.name == "Service order 1 failed: job 1: the job ended successful before the order finished"
        assert "https://portal.example/jobs/1" in ticket.description
        audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "ticket.create"))
        assert (audit.source, audit.actor, audit.target) == ("worker", None, "TT-000001")
        assert db.session.scalar(select(TicketStatusChange.actor)) == "netoss"


def _order_with_job(app, status="pending", started=False, template="service-order"):
    with app.app_context():
        job = Job(
            template=template,
            parameters={"order": 1, "devices": ["ce3", "pe1"]},
            created_by="otto",
            limit="ce3,pe1",
            status=status,
            error="timed out after 600 s" if status == "failed" else None,
        )
        if started:
            job.started_at = job.finished_at = db.func.now()
        db.session.add(job)
        db.session.flush()
        db.session.add(ServiceOrder(requested_by="otto", state="acknowledged", job_id=job.id, items=[
            {"id": "1", "action": "add", "service": "dia-ebgp", "service_id": None, "values": DIA,
             "state": "acknowledged", "resources": []}], state_changes=[]))  # fmt: skip
        db.session.commit()
        return job.id


def test_job_finished_fails_the_order_with_the_jobs_error_and_ignores_other_jobs(app):
    job_id = _order_with_job(app, status="failed", started=True)
    with app.app_context(), app.test_request_context():
        orders.job_finished(db.session.get(Job, job_id))
        order = db.session.get(ServiceOrder, 1)
        assert (order.state, order.state_reason, order.items[0]["state"]) == (
            "failed", "job 1: timed out after 600 s", "failed"
        )  # fmt: skip
        assert db.session.get(Ticket, order.ticket_id).name == "Service order 1 failed: job 1: timed out after 600 s"
        orders.job_finished(db.session.get(Job, job_id))  # once ended, the order stays as it is
        assert count(Ticket) == 1 and len(order.state_changes) == 1
        other = Job(template="backup", parameters={"order": 1}, created_by="otto", status="failed")
        orders.job_finished(other)  # not a service-order job: nothing


def test_job_finished_never_raises(app, monkeypatch, caplog):
    job_id = _order_with_job(app, status="failed", started=True)

    def broken(*args, **kwargs):
        raise RuntimeError("database away")

    monkeypatch.setattr(orders, "transition", broken)
    with app.app_context():
        orders.job_finished(db.session.get(Job, job_id))
    assert "job 1: its service order could not be updated" in caplog.text and "database away" in caplog.text


def test_a_job_cancelled_before_it_started_cancels_its_order(app):
    job_id = _order_with_job(app)
    resp = app.test_client().post(f"/api/v1/jobs/{job_id}/cancel", headers=auth(app, "otto"))
    assert resp.status_code == 200
    with app.app_context():
        order = db.session.get(ServiceOrder, 1)
        assert (order.state, order.state_reason) == ("cancelled", "job 1: its job 1 was cancelled before it started")
        assert order.items[0]["state"] == "cancelled" and count(Ticket) == 0


def test_cancel_while_the_job_is_pending_then_409(app, netbox, queued):
    client = app.test_client()
    assert submit(client, app).status_code == 201
    cancel = {"serviceOrder": {"id": "1"}, "cancellationReason": "customer withdrew"}
    resp = client.post(CANCEL, json=cancel, headers=auth(app, "otto"))
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert (body["state"], body["cancellationReason"], body["serviceOrder"]["id"]) == ("done", "customer withdrew", "1")
    assert body["netoss"]["serviceOrder"]["state"] == "cancelled"
    assert body["netoss"]["serviceOrder"]["netoss"]["reason"] == "cancelled by otto: customer withdrew"
    with app.app_context():
        job = db.session.get(Job, 1)
        assert job.status == "canceled" and job.finished_at and count(Ticket) == 0
    runner.execute(1, app=app, env={"PATH": "/usr/bin:/bin"})  # a worker picking it up later does nothing
    again = client.post(CANCEL, json=cancel, headers=auth(app, "otto"))
    assert again.status_code == 409 and again.get_json()["error"].startswith("service order 1 is cancelled")
    assert client.post(CANCEL, json={"serviceOrder": {"id": "9"}}, headers=auth(app, "otto")).status_code == 404
    assert client.post(CANCEL, json={"serviceOrder": {"id": "x"}}, headers=auth(app, "otto")).status_code == 400


def test_cancel_after_the_job_started_is_409(app, netbox, queued):
    client = app.test_client()
    assert submit(client, app).status_code == 201
    with app.app_context():
        job = db.session.get(Job, 1)
        job.status, job.started_at = "running", db.func.now()
        db.session.commit()
    resp = client.post(CANCEL, json={"serviceOrder": {"id": "1"}}, headers=auth(app, "otto"))
    assert resp.status_code == 409
    assert resp.get_json()["error"] == "service order 1: its job 1 has started (running), it runs to its end"
    assert progress(client, app, 1, {"state": "inProgress", "step": "reserve"}).status_code == 200
    resp = client.post(CANCEL, json={"serviceOrder": {"id": "1"}}, headers=auth(app, "otto"))
    assert resp.status_code == 409 and "is inProgress: only an acknowledged order" in resp.get_json()["error"]
    with app.app_context():
        assert db.session.get(Job, 1).status == "running"


# -- roles ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "method", "path", "status"),
    [
        ("vera", "post", ORDERS, 403),
        (None, "post", ORDERS, 401),
        ("erin", "post", ORDERS, 201),
        ("vera", "get", ORDERS, 200),
        (None, "get", ORDERS, 401),
        ("vera", "get", f"{ORDERS}/1", 200),
        ("vera", "post", CANCEL, 403),
        ("vera", "post", "/api/v1/service-orders/1/progress", 403),
        ("vera", "get", "/api/v1/service-catalog", 200),
        (None, "get", "/api/v1/service-catalog", 401),
    ],
)
def test_roles(app, netbox, queued, user, method, path, status):
    client = app.test_client()
    assert submit(client, app).status_code == 201
    bodies = {ORDERS: order_body(), CANCEL: {"serviceOrder": {"id": "1"}}}
    body = bodies.get(path, {"state": "inProgress"}) if method == "post" else None
    resp = getattr(client, method)(path, json=body, headers=auth(app, user) if user else {})
    assert resp.status_code == status, resp.get_json()
    if status == 403:
        assert resp.get_json()["error"] == "this needs the operator role; vera is viewer"


def test_a_cookie_authenticated_order_needs_csrf(app, netbox, queued):
    client = sign_in(app.test_client(), "otto")
    resp = client.post(ORDERS, json=order_body())
    assert resp.status_code == 400 and "CSRF" in resp.get_json()["error"]
    resp = client.post(ORDERS, json=order_body(), headers={"X-CSRFToken": csrf(client, "/orders")})
    assert resp.status_code == 201


# -- the catalog API --------------------------------------------------------------------------


def test_the_catalog_and_the_choices_of_a_characteristic(app, netbox):
    client = app.test_client()
    vera = auth(app, "vera")
    services = {s["name"]: s for s in client.get("/api/v1/service-catalog", headers=vera).get_json()}
    assert sorted(services) == sorted(load_catalog(REPO / "services" / "catalog.yml"))
    bandwidth = next(c for c in services["dia-ebgp"]["characteristics"] if c["name"] == "bandwidth")
    assert (bandwidth["type"], bandwidth["minimum"], bandwidth["default"]) == ("integer", 1000, 100000)
    base = "/api/v1/service-catalog/dia-ebgp/choices"
    assert client.get(f"{base}/pe", headers=vera).get_json() == ["pe1", "pe2"]
    assert client.get(f"{base}/pe_interface?pe=pe1", headers=vera).get_json() == ["eth4", "eth5"]
    assert client.get(f"{base}/customer", headers=vera).get_json() == ["Acme", "Initech"]
    resp = client.get(f"{base}/bandwidth", headers=vera)
    assert resp.status_code == 400 and resp.get_json()["error"] == "bandwidth: a integer characteristic has no choices"
    assert client.get(f"{base}/nope", headers=vera).status_code == 404
    missing = client.get("/api/v1/service-catalog/l3vpn/choices/pe", headers=vera)
    assert (
        missing.status_code == 404 and "no service 'l3vpn' in the catalog (there are: " in missing.get_json()["error"]
    )


def test_choices_without_netbox_are_503(app):
    resp = app.test_client().get("/api/v1/service-catalog/dia-ebgp/choices/pe", headers=auth(app, "vera"))
    assert resp.status_code == 503 and "no NetBox" in resp.get_json()["error"]


def test_a_broken_catalog_is_a_clear_500(app, repo, caplog):
    (repo / "services" / "catalog.yml").write_text("services: []\n")
    resp = app.test_client().get("/api/v1/service-catalog", headers=auth(app, "vera"))
    assert resp.status_code == 500 and resp.get_json()["error"].startswith("the service catalog has problems")
    assert "services/catalog.yml" in caplog.text


# -- pages ------------------------------------------------------------------------------------


def sign_in(client, username):
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    return client


def csrf(client, path):
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def test_the_order_pages_render(app, netbox, queued):
    assert submit(app.test_client(), app, order_body(externalId="BSS-42")).status_code == 201
    viewer = sign_in(app.test_client(), "vera")
    listing = viewer.get("/orders")
    assert listing.status_code == 200
    text = listing.get_data(as_text=True)
    assert "BSS-42" in text and "add dia-ebgp" in text and 'href="/jobs/1"' in text and "New order" not in text
    assert viewer.get("/orders?state=failed").get_data(as_text=True).count("No orders failed") == 1
    assert viewer.get("/orders?state=nope").status_code == 400
    page = viewer.get("/orders/1").get_data(as_text=True)
    assert 'id="state" class="state-acknowledged"' in page and 'id="job" href="/jobs/1"' in page
    assert 'id="cancel"' not in page  # viewers cannot cancel
    assert viewer.get("/orders/new").status_code == 403
    assert viewer.get("/orders/9").status_code == 404
    operator = sign_in(app.test_client(), "otto")
    assert 'id="new-order"' in operator.get("/orders").get_data(as_text=True)
    assert 'id="cancel"' in operator.get("/orders/1").get_data(as_text=True)
    resp = operator.post("/orders/1/cancel", data={"csrf_token": csrf(operator, "/orders/1"), "reason": "test"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/orders/1"
    again = operator.post("/orders/1/cancel", data={"csrf_token": csrf(operator, "/orders/1")})
    assert again.status_code == 409 and "service order 1 is cancelled" in again.get_data(as_text=True)


def test_the_order_form_offers_netbox_choices_and_shows_problems_next_to_their_fields(app, netbox, queued):
    client = sign_in(app.test_client(), "otto")
    chooser = client.get("/orders/new").get_data(as_text=True)
    assert "Dedicated Internet Access (eBGP)" in chooser and 'id="order"' not in chooser
    form = client.get("/orders/new?service=dia-ebgp").get_data(as_text=True)
    assert re.search(
        r'<select id="f-pe" name="pe"[^>]*>\s*<option value="">\(choose\)</option>\s*<option >pe1</option>', form
    )
    assert "(choose the pe first)" in form and '<datalist id="l-customer">' in form
    assert 'type="number" name="bandwidth"' in form and 'min="1000"' in form
    with_pe = client.get("/orders/new?service=dia-ebgp&pe=pe1").get_data(as_text=True)
    assert "<option >eth4</option>" in with_pe and "<option >eth3</option>" not in with_pe  # eth3 is in use
    fields = dict(DIA, service="dia-ebgp", action="add", pe_interface="eth3", customer_asn="23456")
    fields["prefixes"] = "203.0.113.32/28\n"
    resp = client.post("/orders/new", data={"csrf_token": csrf(client, "/orders/new"), **fields})
    assert resp.status_code == 400
    text = resp.get_data(as_text=True)
    assert '<span class="field-problem" data-field="customer_asn">23456 is AS_TRANS (RFC 6793)</span>' in text
    assert "<option selected>eth3</option>" in text  # what was chosen stays chosen
    fields["customer_asn"] = "64510"
    resp = client.post("/orders/new", data={"csrf_token": csrf(client, "/orders/new"), **fields})
    assert resp.status_code == 400
    assert '<span class="field-problem" data-field="pe_interface">pe1:eth3 is in use (cable #12)</span>' in (
        resp.get_data(as_text=True)
    )
    fields.update(pe_interface="eth4", prefixes="203.0.113.32/28\n203.0.113.64/28", description="Initech DIA")
    resp = client.post("/orders/new", data={"csrf_token": csrf(client, "/orders/new"), **fields})
    assert resp.status_code == 302 and resp.headers["Location"] == "/orders/1"
    with app.app_context():
        order = db.session.get(ServiceOrder, 1)
        assert order.description == "Initech DIA" and order.requested_by == "otto"
        assert order.items[0]["values"]["prefixes"] == ["203.0.113.32/28", "203.0.113.64/28"]
        assert order.items[0]["values"]["customer_asn"] == 64510


def test_the_order_form_modifies_and_deletes_existing_services(app, netbox, queued):
    client = sign_in(app.test_client(), "otto")
    form = client.get("/orders/new?service=dia-ebgp&action=modify&service_id=INITECH-AMS-0001").get_data(as_text=True)
    assert '<option value="INITECH-AMS-0001" selected>INITECH-AMS-0001 (Initech, active)</option>' in form
    assert 'placeholder="203.0.113.32/28"' in form  # the current value, shown
    token = csrf(client, "/orders/new")
    missing = client.post("/orders/new", data={"csrf_token": token, "service": "dia-ebgp", "action": "modify"})
    assert missing.status_code == 400
    assert 'data-field="service_id">a modify item names the service (its circuit ID)' in missing.get_data(as_text=True)
    change = {"service": "dia-ebgp", "action": "modify", "service_id": "INITECH-AMS-0001", "bandwidth": "200000"}
    assert client.post("/orders/new", data={"csrf_token": token, **change}).status_code == 302
    delete = {"service": "dia-ebgp", "action": "delete", "service_id": "INITECH-AMS-0001", "pe": "ignored"}
    assert client.post("/orders/new", data={"csrf_token": token, **delete}).status_code == 302
    with app.app_context():
        modify, remove = db.session.get(ServiceOrder, 1).items[0], db.session.get(ServiceOrder, 2).items[0]
    assert (modify["action"], modify["service_id"], modify["values"]["bandwidth"]) == (
        "modify",
        "INITECH-AMS-0001",
        200000,
    )
    assert modify["values"]["prefixes"] == ["203.0.113.32/28"]  # unchanged: the current value
    assert (remove["action"], remove["values"]["pe"]) == ("delete", "pe1")
    assert netbox.logic.checked[-1][0]["service"] == {"serviceSpecification": {"name": "dia-ebgp"},
                                                     "id": "INITECH-AMS-0001"}  # fmt: skip


def test_the_order_form_says_when_netbox_is_away(app, queued):
    client = sign_in(app.test_client(), "otto")
    resp = client.get("/orders/new?service=dia-ebgp")
    assert resp.status_code == 200
    text = resp.get_data(as_text=True)
    assert 'id="netbox-problem"' in text and "the portal has no NetBox" in text
    assert '<input id="f-pe" name="pe"' in text  # typed in, then


# -- the form's pure helpers ------------------------------------------------------------------


def test_form_order_makes_the_api_body():
    spec = load_catalog(REPO / "services" / "catalog.yml")["dia-ebgp"]
    form = {
        "pe": " pe1 ",
        "customer_asn": "AS64510",
        "bandwidth": "5000",
        "prefixes": "203.0.113.0/28, 203.0.113.16/28",
        "max_prefix": "",
        "description": "x",
        "external_id": "B-1",
    }
    body = form_order(spec, "add", form)
    assert body == {
        "serviceOrderItem": [{"id": "1", "action": "add", "service": {
            "serviceSpecification": {"name": "dia-ebgp"},
            "serviceCharacteristic": [
                {"name": "pe", "value": "pe1"},
                {"name": "customer_asn", "value": "AS64510"},
                {"name": "prefixes", "value": ["203.0.113.0/28", "203.0.113.16/28"]},
                {"name": "bandwidth", "value": 5000},
            ]}}],
        "description": "x",
        "externalId": "B-1",
    }  # fmt: skip
    assert form_order(spec, "delete", {"service_id": "A-1", "pe": "pe1"})["serviceOrderItem"][0]["service"] == {
        "serviceSpecification": {"name": "dia-ebgp"}, "id": "A-1"}  # fmt: skip


def test_problems_go_next_to_the_fields_they_name():
    fields, others = problems_by_field(
        [
            "item 1: pe_interface: pe1:eth3 is in use (cable #12)",
            "item 1: prefixes: 203.0.113.0/28 overlaps ACME's 203.0.113.0/27",
            "item 1: service.id: no service 'X'",
            "serviceOrderItem.0.service.id: a modify item names the service (its circuit ID)",
            "item 1: prefixes: and another",
            "the order check: NetBox could not be read",
        ],
        {"pe_interface", "prefixes"},
    )
    assert fields == {
        "pe_interface": ["pe1:eth3 is in use (cable #12)"],
        "prefixes": ["203.0.113.0/28 overlaps ACME's 203.0.113.0/27", "and another"],
        "service_id": ["no service 'X'", "a modify item names the service (its circuit ID)"],
    }
    assert others == ["the order check: NetBox could not be read"]


def test_settled_items_take_the_orders_end():
    items = [
        {"id": "1", "state": "completed"},
        {"id": "2", "state": "inProgress"},
        {"id": "3", "state": "acknowledged"},
    ]
    assert [i["state"] for i in orders.settle_items(items, "partial")] == ["completed", "failed", "failed"]
    assert [i["state"] for i in orders.settle_items(items, "cancelled")] == ["completed", "cancelled", "cancelled"]
    assert items[1]["state"] == "inProgress"  # a copy
