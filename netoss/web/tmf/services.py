"""TM Forum service APIs on the tmf blueprint: service orders (TMF641 v4) and the service
inventory (TMF638 v4), the subsets netoss implements; described in /api/openapi.json.

An order is checked (shape, then the catalog's rules and NetBox) before anything is stored: a
problem is a 400 that lists them all. A good order is stored acknowledged and runs as a
``service-order`` job; its state follows the job (``netoss.stateChange``).
"""

from __future__ import annotations

from flask import abort, jsonify, request

from netoss.data.models import ORDER_STATES, iso
from netoss.domain.provisioning import inventory, orders
from netoss.domain.provisioning.catalog import ServiceError
from netoss.domain.provisioning.schema import SERVICE_STATES
from netoss.web.apidoc import Choice, Text, body, fails, many, query, responds
from netoss.web.paging import listed
from netoss.web.security import require_role
from netoss.web.services import cancel_order, service_error, submit_order
from netoss.web.tmf import LIMIT, OFFSET, bp

bp.register_error_handler(ServiceError, service_error)


@bp.post("/serviceOrdering/v4/serviceOrder")
@require_role("operator")
@body("ServiceOrderCreate", check=False)  # the domain checks it (submit_order): the collection's schema, then NetBox
@responds(201, "ServiceOrder")
@responds(400, "OrderProblems", description="Invalid: nothing stored; each problem names the item and field")
@fails(s503="NetBox or the job queue is unavailable")
def create_service_order():
    """Order services (TMF641), checked against the catalog and NetBox before anything is stored

    Then acknowledged and run as a service-order job."""
    order = submit_order(request.get_json(silent=True))
    return jsonify(orders.order_json(order)), 201


@bp.get("/serviceOrdering/v4/serviceOrder")
@require_role("viewer")
@query(state=Text(enum=ORDER_STATES), externalId=Text(), offset=OFFSET, limit=LIMIT)  # orders.list_orders checks
@responds(200, many("ServiceOrder"), description="A page of the orders that match", total=True)
def list_service_orders(args):
    """Service orders, newest first (TMF641); X-Total-Count says how many match"""
    total, found = orders.page_orders(args["state"], args["externalId"], args["offset"], args["limit"])
    return listed([orders.order_json(o) for o in found], total)


@bp.get("/serviceOrdering/v4/serviceOrder/<int(max=2147483647):order_id>")
@require_role("viewer")
@responds(200, "ServiceOrder")
@fails(s404="No such order")
def get_service_order(order_id: int):
    """A service order (TMF641), with its items, job, ticket and state history"""
    return jsonify(orders.order_json(orders.get(order_id)))


@bp.post("/serviceOrdering/v4/cancelServiceOrder")
@require_role("operator")
@body("ServiceOrderCancel")
@responds(201, "CancelServiceOrder")
@fails(s404="No such order", s409="Too late: says the state")
def cancel_service_order(data):
    """Cancel a service order while it is acknowledged and its job has not started"""
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
@query(
    state=Choice(SERVICE_STATES),
    relatedParty__name=Text(),
    serviceSpecification__name=Text(),
    offset=OFFSET,
    limit=LIMIT,
)
@responds(200, many("Service"), description="A page of the services that match", total=True)
@fails(s503="NetBox is unavailable")
def list_services(args):
    """Services (TMF638): NetBox circuits with their state, resources and health

    NetBox filters and pages the circuits; X-Total-Count says how many match."""
    total, found = inventory.page(
        args["state"], args["relatedParty.name"], args["serviceSpecification.name"], args["offset"], args["limit"]
    )
    return listed(found, total)


@bp.get("/serviceInventory/v4/service/<cid>")
@require_role("viewer")
@responds(200, "Service")
@fails(s404="No such service", s503="NetBox is unavailable")
def get_service(cid: str):
    """A service (TMF638) by its circuit ID"""
    if len(cid) > 100:
        abort(400, "a service ID (circuit ID) has 100 characters at most")
    return jsonify(inventory.service(cid) or abort(404, f"no service {cid}"))
