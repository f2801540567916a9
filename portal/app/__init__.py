"""The netoss portal: a Flask app factory with one blueprint per area.

Configuration, in order: defaults, the JSON file named by NETOSS_PORTAL_CONFIG (the stack
writes <state>/portal/portal.json, mode 0600), NETOSS_PORTAL_* environment variables, then
``test_config``. The database is the portal's own PostgreSQL database on the stack's server
(SQLite only in unit tests); its schema is managed by Alembic migrations (Flask-Migrate,
``portal/migrations``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from flask import Flask, jsonify, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from .extensions import csrf, db, migrate
from .security import AuthError

MIGRATIONS = str(Path(__file__).resolve().parent.parent / "migrations")


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__)
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

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS)
    csrf.init_app(app)

    from .api import bp as api_bp
    from .auth import bp as auth_bp
    from .compliance import bp as compliance_bp
    from .faults import bp as faults_bp
    from .jobs import bp as jobs_bp
    from .main import bp as main_bp
    from .services import bp as services_bp
    from .services.api import bp as services_api_bp
    from .tmf import bp as tmf_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(main_bp)
    app.register_blueprint(jobs_bp)
    app.register_blueprint(faults_bp)
    app.register_blueprint(compliance_bp)
    app.register_blueprint(services_bp)
    app.register_blueprint(api_bp, url_prefix="/api")
    app.register_blueprint(services_api_bp, url_prefix="/api")
    app.register_blueprint(tmf_bp, url_prefix="/tmf-api")
    csrf.exempt(api_bp)  # the APIs check CSRF themselves for cookie-authenticated calls
    csrf.exempt(services_api_bp)
    csrf.exempt(tmf_bp)

    _error_handlers(app)

    @app.get("/healthz")
    def healthz():
        db.session.execute(db.text("SELECT 1"))
        return {"status": "ok"}

    return app


def _wants_json() -> bool:
    return request.path.startswith(("/api/", "/tmf-api/")) or request.accept_mimetypes.best == "application/json"


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
            return jsonify(error=exc.description, status=exc.code), exc.code
        return render_template("error.html", status=exc.code, message=exc.description), exc.code

    from portal.jobs.job_templates import TemplateError

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
