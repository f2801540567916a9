"""Tickets opened by hand (a person through the TMF621 API or the ticket page, or netoss for a
reason of its own, such as a failed service order), and the changes people make to them: one
place for the rules of the life cycle, assignment and notes, and for their notifications."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import select

from netoss.data import audit, context
from netoss.data.db import db
from netoss.data.models import TICKET_OPEN, Ticket, TicketNote, TicketStatusChange, User, utcnow
from netoss.domain.faults.outbound import Outbound

PRIORITY = {"critical": 1, "major": 2, "minor": 3, "warning": 4, "indeterminate": 4}
# Ticket status changes a person may make (TMF621's life cycle; resolved tickets reopen).
TRANSITIONS = {
    "acknowledged": {"inProgress", "pending", "held", "resolved", "cancelled", "rejected"},
    "inProgress": {"pending", "held", "resolved", "cancelled"},
    "pending": {"inProgress", "held", "resolved", "cancelled"},
    "held": {"inProgress", "pending", "resolved", "cancelled"},
    "resolved": {"closed", "inProgress"},
    "closed": set(),
    "cancelled": set(),
    "rejected": set(),
}


# The key of this process's notifier in its app's extensions (one per process, started once).
OUTBOUND = "netoss_outbound"


class TicketError(ValueError):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def update(ticket: Ticket, user: User, data: dict, now: dt.datetime) -> str | None:
    """Apply ``data`` (status + statusChangeReason, assignee, severity, note: [{text}]) as
    ``user``; return the kind of notification it makes (None: none). TicketError says why not."""
    kind = None
    if "status" in data and data["status"] != ticket.status:
        if data["status"] not in TRANSITIONS[ticket.status]:
            allowed = ", ".join(sorted(TRANSITIONS[ticket.status])) or "none (it is final)"
            raise TicketError(409, f"{ticket.ref} is {ticket.status}: it can become {allowed}, not {data['status']}")
        reason = (data.get("statusChangeReason") or "").strip()
        if not reason:
            raise TicketError(400, "statusChangeReason: say why the status changes")
        ticket.status, ticket.status_reason = data["status"], reason[:500]
        if data["status"] == "resolved":
            ticket.resolved_at = now
        elif ticket.resolved_at and data["status"] in TICKET_OPEN:
            ticket.resolved_at = None
            ticket.reopen_count += 1
        db.session.add(TicketStatusChange(ticket_id=ticket.id, at=now, status=data["status"], reason=reason[:500],
                                          actor=user.username))  # fmt: skip
        kind = {"resolved": "resolved", "closed": "closed"}.get(data["status"], "updated")
    if "assignee" in data:
        assignee = (data["assignee"] or "").strip() or None
        if assignee and not db.session.scalar(select(User).where(User.username == assignee, User.active.is_(True))):
            raise TicketError(400, f"assignee: no active user {assignee!r}")
        if assignee != ticket.assignee:
            ticket.assignee = assignee
            kind = kind or "assigned"
    if "severity" in data and data["severity"] != ticket.severity:
        ticket.severity = data["severity"]
        ticket.priority = PRIORITY[data["severity"]]
    for n in data.get("note", []):
        text = (n.get("text") or "").strip()
        if text:
            db.session.add(TicketNote(ticket_id=ticket.id, at=now, author=user.username, text=text[:4000]))
    ticket.updated_at = now
    return kind


def open_ticket(
    creator: str,
    data: dict,
    related: list[dict],
    *,
    sla_hours: dict,
    reason: str = "opened by hand",
    link: Callable[[Ticket], None] | None = None,
) -> Ticket:
    """Record a ticket opened by ``creator`` (a user name, or netoss's own): ``data`` is a checked
    TMF621 TicketCreate (name, description, severity, priority, ticketType, note), ``related`` its
    relatedEntity; the expected resolution is ``sla_hours`` of its severity (72 h if none). The
    ticket is committed, audited (``ticket.create``) and notified (``opened``). ``link(ticket)``, if
    given, is called before the commit, so what it records (the object the ticket is about, its
    end) is committed with the ticket, in one step for whoever watches."""
    now = utcnow()
    severity = data.get("severity", "minor")
    ticket = Ticket(
        name=data["name"],
        description=data.get("description", ""),
        severity=severity,
        priority=int(data.get("priority") or PRIORITY[severity]),
        ticket_type=data.get("ticketType", "complaint"),
        status="acknowledged",
        status_reason=reason,
        created_at=now,
        updated_at=now,
        expected_resolution_at=now + dt.timedelta(hours=float(sla_hours.get(severity, 72))),
        created_by=creator,
        device=next((r["name"] for r in related if r["@referredType"] == "Device"), None),
        related=related,
    )
    db.session.add(ticket)
    db.session.flush()
    db.session.add(TicketStatusChange(ticket_id=ticket.id, at=now, status="acknowledged", reason=reason, actor=creator))
    for n in data.get("note", []):
        db.session.add(TicketNote(ticket_id=ticket.id, at=now, author=creator, text=n["text"]))
    if link is not None:
        link(ticket)
    db.session.commit()
    audit.record("ticket.create", target=ticket.ref)
    notify("opened", ticket)
    return ticket


def notify(kind: str, ticket: Ticket) -> None:
    """Ticket events made by people go out the way the processor's do, through this process's
    one notifier (started on first use)."""
    extensions = context.extensions()
    outbound = extensions.get(OUTBOUND)
    if outbound is None:
        outbound = Outbound(dict(context.config()))
        outbound.start()
        extensions[OUTBOUND] = outbound
    outbound(kind, ticket, {})
