"""TM Forum Open APIs: alarms (TMF642 v4) and trouble tickets (TMF621 v4), the subset netoss
implements; described in /api/openapi.json. Same authentication, roles, CSRF and audit as
/api/v1.

Alarm state belongs to the fault processor: raising or clearing an alarm through this API
queues an event for it (as every other source does) and waits up to a few seconds for the
result (201 with the alarm, or 202 when the processor has not answered yet).
"""

from __future__ import annotations

import time

from flask import abort, current_app, jsonify
from flask_smorest import Blueprint
from sqlalchemy import select

from netoss.data.db import db
from netoss.data.models import (
    ALARM_STATES,
    TICKET_STATES,
    Alarm,
    AlarmEvent,
    Ticket,
    TicketNote,
    TicketStatusChange,
    iso,
    utcnow,
)
from netoss.data.netbox import NetBox
from netoss.data.paging import page
from netoss.domain.faults import queries
from netoss.domain.faults.events import ALARM_TYPES, SEVERITIES
from netoss.domain.faults.processor import Settings
from netoss.domain.faults.tickets import notify, open_ticket
from netoss.domain.faults.tmf import ALARM_PATH, TICKET_PATH, alarm_json, parse_ticket_id, ticket_json
from netoss.web.apidoc import Choice, Int, Text, body, fails, many, query, responds
from netoss.web.paging import listed
from netoss.web.security import audit, current_user, require_csrf_unless_token, require_role

bp = Blueprint("tmf", __name__, description="TM Forum Open APIs (v4): TMF642, TMF621, TMF641, TMF638")
LIMIT, OFFSET = Int(1, 1000, 100), Int(0, 10_000_000, 0)
ACK_STATES = ("acknowledged", "unacknowledged")


@bp.before_request
def _csrf():
    require_csrf_unless_token()


# -- alarms ---------------------------------------------------------------------------------


def _alarm_out(alarm: Alarm) -> dict:
    return _alarms_out([alarm])[0]


def _alarms_out(alarms: list[Alarm]) -> list[dict]:
    """The TMF642 JSON of ``alarms``, their children and comments read in two queries."""
    ids = [a.id for a in alarms]
    children: dict[int, list[int]] = {}
    comments: dict[int, list[dict]] = {}
    if ids:
        for parent, child in db.session.execute(
            select(Alarm.parent_id, Alarm.id).where(Alarm.parent_id.in_(ids)).order_by(Alarm.id)
        ):
            children.setdefault(parent, []).append(child)
        for e in db.session.scalars(
            select(AlarmEvent)
            .where(AlarmEvent.alarm_id.in_(ids), AlarmEvent.action == "comment")
            .order_by(AlarmEvent.id)
        ):
            comments.setdefault(e.alarm_id, []).append(
                {"comment": e.text, "userId": e.actor, "time": iso(e.received_at), "systemId": "netoss"}
            )
    return [alarm_json(a, children.get(a.id, []), comments.get(a.id, [])) for a in alarms]


@bp.get("/alarmManagement/v4/alarm")
@require_role("viewer")
@query(
    state=Choice(("active", *ALARM_STATES)),
    perceivedSeverity=Choice(SEVERITIES),
    ackState=Choice(ACK_STATES),
    device=Text(),
    alarmType=Choice(ALARM_TYPES),
    isRootCause=Choice(("true", "false")),
    ticket=Text(),
    q=Text(max_length=100),
    offset=OFFSET,
    limit=LIMIT,
)
@responds(200, many("Alarm"), description="A page of the alarms that match", total=True)
def list_alarms(args):
    """Alarms, newest first (TMF642)

    The database filters and pages them; X-Total-Count says how many match. q: text in the
    specific problem or the alarmed object."""
    ticket_id = None
    if args["ticket"]:
        ticket_id = parse_ticket_id(args["ticket"]) or abort(400, "ticket must be like TT-000042")
    found = queries.alarms(
        queries.AlarmFilter(
            state=args["state"],
            severity=args["perceivedSeverity"],
            ack_state=args["ackState"],
            device=args["device"],
            alarm_type=args["alarmType"],
            root_cause=None if args["isRootCause"] is None else args["isRootCause"] == "true",
            ticket_id=ticket_id,
            text=args["q"],
        )
    )
    total, rows = page(found, args["offset"], args["limit"])
    return listed(_alarms_out(rows), total)


@bp.get("/alarmManagement/v4/alarm/<int(max=2147483647):alarm_id>")
@require_role("viewer")
@responds(200, "Alarm")
@fails(s404="No such alarm")
def get_alarm(alarm_id: int):
    """An alarm (TMF642)"""
    alarm = db.session.get(Alarm, alarm_id) or abort(404, f"no alarm {alarm_id}")
    return jsonify(_alarm_out(alarm))


def _queue(event) -> None:
    from netoss.domain.faults.pipeline import count
    from netoss.web.api import faults

    conn = faults.fault_queue()
    pipe = conn.pipeline(transaction=False)
    count(pipe, "received", event.source)
    pipe.execute()
    faults.publish_events(conn, [event])


_WAIT_SECONDS = 5.0  # how long a write through the API waits for the fault processor


def _active_id(fingerprint: str) -> int | None:
    return db.session.scalar(select(Alarm.id).where(Alarm.active_key == fingerprint))


def _wait_for(fingerprint: str, raised: bool, active_id: int | None = None) -> Alarm | None:
    """The alarm once the processor applied the event (None after _WAIT_SECONDS). A clear of
    the alarm ``active_id`` (active before the clear was queued) waits for that alarm; a clear
    of nothing active gives the latest cleared alarm of ``fingerprint``."""
    deadline = time.monotonic() + _WAIT_SECONDS
    while time.monotonic() < deadline:
        db.session.rollback()  # a fresh snapshot
        if raised:
            found = db.session.scalar(select(Alarm).where(Alarm.active_key == fingerprint))
        elif active_id is not None:
            found = db.session.get(Alarm, active_id)
            found = found if found is not None and found.active_key is None else None
        else:
            found = db.session.scalar(
                select(Alarm)
                .where(Alarm.fingerprint == fingerprint, Alarm.active_key.is_(None))
                .order_by(Alarm.id.desc())
            )
        if found is not None:
            return found
        time.sleep(0.1)
    return None


@bp.post("/alarmManagement/v4/alarm")
@require_role("operator")
@body("AlarmCreate")
@responds(201, "Alarm")
@responds(202, description="Queued: the fault processor has not applied it within 5 s")
@fails(s503="No Redis")
def create_alarm(data):
    """Raise (or clear) an alarm; 202 when the fault processor has not applied it within 5 s

    From outside: a playbook, a script, another system."""
    from netoss.domain.faults.events import Event, InvalidEvent, check, now_iso

    user = current_user()
    obj = data["alarmedObject"]
    event = Event(
        source="api" if data.get("sourceSystemId") in (None, "api") else data["sourceSystemId"],
        action="clear" if data.get("state") == "cleared" else "raise",
        device=obj["device"],
        object_type=obj.get("type", "device"),
        object_name=obj.get("name", ""),
        condition=data["condition"],
        alarm_type=data.get("alarmType", "communicationsAlarm"),
        severity=data.get("perceivedSeverity", "major"),
        probable_cause=data.get("probableCause", "unspecified"),
        specific_problem=data.get("specificProblem", ""),
        time=data.get("alarmRaisedTime"),
        received=now_iso(),
        text=data.get("specificProblem", ""),
        details={"user": user.username, **({"job": str(data["job"])} if data.get("job") else {})},
    )
    try:
        check(event)
    except InvalidEvent as exc:
        abort(400, exc.detail)
    _netbox_device_id(event.device, "alarmedObject.device")  # 400 now, rather than a rejection the caller never sees
    active_id = _active_id(event.fingerprint) if event.action == "clear" else None
    _queue(event)
    audit("alarm." + event.action, target=event.fingerprint)
    alarm = _wait_for(event.fingerprint, raised=event.action == "raise", active_id=active_id)
    if alarm is None:
        return jsonify({"status": "queued", "fingerprint": event.fingerprint}), 202
    return jsonify(_alarm_out(alarm)), 201 if event.action == "raise" else 200


@bp.patch("/alarmManagement/v4/alarm/<int(max=2147483647):alarm_id>")
@require_role("operator")
@body("AlarmUpdate")
@responds(200, "Alarm")
@responds(202, "Alarm", description="The clear is queued: the fault processor has not applied it within 5 s")
@fails(s404="No such alarm")
def update_alarm(data, alarm_id: int):
    """Acknowledge, comment, or clear (engineer) an alarm; a clear answers 202 and the alarm as it
    still is when the fault processor has not applied it within 5 s"""
    from netoss.domain.faults.events import Event, now_iso

    alarm = db.session.get(Alarm, alarm_id) or abort(404, f"no alarm {alarm_id}")
    user = current_user()
    if data.get("state") == "cleared" and not user.at_least("engineer"):
        abort(403, "clearing an alarm by hand needs the engineer role")
    now = utcnow()
    if "ackState" in data and data["ackState"] != alarm.ack_state:
        alarm.ack_state = data["ackState"]
        alarm.ack_user = user.username if data["ackState"] == "acknowledged" else None
        alarm.ack_at = now if data["ackState"] == "acknowledged" else None
        db.session.add(AlarmEvent(alarm_id=alarm.id, source="api", action="ack", actor=user.username,
                                  text=data["ackState"]))  # fmt: skip
    for c in data.get("comment", []):
        db.session.add(AlarmEvent(alarm_id=alarm.id, source="api", action="comment", actor=user.username,
                                  text=c["comment"]))  # fmt: skip
    db.session.commit()
    audit("alarm.update", target=f"alarm {alarm.id}", detail={k: data[k] for k in data if k != "comment"})
    if data.get("state") == "cleared" and alarm.active_key:
        _queue(
            Event(
                source="api",
                action="clear",
                device=alarm.device,
                object_type=alarm.object_type,
                object_name=alarm.object_name,
                condition=alarm.condition,
                received=now_iso(),
                text=f"cleared by hand by {user.username}",
            )
        )
        applied = _wait_for(alarm.fingerprint, raised=False, active_id=alarm.id)
        db.session.refresh(alarm)
        if applied is None:  # the processor is behind, or a flapping alarm's clear waits its quiet time
            return jsonify(_alarm_out(alarm)), 202
    return jsonify(_alarm_out(alarm))


# -- tickets --------------------------------------------------------------------------------


def _ticket(ref: str) -> Ticket:
    ticket_id = parse_ticket_id(ref)
    ticket = db.session.get(Ticket, ticket_id) if ticket_id else None
    return ticket or abort(404, f"no ticket {ref}")


def _ticket_out(ticket: Ticket) -> dict:
    return _tickets_out([ticket])[0]


def _tickets_out(tickets: list[Ticket]) -> list[dict]:
    """The TMF621 JSON of ``tickets``, their status changes and notes read in two queries."""
    ids = [t.id for t in tickets]
    changes: dict[int, list] = {}
    notes: dict[int, list] = {}
    if ids:
        for c in db.session.scalars(
            select(TicketStatusChange).where(TicketStatusChange.ticket_id.in_(ids)).order_by(TicketStatusChange.id)
        ):
            changes.setdefault(c.ticket_id, []).append(c)
        for n in db.session.scalars(select(TicketNote).where(TicketNote.ticket_id.in_(ids)).order_by(TicketNote.id)):
            notes.setdefault(n.ticket_id, []).append(n)
    return [ticket_json(t, changes.get(t.id, []), notes.get(t.id, [])) for t in tickets]


@bp.get("/troubleTicket/v4/troubleTicket")
@require_role("viewer")
@query(
    status=Choice(("open", *TICKET_STATES)),
    severity=Choice(SEVERITIES),
    assignee=Text(),
    device=Text(),
    ticketType=Text(),
    q=Text(max_length=100),
    offset=OFFSET,
    limit=LIMIT,
)
@responds(200, many("TroubleTicket"), description="A page of the tickets that match", total=True)
def list_tickets(args):
    """Trouble tickets, the last changed first (TMF621)

    The database filters and pages them; X-Total-Count says how many match. q: text in the
    ticket's name."""
    found = queries.tickets(
        queries.TicketFilter(
            status=args["status"],
            severity=args["severity"],
            assignee=args["assignee"],
            device=args["device"],
            ticket_type=args["ticketType"],
            text=args["q"],
        )
    )
    total, rows = page(found, args["offset"], args["limit"])
    return listed(_tickets_out(rows), total)


@bp.get("/troubleTicket/v4/troubleTicket/<ticket_id>")
@require_role("viewer")
@responds(200, "TroubleTicket")
@fails(s404="No such ticket")
def get_ticket(ticket_id: str):
    """A ticket (TMF621), with its status changes and notes"""
    return jsonify(_ticket_out(_ticket(ticket_id)))


def _related_by_hand(entities: list[dict]) -> list[dict]:
    """Related entities of a ticket opened by hand; a Device must exist in NetBox (by name)."""
    out = []
    for e in entities:
        kind, name, ident = e["@referredType"], e["name"], str(e.get("id") or e["name"])
        if kind == "Device":
            ident = str(_netbox_device_id(name))
        out.append({"@referredType": kind, "id": ident, "name": name, "role": e.get("role", "affected")})
    return out


def _netbox_device_id(name: str, field: str = "relatedEntity") -> int:
    netbox = NetBox.from_config(current_app.config)
    if netbox is None:
        abort(503, "the portal has no NetBox (NETBOX_URL, NETBOX_TOKEN) to check related devices against")
    try:
        found = list(netbox.api().dcim.devices.filter(name=name))
    except Exception as exc:  # NetBox away: say so rather than record an unchecked name
        abort(503, f"NetBox cannot be asked whether device {name!r} exists: {exc}")
    if not found:
        abort(400, f"{field}: no device {name!r} in NetBox")
    return found[0].id


@bp.post("/troubleTicket/v4/troubleTicket")
@require_role("operator")
@body("TicketCreate")
@responds(201, "TroubleTicket")
@fails(s503="NetBox is unavailable (related devices are checked against it)")
def create_ticket(data):
    """Open a ticket by hand (a complaint, a request), linked to devices or services"""
    ticket = open_by_hand(current_user(), data, _related_by_hand(data.get("relatedEntity", [])))
    return jsonify(_ticket_out(ticket)), 201


def open_by_hand(user, data: dict, related: list[dict]) -> Ticket:
    """Record a ticket opened by a person (API or page): SLA from its severity, audit, notify."""
    return open_ticket(user.username, data, related, sla_hours=Settings.from_config(current_app.config).sla_hours)


def _notify(kind: str, ticket: Ticket) -> None:
    """Ticket events made through the API go out the way the processor's do."""
    notify(kind, ticket)


@bp.patch("/troubleTicket/v4/troubleTicket/<ticket_id>")
@require_role("operator")
@body("TicketUpdate")
@responds(200, "TroubleTicket")
@fails(s404="No such ticket", s409="Not a status this ticket can move to")
def update_ticket(data, ticket_id: str):
    """Change status (with a reason), assignee or severity; add notes"""
    from netoss.domain.faults.tickets import TicketError, update

    ticket = _ticket(ticket_id)
    try:
        kind = update(ticket, current_user(), data, utcnow())
    except TicketError as exc:
        db.session.rollback()
        abort(exc.status, str(exc))
    db.session.commit()
    audit("ticket.update", target=ticket.ref, detail={k: v for k, v in data.items() if k != "note"})
    if kind:
        _notify(kind, ticket)
    return jsonify(_ticket_out(ticket))


PATHS = (ALARM_PATH, TICKET_PATH)


from netoss.web.tmf import services  # noqa: E402, F401 - the TMF641 and TMF638 routes, on this blueprint
