"""Tickets netoss opens for a reason of its own, outside the fault pipeline: a failed service
order, a failed GitOps deployment. Opened the way tickets opened by hand are (SLA from the
fault settings, audit, notifications), as netoss's own user; in a worker (no request) the
notifications are sent before it goes on."""

from __future__ import annotations

from collections.abc import Callable

from netoss.data import context
from netoss.data.models import Ticket
from netoss.domain.faults import tickets
from netoss.domain.faults.processor import SYSTEM, Settings


def open_incident(data: dict, related: list[dict], reason: str, link: Callable[[Ticket], None] | None = None) -> Ticket:
    """Open (and commit) a TMF621 ticket: ``data`` a checked TicketCreate, ``related`` its
    relatedEntity, ``reason`` why netoss opened it; ``link`` as tickets.open_ticket's (what is
    committed with the ticket)."""
    ticket = tickets.open_ticket(
        SYSTEM, data, related, sla_hours=Settings.from_config(context.config()).sla_hours, reason=reason, link=link
    )
    outbound = context.extensions().get(tickets.OUTBOUND)
    if not context.in_request() and outbound is not None:
        outbound.drain(10)
    return ticket
