"""REST API (JSON): /api/v1/..., described by /api/openapi.json.

Authentication: ``Authorization: Bearer <token>``, or the browser's session cookie (then a
CSRF token is needed on writes, in the X-CSRFToken header). Every write is audited.
"""

from __future__ import annotations

import datetime as dt

import jsonschema
from flask import Blueprint, abort, jsonify, request
from sqlalchemy import select

from netoss.data.db import db
from netoss.data.models import ROLES, ApiToken, AuditEvent, User
from netoss.web.api.openapi import SCHEMAS, document
from netoss.web.security import (
    audit,
    bounded_int,
    current_user,
    hash_password,
    new_token,
    require_csrf_unless_token,
    require_role,
)

bp = Blueprint("api", __name__)
MAX_SEQ = 2**31 - 1  # event sequence numbers are PostgreSQL integers


@bp.before_request
def _csrf():
    require_csrf_unless_token()


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    """The integer query argument ``name`` (``default`` when absent); 400 unless low..high."""
    if name not in request.args:
        return default
    return bounded_int(request.args[name], name, low, high)


def _body(schema_name: str) -> dict:
    """The request's JSON body, validated against the OpenAPI schema; 400 names what is wrong."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400, "the body must be a JSON object (Content-Type: application/json)")
    errors = sorted(jsonschema.Draft202012Validator(SCHEMAS[schema_name]).iter_errors(data), key=lambda e: e.path)
    if errors:
        # Each problem names its field; jsonschema's message quotes the value, so only its start.
        where = lambda e: ".".join(str(p) for p in e.path)[:80] or "body"  # noqa: E731
        short = lambda m: m if len(m) <= 120 else m[:120] + "…"  # noqa: E731
        abort(400, "; ".join(f"{where(e)}: {short(e.message)}" for e in errors[:5]))
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


@bp.patch("/v1/users/<int(max=2147483647):user_id>")
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


@bp.delete("/v1/tokens/<int(max=2147483647):token_id>")
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
    from flask import current_app

    from netoss.domain.jobs.runner import templates

    user = current_user()
    return jsonify(
        [
            dict(t.to_dict(), can_run=t.allowed(user.role), can_apply=t.may_apply(user.role))
            for _name, t in sorted(templates(current_app).items())
        ]
    )


@bp.post("/v1/jobs")
@require_role("viewer")
def launch_job():
    from flask import current_app

    from netoss.domain.jobs import queue
    from netoss.domain.jobs.launch import LaunchError, launch

    data = _body("JobLaunch")
    user = current_user()
    enqueue = queue.enqueuer(current_app._get_current_object())
    try:
        job = launch(
            user, data["template"], data.get("parameters", {}), data.get("check", False), enqueue,
            ticket_id=data.get("ticket"),
        )  # fmt: skip
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
    from netoss.data.models import Job

    limit = _int_arg("limit", 50, 1, 500)
    query = select(Job).order_by(Job.id.desc()).limit(limit)
    for key, column in (("status", Job.status), ("template", Job.template), ("created_by", Job.created_by)):
        if request.args.get(key):
            query = query.where(column == request.args[key])
    return jsonify([j.to_dict() for j in db.session.scalars(query)])


@bp.get("/v1/jobs/<int(max=2147483647):job_id>")
@require_role("viewer")
def get_job(job_id: int):
    from netoss.data.models import Job

    job = db.session.get(Job, job_id) or abort(404, f"no job {job_id}")
    return jsonify(job.to_dict())


@bp.get("/v1/jobs/<int(max=2147483647):job_id>/events")
@require_role("viewer")
def job_events(job_id: int):
    from netoss.data.models import Job, JobEvent

    db.session.get(Job, job_id) or abort(404, f"no job {job_id}")
    after = _int_arg("after", 0, -1, MAX_SEQ)
    limit = _int_arg("limit", 500, 1, 5000)
    rows = db.session.scalars(
        select(JobEvent).where(JobEvent.job_id == job_id, JobEvent.seq > after).order_by(JobEvent.seq).limit(limit)
    )
    return jsonify([e.to_dict() for e in rows])


def job_progress(job) -> dict:
    """Tasks and hosts done of their totals, from the stored events and the job's plan."""
    from sqlalchemy import func

    from netoss.data.models import FINISHED, JobEvent
    from netoss.domain.jobs.progress import summarize

    tasks = db.session.scalar(
        select(func.count(JobEvent.id)).where(JobEvent.job_id == job.id, JobEvent.event == "playbook_on_task_start")
    )
    names = {
        "runner_on_ok": "ok",
        "runner_on_failed": "failed",
        "runner_on_unreachable": "unreachable",
        "runner_on_skipped": "skipped",
        "runner_on_start": "started",
    }
    hosts: dict[str, dict] = {}
    rows = db.session.execute(
        select(JobEvent.host, JobEvent.event, func.count(JobEvent.id))
        .where(JobEvent.job_id == job.id, JobEvent.host.is_not(None), JobEvent.event.in_(names))
        .group_by(JobEvent.host, JobEvent.event)
    )
    for host, event, count in rows:
        hosts.setdefault(host, {})[names[event]] = count
    return summarize(job.plan, hosts, tasks or 0, job.status in FINISHED)


@bp.post("/v1/jobs/<int(max=2147483647):job_id>/cancel")
@require_role("operator")
def cancel_job(job_id: int):
    """Cancel a pending or running job. A running one is stopped by its work horse within a
    second or two (every process of its run, checked), which then ends it and frees its locks;
    one whose work horse is gone is stopped and ended here, or by a worker's reaper."""
    from netoss.data.models import FINISHED, Job

    job = db.session.get(Job, job_id) or abort(404, f"no job {job_id}")
    user = current_user()
    if job.created_by != user.username and not user.at_least("engineer"):
        abort(403, f"job {job_id} was launched by {job.created_by}: only they or an engineer may cancel it")
    from flask import current_app

    from netoss.domain.jobs import queue

    stopping = job.status == "canceled" and job.finished_at is None and job.started_at is not None
    if job.status in FINISHED and not (stopping and queue.process_gone(job)):
        if stopping:
            abort(409, f"job {job_id} is already being cancelled: its run is stopping")
        abort(409, f"job {job_id} already ended ({job.status})")
    app = current_app._get_current_object()
    if job.started_at is None:
        queue.cancel_pending(app, job)  # off the queue, ended: job_ended (its service order) follows
    else:
        job.status = "canceled"
        db.session.commit()
    if job.started_at is not None and queue.process_gone(job):
        # Its work horse died here: nobody else will stop what is left of the run. Stop it
        # (all its processes, checked), clean its files, end it and free its locks now.
        queue.end_lost(app, job, f"lost: its process {job.pid} was gone when it was cancelled")
    # Otherwise its work horse stops the run within a second or two (or a worker's reaper, if
    # the horse is on another host and dies), then ends it: finished_at, locks freed.
    audit("job.cancel", target=f"job {job.id} ({job.template})")
    return jsonify(job.to_dict())


@bp.post("/v1/jobs/<int(max=2147483647):job_id>/relaunch")
@require_role("viewer")
def relaunch_job(job_id: int):
    """Launch the same template again with the same parameters and mode (secrets must be given
    again). With ``{"apply": true}`` a successful check-mode job is approved: it runs again
    outside check mode, which its template may reserve to some roles (``apply_roles``)."""
    from flask import current_app

    from netoss.data.models import Job
    from netoss.domain.jobs import queue
    from netoss.domain.jobs.launch import LaunchError, launch

    old = db.session.get(Job, job_id) or abort(404, f"no job {job_id}")
    body = request.get_json(silent=True) if request.content_length else {}
    if not isinstance(body, dict) or set(body) - {"apply"} or not isinstance(body.get("apply", False), bool):
        abort(400, 'the body is empty or {"apply": true|false}')
    apply = body.get("apply", False)
    if apply and not old.check_mode:
        abort(400, f"job {job_id} did not run in check mode: there is nothing to approve")
    if apply and old.status != "successful":
        abort(400, f"job {job_id} is {old.status}: only a successful check-mode run can be approved")
    if "********" in old.parameters.values():
        abort(400, f"job {job_id} had secret parameters, which are never kept: launch it again with them")
    try:
        job = launch(
            current_user(),
            old.template,
            dict(old.parameters),
            False if apply else old.check_mode,
            queue.enqueuer(current_app._get_current_object()),
            ticket_id=old.ticket_id,
        )
    except LaunchError as exc:
        return jsonify({"error": str(exc), "status": exc.status, "problems": exc.problems}), exc.status
    detail = {"relaunch_of": old.id, **({"approves": old.id} if apply else {})}
    audit("job.launch", target=f"job {job.id} ({job.template})", detail=detail)
    return jsonify(job.to_dict()), 202


@bp.get("/v1/jobs/<int(max=2147483647):job_id>/artifacts")
@require_role("viewer")
def job_artifacts(job_id: int):
    """The job's ansible-runner artifacts as a .tar.gz, once its run ended and its directory was
    cleaned of credentials (the CLEANED marker of netoss.domain.jobs.runner.clean)."""
    import io
    import tarfile

    from flask import current_app, send_file

    from netoss.data.models import FINISHED, Job
    from netoss.domain.jobs.runner import cleaned, job_dir

    job = db.session.get(Job, job_id) or abort(404, f"no job {job_id}")
    if job.status not in FINISHED or job.finished_at is None:
        abort(409, f"job {job_id} is {job.status}: its artifacts come when it ends")
    private = job_dir(current_app, job_id)
    root = private / "artifacts"
    if not root.is_dir():
        abort(404, f"job {job_id} left no artifacts")
    if not cleaned(private):
        # Its run died before cleaning up (a worker's reaper, or the next worker start, will):
        # until then the files may hold credentials.
        abort(409, f"job {job_id}: its artifacts are not cleaned yet; try again in a minute")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(root, arcname=f"job-{job_id}")
    buf.seek(0)
    return send_file(
        buf, mimetype="application/gzip", as_attachment=True, download_name=f"job-{job_id}-artifacts.tar.gz"
    )


@bp.get("/v1/jobs/<int(max=2147483647):job_id>/progress")
@require_role("viewer")
def job_progress_view(job_id: int):
    from netoss.data.models import Job

    job = db.session.get(Job, job_id) or abort(404, f"no job {job_id}")
    return jsonify(dict(job_progress(job), status=job.status, event_count=job.event_count))


class _StreamSlots:
    """The live streams this process serves at once: a bounded count, so streams can never hold
    every thread of a gunicorn worker (the rest of the portal keeps answering)."""

    def __init__(self):
        import threading

        self._lock = threading.Lock()
        self.open = 0

    def take(self, cap: int) -> bool:
        with self._lock:
            if self.open >= cap:
                return False
            self.open += 1
            return True

    def give_back(self) -> None:
        with self._lock:
            self.open -= 1


STREAM_SLOTS = _StreamSlots()


@bp.get("/v1/jobs/<int(max=2147483647):job_id>/stream")
@require_role("viewer")
def job_stream(job_id: int):
    """Server-sent events: each new job event (``event: job-event``), then ``event: end``.

    A stream lasts at most STREAM_SECONDS; the browser's EventSource then reconnects by itself
    with ``Last-Event-ID`` and goes on after the last event it got. Past STREAM_MAX_PER_PROCESS
    open streams the answer is 503 with Retry-After (the page retries)."""
    import json
    import time

    from flask import Response, current_app, stream_with_context

    from netoss.data.models import FINISHED, Job, JobEvent

    db.session.get(Job, job_id) or abort(404, f"no job {job_id}")
    after = _int_arg("after", 0, 0, MAX_SEQ)
    if request.headers.get("Last-Event-ID", "").strip():  # a reconnect: newer than the page's ?after
        after = max(after, bounded_int(request.headers["Last-Event-ID"], "Last-Event-ID", 0, MAX_SEQ))
    seconds = float(current_app.config["STREAM_SECONDS"])
    if not STREAM_SLOTS.take(int(current_app.config["STREAM_MAX_PER_PROCESS"])):
        response = jsonify(error="too many live streams open on this server: retry in a few seconds", status=503)
        response.status_code = 503
        response.headers["Retry-After"] = "5"
        return response
    db.session.rollback()  # no connection held while the stream waits

    def generate(after=after):
        started = last_beat = time.monotonic()
        yield "retry: 1000\n\n"  # reconnect after 1 s when this stream ends
        while True:
            rows = db.session.scalars(
                select(JobEvent)
                .where(JobEvent.job_id == job_id, JobEvent.seq > after)
                .order_by(JobEvent.seq)
                .limit(500)
            ).all()
            for e in rows:
                after = e.seq
                yield f"id: {e.seq}\nevent: job-event\ndata: {json.dumps(e.to_dict())}\n\n"
            job = db.session.get(Job, job_id)
            status = job.status
            db.session.rollback()  # end the transaction: the next read sees new rows
            if not rows and status in FINISHED:
                yield f"event: end\ndata: {json.dumps({'status': status})}\n\n"
                return
            if time.monotonic() - started > seconds:
                return  # the EventSource resumes with Last-Event-ID
            if not rows:
                if time.monotonic() - last_beat > 15:
                    last_beat = time.monotonic()
                    yield ": still running\n\n"
                time.sleep(0.5)

    released = []

    def release():
        if not released:
            released.append(True)
            STREAM_SLOTS.give_back()

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    response = Response(stream_with_context(generate()), mimetype="text/event-stream", headers=headers)
    response.call_on_close(release)  # also when the client goes away before the first event
    return response


@bp.get("/v1/job-templates/<name>/choices/<param>")
@require_role("viewer")
def parameter_choices(name: str, param: str):
    """The allowed values of a choice parameter, given the other parameters (dependent choices)."""
    from flask import current_app

    from netoss.domain.jobs.launch import LaunchError, netbox_choices
    from netoss.domain.jobs.runner import templates

    template = templates(current_app).get(name) or abort(404, f"no job template {name!r}")
    parameter = template.parameter(param) or abort(404, f"template {name!r} has no parameter {param!r}")
    if parameter.choices is not None:
        return jsonify(parameter.choices)
    if parameter.choices_from is None:
        abort(400, f"{param}: not a choice parameter")
    try:
        return jsonify(netbox_choices(parameter, {k: v for k, v in request.args.items() if v}))
    except LaunchError as exc:
        return jsonify(error=str(exc), status=exc.status), exc.status


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
def list_schedules():
    from netoss.data.models import Schedule

    return jsonify([s.to_dict() for s in db.session.scalars(select(Schedule).order_by(Schedule.id))])


@bp.post("/v1/schedules")
@require_role("operator")
def create_schedule():
    from netoss.domain.jobs.launch import LaunchError
    from netoss.domain.jobs.schedules import create

    data = _body("ScheduleCreate")
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
def update_schedule(schedule_id: int):
    from netoss.data.models import Schedule, utcnow
    from netoss.domain.jobs.schedules import ScheduleError, check_cron, next_time

    data = _body("ScheduleUpdate")
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
def delete_schedule(schedule_id: int):
    from netoss.data.models import Schedule

    user = current_user()
    schedule = db.session.get(Schedule, schedule_id) or abort(404, f"no schedule {schedule_id}")
    if schedule.created_by != user.username and not user.at_least("engineer"):
        abort(403, f"schedule {schedule_id} belongs to {schedule.created_by}: only they or an engineer may delete it")
    db.session.delete(schedule)
    db.session.commit()
    audit("schedule.delete", target=f"schedule {schedule_id} ({schedule.template})")
    return jsonify(schedule.to_dict())


@bp.get("/v1/audit")
@require_role("admin")
def list_audit():
    limit = _int_arg("limit", 100, 1, 1000)
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    for key in ("actor", "action", "outcome"):
        if request.args.get(key):
            query = query.where(getattr(AuditEvent, key) == request.args[key])
    return jsonify([e.to_dict() for e in db.session.scalars(query)])


__all__ = ["ROLES", "bp"]


# -- fault sources and counters -------------------------------------------------------------


def fault_queue():
    """The stack's Redis, where fault events queue for the processor (503 without one)."""
    from flask import current_app

    from netoss.domain.jobs.queue import connection

    try:
        return connection(current_app)
    except RuntimeError as exc:
        abort(503, str(exc).replace("the job queue", "the fault queue"))


def publish_events(conn, events) -> int:
    """Queue events for the fault processor; 503 with Retry-After when the queue is at its
    bound (FAULTS_STREAM_MAXLEN): the refused ones are counted as queue_full, and a sender
    that retries (Alertmanager does) loses nothing."""
    from flask import current_app

    from netoss.domain.faults.pipeline import QueueFull, publish

    try:
        return publish(conn, events, current_app.config.get("FAULTS_STREAM_MAXLEN"))
    except QueueFull as exc:
        resp = jsonify({"error": f"{exc}; try again later", "status": 503, "queued": exc.queued})
        resp.status_code = 503
        resp.headers["Retry-After"] = "10"
        abort(resp)


@bp.post("/v1/faults/alertmanager")
@require_role("operator")
def alertmanager_webhook():
    """Alertmanager's webhook (webhook_config with http_config.authorization: a portal token)."""
    from flask import current_app

    from netoss.domain.faults import alertmanager
    from netoss.domain.faults.events import InvalidEvent, check
    from netoss.domain.faults.pipeline import count

    conn = fault_queue()
    payload = request.get_json(silent=True)
    try:
        if payload is None:
            raise alertmanager.PayloadError("invalid_json", "the body is not JSON (Content-Type: application/json)")
        events = alertmanager.events(alertmanager.check(payload))
    except alertmanager.PayloadError as exc:
        pipe = conn.pipeline(transaction=False)
        count(pipe, "received", "alertmanager")
        count(pipe, "rejected", "alertmanager", exc.reason)
        pipe.execute()
        current_app.logger.warning("alertmanager payload rejected (%s): %s", exc.reason, exc.detail)
        abort(400, f"{exc.reason}: {exc.detail}")
    good, rejected = [], []
    for i, event in enumerate(events):
        try:
            good.append(check(event))
        except InvalidEvent as exc:
            rejected.append({"alert": i, "reason": exc.reason, "detail": exc.detail})
    pipe = conn.pipeline(transaction=False)
    count(pipe, "received", "alertmanager", n=len(events))
    for r in rejected:
        count(pipe, "rejected", "alertmanager", r["reason"])
        current_app.logger.warning("alert %d rejected (%s): %s", r["alert"], r["reason"], r["detail"])
    pipe.execute()
    publish_events(conn, good)
    return jsonify({"accepted": len(good), "rejected": rejected})


@bp.post("/v1/faults/events")
@require_role("operator")
def fault_events():
    """A batch of raise and clear events from a playbook, a callback or a script."""
    from netoss.domain.faults.events import Event, InvalidEvent, check, now_iso
    from netoss.domain.faults.pipeline import count

    data = _body("FaultEvents")
    conn = fault_queue()
    user = current_user()
    good, rejected = [], []
    for i, raw in enumerate(data["events"]):
        details = {k: str(v)[:200] for k, v in (raw.get("details") or {}).items()}
        event = Event(
            source=raw.get("source", "api"),
            action=raw["action"],
            device=raw["device"],
            object_type=raw.get("object_type", "device"),
            object_name=raw.get("object_name", ""),
            condition=raw["condition"],
            alarm_type=raw.get("alarm_type", "communicationsAlarm"),
            severity=raw.get("severity", "major"),
            probable_cause=raw.get("probable_cause", "unspecified"),
            specific_problem=raw.get("specific_problem", ""),
            time=raw.get("time"),
            received=now_iso(),
            text=raw.get("text", raw.get("specific_problem", "")),
            details={**details, "user": user.username},
        )
        try:
            good.append(check(event))
        except InvalidEvent as exc:
            rejected.append({"event": i, "reason": exc.reason, "detail": exc.detail})
    pipe = conn.pipeline(transaction=False)
    for event in good:
        count(pipe, "received", event.source)
    for r in rejected:
        count(pipe, "received", "api")
        count(pipe, "rejected", "api", r["reason"])
    pipe.execute()
    publish_events(conn, good)
    return jsonify({"accepted": len(good), "rejected": rejected})


@bp.get("/v1/faults/counters")
@require_role("viewer")
def fault_counters():
    """Events received, stored and rejected (by reason) per source, and still queued."""
    from netoss.domain.faults.pipeline import counters

    return jsonify(counters(fault_queue()))


@bp.get("/v1/faults/dead-letters")
@require_role("viewer")
def fault_dead_letters():
    """The newest entries the processor could not store, with why (the count is in counters)."""
    from netoss.domain.faults.pipeline import dead_letters

    return jsonify(dead_letters(fault_queue(), _int_arg("limit", 50, 1, 1000)))


# -- configuration compliance ---------------------------------------------------------------


def _queue_compliance_alarms(events: list) -> dict:
    """Queue a run's alarm events; the answer says how many, or why none could be."""
    from flask import current_app
    from werkzeug.exceptions import HTTPException

    from netoss.domain.compliance import queue

    out = {
        "raised": sum(e.action == "raise" for e in events),
        "cleared": sum(e.action == "clear" for e in events),
        "queued": 0,
    }
    if not events:
        return out
    try:
        out["queued"] = queue(fault_queue(), events)
    except HTTPException as exc:
        out["error"] = exc.description
    except Exception as exc:  # Redis went away: the run is stored, the next run raises or clears again
        out["error"] = f"the fault queue is unavailable: {type(exc).__name__}: {str(exc)[:200]}"
    if "error" in out:
        current_app.logger.warning("compliance alarms not queued (%d events): %s", len(events), out["error"])
    return out


@bp.post("/v1/compliance/runs")
@require_role("operator")
def record_compliance_run():
    """Record a run of the compliance engine, then queue its alarms (a raise for each device and
    feature that is not compliant, a clear for those compliant again)."""
    from flask import url_for

    from netoss.domain import compliance

    try:
        recorded = compliance.record_run(request.get_json(silent=True), current_user())
    except compliance.InvalidRun as exc:
        abort(400, str(exc))
    run = recorded.run
    audit(
        "compliance.record",
        target=f"compliance run {run.id}",
        detail={"source": run.source, "devices": run.device_count, "percent": run.percent, "job": run.job_id},
    )
    alarms = _queue_compliance_alarms(recorded.events)
    href = url_for("compliance.run_page", run_id=run.id, _external=True)
    return jsonify(dict(run.to_dict(), href=href, alarms=alarms)), 201


@bp.get("/v1/compliance/runs")
@require_role("viewer")
def list_compliance_runs():
    from netoss.domain.compliance import list_runs

    runs = list_runs(_int_arg("limit", 50, 1, 500), _int_arg("offset", 0, 0, 10_000_000))
    return jsonify([r.to_dict() for r in runs])


@bp.get("/v1/compliance/runs/<int(max=2147483647):run_id>")
@require_role("viewer")
def get_compliance_run(run_id: int):
    from netoss.domain.compliance import run_report

    return jsonify(run_report(run_id) or abort(404, f"no compliance run {run_id}"))


@bp.get("/v1/compliance/runs/<int(max=2147483647):run_id>/csv")
@require_role("viewer")
def compliance_run_csv(run_id: int):
    """The run as CSV: one row per device, feature and rule."""
    from flask import Response

    from netoss.domain.compliance import run_report
    from netoss.domain.compliance.report import run_csv

    report = run_report(run_id) or abort(404, f"no compliance run {run_id}")
    headers = {"Content-Disposition": f'attachment; filename="compliance-run-{run_id}.csv"'}
    return Response(run_csv(report), mimetype="text/csv", headers=headers)


@bp.get("/v1/compliance/overview")
@require_role("viewer")
def compliance_overview():
    """Each device's latest results, the fleet's percentage, and the percentage of each run over time."""
    from netoss.domain.compliance import overview

    device = request.args.get("device") or None
    if device is not None and len(device) > 64:
        abort(400, "device: a device name has 64 characters at most")
    return jsonify(overview(_int_arg("days", 30, 1, 3660), device))
