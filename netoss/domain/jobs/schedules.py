"""Schedules: templates launched on cron expressions (UTC) by the workers.

Any live worker fires a due schedule; a Redis key per (schedule, due time) makes sure only one
does. The launch goes through the same checks as a user's, as the user who made the schedule:
if that user lost the right, or a parameter stopped being valid (a device gone from NetBox),
the schedule records the error and tries again at its next time.
"""

from __future__ import annotations

import datetime as dt

from croniter import croniter
from sqlalchemy import select

from netoss.data import context
from netoss.data.db import db
from netoss.data.models import Schedule, User, utcnow
from netoss.domain.jobs.launch import LaunchError, checked
from netoss.domain.jobs.runner import templates


class ScheduleError(ValueError):
    pass


def check_cron(expression: str) -> str:
    expression = " ".join(expression.split())
    if len(expression.split()) != 5 or not croniter.is_valid(expression):
        raise ScheduleError(
            f"cron: {expression!r} is not a cron expression of 5 fields (minute hour day month weekday)"
        )
    return expression


def next_time(expression: str, after: dt.datetime) -> dt.datetime:
    return croniter(expression, after).get_next(dt.datetime)


def checked_parameters(user, template_name: str, parameters: dict, check: bool) -> dict:
    """A schedule's parameters checked as a launch's would be; LaunchError (with its HTTP status) says why not."""
    template = templates(context.current()).get(template_name)
    if template is not None and any(p.type == "secret" for p in template.parameters):
        raise LaunchError(400, f"template {template_name!r} takes secrets, which schedules never keep")
    return checked(user, template_name, parameters, check)[1]


def create(user, name: str, template_name: str, parameters: dict, check: bool, cron: str, enabled: bool = True):
    """A new schedule, checked; LaunchError (status 400/403/404) says what is wrong."""
    try:
        cron = check_cron(cron)
    except ScheduleError as exc:
        raise LaunchError(400, str(exc)) from None
    if not name.strip():
        raise LaunchError(400, "name: a schedule needs a name")
    clean = checked_parameters(user, template_name, parameters, check)
    schedule = Schedule(
        name=name.strip()[:100],
        template=template_name,
        parameters=clean,
        check_mode=bool(check),
        cron=cron,
        enabled=enabled,
        created_by=user.username,
        next_run_at=next_time(cron, utcnow()),
    )
    db.session.add(schedule)
    db.session.commit()
    return schedule


def fire_due(app, conn, launch_as, now: dt.datetime | None = None) -> list[tuple[int, str]]:
    """Launch every enabled schedule that is due; returns (schedule id, outcome) pairs.

    ``launch_as(user, schedule)`` launches the schedule's template and returns the job.
    """
    now = now or utcnow()
    fired = []
    with app.app_context():
        due = db.session.scalars(
            select(Schedule).where(Schedule.enabled.is_(True), Schedule.next_run_at <= now).order_by(Schedule.id)
        ).all()
        for schedule in due:
            key = f"netoss:schedule:{schedule.id}:{schedule.next_run_at.isoformat()}"
            if conn is not None and not conn.set(key, "1", nx=True, ex=24 * 3600):
                continue  # another worker fired it
            user = db.session.scalar(select(User).where(User.username == schedule.created_by))
            schedule.last_run_at = now
            schedule.next_run_at = next_time(schedule.cron, now)
            try:
                if user is None or not user.active:
                    raise ScheduleError(f"its user {schedule.created_by} is gone or disabled")
                job = launch_as(user, schedule)
                schedule.last_job_id, schedule.last_error = job.id, None
                fired.append((schedule.id, f"job {job.id}"))
            except Exception as exc:  # LaunchError, ScheduleError: recorded, retried next time
                db.session.rollback()
                schedule = db.session.get(Schedule, schedule.id)
                schedule.last_run_at, schedule.next_run_at = now, next_time(schedule.cron, now)
                schedule.last_error = str(exc)[:1000]
                fired.append((schedule.id, f"error: {exc}"))
            db.session.commit()
    return fired
