"""REST API (JSON): /api/v1/..., described by /api/openapi.json, generated from these routes.

One blueprint (``api``), its routes split by area, each thin over the domain (parse, call,
shape the answer): ``users`` (the signed-in user, users, tokens, audit), ``jobs`` (job
templates and jobs), ``schedules``, ``faults`` (fault sources and counters),
``compliance`` and ``gitops`` (webhooks of git hosts, deployments). The service catalog and
order progress are in netoss.web.services.api, the TM Forum APIs in netoss.web.tmf.

Authentication: ``Authorization: Bearer <token>``, or the browser's session cookie (then a
CSRF token is needed on writes, in the X-CSRFToken header); a git host's webhook by the
signature of its body. Every write is audited.
"""

from __future__ import annotations

import flask
from flask import current_app, jsonify
from flask_smorest import Blueprint

from netoss.data.models import ROLES
from netoss.web.apidoc import document
from netoss.web.security import require_csrf_unless_token

bp = Blueprint("api", __name__, description="The portal's API: users, tokens, jobs, schedules, faults, compliance")


@bp.before_request
def _csrf():
    require_csrf_unless_token()


def openapi():
    return jsonify(document(current_app))


# Not an operation of the document it serves: registered as a plain Flask route.
flask.Blueprint.add_url_rule(bp, "/openapi.json", "openapi", openapi, methods=["GET"])

# The areas: each module adds its routes to ``bp``.
from netoss.web.api import compliance, faults, gitops, jobs, maintenance, schedules, users  # noqa: E402, F401
from netoss.web.api.jobs import STREAM_SLOTS, job_progress  # noqa: E402

__all__ = ["ROLES", "STREAM_SLOTS", "bp", "job_progress"]
