"""Job pages: templates, the launch form, the job list and the live job page."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from sqlalchemy import select

from netoss.data.db import db
from netoss.data.models import JOB_STATES, Job, Schedule
from netoss.data.paging import page
from netoss.domain.jobs import queue
from netoss.domain.jobs.job_templates import TemplateError
from netoss.domain.jobs.launch import (
    MATCH_KEYS,
    LaunchError,
    audit_detail,
    device_facets,
    launch,
    netbox_choices,
    picks_devices,
)
from netoss.domain.jobs.queries import JobFilter, jobs
from netoss.domain.jobs.runner import templates
from netoss.domain.jobs.schedules import create
from netoss.web.paging import Pager, page_args
from netoss.web.security import audit, current_user, require_role

bp = Blueprint("jobs", __name__)


@bp.get("/templates")
@require_role("viewer")
def template_list():
    user = current_user()
    return render_template(
        "jobs/templates.html", templates=sorted(templates(current_app).values(), key=lambda t: t.name), user=user
    )


def _form_values(template) -> dict:
    values = {}
    for p in template.parameters:
        if p.type == "boolean":
            values[p.name] = p.name in request.form
        elif p.type == "multichoice" and picks_devices(p) and request.form.get(f"{p.name}__all"):
            # "All matching": the picker's filter, resolved to the devices at launch (an empty
            # filter is all devices, as leaving the list empty is).
            match = {k: request.form.get(f"{p.name}__{k}", "").strip() for k in MATCH_KEYS}
            if any(match.values()):
                values[p.name] = {"match": {k: v for k, v in match.items() if v}}
        elif p.type == "multichoice":
            chosen = [v for v in request.form.getlist(p.name) if v]
            if chosen:
                values[p.name] = chosen
        else:
            raw = request.form.get(p.name, "")
            if raw == "":
                continue
            if p.type == "integer":
                try:
                    values[p.name] = int(raw)
                except ValueError:
                    values[p.name] = raw  # refused by validation, with the parameter's name
            else:
                values[p.name] = raw
    return values


def _choices(template) -> dict:
    """The choices the form lists (a device picker lists none: it searches NetBox as one types)."""
    out = {}
    for p in template.parameters:
        if p.choices is not None:
            out[p.name] = p.choices
        elif picks_devices(p):
            out[p.name] = []
        elif p.choices_from is not None:
            try:
                out[p.name] = netbox_choices(p, {})
            except Exception as exc:  # NetBox away: the form still shows, the choice says why
                current_app.logger.warning("choices of %s: %s", p.name, exc)
                out[p.name] = []
    return out


def _facets(template) -> tuple[dict, str | None]:
    """The sites, roles and tags a device picker filters by; NetBox away: none, and why."""
    if not any(picks_devices(p) for p in template.parameters):
        return {}, None
    try:
        return device_facets(), None
    except Exception as exc:  # NetBox away: the form still shows, and says so
        current_app.logger.warning("device picker filters: %s", exc)
        return {}, f"NetBox could not be read for the device filters: {exc}"


@bp.route("/jobs/new/<name>", methods=["GET", "POST"])
@require_role("viewer")
def new(name: str):
    user = current_user()
    template = templates(current_app).get(name) or abort(404, f"no job template {name!r}")
    if not template.allowed(user.role):
        audit("job.launch", target=name, outcome="denied", detail={"needs": template.roles})
        abort(403, f"template {name!r} is not allowed for the {user.role} role")
    problems, status = [], 200
    ticket_id = None
    if request.values.get("ticket"):
        if not request.values["ticket"].isdigit() or len(request.values["ticket"]) > 9:
            abort(400, "ticket must be a ticket number")
        ticket_id = int(request.values["ticket"])
    if request.method == "POST" and request.form.get("cron", "").strip():
        try:
            schedule = create(
                user,
                request.form.get("schedule_name", "") or f"{name} ({request.form['cron'].strip()})",
                name,
                _form_values(template),
                "check" in request.form,
                request.form["cron"],
            )
        except LaunchError as exc:
            problems, status = exc.problems or [str(exc)], exc.status
        else:
            audit("schedule.create", target=f"schedule {schedule.id} ({schedule.template}, {schedule.cron})")
            return redirect(url_for("jobs.schedule_list"))
    elif request.method == "POST":
        try:
            job = launch(
                user,
                name,
                _form_values(template),
                "check" in request.form,
                queue.enqueuer(current_app._get_current_object()),
                ticket_id=ticket_id,
            )
        except LaunchError as exc:
            problems, status = exc.problems or [str(exc)], exc.status
            audit("job.launch", target=name, outcome="refused", detail={"reason": str(exc)[:500]})
        else:
            audit("job.launch", target=f"job {job.id} ({job.template})", detail=audit_detail(job))
            return redirect(url_for("jobs.detail", job_id=job.id))
    facets, facets_problem = _facets(template)
    return (
        render_template(
            "jobs/new.html",
            template=template,
            choices=_choices(template),
            problems=problems,
            # A GET may prefill the form (?devices=pe1&devices=ce1&ticket=4: a remediation from a ticket).
            form=request.form if request.method == "POST" else request.args,
            ticket_id=ticket_id,
            can_apply=template.may_apply(user.role),
            pickers={p.name for p in template.parameters if picks_devices(p)},
            facets=facets,
            facets_problem=facets_problem,
        ),
        status,
    )


@bp.get("/jobs")
@require_role("viewer")
def job_list():
    """The job list: filtered, counted and paged by the database (filters in the query string)."""
    args = request.args
    status = args.get("status") or None
    if status and status not in JOB_STATES:
        abort(400, f"status must be one of {', '.join(JOB_STATES)}")
    for name in ("template", "created_by", "device"):
        if len(args.get(name, "")) > 255:
            abort(400, f"{name} must have 255 characters at most")
    offset, limit = page_args()
    found = jobs(JobFilter(status, args.get("template") or None, args.get("created_by") or None,
                           args.get("device", "").strip() or None))  # fmt: skip
    total, rows = page(found, offset, limit)
    return render_template(
        "jobs/list.html", jobs=rows, filters=args, states=JOB_STATES, pager=Pager(total, offset, limit)
    )


@bp.get("/schedules")
@require_role("viewer")
def schedule_list():
    rows = db.session.scalars(select(Schedule).order_by(Schedule.id)).all()
    return render_template("jobs/schedules.html", schedules=rows, user=current_user())


@bp.get("/jobs/<int(max=2147483647):job_id>")
@require_role("viewer")
def detail(job_id: int):
    job = db.session.get(Job, job_id) or abort(404, f"no job {job_id}")
    template = _templates_or_none().get(job.template)
    approvable = (
        job.check_mode
        and job.status == "successful"
        and template is not None
        and template.check_mode == "allowed"
        and template.may_apply(current_user().role)
    )
    return render_template("jobs/detail.html", job=job, approvable=approvable)


def _templates_or_none() -> dict:
    try:
        return templates(current_app)
    except TemplateError:
        return {}
