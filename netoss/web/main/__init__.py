"""The pages of a signed-in user."""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import select

from netoss.data.db import db
from netoss.data.models import AuditEvent
from netoss.domain.jobs import dashboard
from netoss.web.security import current_user, require_role

bp = Blueprint("main", __name__)


@bp.get("/")
@require_role("viewer")
def home():
    user = current_user()
    recent = db.session.scalars(
        select(AuditEvent).where(AuditEvent.actor == user.username).order_by(AuditEvent.id.desc()).limit(10)
    ).all()

    from netoss.web.assurance import worst_services

    worst, worst_problem = worst_services()
    return render_template(
        "main/home.html",
        worst=worst,
        worst_problem=worst_problem,
        user=user,
        recent=recent,
        jobs=dashboard.recent_jobs(),
        days=dashboard.success_by_day(),
        failing=dashboard.failing_devices(),
    )
