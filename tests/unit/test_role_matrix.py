"""The role matrix, generated from the app's URL map: every route and method, as anonymous,
viewer, operator, engineer and admin, with the status each must get; and every write with a
session cookie but without a CSRF token refused.

ROUTES below is the reviewed list of who may call what: a new route fails this test until it is
added there, so nobody adds one without saying which role it needs. Objects named in paths do
not exist (ids 999999, names "nope"): a call that passes the role check gets a 4xx of the view
(400, 404, ...) or a 200 for a list, never 401/403/405/500, and changes nothing.
"""

from __future__ import annotations

import re

import pytest
from flask_migrate import upgrade

from netoss.data.db import db
from netoss.data.models import ROLES, User
from netoss.web import create_app
from netoss.web.security import hash_password, new_token

PASSWORD = "correct horse battery"
IDENTITIES = ("anonymous", *ROLES)
PUBLIC = "public"
SIGNED = None  # no session or token: the signature of the body (a git host's webhook)
WRITES = ("POST", "PUT", "PATCH", "DELETE")

# (endpoint, method): the least role that may call it, or PUBLIC.
ROUTES = {
    ("api.alertmanager_webhook", "POST"): "operator",
    ("gitops.deployment_detail", "GET"): "viewer",
    ("gitops.deployment_list", "GET"): "viewer",
    ("api.create_deployment", "POST"): "engineer",
    ("api.get_deployment", "GET"): "viewer",
    ("api.gitops_webhook", "POST"): SIGNED,
    ("api.list_deliveries", "GET"): "engineer",
    ("api.list_deployments", "GET"): "viewer",
    ("api.cancel_job", "POST"): "operator",
    ("api.compliance_overview", "GET"): "viewer",
    ("api.compliance_run_csv", "GET"): "viewer",
    ("api.compliance_device_history", "GET"): "viewer",
    ("api.create_schedule", "POST"): "operator",
    ("api.create_maintenance_window", "POST"): "engineer",
    ("api.end_maintenance_window", "DELETE"): "engineer",
    ("api.list_maintenance_windows", "GET"): "viewer",
    ("assurance.device_page", "GET"): "viewer",
    ("assurance.interface_page", "GET"): "viewer",
    ("assurance.maintenance_page", "GET"): "viewer",
    ("assurance.maintenance_change", "POST"): "engineer",
    ("api.create_token", "POST"): "viewer",
    ("api.create_user", "POST"): "admin",
    ("api.delete_schedule", "DELETE"): "operator",
    ("api.fault_counters", "GET"): "viewer",
    ("api.fault_dead_letters", "GET"): "viewer",
    ("api.fault_events", "POST"): "operator",
    ("api.get_compliance_run", "GET"): "viewer",
    ("api.get_job", "GET"): "viewer",
    ("api.job_artifacts", "GET"): "viewer",
    ("api.job_events", "GET"): "viewer",
    ("api.job_progress_view", "GET"): "viewer",
    ("api.job_stream", "GET"): "viewer",
    ("api.launch_job", "POST"): "viewer",
    ("api.list_audit", "GET"): "admin",
    ("api.list_compliance_runs", "GET"): "viewer",
    ("api.list_compliance_results", "GET"): "viewer",
    ("api.list_job_templates", "GET"): "viewer",
    ("api.list_jobs", "GET"): "viewer",
    ("api.list_schedules", "GET"): "viewer",
    ("api.list_tokens", "GET"): "viewer",
    ("api.list_users", "GET"): "admin",
    ("api.me", "GET"): "viewer",
    ("api.openapi", "GET"): PUBLIC,
    ("api.parameter_choices", "GET"): "viewer",
    ("api.record_compliance_run", "POST"): "operator",
    ("api.relaunch_job", "POST"): "viewer",
    ("api.revoke_token", "DELETE"): "viewer",
    ("api.update_schedule", "PATCH"): "operator",
    ("api.update_user", "PATCH"): "admin",
    ("auth.login", "GET"): PUBLIC,
    ("auth.login", "POST"): PUBLIC,
    ("auth.logout", "POST"): PUBLIC,
    ("compliance.device_page", "GET"): "viewer",
    ("compliance.overview_page", "GET"): "viewer",
    ("compliance.run_page", "GET"): "viewer",
    ("faults.alarm_ack", "POST"): "operator",
    ("faults.alarm_list", "GET"): "viewer",
    ("faults.pipeline", "GET"): "viewer",
    ("faults.ticket_create", "POST"): "operator",
    ("faults.ticket_list", "GET"): "viewer",
    ("faults.ticket_page", "GET"): "viewer",
    ("faults.ticket_page", "POST"): "viewer",
    ("healthz", "GET"): PUBLIC,
    ("jobs.detail", "GET"): "viewer",
    ("jobs.job_list", "GET"): "viewer",
    ("jobs.new", "GET"): "viewer",
    ("jobs.new", "POST"): "viewer",
    ("jobs.schedule_list", "GET"): "viewer",
    ("jobs.template_list", "GET"): "viewer",
    ("main.home", "GET"): "viewer",
    ("services.order_cancel", "POST"): "operator",
    ("services.order_list", "GET"): "viewer",
    ("services.order_new", "GET"): "operator",
    ("services.order_new", "POST"): "operator",
    ("services.order_page", "GET"): "viewer",
    ("services.service_list", "GET"): "viewer",
    ("services.service_page", "GET"): "viewer",
    ("services_api.characteristic_choices", "GET"): "viewer",
    ("api.search_devices", "GET"): "viewer",
    ("services_api.order_progress", "POST"): "operator",
    ("services_api.service_catalog", "GET"): "viewer",
    ("static", "GET"): PUBLIC,
    ("tmf.cancel_service_order", "POST"): "operator",
    ("tmf.create_alarm", "POST"): "operator",
    ("tmf.create_service_order", "POST"): "operator",
    ("tmf.create_ticket", "POST"): "operator",
    ("tmf.get_alarm", "GET"): "viewer",
    ("tmf.get_service", "GET"): "viewer",
    ("tmf.get_service_order", "GET"): "viewer",
    ("tmf.get_ticket", "GET"): "viewer",
    ("tmf.list_alarms", "GET"): "viewer",
    ("tmf.list_service_orders", "GET"): "viewer",
    ("tmf.list_services", "GET"): "viewer",
    ("tmf.list_tickets", "GET"): "viewer",
    ("tmf.update_alarm", "PATCH"): "operator",
    ("tmf.update_ticket", "PATCH"): "operator",
}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    path = tmp_path_factory.mktemp("matrix") / "portal.db"
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "matrix", "TESTING": True})
    tokens = {}
    with app.app_context():
        upgrade()
        for role in ROLES:
            user = User(username=role, password_hash=hash_password(PASSWORD), role=role)
            db.session.add(user)
            _row, tokens[role] = new_token(user, "matrix")
        db.session.commit()
    app.config["MATRIX_TOKENS"] = tokens
    return app


@pytest.fixture(autouse=True)
def no_outside_world(monkeypatch):
    """No Redis, NetBox or job queue here: stand-ins that take everything and hold nothing."""
    monkeypatch.setattr("netoss.domain.jobs.queue.enqueuer", lambda app: lambda job, sealed: None)
    monkeypatch.setattr("netoss.domain.jobs.launch.netbox_choices", lambda param, values, wanted=None: [])
    monkeypatch.setattr("netoss.web.tmf._queue", lambda event: None)
    monkeypatch.setattr("netoss.web.tmf._wait_for", lambda fingerprint, raised, active_id=None: None)
    monkeypatch.setattr("netoss.web.tmf._netbox_device_id", lambda name, field="relatedEntity": 1)
    monkeypatch.setattr("netoss.web.tmf._notify", lambda kind, ticket: None)
    monkeypatch.setattr("netoss.domain.provisioning.catalog.view", lambda: None)


def _url(rule) -> str:
    """The rule's path with objects that do not exist."""
    path = rule.rule
    for arg in rule.arguments:
        converter = type(rule._converters[arg]).__name__
        value = "999999" if "Integer" in converter or "IdConverter" in converter else "nope"
        if arg == "filename":
            value = "portal.css"
        path = re.sub(rf"<(?:[^>:]+:)?{arg}>", value, path)
    return path


def _routes(app):
    out = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((rule.endpoint, method, _url(rule), rule.rule))
    return out


def _declared_role(app, endpoint) -> str:
    return getattr(app.view_functions[endpoint], "required_role", PUBLIC)


def _is_api(path: str) -> bool:
    return path.startswith(("/api/", "/tmf-api/"))


def _signed_in(app, role):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    resp = client.post("/login", data={"username": role, "password": PASSWORD, "csrf_token": csrf})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:200]
    home = client.get("/").get_data(as_text=True)
    return client, re.search(r'name="csrf_token" value="([^"]+)"', home).group(1)


def test_every_route_is_in_the_matrix(app):
    routes = {(endpoint, method) for endpoint, method, _url_, _rule in _routes(app)}
    missing = sorted(routes - set(ROUTES))
    assert not missing, f"add these routes to ROUTES with the role they need: {missing}"
    assert not set(ROUTES) - routes, f"routes gone from the app: {sorted(set(ROUTES) - routes)}"
    # The table says what the code does (require_role on the view).
    for endpoint, method in routes:
        assert _declared_role(app, endpoint) == ROUTES[(endpoint, method)], (endpoint, method)


def _call(app, client, method, url, identity, csrf=None):
    headers = {}
    kwargs = {}
    if _is_api(url):
        if identity != "anonymous":
            headers["Authorization"] = f"Bearer {app.config['MATRIX_TOKENS'][identity]}"
        if method in WRITES:
            kwargs["json"] = {}
    elif method in WRITES:
        kwargs["data"] = {"csrf_token": csrf} if csrf else {}
    return client.open(url, method=method, headers=headers, **kwargs)


def _expected(least: str, identity: str, method: str, url: str) -> str:
    if (method, url) == ("POST", "/login"):
        return "401"  # no user name or password given: the sign-in page says so, with 401
    if least == PUBLIC:
        return "allowed"
    if identity == "anonymous":
        return "401" if _is_api(url) else "to sign-in"
    return "allowed" if ROLES.index(identity) >= ROLES.index(least) else "403"


def _outcome(resp) -> str:
    if resp.status_code == 302 and resp.headers["Location"].startswith("/login"):
        return "to sign-in"
    if resp.status_code in (401, 403):
        return str(resp.status_code)
    assert resp.status_code not in (405, 500), resp.get_data(as_text=True)[:300]
    return "allowed"


INLINE = re.compile(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=", re.I)


@pytest.mark.parametrize("identity", IDENTITIES)
def test_role_matrix(app, identity):
    if identity == "anonymous":
        client = app.test_client()  # with a CSRF token, so that the role check is what answers
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    else:
        client, csrf = _signed_in(app, identity)
        anonymous_page = client  # pages are signed in by cookie; the API is called with a token
    wrong = []
    for endpoint, method, url, rule in _routes(app):
        if endpoint == "auth.logout":
            continue  # would end the session the other rows use; covered in test_portal
        least = ROUTES[(endpoint, method)]
        with _call(app, client if not _is_api(url) else app.test_client(), method, url, identity, csrf) as resp:
            got = _outcome(resp)
            if resp.mimetype == "text/html":
                # Under the Content-Security-Policy nothing inline runs: none is written.
                assert not INLINE.search(resp.get_data(as_text=True)), (endpoint, method)
            assert "Content-Security-Policy" in resp.headers
        if least is SIGNED:  # unsigned, whoever calls: refused, and nothing else said
            assert resp.status_code in (400, 401, 404), f"{method} {rule} unsigned: {resp.status_code}"
            continue
        expected = _expected(least, identity, method, url)
        if got != expected:
            wrong.append(f"{method} {rule}: expected {expected}, got {resp.status_code}")
    assert not wrong, "\n".join(wrong)
    if identity != "anonymous":
        assert anonymous_page.get("/").status_code == 200  # still signed in: nothing above signed out


def test_cookie_authenticated_writes_without_a_csrf_token_are_refused(app):
    client, _csrf = _signed_in(app, "admin")
    checked = 0
    for _endpoint, method, url, rule in _routes(app):
        if method not in WRITES:
            continue
        kwargs = {"json": {}} if _is_api(url) else {"data": {}}
        with client.open(url, method=method, **kwargs) as resp:
            assert resp.status_code == 400, f"{method} {rule}: {resp.status_code}"
            assert "CSRF" in resp.get_data(as_text=True), f"{method} {rule}"
        checked += 1
    assert checked >= 20
    assert client.get("/").status_code == 200  # the session itself was fine all along
