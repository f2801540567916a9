"""Changes people make to tickets (through the TMF621 API or the ticket page): one place for
the rules of the life cycle, assignment and notes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from netoss.data.db import db
from netoss.data.models import TICKET_OPEN, Ticket, TicketNote, TicketStatusChange, User

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
