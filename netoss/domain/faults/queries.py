"""The alarm and ticket lists as SQL: the filters a user has (in the TMF642 and TMF621 APIs and
on the pages) become WHERE clauses, the order an index's (migration e1f2a3b4c5d6), so that the
database filters, counts and pages a list of 100,000 alarms; :func:`netoss.data.paging.page`
takes the page."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, or_, select

from netoss.data.models import TICKET_OPEN, Alarm, Ticket
from netoss.data.paging import contains


@dataclass(frozen=True)
class AlarmFilter:
    """Each field narrows the list when given: ``state`` is active (raised, not cleared) or an
    alarm state; ``text`` is in the problem or the alarmed object."""

    state: str | None = None
    severity: str | None = None
    ack_state: str | None = None
    device: str | None = None
    alarm_type: str | None = None
    root_cause: bool | None = None
    ticket_id: int | None = None
    text: str | None = None


def alarms(f: AlarmFilter) -> Select:
    """The alarms ``f`` selects, newest first."""
    found = select(Alarm).order_by(Alarm.id.desc())
    if f.state:
        found = found.where(Alarm.active_key.is_not(None) if f.state == "active" else Alarm.state == f.state)
    for value, column in (
        (f.severity, Alarm.severity),
        (f.ack_state, Alarm.ack_state),
        (f.device, Alarm.device),
        (f.alarm_type, Alarm.alarm_type),
        (f.ticket_id, Alarm.ticket_id),
    ):
        if value is not None:
            found = found.where(column == value)
    if f.root_cause is not None:
        found = found.where(Alarm.is_root_cause.is_(f.root_cause))
    if f.text:
        found = found.where(or_(contains(Alarm.specific_problem, f.text), contains(Alarm.object_name, f.text)))
    return found


@dataclass(frozen=True)
class TicketFilter:
    """Each field narrows the list when given: ``status`` is open (any open status) or a ticket
    status; ``text`` is in the ticket's name."""

    status: str | None = None
    severity: str | None = None
    assignee: str | None = None
    device: str | None = None
    ticket_type: str | None = None
    text: str | None = None


def tickets(f: TicketFilter) -> Select:
    """The tickets ``f`` selects, the last changed first."""
    found = select(Ticket).order_by(Ticket.updated_at.desc(), Ticket.id.desc())
    if f.status:
        found = found.where(Ticket.status.in_(TICKET_OPEN if f.status == "open" else (f.status,)))
    for value, column in (
        (f.severity, Ticket.severity),
        (f.assignee, Ticket.assignee),
        (f.device, Ticket.device),
        (f.ticket_type, Ticket.ticket_type),
    ):
        if value is not None:
            found = found.where(column == value)
    if f.text:
        found = found.where(contains(Ticket.name, f.text))
    return found
