"""TM Forum service APIs on the tmf blueprint: service orders (TMF641 v4) and the service
inventory (TMF638 v4), the subsets netoss implements; described in /api/openapi.json.

An order is checked (shape, then the catalog's rules and NetBox) before anything is stored: a
problem is a 400 that lists them all. A good order is stored acknowledged and runs as a
``service-order`` job; its state follows the job (``netoss.stateChange``).
"""

from __future__ import annotations

from flask import abort, jsonify, request

from netoss.data.models import iso
from netoss.domain.provisioning import inventory, orders
from netoss.domain.provisioning.catalog import ServiceError
from netoss.domain.provisioning.schema import SERVICE_STATES
from netoss.web.api import _body, _int_arg
from netoss.web.security import require_role
from netoss.web.services import cancel_order, service_error, submit_order
from netoss.web.tmf import bp

bp.register_error_handler(ServiceError, service_error)


@bp.post("/serviceOrdering/v4/serviceOrder")
@require_role("operator")
def create_service_order():
    order = submit_order(request.get_json(silent=True))
    return jsonify(orders.order_json(order)), 201


@bp.get("/serviceOrdering/v4/serviceOrder")
@require_role("viewer")
def list_service_orders():
    found = orders.list_orders(
        request.args.get("state"),
        request.args.get("externalId"),
        _int_arg("offset", 0, 0, 10_000_000),
        _int_arg("limit", 100, 1, 1000),
    )
    return jsonify([orders.order_json(o) for o in found])


@bp.get("/serviceOrdering/v4/serviceOrder/<int(max=2147483647):order_id>")
@require_role("viewer")
def get_service_order(order_id: int):
    return jsonify(orders.order_json(orders.get(order_id)))


@bp.post("/serviceOrdering/v4/cancelServiceOrder")
@require_role("operator")
def cancel_service_order():
    """Cancel an order that is acknowledged and whose job has not started (else 409)."""
    data = _body("ServiceOrderCancel")
    reason = data.get("cancellationReason")
    order = cancel_order(int(data["serviceOrder"]["id"]), reason)
    return jsonify(
        {
            "@type": "CancelServiceOrder",
            "state": "done",
            "cancellationReason": reason,
            "effectiveCancellationDate": iso(order.completed_at),
            "serviceOrder": {"id": str(order.id), "href": f"{orders.ORDER_PATH}/{order.id}"},
            "netoss": {"serviceOrder": orders.order_json(order)},
        }
    ), 201


@bp.get("/serviceInventory/v4/service")
@require_role("viewer")
def list_services():
    state = request.args.get("state")
    if state and state not in SERVICE_STATES:
        abort(400, f"state must be one of {', '.join(SERVICE_STATES)}")
    offset, limit = _int_arg("offset", 0, 0, 10_000_000), _int_arg("limit", 100, 1, 1000)
    customer, specification = request.args.get("relatedParty.name"), request.args.get("serviceSpecification.name")
    return jsonify(inventory.services(state, customer, specification)[offset : offset + limit])


@bp.get("/serviceInventory/v4/service/<cid>")
@require_role("viewer")
def get_service(cid: str):
    if len(cid) > 100:
        abort(400, "a service ID (circuit ID) has 100 characters at most")
    return jsonify(inventory.service(cid) or abort(404, f"no service {cid}"))
