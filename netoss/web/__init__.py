"""The netoss portal: a Flask app factory with one blueprint per area.

Configuration comes from ``netoss.data.context.configure`` (defaults, the JSON file named by
NETOSS_PORTAL_CONFIG, NETOSS_PORTAL_* environment variables, then ``test_config``), the one
source the daemons read too. The database is the portal's own PostgreSQL database on the stack's server
(SQLite only in unit tests); its schema is managed by Alembic migrations (Flask-Migrate,
``netoss/data/migrations``).
"""

from __future__ import annotations

from flask import Flask, jsonify, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from netoss.data.context import MIGRATIONS, configure
from netoss.data.db import db
from netoss.domain import wiring
from netoss.domain.jobs.job_templates import TemplateError
from netoss.web import apidoc
from netoss.web.api import bp as api_bp
from netoss.web.assurance import bp as assurance_bp
from netoss.web.auth import bp as auth_bp
from netoss.web.charts import measure
from netoss.web.compliance import bp as compliance_bp
from netoss.web.extensions import csrf, migrate
from netoss.web.faults import bp as faults_bp
from netoss.web.gitops import bp as gitops_bp
from netoss.web.jobs import bp as jobs_bp
from netoss.web.main import bp as main_bp
from netoss.web.security import AuthError, check_request, safe_link, security_headers, wants_json
from netoss.web.services import bp as services_bp
from netoss.web.services.api import bp as services_api_bp
from netoss.web.tmf import bp as tmf_bp

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


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.url_map.converters["int"] = IdConverter
    configure(app, test_config)

    proxies = int(app.config["TRUSTED_PROXIES"] or 0)
    if proxies > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS)
    csrf.init_app(app)
    wiring.connect()  # what happens when a job ends, the same here as in the worker

    app.register_blueprint(auth_bp)
    app.register_blueprint(main_bp)
    app.register_blueprint(jobs_bp)
    app.register_blueprint(faults_bp)
    app.register_blueprint(compliance_bp)
    app.register_blueprint(services_bp)
    app.register_blueprint(gitops_bp)
    app.register_blueprint(assurance_bp)
    # The APIs, and the OpenAPI document generated from their routes (netoss.web.apidoc).
    apidoc.init_app(app, [(api_bp, "/api"), (services_api_bp, "/api"), (tmf_bp, "/tmf-api")], IdConverter)
    csrf.exempt(api_bp)  # the APIs check CSRF themselves for cookie-authenticated calls
    csrf.exempt(services_api_bp)
    csrf.exempt(tmf_bp)

    # Before anything else (CSRF and views included): the request's bounds; after: the headers.
    app.before_request_funcs.setdefault(None, []).insert(0, check_request)
    app.after_request(security_headers)
    app.add_template_filter(safe_link, "safe_link")
    app.add_template_filter(measure, "measure")

    _error_handlers(app)

    @app.get("/healthz")
    def healthz():
        db.session.execute(db.text("SELECT 1"))
        return {"status": "ok"}

    return app


def _short(message) -> str:
    """An error message bounded in size: it may quote input, which must never come back whole."""
    text = str(message)
    return text if len(text) <= 1000 else text[:1000] + "…"


def _error_handlers(app: Flask) -> None:
    @app.errorhandler(AuthError)
    def auth_error(exc: AuthError):
        if wants_json():
            return jsonify(error=str(exc), status=exc.status), exc.status
        if exc.status == 401:
            return redirect(url_for("auth.login", next=request.full_path))
        return render_template("error.html", status=exc.status, message=str(exc)), exc.status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if wants_json():
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

    @app.errorhandler(TemplateError)
    def template_error(exc: TemplateError):
        # A broken edit of jobs/*.yml: every problem, with its file and key, goes to the log.
        app.logger.error("the job templates have problems:\n%s", exc)
        message = "the job templates have problems (each file and key is in the portal log)"
        if wants_json():
            return jsonify(error=message, status=500), 500
        return render_template("error.html", status=500, message=message), 500

    @app.errorhandler(Exception)
    def server_error(exc: Exception):
        db.session.rollback()
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        if wants_json():
            return jsonify(error="internal error (see the portal log)", status=500), 500
        return render_template("error.html", status=500, message="internal error (see the portal log)"), 500
