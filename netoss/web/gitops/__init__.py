"""GitOps pages: the deployments (each commit applied, refused, superseded or rolled back) and one
deployment with its plan, its job and its ticket."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from sqlalchemy import select

from netoss.data.db import db
from netoss.data.models import DEPLOYMENT_STATUSES, Deployment, Job, Ticket
from netoss.web.security import require_role

bp = Blueprint("gitops", __name__)


@bp.get("/gitops/deployments")
@require_role("viewer")
def deployment_list():
    query = select(Deployment).order_by(Deployment.id.desc()).limit(200)
    status = request.args.get("status")
    if status in DEPLOYMENT_STATUSES:
        query = query.where(Deployment.status == status)
    if request.args.get("repository"):
        query = query.where(Deployment.repository == request.args["repository"][:200])
    return render_template(
        "gitops/deployments.html",
        deployments=db.session.scalars(query).all(),
        statuses=DEPLOYMENT_STATUSES,
        filters=request.args,
    )


@bp.get("/gitops/deployments/<int(max=2147483647):deployment_id>")
@require_role("viewer")
def deployment_detail(deployment_id: int):
    deployment = db.session.get(Deployment, deployment_id) or abort(404, f"no deployment {deployment_id}")
    plan = deployment.plan or {}
    return render_template(
        "gitops/deployment.html",
        d=deployment,
        plan=plan,
        job=db.session.get(Job, deployment.job_id) if deployment.job_id else None,
        ticket=db.session.get(Ticket, deployment.ticket_id) if deployment.ticket_id else None,
    )
