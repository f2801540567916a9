"""/api/v1: fault sources (Alertmanager's webhook, batches of events) and the pipeline's
counters and dead letters. Events go to the fault processor through the stack's Redis."""

from __future__ import annotations

from flask import abort, jsonify, request

from netoss.domain.faults.alertmanager import SCHEMA as ALERTMANAGER
from netoss.web.api import bp
from netoss.web.apidoc import Int, body, fails, query, responds
from netoss.web.security import current_user, require_role

NO_REDIS = "No Redis, or the fault queue is full (Retry-After)"


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
@body(ALERTMANAGER, check=False)  # the domain checks it (alertmanager.check), counting each rejection
@responds(200, {"type": "object"})
@fails(s503=NO_REDIS)
def alertmanager_webhook():
    """Alertmanager webhook (payload version 4): firing alerts raise alarms, resolved ones clear

    webhook_config with http_config.authorization: a portal token."""
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
@body("FaultEvents")
@responds(200, {"type": "object"})
@fails(s503=NO_REDIS)
def fault_events(data):
    """Queue a batch of raise and clear events (playbooks, the Ansible callback, scripts)"""
    from netoss.domain.faults.events import Event, InvalidEvent, check, now_iso
    from netoss.domain.faults.pipeline import count

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
@responds(200, {"type": "object"})
@fails(s503="No Redis")
def fault_counters():
    """Fault events received, stored, rejected (by reason) and dead-lettered per source, and still queued"""
    from netoss.domain.faults.pipeline import counters

    return jsonify(counters(fault_queue()))


@bp.get("/v1/faults/dead-letters")
@require_role("viewer")
@query(limit=Int(1, 1000, 50))
@responds(200, {"type": "array", "items": {"type": "object"}})
@fails(s503="No Redis")
def fault_dead_letters(args):
    """The newest dead letters: queued entries the processor could not store, with the reason

    The reason (unreadable, processing_failed) and the error; the count is in counters."""
    from netoss.domain.faults.pipeline import dead_letters

    return jsonify(dead_letters(fault_queue(), args["limit"]))
