"""/api/v1: job templates (with their typed parameters and choices) and jobs: launch, list,
events, progress, live stream, artifacts, cancel, relaunch (and approve a check-mode run)."""

from __future__ import annotations

from flask import abort, jsonify, request
from sqlalchemy import select

from netoss.data.db import db
from netoss.data.models import JOB_STATES
from netoss.web.api import bp
from netoss.web.apidoc import Choice, Int, Text, body, bounded_int, fails, header, many, query, responds
from netoss.web.paging import listed
from netoss.web.security import audit, current_user, require_role

MAX_SEQ = 2**31 - 1  # event sequence numbers are PostgreSQL integers


@bp.get("/v1/job-templates")
@require_role("viewer")
@responds(200, many("JobTemplate"))
def list_job_templates():
    """Job templates, with their typed parameters and whether the caller may run each"""
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
@body("JobLaunch")
@responds(202, "Job")
@fails(s404="No such template", s503="The job queue is unavailable")
def launch_job(data):
    """Launch a job (queued; 4xx and nothing runs when the template, role or a parameter is wrong)

    Needs the viewer role, and a role the template allows."""
    from flask import current_app

    from netoss.domain.jobs import queue
    from netoss.domain.jobs.launch import LaunchError, audit_detail, launch

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
    launched = job.to_dict()  # before the audit's commit expires it
    audit("job.launch", target=f"job {job.id} ({job.template})", detail=audit_detail(job))
    return jsonify(launched), 202


@bp.get("/v1/jobs")
@require_role("viewer")
@query(
    limit=Int(1, 500, 50),
    offset=Int(0, 10_000_000, 0),
    status=Choice(JOB_STATES),
    template=Text(),
    created_by=Text(),
    device=Text(max_length=255),
)
@responds(200, many("Job"), description="A page of the jobs that match", total=True)
def list_jobs(args):
    """Jobs, newest first

    The database filters and pages them; X-Total-Count says how many match. device: a job
    whose limit names it."""
    from netoss.data.paging import page
    from netoss.domain.jobs.queries import JobFilter, jobs

    found = jobs(JobFilter(args["status"], args["template"], args["created_by"], args["device"]))
    total, rows = page(found, args["offset"], args["limit"])
    return listed([j.to_dict() for j in rows], total)


@bp.get("/v1/jobs/<int(max=2147483647):job_id>")
@require_role("viewer")
@responds(200, "Job")
@fails(s404="No such job")
def get_job(job_id: int):
    """One job"""
    from netoss.data.models import Job

    job = db.session.get(Job, job_id) or abort(404, f"no job {job_id}")
    return jsonify(job.to_dict())


@bp.get("/v1/jobs/<int(max=2147483647):job_id>/events")
@require_role("viewer")
@query(after=Int(-1, MAX_SEQ, 0), limit=Int(1, 5000, 500))
@responds(200, many("JobEvent"))
@fails(s404="No such job")
def job_events(job_id: int, args):
    """A job's events in order, from after=<seq> (pages of up to limit)"""
    from netoss.data.models import Job, JobEvent

    db.session.get(Job, job_id) or abort(404, f"no job {job_id}")
    after, limit = args["after"], args["limit"]
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
@responds(200, "Job")
@fails(s404="No such job", s409="The job already ended")
def cancel_job(job_id: int):
    """Cancel a pending or running job (its launcher, or an engineer)

    A running one is stopped by its work horse within a
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
@body("JobRelaunch", required=False, message='the body is empty or {"apply": true|false}')
@responds(202, "Job")
@fails(s404="No such job")
def relaunch_job(data, job_id: int):
    """Launch the same template again with the same parameters; with apply, approve a successful check-mode run

    The same mode (secrets must be given again). With ``{"apply": true}`` a successful
    check-mode job is approved: it runs again outside check mode, which its template may
    reserve to some roles (``apply_roles``). Needs the viewer role, and a role the template
    allows (to apply, one of its apply_roles)."""
    from flask import current_app

    from netoss.data.models import Job
    from netoss.domain.jobs import queue
    from netoss.domain.jobs.launch import LaunchError, audit_detail, launch

    old = db.session.get(Job, job_id) or abort(404, f"no job {job_id}")
    apply = data.get("apply", False)
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
    detail = {"relaunch_of": old.id, **({"approves": old.id} if apply else {}), **audit_detail(job)}
    audit("job.launch", target=f"job {job.id} ({job.template})", detail=detail)
    return jsonify(job.to_dict()), 202


@bp.get("/v1/jobs/<int(max=2147483647):job_id>/artifacts")
@require_role("viewer")
@responds(200, description="a gzip tar", content_type="application/gzip")
@fails(s404="No such job, or it left no artifacts", s409="The job has not ended, or its files are not cleaned")
def job_artifacts(job_id: int):
    """The job's artifacts as a .tar.gz

    Its ansible-runner artifacts, once its run ended and its directory was cleaned of
    credentials (the CLEANED marker of netoss.domain.jobs.runner.clean)."""
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
@responds(200, "JobProgress")
@fails(s404="No such job")
def job_progress_view(job_id: int):
    """Tasks and hosts done of their totals, and each host's results so far"""
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
@query(after=Int(0, MAX_SEQ, 0))
@header("Last-Event-ID", Int(0, MAX_SEQ, 0).schema())
@responds(200, description="text/event-stream", content_type="text/event-stream")
@fails(s404="No such job", s503="Too many live streams open on this server (Retry-After)")
def job_stream(job_id: int, args):
    """Live events (server-sent events: job-event, then end)

    Each new job event (``event: job-event``), then ``event: end``. Resumes after ?after=<seq>
    or Last-Event-ID.

    A stream lasts at most STREAM_SECONDS; the browser's EventSource then reconnects by itself
    with ``Last-Event-ID`` and goes on after the last event it got. Past STREAM_MAX_PER_PROCESS
    open streams the answer is 503 with Retry-After (the page retries)."""
    import json
    import time

    from flask import Response, current_app, stream_with_context

    from netoss.data.models import FINISHED, Job, JobEvent

    db.session.get(Job, job_id) or abort(404, f"no job {job_id}")
    after = args["after"]
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
@responds(200, {"type": "array", "items": {"type": ["string", "integer"]}})
@fails(s404="No such template or parameter")
def parameter_choices(name: str, param: str):
    """The allowed values of a choice parameter; other parameters as query arguments filter them"""
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


@bp.get("/v1/devices")
@require_role("viewer")
@query(
    site=Text(max_length=100),
    role=Text(max_length=100),
    tag=Text(max_length=100),
    q=Text(max_length=100),
    offset=Int(0, 10_000_000, 0),
    limit=Int(1, 500, 50),
)
@responds(200, many("DeviceChoice"), description="A page of the devices that match, by name", total=True)
@fails(s503="NetBox is unavailable")
def search_devices(args):
    """NetBox's devices by site, role and tag (slugs) and name (q: contained in it), paged

    What the launch form's device picker lists; a launch takes the same filter as
    {"match": {...}} for every device it matches."""
    from netoss.domain.jobs.launch import LaunchError, search_devices
    from netoss.web.paging import listed

    match = {}
    for key in ("site", "role", "tag", "q"):
        if args[key]:
            match[key] = args[key]
    try:
        total, rows = search_devices(match, args["offset"], args["limit"])
    except LaunchError as exc:
        abort(exc.status, str(exc))
    except Exception as exc:  # NetBox away or refusing: say so
        abort(503, f"NetBox could not be searched for devices: {exc}")
    return listed(rows, total)
