"""Service pages: the orders (list, the order form, an order's page with its history and job),
and the service inventory (NetBox circuits as services, with their health). The TMF641 API and
these pages submit and cancel orders through the same two functions, audited."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, request, url_for

from netoss.data.db import db
from netoss.data.models import ORDER_STATES, ServiceOrder
from netoss.domain.jobs import queue
from netoss.domain.provisioning import catalog, inventory, orders
from netoss.domain.provisioning.catalog import ServiceError
from netoss.domain.provisioning.schema import ACTIONS, SERVICE_STATES
from netoss.web.paging import Pager, page_args
from netoss.web.security import audit, current_user, require_role, wants_json
from netoss.web.services.forms import SERVICE_FIELD, form_order, problems_by_field

bp = Blueprint("services", __name__)


def service_error(exc: ServiceError):
    """A ServiceError as the answer: JSON with its problems to API clients, else the error page."""
    if wants_json():
        body = {"error": str(exc), "status": exc.status, **({"problems": exc.problems} if exc.problems else {})}
        return jsonify(body), exc.status
    return render_template("error.html", status=exc.status, message=str(exc)), exc.status


bp.register_error_handler(ServiceError, service_error)


def submit_order(data) -> ServiceOrder:
    """Submit an order as the signed-in user, audited whether it is taken or refused."""
    external = data.get("externalId") if isinstance(data, dict) else None
    try:
        order = orders.submit(current_user(), data, queue.enqueuer(current_app._get_current_object()))
    except ServiceError as exc:
        detail = {"status": exc.status, "reason": str(exc)[:500], "problems": exc.problems[:20]}
        audit("service_order.submit", target=str(external)[:255] if external else None, outcome="refused",
              detail=detail)  # fmt: skip
        raise
    audit("service_order.submit", target=f"service order {order.id}", detail={"job": order.job_id,
          "externalId": order.external_id})  # fmt: skip
    return order


def cancel_order(order_id: int, reason: str | None) -> ServiceOrder:
    """Cancel an order as the signed-in user (ServiceError 409 when it cannot be), audited."""
    try:
        order = orders.cancel(order_id, reason, current_user())
    except ServiceError as exc:
        audit("service_order.cancel", target=f"service order {order_id}", outcome="refused",
              detail={"reason": str(exc)})  # fmt: skip
        raise
    audit("service_order.cancel", target=f"service order {order.id}", detail={"job": order.job_id})
    return order


# -- orders ------------------------------------------------------------------------------------


@bp.get("/orders")
@require_role("viewer")
def order_list():
    state = request.args.get("state") or None
    offset, limit = page_args()
    total, found = orders.page_orders(state, None, offset, limit)
    return render_template(
        "services/orders.html",
        orders=found,
        state=state,
        states=ORDER_STATES,
        user=current_user(),
        pager=Pager(total, offset, limit),
    )


def _order_page(order: ServiceOrder, problem: str | None = None, status: int = 200):
    job = orders.job_of(order)
    return render_template(
        "services/order.html",
        order=order,
        job=job,
        not_cancellable=orders.cancellable(order, job),
        problem=problem,
        user=current_user(),
    ), status


@bp.get("/orders/<int(max=2147483647):order_id>")
@require_role("viewer")
def order_page(order_id: int):
    return _order_page(orders.get(order_id))


@bp.post("/orders/<int(max=2147483647):order_id>/cancel")
@require_role("operator")
def order_cancel(order_id: int):
    try:
        cancel_order(order_id, request.form.get("reason", "").strip()[:500] or None)
    except ServiceError as exc:
        if exc.status != 409:
            raise
        return _order_page(orders.get(order_id), str(exc), 409)
    return redirect(url_for("services.order_page", order_id=order_id))


def _netbox_for_form(spec, action: str, form) -> dict:
    """What the form offers from NetBox: the choices of each characteristic (interfaces once
    their device is chosen), the existing services of this kind (modify, delete) and the
    current values of the one chosen (modify). NetBox away: the form still shows, and says so."""
    out = {"choices": {}, "existing": [], "current": {}, "problem": None}
    chosen = {c.name: form.get(c.name, "").strip() for c in spec.characteristics if form.get(c.name, "").strip()}
    try:
        netbox = catalog.view()
        for c in spec.characteristics:
            if c.type in catalog.CHOICE_TYPES and (c.type != "interface" or chosen.get(c.device)):
                out["choices"][c.name] = catalog.choices(spec.name, c.name, chosen, netbox)
        if action != "add":
            with catalog.reading_netbox("the services"):
                mine = catalog.logic().page_services(netbox, service=spec.name)[1]
            out["existing"] = [s for s in mine if s.get("status") != "decommissioned"]
            picked = next((s for s in out["existing"] if s["id"] == form.get(SERVICE_FIELD)), None)
            out["current"] = (picked or {}).get("values") or {}
    except ServiceError as exc:
        out["problem"] = str(exc)
    return out


@bp.route("/orders/new", methods=["GET", "POST"])
@require_role("operator")
def order_new():
    """Choose a service and an action, then fill in its characteristics; checked on the server
    as an API order is, each problem shown next to its field."""
    form = request.form if request.method == "POST" else request.args
    services = catalog.load()
    action = form.get("action") or "add"
    if action not in ACTIONS:
        abort(400, f"action must be one of {', '.join(ACTIONS)}")
    spec = services.get(form.get("service", ""))
    fields, others, status = {}, [], 200
    if spec is not None and request.method == "POST":
        try:
            order = submit_order(form_order(spec, action, form))
        except ServiceError as exc:
            names = {c.name for c in spec.characteristics}
            fields, others = problems_by_field(exc.problems or [str(exc)], names)
            status = exc.status
        else:
            return redirect(url_for("services.order_page", order_id=order.id))
    return render_template(
        "services/new_order.html",
        services=services,
        spec=spec,
        action=action,
        form=form,
        netbox=_netbox_for_form(spec, action, form) if spec else None,
        fields=fields,
        others=others,
        service_field=SERVICE_FIELD,
    ), status


# -- the service inventory ---------------------------------------------------------------------


@bp.get("/services")
@require_role("viewer")
def service_list():
    args = request.args
    state = args.get("state") or None
    if state and state not in SERVICE_STATES:
        abort(400, f"state must be one of {', '.join(SERVICE_STATES)}")
    offset, limit = page_args()
    total, found = inventory.page(
        state, args.get("customer") or None, args.get("service") or None, offset=offset, limit=limit
    )
    rows = [(s, {c["name"]: c["value"] for c in s["serviceCharacteristic"]}) for s in found]
    return render_template(
        "services/services.html",
        rows=rows,
        filters=args,
        states=SERVICE_STATES,
        catalog=sorted(catalog.load()),
        pager=Pager(total, offset, limit),
    )


@bp.get("/services/<cid>")
@require_role("viewer")
def service_page(cid: str):
    if len(cid) > 100:
        abort(400, "a service ID (circuit ID) has 100 characters at most")
    service = inventory.service(cid) or abort(404, f"no service {cid}")
    order_id = str(service["netoss"]["order"] or "")
    order = db.session.get(ServiceOrder, int(order_id)) if order_id.isdigit() and len(order_id) <= 9 else None
    from netoss.domain.assurance import graphs
    from netoss.web.assurance import drawn, range_arg

    values = {c["name"]: c["value"] for c in service["serviceCharacteristic"]}
    range_name = range_arg()
    objectives = service["netoss"]["sla"].get("objectives") or {}
    charts, problem = drawn(
        graphs.service_graphs(cid, values.get("pe"), values.get("pe_interface"), objectives), range_name
    )
    return render_template(
        "services/service.html",
        s=service,
        order=order,
        charts=charts,
        problem=problem,
        range_name=range_name,
        ranges=graphs.RANGES,
    )
