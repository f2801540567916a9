"""/api/v1: schedules, a job template on a cron expression (UTC), checked as a launch is."""

from __future__ import annotations

from flask import abort, jsonify
from sqlalchemy import select

from netoss.data.db import db
from netoss.web.api import bp
from netoss.web.apidoc import body, fails, many, responds
from netoss.web.security import audit, current_user, require_role


def _schedule_checks(data: dict, user, template_name: str) -> dict:
    """Validate a schedule's template, role and parameters as a launch would be; 4xx say why."""
    from netoss.domain.jobs.launch import LaunchError
    from netoss.domain.jobs.schedules import checked_parameters

    try:
        return checked_parameters(user, template_name, data.get("parameters", {}), bool(data.get("check")))
    except LaunchError as exc:
        abort(exc.status, str(exc))


@bp.get("/v1/schedules")
@require_role("viewer")
@responds(200, many("Schedule"))
def list_schedules():
    """Schedules"""
    from netoss.data.models import Schedule

    return jsonify([s.to_dict() for s in db.session.scalars(select(Schedule).order_by(Schedule.id))])


@bp.post("/v1/schedules")
@require_role("operator")
@body("ScheduleCreate")
@responds(201, "Schedule")
@fails(s404="No such template")
def create_schedule(data):
    """Schedule a template on a cron expression (UTC); parameters are checked as for a launch

    Needs the operator role, and a role the template allows."""
    from netoss.domain.jobs.launch import LaunchError
    from netoss.domain.jobs.schedules import create

    try:
        schedule = create(
            current_user(),
            data["name"],
            data["template"],
            data.get("parameters", {}),
            bool(data.get("check")),
            data["cron"],
            data.get("enabled", True),
        )
    except LaunchError as exc:
        abort(exc.status, str(exc))
    audit("schedule.create", target=f"schedule {schedule.id} ({schedule.template}, {schedule.cron})")
    return jsonify(schedule.to_dict()), 201


@bp.patch("/v1/schedules/<int(max=2147483647):schedule_id>")
@require_role("operator")
@body("ScheduleUpdate")
@responds(200, "Schedule")
@fails(s404="No such schedule")
def update_schedule(data, schedule_id: int):
    """Change a schedule (its owner, or an engineer)"""
    from netoss.data.models import Schedule, utcnow
    from netoss.domain.jobs.schedules import ScheduleError, check_cron, next_time

    user = current_user()
    schedule = db.session.get(Schedule, schedule_id) or abort(404, f"no schedule {schedule_id}")
    if schedule.created_by != user.username and not user.at_least("engineer"):
        abort(403, f"schedule {schedule_id} belongs to {schedule.created_by}: only they or an engineer may change it")
    if "cron" in data:
        try:
            schedule.cron = check_cron(data["cron"])
        except ScheduleError as exc:
            abort(400, str(exc))
    if "parameters" in data or "check" in data:
        merged = {
            "parameters": data.get("parameters", schedule.parameters),
            "check": data.get("check", schedule.check_mode),
        }
        schedule.parameters = _schedule_checks(merged, user, schedule.template)
        schedule.check_mode = bool(merged["check"])
    for key in ("name", "enabled"):
        if key in data:
            setattr(schedule, key, data[key])
    schedule.next_run_at = next_time(schedule.cron, utcnow())
    db.session.commit()
    audit(
        "schedule.update", target=f"schedule {schedule.id}", detail={k: v for k, v in data.items() if k != "parameters"}
    )
    return jsonify(schedule.to_dict())


@bp.delete("/v1/schedules/<int(max=2147483647):schedule_id>")
@require_role("operator")
@responds(200, "Schedule")
@fails(s404="No such schedule")
def delete_schedule(schedule_id: int):
    """Delete a schedule (its owner, or an engineer)"""
    from netoss.data.models import Schedule

    user = current_user()
    schedule = db.session.get(Schedule, schedule_id) or abort(404, f"no schedule {schedule_id}")
    if schedule.created_by != user.username and not user.at_least("engineer"):
        abort(403, f"schedule {schedule_id} belongs to {schedule.created_by}: only they or an engineer may delete it")
    db.session.delete(schedule)
    db.session.commit()
    audit("schedule.delete", target=f"schedule {schedule_id} ({schedule.template})")
    return jsonify(schedule.to_dict())
