"""The audit trail: who did what, from where (table ``audit_events``)."""

from __future__ import annotations

from flask import g, has_request_context, request

from netoss.data.db import db
from netoss.data.models import AuditEvent

# The source recorded for an action made outside any web request (a job's worker, a daemon).
PROCESS_SOURCE = "worker"


def source_address() -> str | None:
    """The client's address: the peer's, or the one the trusted proxy saw (TRUSTED_PROXIES);
    outside a request, PROCESS_SOURCE."""
    if not has_request_context():
        return PROCESS_SOURCE
    return (request.remote_addr or "")[:64] or None


def record(action: str, target: str | None = None, outcome: str = "ok", detail: dict | None = None, actor=None):
    """Record an action (committed at once, so a failed request still leaves its trace). The actor
    is the signed-in user of the request unless given."""
    if actor is None and has_request_context():
        user = g.get("user")
        actor = user.username if user is not None else None
    db.session.add(
        AuditEvent(actor=actor, action=action, target=target, source=source_address(), outcome=outcome, detail=detail)
    )
    db.session.commit()
