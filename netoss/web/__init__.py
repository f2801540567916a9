"""The netoss portal: a Flask app factory with one blueprint per area.

Configuration, in order: defaults, the JSON file named by NETOSS_PORTAL_CONFIG (the stack
writes <state>/portal/portal.json, mode 0600), NETOSS_PORTAL_* environment variables, then
``test_config``. The database is the portal's own PostgreSQL database on the stack's server
(SQLite only in unit tests); its schema is managed by Alembic migrations (Flask-Migrate,
``netoss/data/migrations``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from flask import Flask, jsonify, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import IntegerConverter

from netoss.data.db import db
from netoss.web import apidoc
from netoss.web.extensions import csrf, migrate
from netoss.web.security import AuthError, check_request, safe_link, security_headers

# Ids are PostgreSQL integers: one past this in a path is no such object (404).
MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """``<int:...>`` in a path: any digits match the rule, and a value out of its range (or past
    MAX_ID) is a 404 for that rule rather than a fall-through to another (which gave 405)."""

    def to_python(self, value: str) -> int:
        number = int(value)
        high = MAX_ID if self.max is None else min(self.max, MAX_ID)
        if (self.min is not None and number < self.min) or number > high or len(value) > 12:
            raise NotFound(f"no such object: {value[:12]} is out of range")
        return number


MIGRATIONS = str(Path(__file__).resolve().parent.parent / "data" / "migrations")


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.url_map.converters["int"] = IdConverter
    app.config.from_mapping(
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
        JOB_TEMPLATES_DIR=str(Path(__file__).resolve().parents[2] / "jobs"),
        # Private data directories of the jobs (the stack sets <state>/jobs).
        JOBS_DIR=None,
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
    )
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

    proxies = int(app.config["TRUSTED_PROXIES"] or 0)
    if proxies > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS)
    csrf.init_app(app)

    from netoss.web.api import bp as api_bp
    from netoss.web.auth import bp as auth_bp
    from netoss.web.compliance import bp as compliance_bp
    from netoss.web.faults import bp as faults_bp
    from netoss.web.jobs import bp as jobs_bp
    from netoss.web.main import bp as main_bp
    from netoss.web.services import bp as services_bp
    from netoss.web.services.api import bp as services_api_bp
    from netoss.web.tmf import bp as tmf_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(main_bp)
    app.register_blueprint(jobs_bp)
    app.register_blueprint(faults_bp)
    app.register_blueprint(compliance_bp)
    app.register_blueprint(services_bp)
    # The APIs, and the OpenAPI document generated from their routes (netoss.web.apidoc).
    apidoc.init_app(app, [(api_bp, "/api"), (services_api_bp, "/api"), (tmf_bp, "/tmf-api")], IdConverter)
    csrf.exempt(api_bp)  # the APIs check CSRF themselves for cookie-authenticated calls
    csrf.exempt(services_api_bp)
    csrf.exempt(tmf_bp)

    # Before anything else (CSRF and views included): the request's bounds; after: the headers.
    app.before_request_funcs.setdefault(None, []).insert(0, check_request)
    app.after_request(security_headers)
    app.add_template_filter(safe_link, "safe_link")

    _error_handlers(app)

    @app.get("/healthz")
    def healthz():
        db.session.execute(db.text("SELECT 1"))
        return {"status": "ok"}

    return app


def _wants_json() -> bool:
    return request.path.startswith(("/api/", "/tmf-api/")) or request.accept_mimetypes.best == "application/json"


def _short(message) -> str:
    """An error message bounded in size: it may quote input, which must never come back whole."""
    text = str(message)
    return text if len(text) <= 1000 else text[:1000] + "…"


def _error_handlers(app: Flask) -> None:
    @app.errorhandler(AuthError)
    def auth_error(exc: AuthError):
        if _wants_json():
            return jsonify(error=str(exc), status=exc.status), exc.status
        if exc.status == 401:
            return redirect(url_for("auth.login", next=request.full_path))
        return render_template("error.html", status=exc.status, message=str(exc)), exc.status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if _wants_json():
            response = jsonify(error=_short(exc.description), status=exc.code)
        else:
            response = app.make_response(
                render_template("error.html", status=exc.code, message=_short(exc.description))
            )
        response.status_code = exc.code
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value  # Retry-After, Allow, ...
        return response

    from netoss.domain.jobs.job_templates import TemplateError

    @app.errorhandler(TemplateError)
    def template_error(exc: TemplateError):
        # A broken edit of jobs/*.yml: every problem, with its file and key, goes to the log.
        app.logger.error("the job templates have problems:\n%s", exc)
        message = "the job templates have problems (each file and key is in the portal log)"
        if _wants_json():
            return jsonify(error=message, status=500), 500
        return render_template("error.html", status=500, message=message), 500

    @app.errorhandler(Exception)
    def server_error(exc: Exception):
        db.session.rollback()
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        if _wants_json():
            return jsonify(error="internal error (see the portal log)", status=500), 500
        return render_template("error.html", status=500, message="internal error (see the portal log)"), 500
