"""The application context every process of netoss works in: its configuration and the database
session bound to it.

Configuration, in order: defaults, the JSON file named by NETOSS_PORTAL_CONFIG (the stack writes
<state>/portal/portal.json, mode 0600), NETOSS_PORTAL_* environment variables, then a test's
mapping. The portal (``netoss.web.create_app``) and the daemons (``netoss.daemons``) both build
their app here, from that one source, so a worker sees what the portal sees. The domain reads the
current context through the functions below and never imports Flask itself (the import contracts
in pyproject.toml keep it so): this floor owns the Flask app context, as it owns the session.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from flask import Flask, current_app, has_request_context, request

from netoss.data.db import db

REPO = Path(__file__).resolve().parents[2]
MIGRATIONS = str(Path(__file__).resolve().parent / "migrations")


def defaults() -> dict:
    """The configuration before the file, the environment and a test's mapping."""
    return dict(
        SQLALCHEMY_DATABASE_URI=None,
        SECRET_KEY=None,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # The portal serves plain HTTP on loopback by default; set NETOSS_PORTAL_SESSION_COOKIE_SECURE=true
        # behind TLS so the cookie never travels in clear.
        SESSION_COOKIE_SECURE=False,
        PERMANENT_SESSION_LIFETIME=8 * 3600,
        WTF_CSRF_TIME_LIMIT=8 * 3600,
        JSON_SORT_KEYS=False,
        # Job templates as code (one YAML file per template), next to the playbooks they run.
        JOB_TEMPLATES_DIR=str(REPO / "jobs"),
        # Private data directories of the jobs (the stack sets <state>/jobs).
        JOBS_DIR=None,
        # How long a job may wait for devices another job has held as long (seconds): it waits
        # pending, out of any worker, then fails saying which job holds them (a line of jobs for
        # one device, each changing it in turn, waits its turn however long it is).
        JOB_LOCK_WAIT=300,
        REDIS_URL=None,
        NETBOX_URL=None,
        NETBOX_TOKEN=None,
        # Any request body past this is refused with 413 before it is read.
        MAX_CONTENT_LENGTH=8 * 1024 * 1024,
        # Proxies in front of the portal whose X-Forwarded-For/-Proto/-Host are trusted (werkzeug's
        # ProxyFix): 0 = none, the peer's address is the client's (sign-in limits, audit).
        TRUSTED_PROXIES=0,
        # Hosts that links on pages may point to, besides the portal and NETBOX_URL.
        LINK_HOSTS=[],
        # Live job output (/api/v1/jobs/<id>/stream): at most this many streams per gunicorn
        # process (more get 503 with Retry-After), each ending after STREAM_SECONDS (the
        # browser's EventSource resumes it with Last-Event-ID), so streams never take every thread.
        STREAM_MAX_PER_PROCESS=12,
        STREAM_SECONDS=60,
        # GitOps: the intent repositories the portal applies (netoss.domain.gitops.repositories),
        # and where the worker mirrors them (default: <JOBS_DIR>/../gitops).
        GITOPS_REPOSITORIES_FILE=None,
        GITOPS_DIR=None,
    )


def configure(app: Flask, test_config: dict | None = None) -> None:
    """Load ``app``'s configuration from the one source (see the module's docstring); a missing
    database URI or secret key stops it with the setting to give."""
    app.config.from_mapping(defaults())
    config_file = os.environ.get("NETOSS_PORTAL_CONFIG")
    if config_file:
        app.config.from_file(config_file, load=json.load)
    app.config.from_prefixed_env(prefix="NETOSS_PORTAL")
    if test_config:
        app.config.from_mapping(test_config)
    if not app.config["JOBS_DIR"]:
        app.config["JOBS_DIR"] = str(Path(app.instance_path) / "jobs")
    for key in ("SQLALCHEMY_DATABASE_URI", "SECRET_KEY"):
        if not app.config.get(key):
            raise RuntimeError(f"the portal needs {key}: set it in NETOSS_PORTAL_CONFIG or NETOSS_PORTAL_{key}")


def build_app(test_config: dict | None = None, name: str = "netoss") -> Flask:
    """An app with the portal's configuration and the database, without the web (no blueprints):
    the context of a daemon (worker, fault processor) or of a job run outside the portal."""
    app = Flask(name)
    configure(app, test_config)
    db.init_app(app)
    return app


# -- the current context, for the domain ------------------------------------------------------


def current() -> Flask:
    """The app of the current context (the object itself, to pass on to other threads)."""
    return current_app._get_current_object()


def config():
    """The configuration of the current context."""
    return current_app.config


def extensions() -> dict:
    """The current app's extensions (where a process keeps its one notifier)."""
    return current_app.extensions


def logger():
    return current_app.logger


def in_request() -> bool:
    """Whether this code runs for a web request (else: a worker, a daemon, a command)."""
    return has_request_context()


def portal_url() -> str:
    """Where the portal is for links people follow: PORTAL_URL, else the request's host, else ''."""
    return current_app.config.get("PORTAL_URL") or (request.host_url if has_request_context() else "")
