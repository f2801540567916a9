"""REST API (JSON): /api/v1/..., described by /api/openapi.json.

Authentication: ``Authorization: Bearer <token>``, or the browser's session cookie (then a
CSRF token is needed on writes, in the X-CSRFToken header). Every write is audited.
"""

from __future__ import annotations

import datetime as dt

import jsonschema
from flask import Blueprint, abort, jsonify, request
from sqlalchemy import select

from ..extensions import db
from ..models import ROLES, ApiToken, AuditEvent, User
from ..security import audit, current_user, hash_password, new_token, require_csrf_unless_token, require_role
from .openapi import SCHEMAS, document

bp = Blueprint("api", __name__)


@bp.before_request
def _csrf():
    require_csrf_unless_token()


def _body(schema_name: str) -> dict:
    """The request's JSON body, validated against the OpenAPI schema; 400 names what is wrong."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400, "the body must be a JSON object (Content-Type: application/json)")
    errors = sorted(jsonschema.Draft202012Validator(SCHEMAS[schema_name]).iter_errors(data), key=lambda e: e.path)
    if errors:
        where = lambda e: ".".join(str(p) for p in e.path) or "body"  # noqa: E731
        abort(400, "; ".join(f"{where(e)}: {e.message}" for e in errors))
    return data


@bp.get("/openapi.json")
def openapi():
    return jsonify(document())


@bp.get("/v1/me")
@require_role("viewer")
def me():
    return jsonify(current_user().to_dict())


@bp.get("/v1/users")
@require_role("admin")
def list_users():
    return jsonify([u.to_dict() for u in db.session.scalars(select(User).order_by(User.username))])


@bp.post("/v1/users")
@require_role("admin")
def create_user():
    data = _body("UserCreate")
    if db.session.scalar(select(User).where(User.username == data["username"])):
        abort(409, f"user {data['username']!r} already exists")
    user = User(username=data["username"], password_hash=hash_password(data["password"]), role=data["role"])
    db.session.add(user)
    db.session.commit()
    audit("user.create", target=user.username, detail={"role": user.role})
    return jsonify(user.to_dict()), 201


@bp.patch("/v1/users/<int:user_id>")
@require_role("admin")
def update_user(user_id: int):
    data = _body("UserUpdate")
    user = db.session.get(User, user_id) or abort(404, f"no user {user_id}")
    if "role" in data:
        user.role = data["role"]
    if "active" in data:
        user.active = data["active"]
    if "password" in data:
        user.password_hash = hash_password(data["password"])
    db.session.commit()
    audit("user.update", target=user.username, detail={k: v for k, v in data.items() if k != "password"})
    return jsonify(user.to_dict())


@bp.get("/v1/tokens")
@require_role("viewer")
def list_tokens():
    user = current_user()
    query = select(ApiToken).order_by(ApiToken.id)
    if not user.at_least("admin"):
        query = query.where(ApiToken.user_id == user.id)
    return jsonify([t.to_dict() for t in db.session.scalars(query)])


@bp.post("/v1/tokens")
@require_role("viewer")
def create_token():
    data = _body("TokenCreate")
    expires = None
    if data.get("expires_in_days"):
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=data["expires_in_days"])
    row, token = new_token(current_user(), data["name"], expires)
    db.session.commit()
    audit("token.create", target=f"{row.prefix} ({row.name})")
    return jsonify(dict(row.to_dict(), token=token)), 201


@bp.delete("/v1/tokens/<int:token_id>")
@require_role("viewer")
def revoke_token(token_id: int):
    user = current_user()
    row = db.session.get(ApiToken, token_id)
    if row is None or (row.user_id != user.id and not user.at_least("admin")):
        abort(404, f"no token {token_id}")
    row.revoked = True
    db.session.commit()
    audit("token.revoke", target=f"{row.prefix} ({row.name})")
    return jsonify(row.to_dict())


@bp.get("/v1/job-templates")
@require_role("viewer")
def list_job_templates():
    from pathlib import Path

    from flask import current_app

    from portal.jobs.job_templates import TemplateError, load_templates

    directory = Path(current_app.config["JOB_TEMPLATES_DIR"])
    try:
        templates = load_templates(directory, directory.parent)
    except TemplateError as exc:
        current_app.logger.error("%s", exc)
        abort(500, "the job templates have problems: see the portal log")
    user = current_user()
    return jsonify([dict(t.to_dict(), can_run=t.allowed(user.role)) for _name, t in sorted(templates.items())])


@bp.post("/v1/jobs")
@require_role("viewer")
def launch_job():
    from flask import current_app

    from portal.jobs import queue
    from portal.jobs.launch import LaunchError, launch
    from portal.jobs.runner import templates

    data = _body("JobLaunch")
    user = current_user()

    def enqueue(job, sealed):
        queue.enqueue(current_app, job, sealed, templates(current_app)[job.template].timeout)

    try:
        job = launch(user, data["template"], data.get("parameters", {}), data.get("check", False), enqueue)
    except LaunchError as exc:
        audit("job.launch", target=data["template"], outcome="refused", detail={"reason": str(exc)[:500]})
        body = {"error": str(exc), "status": exc.status}
        if exc.problems:
            body["problems"] = exc.problems
        return jsonify(body), exc.status
    audit("job.launch", target=f"job {job.id} ({job.template})", detail={"check": job.check_mode, "limit": job.limit})
    return jsonify(job.to_dict()), 202


@bp.get("/v1/jobs")
@require_role("viewer")
def list_jobs():
    from ..models import Job

    try:
        limit = min(max(int(request.args.get("limit", 50)), 1), 500)
    except ValueError:
        abort(400, "limit must be an integer from 1 to 500")
    query = select(Job).order_by(Job.id.desc()).limit(limit)
    for key, column in (("status", Job.status), ("template", Job.template), ("created_by", Job.created_by)):
        if request.args.get(key):
            query = query.where(column == request.args[key])
    return jsonify([j.to_dict() for j in db.session.scalars(query)])


@bp.get("/v1/jobs/<int:job_id>")
@require_role("viewer")
def get_job(job_id: int):
    from ..models import Job

    job = db.session.get(Job, job_id) or abort(404, f"no job {job_id}")
    return jsonify(job.to_dict())


@bp.get("/v1/jobs/<int:job_id>/events")
@require_role("viewer")
def job_events(job_id: int):
    from ..models import Job, JobEvent

    db.session.get(Job, job_id) or abort(404, f"no job {job_id}")
    try:
        after = int(request.args.get("after", 0))
        limit = min(max(int(request.args.get("limit", 500)), 1), 5000)
    except ValueError:
        abort(400, "after and limit must be integers")
    rows = db.session.scalars(
        select(JobEvent).where(JobEvent.job_id == job_id, JobEvent.seq > after).order_by(JobEvent.seq).limit(limit)
    )
    return jsonify([e.to_dict() for e in rows])


@bp.get("/v1/audit")
@require_role("admin")
def list_audit():
    try:
        limit = min(max(int(request.args.get("limit", 100)), 1), 1000)
    except ValueError:
        abort(400, "limit must be an integer from 1 to 1000")
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    for key in ("actor", "action", "outcome"):
        if request.args.get(key):
            query = query.where(getattr(AuditEvent, key) == request.args[key])
    return jsonify([e.to_dict() for e in db.session.scalars(query)])


__all__ = ["ROLES", "bp"]
