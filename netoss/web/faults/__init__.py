"""Fault pages: the live alarm list, the ticket queue, and a ticket's page with its timeline."""

from __future__ import annotations

import datetime as dt

import jsonschema
from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from sqlalchemy import or_, select

from netoss.data.db import db
from netoss.data.models import (
    TICKET_STATES,
    Alarm,
    AlarmEvent,
    Job,
    Ticket,
    TicketNote,
    TicketStatusChange,
    User,
    utc,
    utcnow,
)
from netoss.data.netbox import NetBox
from netoss.data.paging import page
from netoss.domain.faults import queries
from netoss.domain.faults.events import SEVERITIES
from netoss.domain.faults.pipeline import STREAM_MAXLEN, counters, dead_letters
from netoss.domain.faults.tickets import TRANSITIONS, TicketError, notify, update
from netoss.domain.jobs.queue import connection
from netoss.domain.jobs.runner import templates
from netoss.web.paging import Pager, page_args
from netoss.web.schemas import SCHEMAS
from netoss.web.security import audit, current_user, require_role
from netoss.web.tmf import _related_by_hand, open_by_hand

bp = Blueprint("faults", __name__)


@bp.get("/alarms")
@require_role("viewer")
def alarm_list():
    """Active alarms, refreshed live by static/alarms.js from the TMF642 API (a page of them;
    the filters and the page in the query string, checked here as the API checks them)."""
    arg_choice("perceivedSeverity", SEVERITIES)
    arg_choice("isRootCause", ("true", "false"))
    arg_text("device", 64)
    arg_text("q")
    offset, limit = page_args(default_limit=100, max_limit=1000)
    return render_template(
        "faults/alarms.html", user=current_user(), filters=request.args, severities=SEVERITIES, offset=offset,
        limit=limit,
    )  # fmt: skip


@bp.get("/alarms/pipeline")
@require_role("viewer")
def pipeline():
    """The fault pipeline's accounting: per source received, stored, rejected by reason,
    dead-lettered; what is queued; and the newest dead letters with their errors."""
    try:
        conn = connection(current_app)
        c, dead = counters(conn), dead_letters(conn, 50)
    except Exception as exc:  # no Redis: say so, not a 500
        return render_template("faults/pipeline.html", user=current_user(), error=str(exc)[:300]), 503
    sources = sorted(set(c["received"]) | set(c["stored"]) | set(c["rejected"]) | set(c["dead"]))
    rows = [
        {
            "source": s,
            "received": c["received"].get(s, 0),
            "stored": c["stored"].get(s, 0),
            "rejected": sum(c["rejected"].get(s, {}).values()),
            "reasons": sorted(c["rejected"].get(s, {}).items()),
            "dead": c["dead"].get(s, 0),
        }
        for s in sources
    ]
    bound = int(current_app.config.get("FAULTS_STREAM_MAXLEN") or STREAM_MAXLEN)
    return render_template(
        "faults/pipeline.html", user=current_user(), rows=rows, counters=c, dead=dead, bound=bound, error=None
    )


@bp.post("/alarms/<int(max=2147483647):alarm_id>/ack")
@require_role("operator")
def alarm_ack(alarm_id: int):
    alarm = db.session.get(Alarm, alarm_id) or abort(404, f"no alarm {alarm_id}")
    user = current_user()
    if alarm.ack_state != "acknowledged":
        alarm.ack_state, alarm.ack_user, alarm.ack_at = "acknowledged", user.username, utcnow()
        db.session.add(
            AlarmEvent(alarm_id=alarm.id, source="api", action="ack", actor=user.username, text="acknowledged")
        )
        db.session.commit()
        audit("alarm.update", target=f"alarm {alarm.id}", detail={"ackState": "acknowledged"})
    return redirect(request.referrer or url_for("faults.alarm_list"))


@bp.post("/tickets")
@require_role("operator")
def ticket_create():
    """A ticket opened by hand from the queue page (a customer complaint, a request)."""
    form = request.form
    data = {
        "name": form.get("name", "").strip(),
        "severity": form.get("severity") or "minor",
        "ticketType": form.get("ticketType") or "complaint",
        "description": form.get("description", ""),
    }
    related = [{"@referredType": "Device", "name": d.strip()} for d in form.get("devices", "").split(",") if d.strip()]
    related += [
        {"@referredType": "Service", "name": s.strip()} for s in form.get("services", "").split(",") if s.strip()
    ]
    data["relatedEntity"] = related
    errors = sorted(
        jsonschema.Draft202012Validator(SCHEMAS["TicketCreate"]).iter_errors(data), key=lambda e: list(e.path)
    )
    if errors:
        e = errors[0]
        abort(400, f"{'.'.join(str(p) for p in e.path) or 'form'}: {e.message}")
    ticket = open_by_hand(current_user(), data, _related_by_hand(related))
    return redirect(url_for("faults.ticket_page", ticket_id=ticket.id))


def arg_choice(name: str, values, default=None):
    """The query string's ``name``, one of ``values`` (empty: ``default``); else 400 naming it."""
    value = request.args.get(name) or default
    if value is not None and value not in values:
        abort(400, f"{name} must be one of {', '.join(values)}")
    return value


def arg_text(name: str, most: int = 100) -> str | None:
    """The query string's ``name`` (empty: None); longer than ``most``: 400 naming it."""
    value = request.args.get(name, "").strip()
    if len(value) > most:
        abort(400, f"{name} must have {most} characters at most")
    return value or None


@bp.get("/tickets")
@require_role("viewer")
def ticket_list():
    """The ticket queue: filtered, counted and paged by the database (filters in the query string)."""
    status = arg_choice("status", ("open", "any", *TICKET_STATES), "open")
    offset, limit = page_args()
    found = queries.tickets(
        queries.TicketFilter(
            status=None if status == "any" else status,
            severity=arg_choice("severity", SEVERITIES),
            assignee=arg_text("assignee", 64),
            device=arg_text("device", 64),
            ticket_type=arg_text("ticketType", 32),
            text=arg_text("q"),
        )
    )
    total, tickets = page(found, offset, limit)
    return render_template(
        "faults/tickets.html",
        tickets=tickets,
        filters=request.args,
        status=status,
        states=TICKET_STATES,
        severities=SEVERITIES,
        now=utcnow(),
        user=current_user(),
        pager=Pager(total, offset, limit),
    )


def _journal(ticket: Ticket, devices: list[dict]) -> tuple[list[dict], str | None]:
    """NetBox journal entries of the ticket's devices around its time: config pushes, backups."""
    netbox = NetBox.from_config(current_app.config)
    ids = [d["id"] for d in devices if str(d["id"]).isdigit()]
    if not (netbox and ids):
        return [], None
    since = utc(ticket.created_at) - dt.timedelta(hours=1)
    until = utc(ticket.resolved_at) or utcnow()
    try:
        # A page waits 5 s at most for NetBox (less when the configured timeout is shorter).
        rows = netbox.journal_entries(ids, since, until, limit=100, timeout=min(5, netbox.timeout))
    except Exception as exc:  # NetBox away: the page still shows, and says so
        return [], f"NetBox's journal could not be read: {exc}"
    names = {str(d["id"]): d["name"] for d in devices}
    return [
        {
            "at": dt.datetime.fromisoformat(r["created"].replace("Z", "+00:00")),
            "what": "change",
            "title": f"{names.get(str(r['assigned_object_id']), 'device')}: {r['comments'].splitlines()[0][:200]}",
            "detail": r["comments"],
            "link": r.get("display_url") or f"{netbox.url}/extras/journal-entries/{r['id']}/",
        }
        for r in rows
        if ticket.ref not in r["comments"]  # its own entries are in the timeline already
    ], None


@bp.route("/tickets/<int(max=2147483647):ticket_id>", methods=["GET", "POST"])
@require_role("viewer")
def ticket_page(ticket_id: int):
    ticket = db.session.get(Ticket, ticket_id) or abort(404, f"no ticket {ticket_id}")
    user = current_user()
    problem = None
    if request.method == "POST":
        if not user.at_least("operator"):
            abort(403, "changing a ticket needs the operator role")
        data = {}
        if request.form.get("status"):
            data["status"] = request.form["status"]
            data["statusChangeReason"] = request.form.get("reason", "")
        if "assignee" in request.form:
            data["assignee"] = request.form["assignee"]
        if request.form.get("note", "").strip():
            data["note"] = [{"text": request.form["note"]}]
        try:
            kind = update(ticket, user, data, utcnow())
        except TicketError as exc:
            db.session.rollback()
            problem = str(exc)
        else:
            db.session.commit()
            audit("ticket.update", target=ticket.ref, detail={k: v for k, v in data.items() if k != "note"})
            if kind:
                notify(kind, ticket)
            return redirect(url_for("faults.ticket_page", ticket_id=ticket.id))
    alarms = db.session.scalars(select(Alarm).where(Alarm.ticket_id == ticket.id).order_by(Alarm.raised_at)).all()
    job_ids = {int(r["id"]) for r in ticket.related or [] if r["@referredType"] == "Job" and str(r["id"]).isdigit()}
    jobs = db.session.scalars(
        select(Job).where(or_(Job.ticket_id == ticket.id, Job.id.in_(job_ids))).order_by(Job.id)
    ).all()
    timeline = []
    for c in db.session.scalars(select(TicketStatusChange).where(TicketStatusChange.ticket_id == ticket.id)):
        timeline.append({"at": utc(c.at), "what": "status", "title": f"{c.status}: {c.reason or ''}", "by": c.actor})
    for n in db.session.scalars(select(TicketNote).where(TicketNote.ticket_id == ticket.id)):
        timeline.append({"at": utc(n.at), "what": "note", "title": n.text, "by": n.author})
    for a in alarms:
        link = url_for("tmf.get_alarm", alarm_id=a.id)
        role = "root cause" if a.is_root_cause else "correlated"
        timeline.append({"at": utc(a.raised_at), "what": "alarm", "link": link,
                         "title": f"raised ({role}, {a.severity}): {a.alarmed_object}: {a.specific_problem}",
                         "by": a.source})  # fmt: skip
        if a.cleared_at:
            title = f"cleared: {a.alarmed_object}: {a.specific_problem}"
            if (a.details or {}).get("cleared_as_gone"):
                title += f" ({a.details['cleared_as_gone']})"
            timeline.append({"at": utc(a.cleared_at), "what": "alarm", "link": link, "title": title, "by": a.source})
    for j in jobs:
        why = "launched from this ticket" if j.ticket_id == ticket.id else "related"
        timeline.append({"at": utc(j.started_at or j.created_at), "what": "job",
                         "link": url_for("jobs.detail", job_id=j.id),
                         "title": f"job {j.id} ({j.template}, {why}): {j.status}", "by": j.created_by})  # fmt: skip
    devices = [r for r in ticket.related or [] if r["@referredType"] == "Device"]
    changes, journal_problem = _journal(ticket, devices)
    timeline.extend(changes)
    timeline.sort(key=lambda item: item["at"] or utcnow())

    remediations = [t for name, t in sorted(templates(current_app).items()) if t.allowed(user.role) and t.limit]
    return render_template(
        "faults/ticket.html",
        ticket=ticket,
        timeline=timeline,
        alarms=alarms,
        devices=[d["name"] for d in devices],
        next_states=sorted(TRANSITIONS[ticket.status]),
        users=db.session.scalars(select(User.username).where(User.active.is_(True)).order_by(User.username)).all(),
        remediations=remediations,
        journal_problem=journal_problem,
        problem=problem,
        user=user,
        now=utcnow(),
    ), (400 if problem else 200)
