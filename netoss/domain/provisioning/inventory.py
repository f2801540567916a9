"""The service inventory (TMF638): NetBox circuits as services, as the shared order logic
describes them, with their live health from the portal's open alarms and tickets.

The mappings are pure functions: a NetBox circuit status to a TMF638 state
(:func:`tmf_state`), the open alarms that affect a service to its health (:func:`health`), and
a described service to its TMF638 JSON (:func:`service_json`). :func:`faults` reads the open
alarms and tickets once, indexed by circuit ID, for one service or a whole list.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import select

from netoss.data import context
from netoss.data.db import db
from netoss.data.models import TICKET_OPEN, Alarm, Ticket
from netoss.data.prometheus import Prometheus, PrometheusError
from netoss.domain.assurance import sla
from netoss.domain.provisioning import catalog
from netoss.domain.provisioning.catalog import reading_netbox
from netoss.domain.provisioning.orders import SERVICE_PATH

log = logging.getLogger(__name__)

# NetBox circuit status -> TMF638 service state.
STATES = {
    "planned": "designed",
    "provisioning": "reserved",
    "active": "active",
    "offline": "inactive",
    "deprovisioning": "inactive",
    "decommissioned": "terminated",
}
DOWN = ("critical", "major")  # an open alarm this severe takes the service down
RESOURCE_TYPES = {
    "dcim.device": "Device",
    "dcim.interface": "Interface",
    "ipam.prefix": "Prefix",
    "ipam.ipaddress": "IpAddress",
    "circuits.circuit": "Circuit",
}


def tmf_state(status: str | None) -> str:
    """The TMF638 state of a circuit status (a status NetBox may add later: inactive)."""
    return STATES.get(status or "", "inactive")


def health(severities) -> str:
    """ok without an open alarm; down with a critical or major one; else degraded."""
    severities = list(severities)
    if any(s in DOWN for s in severities):
        return "down"
    return "degraded" if severities else "ok"


@dataclass
class Faults:
    """Open alarms and tickets by the circuit IDs they affect, and the services' SLA levels."""

    alarms: dict[str, list[dict]] = field(default_factory=dict)
    tickets: dict[str, list[dict]] = field(default_factory=dict)
    levels: dict[str, sla.Level] = field(default_factory=dict)
    sla_problem: str | None = None  # why no level is known (no Prometheus, or it failed)


def sla_levels(out: Faults) -> None:
    """The services' SLA levels from Prometheus (service assurance), into ``out``; when it
    cannot be read, every level is unknown and ``sla_problem`` says why."""
    prom = Prometheus.from_config(context.config())
    if prom is None:
        out.sla_problem = "the portal has no Prometheus (PROMETHEUS_URL)"
        return
    prom.timeout = 3.0  # a page waits this much at most for the SLA states
    try:
        out.levels = sla.read(prom)
    except PrometheusError as exc:
        log.warning("SLA states unknown: %s", exc)
        out.sla_problem = str(exc)


def faults() -> Faults:
    """The open alarms (by their affectedService) and open tickets (by their related Service
    entities) of every service: what is open is a short list, read once."""
    out = Faults()
    alarms = select(Alarm.id, Alarm.severity, Alarm.specific_problem, Alarm.affected_services).where(
        Alarm.active_key.is_not(None), Alarm.service_affecting.is_(True)
    )  # the columns it shows, not whole rows: thousands may be open
    for alarm_id, severity, problem, affected in db.session.execute(alarms.order_by(Alarm.id)):
        entry = {"id": str(alarm_id), "severity": severity, "specificProblem": problem}
        for s in affected or []:
            out.alarms.setdefault(str(s.get("name")), []).append(entry)
    tickets = select(Ticket.id, Ticket.name, Ticket.status, Ticket.related).where(Ticket.status.in_(TICKET_OPEN))
    for ticket_id, name, status, related in db.session.execute(tickets.order_by(Ticket.id)):
        entry = {"id": f"TT-{ticket_id:06d}", "name": name, "status": status}
        for cid in {str(r.get("name")) for r in related or [] if r.get("@referredType") == "Service"}:
            out.tickets.setdefault(cid, []).append(entry)
    sla_levels(out)
    return out


def _resource(r: dict) -> dict:
    return {
        "id": str(r["id"]),
        "name": r.get("name"),
        "@referredType": RESOURCE_TYPES.get(r.get("type"), r.get("type")),
        "href": r.get("url"),
    }


def service_json(service: dict, found: Faults) -> dict:
    """The TMF638 Service of a described circuit (service_inventory.describe); what TMF638 has no
    field for (health, the open alarms and tickets, the order that made it) is under ``netoss``."""
    cid = service["id"]
    alarms = found.alarms.get(cid, [])
    out = {
        "id": cid,
        "href": f"{SERVICE_PATH}/{cid}",
        "@type": "Service",
        "name": cid,
        "description": service.get("description") or "",
        "state": tmf_state(service.get("status")),
        "serviceCharacteristic": [{"name": k, "value": v} for k, v in (service.get("values") or {}).items()],
        "supportingResource": [_resource(r) for r in service.get("resources") or []],
        "relatedParty": [{"role": "customer", "name": service["customer"], "@referredType": "Organization"}]
        if service.get("customer")
        else [],
        "place": [{"role": "site", "name": service["site"]}] if service.get("site") else [],
        "netoss": {
            "status": service.get("status"),
            "health": health(a["severity"] for a in alarms),
            "alarms": alarms,
            "tickets": found.tickets.get(cid, []),
            # Service assurance: met, at-risk, violated or unknown, with the measures and objectives.
            "sla": found.levels[cid].to_json()
            if cid in found.levels
            else {"state": "unknown", **({"reason": found.sla_problem} if found.sla_problem else {})},
            "order": service.get("order"),
        },
    }
    if service.get("service"):
        out["serviceSpecification"] = {"name": service["service"]}
    return out


def circuit_filters(state: str | None) -> dict | None:
    """NetBox's circuit filter for the TMF638 ``state`` ({} for any; None when no circuit
    status maps to it, so nothing matches)."""
    if not state:
        return {}
    if state == "inactive":  # and any status NetBox may add later (tmf_state)
        return {"status__n": sorted(s for s, v in STATES.items() if v != "inactive")}
    statuses = sorted(s for s, v in STATES.items() if v == state)
    return {"status": statuses} if statuses else None


def page(
    state: str | None = None,
    customer: str | None = None,
    specification: str | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> tuple[int, list[dict]]:
    """(how many services match, the TMF638 JSON of ``limit`` of them from ``offset``): NetBox
    filters and pages the circuits, the rest is read in bulk for the page."""
    filters = circuit_filters(state)
    if filters is None:
        return 0, []
    with reading_netbox("the service inventory"):
        total, described = catalog.logic().page_services(
            catalog.view(), offset, limit, filters=filters, customer=customer, service=specification
        )
    found = faults()
    return total, [service_json(s, found) for s in described]


def services(state: str | None = None, customer: str | None = None, specification: str | None = None) -> list[dict]:
    """Every service NetBox has (TMF638 JSON), with the filters given."""
    return page(state, customer, specification)[1]


def service(cid: str) -> dict | None:
    """One service (TMF638 JSON), None when NetBox has no circuit ``cid``."""
    with reading_netbox(f"service {cid}"):
        described = catalog.logic().describe(catalog.view(), cid)
    return service_json(described, faults()) if described else None
