"""The service JSON API under /api/v1: the catalog, the choices of a characteristic (the order
form's dependent selects), and the progress the ``service-order`` job reports. Same
authentication, CSRF rules and audit as the rest of /api/v1."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from netoss.domain.provisioning import catalog, orders
from netoss.domain.provisioning.catalog import ServiceError
from netoss.web.api import _body
from netoss.web.security import audit, require_csrf_unless_token, require_role
from netoss.web.services import service_error

bp = Blueprint("services_api", __name__)
bp.register_error_handler(ServiceError, service_error)


@bp.before_request
def _csrf():
    require_csrf_unless_token()


@bp.get("/v1/service-catalog")
@require_role("viewer")
def service_catalog():
    return jsonify(catalog.to_json(catalog.load()))


@bp.get("/v1/service-catalog/<service>/choices/<characteristic>")
@require_role("viewer")
def characteristic_choices(service: str, characteristic: str):
    """The values NetBox offers for a characteristic; the values chosen so far (the device of an
    interface) are query arguments."""
    chosen = {k: v for k, v in request.args.items() if v and len(k) <= 63 and len(v) <= 100}
    return jsonify(catalog.choices(service, characteristic, chosen))


@bp.post("/v1/service-orders/<int(max=2147483647):order_id>/progress")
@require_role("operator")
def order_progress(order_id: int):
    """A step of the order's job: its state, and the items' states, service IDs and resources.
    Only that job, while it runs, may report: its run's token in the X-Netoss-Job-Token header."""
    data = _body("ServiceOrderProgress")
    target = f"service order {order_id}"
    try:
        order = orders.progress(order_id, data, request.headers.get(orders.JOB_TOKEN_HEADER))
    except ServiceError as exc:
        audit("service_order.progress", target=target, outcome="refused", detail={"reason": str(exc)[:500]})
        raise
    audit("service_order.progress", target=target, detail={"state": order.state, "step": data.get("step")})
    return jsonify(orders.order_json(order))
