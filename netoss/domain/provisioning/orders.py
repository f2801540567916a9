"""Service orders (TMF641) in the portal: checking and storing them, running each as a
``service-order`` job, following the progress that job reports, cancelling, and the ticket an
order that fails opens. The TMF641 API and the order pages share these functions.

Life cycle: acknowledged (checked, stored, job queued) -> inProgress (the job reports each
step) -> completed, failed or partial; cancelled only while acknowledged and its job has not
started. Every change goes through :func:`transition`: it refuses to leave a final state, keeps
the history, and opens the one ticket of a failed or partial order.
"""

from __future__ import annotations

import contextlib
import logging

import jsonschema
from sqlalchemy import select

from netoss.data import context
from netoss.data.db import db
from netoss.data.models import ORDER_OPEN, ORDER_STATES, Job, ServiceOrder, User, iso, utcnow
from netoss.data.paging import page
from netoss.domain.faults.incidents import open_incident
from netoss.domain.jobs import signals
from netoss.domain.jobs.launch import LaunchError, launch
from netoss.domain.jobs.queue import drop
from netoss.domain.jobs.runner import job_of_token
from netoss.domain.provisioning import catalog
from netoss.domain.provisioning.catalog import ServiceError, reading_netbox
from netoss.domain.provisioning.schema import ORDER

log = logging.getLogger("netoss.services")

TEMPLATE = "service-order"  # the job template that runs an order (jobs/service-order.yml)
ORDER_PATH = "/tmf-api/serviceOrdering/v4/serviceOrder"
SERVICE_PATH = "/tmf-api/serviceInventory/v4/service"
FINAL = tuple(s for s in ORDER_STATES if s not in ORDER_OPEN)
TICKETED = ("failed", "partial")  # an order that ends so opens a ticket
MAX_PROBLEMS = 20

_order_validator = jsonschema.Draft202012Validator(ORDER)


# -- checking an order ------------------------------------------------------------------------


def _where(path) -> str:
    return ".".join(str(p) for p in path) or "body"


def body_problems(data) -> list[str]:
    """What makes ``data`` not a TMF641 order we take, each naming the field (an empty list: none).

    The shape comes from the schema; then item ids must be unique, an add makes a new service
    (no ``service.id``), a modify or delete names one, and no characteristic is given twice."""
    if not isinstance(data, dict):
        return ["body: a JSON object is needed (Content-Type: application/json)"]
    errors = sorted(_order_validator.iter_errors(data), key=lambda e: [str(p) for p in e.path])
    problems = [f"{_where(e.path)}: {e.message[:300]}" for e in errors]
    if problems:
        return problems[:MAX_PROBLEMS]
    seen: dict[str, int] = {}
    for i, item in enumerate(data["serviceOrderItem"]):
        at = f"serviceOrderItem.{i}"
        if item["id"] in seen:
            problems.append(f"{at}.id: {item['id']!r} is also serviceOrderItem.{seen[item['id']]}")
        seen.setdefault(item["id"], i)
        has_id = bool(item["service"].get("id"))
        if item["action"] == "add" and has_id:
            problems.append(f"{at}.service.id: an add item makes a new service, whose ID the order allocates")
        if item["action"] != "add" and not has_id:
            problems.append(f"{at}.service.id: a {item['action']} item names the service (its circuit ID)")
        if item["action"] == "add" and not item["service"].get("serviceSpecification"):
            problems.append(f"{at}.service.serviceSpecification: an add item names the catalog service")
        names: dict[str, int] = {}
        for j, c in enumerate(item["service"].get("serviceCharacteristic", [])):
            if c["name"] in names:
                problems.append(
                    f"{at}.service.serviceCharacteristic.{j}.name: {c['name']!r} is also "
                    f"serviceCharacteristic.{names[c['name']]}"
                )
            names.setdefault(c["name"], j)
    return problems[:MAX_PROBLEMS]


def check(data: dict, netbox=None) -> tuple[list[dict], list[str], list[str]]:
    """(clean items, the devices they touch, problems) of a well-shaped order, from the shared
    order check: the catalog's rules and NetBox (devices exist, interfaces free, no overlap)."""
    services = catalog.load()
    with reading_netbox("the order check"):
        logic = catalog.logic()
        clean, problems = logic.check_order(services, data["serviceOrderItem"], netbox or catalog.view())
        devices = [] if problems else list(logic.devices_of(clean))
    if not problems and not devices:
        problems = ["serviceOrderItem: the order touches no device (the order check found no PE or CE)"]
    return clean, devices, list(problems)


# -- submitting ------------------------------------------------------------------------------


def _change(state: str, at, reason: str | None, step: str | None) -> dict:
    return {"state": state, "at": iso(at), "reason": reason, "step": step}


def submit(user: User, data: dict, enqueue, netbox=None) -> ServiceOrder:
    """Check, store (acknowledged) and launch an order as ``user``. ServiceError says why not:
    400 with the problems (nothing stored), or the launch's status."""
    problems = body_problems(data)
    if problems:
        raise ServiceError(400, "; ".join(problems), problems)
    clean, devices, problems = check(data, netbox)
    if problems:
        count = f"{len(problems)} problem" + ("s" if len(problems) > 1 else "")
        raise ServiceError(400, f"the order has {count}: {problems[0]}", problems)
    now = utcnow()
    reason = "checked: the order can be done"
    order = ServiceOrder(
        external_id=data.get("externalId"),
        description=data.get("description", ""),
        category=data.get("category"),
        state="acknowledged",
        state_reason=reason,
        requested_by=user.username,
        created_at=now,
        updated_at=now,
        items=[dict(item, state="acknowledged", resources=[]) for item in clean],
        state_changes=[_change("acknowledged", now, reason, None)],
    )
    db.session.add(order)
    db.session.flush()
    order_id = order.id
    try:
        job = launch(user, TEMPLATE, {"order": order_id, "devices": devices}, False, enqueue)
    except LaunchError as exc:
        raise _not_launched(order_id, exc) from None
    except Exception:
        db.session.rollback()  # nothing stored
        raise
    order.job_id = job.id
    db.session.commit()
    return order


def _not_launched(order_id: int, exc) -> ServiceError:
    """The error of a launch that failed. Refused before its job was recorded, it stores
    nothing; recorded but not queued (the queue is away), the order fails saying so (and opens
    its ticket)."""
    db.session.rollback()
    message = f"its job could not be launched: {exc}"
    order = db.session.get(ServiceOrder, order_id)
    if order is not None:
        recent = select(Job).where(Job.template == TEMPLATE).order_by(Job.id.desc()).limit(20)
        job = next((j for j in db.session.scalars(recent) if (j.parameters or {}).get("order") == order_id), None)
        order.job_id = job.id if job else None
        transition(order_id, "failed", message, step="launch")
        message = f"service order {order_id} failed: {message}"
    return ServiceError(exc.status, message, exc.problems)


# -- reading ---------------------------------------------------------------------------------


def get(order_id: int) -> ServiceOrder:
    return db.session.get(ServiceOrder, order_id) or _missing(order_id)


def _missing(order_id):
    raise ServiceError(404, f"no service order {order_id}")


def list_orders(state: str | None = None, external_id: str | None = None, offset: int = 0, limit: int = 100):
    """Orders, newest first, of a state and an external ID when given."""
    return page_orders(state, external_id, offset, limit)[1]


def page_orders(
    state: str | None = None, external_id: str | None = None, offset: int = 0, limit: int = 100
) -> tuple[int, list[ServiceOrder]]:
    """(how many orders match, ``limit`` of them from ``offset``), newest first, of a state and
    an external ID when given."""
    query = select(ServiceOrder).order_by(ServiceOrder.id.desc())
    if state:
        if state not in ORDER_STATES:
            raise ServiceError(400, f"state must be one of {', '.join(ORDER_STATES)}")
        query = query.where(ServiceOrder.state == state)
    if external_id:
        if len(external_id) > 100 or "\x00" in external_id:
            raise ServiceError(400, "externalId: 1 to 100 characters, no NUL")
        query = query.where(ServiceOrder.external_id == external_id)
    return page(query, offset, limit)


def job_of(order: ServiceOrder) -> Job | None:
    return db.session.get(Job, order.job_id) if order.job_id else None


def cancellable(order: ServiceOrder, job: Job | None) -> str | None:
    """Why ``order`` cannot be cancelled now (None: it can)."""
    if order.state != "acknowledged":
        return (
            f"service order {order.id} is {order.state}: only an acknowledged order whose job has not started "
            "can be cancelled"
        )
    if job is None:
        return f"service order {order.id} has no job to cancel"
    if job.status != "pending" or job.started_at is not None:
        return f"service order {order.id}: its job {job.id} has started ({job.status}), it runs to its end"
    return None


# -- changing state --------------------------------------------------------------------------


def _locked(order_id: int) -> ServiceOrder:
    query = select(ServiceOrder).where(ServiceOrder.id == order_id).with_for_update()
    order = db.session.scalars(query.execution_options(populate_existing=True)).first()
    return order or _missing(order_id)


def settle_items(items: list[dict], state: str) -> list[dict]:
    """The items of an order that ends ``state``: those still open take its state (a partial
    order's unfinished items failed); those that ended keep theirs."""
    end = "failed" if state == "partial" else state
    return [dict(i, state=end) if i.get("state") in ORDER_OPEN else dict(i) for i in items]


def _updated_items(order: ServiceOrder, updates: list[dict]) -> list[dict]:
    items = [dict(i) for i in order.items]
    by_id = {i["id"]: i for i in items}
    for n, update in enumerate(updates):
        item = by_id.get(update["id"])
        if item is None:
            known = ", ".join(sorted(by_id))
            raise ServiceError(400, f"items.{n}.id: order {order.id} has no item {update['id']!r} (it has: {known})")
        item.update({k: update[k] for k in ("state", "service_id", "resources") if k in update})
    return items


def transition(
    order_id: int, state: str, reason: str | None = None, step: str | None = None, updates=()
) -> ServiceOrder:
    """Move an order to ``state`` (with item ``updates``), the one way any change is made:
    ServiceError(409) when it already ended. A failed or partial order opens its ticket, committed
    with the order's end (whoever watches sees both at once); a ticket that cannot be opened is
    logged, and the order ends all the same."""

    def change() -> ServiceOrder:
        order = _locked(order_id)
        if order.state in FINAL:
            db.session.rollback()
            raise ServiceError(
                409, f"service order {order_id} is {order.state}, which is final: it cannot become {state}"
            )
        items = _updated_items(order, list(updates))
        now = utcnow()
        if state in FINAL:
            items, order.completed_at = settle_items(items, state), now
        order.items, order.state, order.updated_at = items, state, now
        order.state_reason = (reason or "")[:500] or None
        order.state_changes = [*order.state_changes, _change(state, now, reason, step)]
        return order

    order = change()
    if state in TICKETED and order.ticket_id is None:
        try:
            _open_ticket(order)
            return order
        except Exception as exc:  # the order's end is recorded whatever the ticket did
            db.session.rollback()
            log.error("service order %s: its ticket could not be opened: %s: %s", order_id, type(exc).__name__, exc)
            order = change()
    db.session.commit()
    return order


JOB_TOKEN_HEADER = "X-Netoss-Job-Token"  # noqa: S105 - a header name


def progress(order_id: int, data: dict, job_token: str | None = None) -> ServiceOrder:
    """What the job reports (a validated PROGRESS body). Only the order's own running job may:
    ``job_token`` is its run's token (NETOSS_JOB_TOKEN, sent as the X-Netoss-Job-Token header);
    ServiceError(403) otherwise, whoever the caller is."""
    order = get(order_id)
    job = job_of_token(job_token)
    if job is None or order.job_id != job.id:
        db.session.rollback()
        raise ServiceError(
            403,
            f"service order {order_id}: only its own running job may report its progress "
            f"(with its run's token in the {JOB_TOKEN_HEADER} header)",
        )
    return transition(order_id, data["state"], data.get("reason"), data.get("step"), data.get("items") or [])


def cancel(order_id: int, reason: str | None, user: User) -> ServiceOrder:
    """Cancel an acknowledged order whose job has not started: the job is cancelled as the jobs
    API does (never picked up), the order becomes cancelled. ServiceError(409) says why not."""
    order = _locked(order_id)
    job = db.session.scalars(select(Job).where(Job.id == order.job_id).with_for_update()).first()
    why = cancellable(order, job)
    if why:
        db.session.rollback()
        raise ServiceError(409, why)
    job.status, job.finished_at = "canceled", utcnow()
    order = transition(order_id, "cancelled", f"cancelled by {user.username}: {reason or 'no reason given'}")
    drop(context.current(), job.id)
    signals.ended(job)  # its order is cancelled already: the receivers leave it so
    return order


def job_finished(job: Job) -> None:
    """Receiver of ``job_ended`` (connected in netoss.domain.wiring), whoever ended the job: a
    service order its job left open fails with the job's error, or is cancelled when its job
    never started. Never raises: a problem here is logged, the runner goes on."""
    if job.template != TEMPLATE:
        return
    try:
        _job_finished(job)
    except Exception:
        db.session.rollback()
        log.exception("job %s: its service order could not be updated", job.id)


def _job_finished(job: Job) -> None:
    order_id = (job.parameters or {}).get("order")
    order = db.session.get(ServiceOrder, order_id) if isinstance(order_id, int) else None
    if order is None or order.state in FINAL or order.job_id not in (None, job.id):
        return
    if job.status == "canceled" and job.started_at is None:
        state, reason, step = "cancelled", f"its job {job.id} was cancelled before it started", None
    else:
        state, reason, step = "failed", job.error or f"the job ended {job.status} before the order finished", "job"
    with contextlib.suppress(ServiceError):  # a final state reported meanwhile stands
        transition(order.id, state, f"job {job.id}: {reason}", step)


# -- the ticket of a failed order ------------------------------------------------------------


def _link(path: str) -> str:
    return context.portal_url().rstrip("/") + path


def _resources(items: list[dict]) -> list[dict]:
    """The NetBox objects the items name (each a {type, id, name}), however the job listed them."""
    out = []
    for item in items:
        found = item.get("resources") or []
        for r in found.values() if isinstance(found, dict) else found:
            for one in r if isinstance(r, list) else [r]:
                if isinstance(one, dict) and one.get("type") and one.get("id") is not None:
                    out.append(one)
    return out


def _entity(kind: str, ident, name: str, role: str, **extra) -> dict:
    return {"@referredType": kind, "id": str(ident), "name": name, "role": role, **extra}


def ticket_related(order: ServiceOrder, devices: list[str]) -> list[dict]:
    """The ticket's relatedEntity, as fault tickets have them (NetBox IDs where the job reported
    them): the devices, the services (circuit IDs), the job, the order."""
    ids = {(r["type"], r.get("name")): r["id"] for r in _resources(order.items)}
    related = [_entity("Device", ids.get(("dcim.device", d), d), d, "affected") for d in devices]
    for item in order.items:
        cid = item.get("service_id")
        if cid:
            customer = (item.get("values") or {}).get("customer")
            related.append(_entity("Service", ids.get(("circuits.circuit", cid), cid), cid, "affectedService",
                                   tenant=customer))  # fmt: skip
    if order.job_id:
        related.append(_entity("Job", order.job_id, f"job {order.job_id} ({TEMPLATE})", "execution"))
    related.append(_entity("ServiceOrder", order.id, f"service order {order.id}", "failed",
                           href=f"{ORDER_PATH}/{order.id}"))  # fmt: skip
    return related


def ticket_text(order: ServiceOrder) -> tuple[str, str]:
    """The ticket's name and description: what failed, the full reason, the links."""
    reason = order.state_reason or "no reason given"
    what = "partially done" if order.state == "partial" else "failed"
    name = f"Service order {order.id} {what}: {reason.splitlines()[0]}"[:300]
    step = next((c["step"] for c in reversed(order.state_changes) if c.get("step")), None)
    lines = [f"Service order {order.id}" + (f" ({order.external_id})" if order.external_id else "")
             + f" {what}" + (f" at step {step}" if step else "") + ".", "", reason, "", "Items:"]  # fmt: skip
    for i in order.items:
        service = f"{i['service']} {i['service_id']}" if i.get("service_id") else i["service"]
        lines.append(f"- item {i['id']}: {i['action']} {service} ({i.get('state')})")
    lines.append(f"Order: {_link('/orders/' + str(order.id))}")
    if order.job_id:
        lines.append(f"Job (its output): {_link('/jobs/' + str(order.job_id))}")
    return name, "\n".join(lines)


def _devices(order: ServiceOrder) -> list[str]:
    job = job_of(order)
    devices = (job.parameters or {}).get("devices") if job else None
    return list(devices) if isinstance(devices, list) else []


def _open_ticket(order: ServiceOrder) -> None:
    """One TMF621 incident for a failed or partial order (netoss.domain.faults.incidents), linked to
    the order in the ticket's own commit (with whatever the order has pending: its end)."""
    name, description = ticket_text(order)
    data = {"name": name, "description": description, "severity": "major", "ticketType": "incident"}

    def link(ticket) -> None:
        order.ticket_id = ticket.id

    open_incident(data, ticket_related(order, _devices(order)), reason=f"opened by service order {order.id}", link=link)


# -- TMF641 JSON -----------------------------------------------------------------------------


def _item_json(item: dict) -> dict:
    service = {
        "serviceSpecification": {"name": item["service"]},
        "serviceCharacteristic": [{"name": k, "value": v} for k, v in (item.get("values") or {}).items()],
    }
    if item.get("service_id"):
        service = {"id": item["service_id"], "href": f"{SERVICE_PATH}/{item['service_id']}", **service}
    return {
        "id": item["id"],
        "action": item["action"],
        "state": item.get("state"),
        "service": service,
        "netoss": {"resources": item.get("resources") or []},
    }


def order_json(order: ServiceOrder) -> dict:
    """The TMF641 ServiceOrder; what TMF641 has no field for is under ``netoss``."""
    return {
        "id": str(order.id),
        "href": f"{ORDER_PATH}/{order.id}",
        "@type": "ServiceOrder",
        "externalId": order.external_id,
        "description": order.description,
        "category": order.category,
        "state": order.state,
        "orderDate": iso(order.created_at),
        "completionDate": iso(order.completed_at),
        "relatedParty": [{"role": "requester", "name": order.requested_by, "@referredType": "Individual"}],
        "serviceOrderItem": [_item_json(i) for i in order.items],
        "netoss": {
            "job": order.job_id,
            "ticket": f"TT-{order.ticket_id:06d}" if order.ticket_id else None,
            "stateChange": order.state_changes,
            "reason": order.state_reason,
        },
    }
