"""The service JSON API under /api/v1: the catalog, the choices of a characteristic (the order
form's dependent selects), and the progress the ``service-order`` job reports. Same
authentication, CSRF rules and audit as the rest of /api/v1."""

from __future__ import annotations

from flask import jsonify, request
from flask_smorest import Blueprint

from netoss.domain.provisioning import catalog, orders
from netoss.domain.provisioning.catalog import ServiceError
from netoss.web.apidoc import body, fails, header, many, responds
from netoss.web.security import audit, require_csrf_unless_token, require_role
from netoss.web.services import service_error

bp = Blueprint("services_api", __name__, description="The service catalog and the progress of service orders")
bp.register_error_handler(ServiceError, service_error)


@bp.before_request
def _csrf():
    require_csrf_unless_token()


@bp.get("/v1/service-catalog")
@require_role("viewer")
@responds(200, many("CatalogService"))
def service_catalog():
    """The service catalog: each service with its characteristics"""
    return jsonify(catalog.to_json(catalog.load()))


@bp.get("/v1/service-catalog/<service>/choices/<characteristic>")
@require_role("viewer")
@responds(200, {"type": "array", "items": {"type": "string"}})
@fails(s404="No such service or characteristic", s503="NetBox is unavailable")
def characteristic_choices(service: str, characteristic: str):
    """The values NetBox offers for a characteristic; the values chosen so far as query arguments

    Devices of its role, free interfaces of the chosen device, customers; the values chosen so
    far (the device of an interface) are query arguments."""
    chosen = {k: v for k, v in request.args.items() if v and len(k) <= 63 and len(v) <= 100}
    return jsonify(catalog.choices(service, characteristic, chosen))


@bp.post("/v1/service-orders/<int(max=2147483647):order_id>/progress")
@require_role("operator")
@body("ServiceOrderProgress")
@header(orders.JOB_TOKEN_HEADER, {"type": "string"}, required=True)
@responds(200, "ServiceOrder")
@fails(s404="No such order", s409="The order already ended")
def order_progress(data, order_id: int):
    """Report a service order's progress (the service-order job); a failed or partial order opens a ticket

    A step of the order's job: its state and step, the items' states, service IDs and
    resources. Only the order's own job may, while it runs: its run's token (NETOSS_JOB_TOKEN)
    in the X-Netoss-Job-Token header."""
    target = f"service order {order_id}"
    try:
        order = orders.progress(order_id, data, request.headers.get(orders.JOB_TOKEN_HEADER))
    except ServiceError as exc:
        audit("service_order.progress", target=target, outcome="refused", detail={"reason": str(exc)[:500]})
        raise
    audit("service_order.progress", target=target, detail={"state": order.state, "step": data.get("step")})
    return jsonify(orders.order_json(order))
