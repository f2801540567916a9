"""The portal app on SQLite: sign-in, CSRF, rate limit, roles, API tokens, audit, OpenAPI."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask_migrate import upgrade
from sqlalchemy import select

from netoss.data.db import db
from netoss.data.models import ApiToken, AuditEvent, User
from netoss.web import create_app
from netoss.web.security import LOGIN_MAX_FAILURES, hash_password, new_token

PASSWORD = "correct horse battery"


@pytest.fixture
def app(tmp_path):
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'portal.db'}", "SECRET_KEY": "test-secret", "TESTING": True}
    )
    with app.app_context():
        upgrade()  # the Alembic migrations, as on the stack's PostgreSQL
        for name, role in (("vera", "viewer"), ("otto", "operator"), ("ada", "admin")):
            db.session.add(User(username=name, password_hash=hash_password(PASSWORD), role=role))
        db.session.commit()
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def token_for(app, username, **kwargs):
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        _row, token = new_token(user, "test", **kwargs)
        db.session.commit()
    return token


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def csrf_from(client, path="/login"):
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def sign_in(client, username="vera", password=PASSWORD, **extra):
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": csrf_from(client)}, **extra
    )


def test_health_and_migrations_match_the_models(app, client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with app.app_context(), db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), db.metadata) == []


def test_sign_in_and_out(client):
    assert client.get("/").status_code == 302  # anonymous: to the sign-in page
    resp = sign_in(client)
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    home = client.get("/").get_data(as_text=True)
    assert "Welcome, vera" in home and "viewer" in home and "login" in home
    token = re.search(r'name="csrf_token" value="([^"]+)"', home).group(1)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302


def test_wrong_password_and_missing_csrf(client):
    resp = sign_in(client, password="wrong")
    assert resp.status_code == 401 and "Wrong user name or password" in resp.get_data(as_text=True)
    assert sign_in(client, username="nobody").status_code == 401
    no_csrf = client.post("/login", data={"username": "vera", "password": PASSWORD})
    assert no_csrf.status_code == 400 and "CSRF" in no_csrf.get_data(as_text=True)


def test_no_open_redirect_after_sign_in(client):
    resp = sign_in(client, query_string={"next": "//evil.example/"})
    assert resp.headers["Location"] == "/"


def test_failed_sign_ins_are_rate_limited(client):
    for _ in range(LOGIN_MAX_FAILURES):
        assert sign_in(client, password="wrong").status_code == 401
    resp = sign_in(client)  # even the right password, from this address, for a while
    assert resp.status_code == 429 and "too many failed sign-ins" in resp.get_data(as_text=True)


def test_api_needs_a_valid_token(app, client):
    assert client.get("/api/v1/me").get_json() == {
        "error": "sign in or send an API token (Authorization: Bearer <token>)",
        "status": 401,
    }
    assert client.get("/api/v1/me", headers=bearer("nto_dead_beef")).get_json()["error"] == "unknown API token"
    assert client.get("/api/v1/me", headers=bearer("garbage")).get_json()["error"] == "malformed API token"
    token = token_for(app, "vera")
    assert client.get("/api/v1/me", headers=bearer(token)).get_json()["username"] == "vera"
    expired = token_for(app, "vera", expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    assert client.get("/api/v1/me", headers=bearer(expired)).get_json()["error"] == "this API token expired"


def test_a_tokens_last_use_is_written_once_a_minute_not_on_every_request(app, client):
    """A launch storm through the API is not also a storm of writes: the token's last use is
    kept to the minute."""
    from sqlalchemy import event

    token = token_for(app, "vera")
    writes = []

    def count(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("UPDATE API_TOKENS"):
            writes.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(3):
            assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
        assert len(writes) == 1  # the first use
        with app.app_context():
            row = db.session.scalar(select(ApiToken).where(ApiToken.user.has(username="vera")))
            first = row.last_used_at
            assert first is not None
            row.last_used_at = first - dt.timedelta(seconds=61)
            db.session.commit()
        writes.clear()
        assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
        assert len(writes) == 1  # a minute later: written again
    finally:
        event.remove(engine, "before_cursor_execute", count)
    listed = client.get("/api/v1/tokens", headers=bearer(token)).get_json()
    assert listed[0]["last_used_at"] is not None


@pytest.mark.parametrize(
    ("user", "method", "path", "status"),
    [
        ("vera", "get", "/api/v1/users", 403),
        ("otto", "get", "/api/v1/users", 403),
        ("ada", "get", "/api/v1/users", 200),
        ("vera", "get", "/api/v1/audit", 403),
        ("ada", "get", "/api/v1/audit", 200),
        ("vera", "get", "/api/v1/tokens", 200),
        ("vera", "post", "/api/v1/users", 403),
    ],
)
def test_roles(app, client, user, method, path, status):
    resp = getattr(client, method)(path, headers=bearer(token_for(app, user)), json={})
    assert resp.status_code == status, resp.get_json()
    if status == 403:
        assert "needs the admin role" in resp.get_json()["error"]


def test_admin_creates_users_with_validated_input(app, client):
    admin = bearer(token_for(app, "ada"))
    bad = client.post("/api/v1/users", headers=admin, json={"username": "X y", "password": "short", "role": "root"})
    assert bad.status_code == 400
    message = bad.get_json()["error"]
    assert "password: 'short' is too short" in message and "role: 'root' is not one of" in message
    assert "username: 'X y' does not match" in message
    assert client.post("/api/v1/users", headers=admin, data="not json").status_code == 400
    ok = client.post("/api/v1/users", headers=admin, json={"username": "eve", "password": PASSWORD, "role": "engineer"})
    assert ok.status_code == 201 and ok.get_json()["role"] == "engineer" and "password" not in ok.get_json()
    again = client.post(
        "/api/v1/users", headers=admin, json={"username": "eve", "password": PASSWORD, "role": "viewer"}
    )
    assert again.status_code == 409
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.create"))
        assert (event.actor, event.target, event.detail) == ("ada", "eve", {"role": "engineer"})
        assert PASSWORD not in str([e.to_dict() for e in db.session.scalars(select(AuditEvent))])


def test_tokens_are_shown_once_and_stored_hashed(app, client):
    auth = bearer(token_for(app, "vera"))
    created = client.post("/api/v1/tokens", headers=auth, json={"name": "ci", "expires_in_days": 30})
    assert created.status_code == 201
    token = created.get_json()["token"]
    assert token.startswith("nto_") and client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    listed = client.get("/api/v1/tokens", headers=auth).get_json()
    assert all("token" not in t for t in listed) and token not in str(listed)
    with app.app_context():
        stored = [(t.token_hash, t.prefix) for t in db.session.scalars(select(ApiToken))]
        assert token not in str(stored)
    token_id = created.get_json()["id"]
    assert client.delete(f"/api/v1/tokens/{token_id}", headers=auth).get_json()["revoked"] is True
    assert client.get("/api/v1/me", headers=bearer(token)).get_json()["error"] == "this API token was revoked"
    # Another user's token is not there for a non-admin.
    other = bearer(token_for(app, "otto"))
    assert client.delete(f"/api/v1/tokens/{token_id}", headers=other).status_code == 404


def test_cookie_authenticated_api_writes_need_csrf(client):
    sign_in(client)
    assert client.get("/api/v1/me").status_code == 200
    resp = client.post("/api/v1/tokens", json={"name": "x"})
    assert resp.status_code == 400 and "CSRF" in resp.get_json()["error"]
    token = csrf_from(client, "/")
    assert client.post("/api/v1/tokens", json={"name": "x"}, headers={"X-CSRFToken": token}).status_code == 201


def test_openapi_document_covers_every_api_route(app, client):
    doc = client.get("/api/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1")
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(("/api/v1/", "/tmf-api/")):
            path = re.sub(r"<(?:int(?:\(max=\d+\))?:)?(\w+)>", r"{\1}", rule.rule)
            routes |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == routes
    for name in ("UserCreate", "UserUpdate", "TokenCreate"):
        assert doc["components"]["schemas"][name]["additionalProperties"] is False
    # The views validate each body schema alone: a $ref in one would point nowhere (a 500).
    import json

    for name, schema in doc["components"]["schemas"].items():
        assert "$ref" not in json.dumps(schema), name


def test_unknown_api_path_is_json_404(client):
    resp = client.get("/api/v1/nope")
    assert resp.status_code == 404 and resp.get_json()["status"] == 404


def test_job_templates_list_says_who_may_run_them(app, client):
    rows = client.get("/api/v1/job-templates", headers=bearer(token_for(app, "otto"))).get_json()
    by_name = {r["name"]: r for r in rows}
    assert sorted(by_name) == [
        "backup",
        "compliance",
        "config-push",
        "gitops-apply",
        "gitops-plan",
        "health-check",
        "remediate",
        "service-order",
        "sot-sync",
    ]
    assert by_name["backup"]["can_run"] and not by_name["config-push"]["can_run"]
    assert by_name["remediate"]["can_run"] and not by_name["remediate"]["can_apply"]
    assert by_name["remediate"]["apply_roles"] == ["engineer"] and by_name["backup"]["can_apply"]
    assert [p["name"] for p in by_name["backup"]["parameters"]] == ["site", "devices"]


def test_an_anonymous_api_write_is_401_not_a_csrf_error(client):
    resp = client.post("/api/v1/tokens", json={"name": "x"})
    assert resp.status_code == 401


def test_remediate_applies_only_for_engineers_and_an_approval_needs_a_successful_check(app, client):
    from netoss.data.models import Job

    otto = bearer(token_for(app, "otto"))
    resp = client.post("/api/v1/jobs", json={"template": "remediate", "parameters": {"devices": ["ce1"]}}, headers=otto)
    assert resp.status_code == 403, resp.get_json()
    assert "runs outside check mode only for the engineer role(s)" in resp.get_json()["error"]
    with app.app_context():
        jobs = {}
        for key, check, status in (
            ("ok", True, "successful"),
            ("failed", True, "failed"),
            ("applied", False, "successful"),
        ):
            job = Job(template="remediate", parameters={"devices": ["ce1"]}, check_mode=check, status=status,
                      created_by="otto")  # fmt: skip
            db.session.add(job)
            db.session.flush()
            jobs[key] = job.id
        db.session.commit()
    approve = {"apply": True}
    resp = client.post(f"/api/v1/jobs/{jobs['ok']}/relaunch", json=approve, headers=otto)
    assert resp.status_code == 403 and "engineer" in resp.get_json()["error"]  # an operator cannot approve
    ada = bearer(token_for(app, "ada"))
    resp = client.post(f"/api/v1/jobs/{jobs['failed']}/relaunch", json=approve, headers=ada)
    assert resp.status_code == 400 and "only a successful check-mode run can be approved" in resp.get_json()["error"]
    resp = client.post(f"/api/v1/jobs/{jobs['applied']}/relaunch", json=approve, headers=ada)
    assert resp.status_code == 400 and "did not run in check mode" in resp.get_json()["error"]
    resp = client.post(f"/api/v1/jobs/{jobs['ok']}/relaunch", json={"apply": "yes"}, headers=ada)
    assert resp.status_code == 400


# -- issue 13: redirects, links and headers, sessions, sign-in limits, input bounds, streams ---


@pytest.mark.parametrize(
    "query",
    [
        "next=/%09/evil.example",  # a tab, which browsers drop: //evil.example
        "next=/%0a/evil.example",
        "next=/%5Cevil.example",  # a backslash, which browsers read as a slash
        "next=/%5C/evil.example",
        "next=/\\/evil.example",
        "next=%2F%2Fevil.example",
        "next=/%252F/evil.example",  # //evil.example once decoded again
        "next=/%25255C/evil.example",
        "next=//evil.example",
        "next=javascript:alert(1)",
        "next=JaVaScRiPt%3Aalert(1)",
        "next=https://evil.example/",
        "next=https:evil.example",
        "next=http:/%2Fevil.example",
        "next=%20//evil.example",
        "next=/%E2%80%8B/evil.example",  # a zero-width space
        "next=/%00/evil.example",
    ],
)
def test_no_open_redirect_in_any_encoding(client, query):
    resp = client.post(
        "/login",
        query_string=query,
        data={"username": "vera", "password": PASSWORD, "csrf_token": csrf_from(client)},
    )
    assert resp.status_code in (302, 400), resp.status_code
    if resp.status_code == 302:
        assert resp.headers["Location"] == "/"


@pytest.mark.parametrize("target", ["/jobs", "/jobs?status=failed", "/tickets/3", "/alarms?device=pe1&state=raised"])
def test_a_local_next_is_followed(client, target):
    resp = sign_in(client, query_string={"next": target})
    assert resp.status_code == 302 and resp.headers["Location"] == target


def test_job_supplied_urls_become_links_only_when_http_to_a_known_host(app):
    from flask import render_template

    from netoss.web.security import safe_link

    app.config.update(NETBOX_URL="http://127.0.0.1:8000", PORTAL_URL="http://127.0.0.1:8001")
    with app.test_request_context("/orders/1", base_url="http://portal.test"):
        assert safe_link("http://127.0.0.1:8000/dcim/devices/3/") == "http://127.0.0.1:8000/dcim/devices/3/"
        assert safe_link("http://portal.test/jobs/3") == "http://portal.test/jobs/3"
        assert safe_link("/jobs/3") == "/jobs/3"
        for bad in (
            "javascript:alert(1)",
            " javascript:alert(1)",
            "JAVASCRIPT:alert(1)",
            "java\tscript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:x",
            "http://evil.example/",
            "https://127.0.0.1:8000@evil.example/",
            "http://user:pw@127.0.0.1:8000/",
            "//evil.example/x",
            "/\\evil.example",
            None,
            42,
        ):
            assert safe_link(bad) is None, bad
        user = User(username="vera", role="viewer")
        order = {
            "id": 1, "external_id": None, "state": "completed", "state_reason": None,
            "created_at": dt.datetime(2026, 12, 1), "completed_at": None, "requested_by": "vera",
            "description": "", "ticket_id": None, "state_changes": [],
            "items": [{
                "id": "1", "action": "add", "service": "dia", "service_id": None, "state": "completed",
                "values": {},
                "resources": [
                    {"name": "evil", "url": "javascript:alert(document.cookie)"},
                    {"name": "pe1", "url": "http://127.0.0.1:8000/dcim/devices/1/"},
                ],
            }],
        }  # fmt: skip
        page = render_template("services/order.html", order=order, job=None, user=user, not_cancellable=True)
    assert "javascript:" not in page and "evil" in page
    assert '<a href="http://127.0.0.1:8000/dcim/devices/1/">pe1</a>' in page


@pytest.mark.parametrize("path", ["/login", "/healthz", "/api/openapi.json", "/api/v1/me", "/nope", "/static/job.js"])
def test_every_response_has_the_security_headers(client, path):
    resp = client.get(path)
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["Referrer-Policy"] == "same-origin"


def _set_user(app, username, **values):
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        for key, value in values.items():
            setattr(user, key, value)
        db.session.commit()


@pytest.mark.parametrize("change", ["password", "disable", "password-by-api"])
def test_a_password_change_or_disabling_ends_existing_sessions(app, client, change):
    sign_in(client)
    assert client.get("/").status_code == 200
    other = app.test_client()
    sign_in(other, "otto")
    if change == "password":
        _set_user(app, "vera", password_hash=hash_password("another password 1"))
    elif change == "disable":
        _set_user(app, "vera", active=False)
    else:
        resp = client.patch(
            "/api/v1/users/1", headers=bearer(token_for(app, "ada")), json={"password": "another password 1"}
        )
        assert resp.status_code == 200
    assert client.get("/").status_code == 302  # signed out
    assert client.get("/api/v1/me").status_code == 401
    assert other.get("/").status_code == 200  # nobody else
    if change != "disable":
        assert sign_in(client, password="another password 1").status_code == 302
        assert client.get("/").status_code == 200
    # A role change alone keeps the session (the role is read on each request).
    _set_user(app, "otto", role="engineer")
    assert "engineer" in other.get("/").get_data(as_text=True)


def test_a_disabled_users_tokens_stop_working(app, client):
    token = token_for(app, "vera")
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    _set_user(app, "vera", active=False)
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401


def _sign_in_from(client, address, username="vera", password=PASSWORD, headers=None):
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_from(client)},
        environ_base={"REMOTE_ADDR": address},
        headers=headers or {},
    )


def test_guessing_one_users_password_from_many_addresses_is_limited(client):
    for i in range(LOGIN_MAX_FAILURES):
        assert _sign_in_from(client, f"192.0.2.{i + 1}", password="wrong").status_code == 401
    resp = _sign_in_from(client, "192.0.2.200")  # a new address, the right password: still not now
    assert resp.status_code == 429 and "for this user name" in resp.get_data(as_text=True)
    assert _sign_in_from(client, "192.0.2.200", username="otto").status_code == 302  # others sign in


def test_one_address_failing_does_not_lock_out_others(client):
    for i in range(LOGIN_MAX_FAILURES):
        assert _sign_in_from(client, "192.0.2.66", username=f"guess{i}").status_code == 401
    assert _sign_in_from(client, "192.0.2.66").status_code == 429
    assert _sign_in_from(client, "192.0.2.7").status_code == 302


def test_proxy_fix_is_opt_in_and_counts_the_forwarded_address(tmp_path):
    def app_with(proxies):
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / f'p{proxies}.db'}",
                "SECRET_KEY": "test-secret",
                "TESTING": True,
                "TRUSTED_PROXIES": proxies,
            }
        )
        with app.app_context():
            upgrade()
            db.session.add(User(username="vera", password_hash=hash_password(PASSWORD), role="viewer"))
            db.session.commit()
        return app

    behind = app_with(1).test_client()
    for i in range(LOGIN_MAX_FAILURES):
        headers = {"X-Forwarded-For": "198.51.100.9"}
        assert _sign_in_from(behind, "127.0.0.1", f"guess{i}", headers=headers).status_code == 401
    assert _sign_in_from(behind, "127.0.0.1", headers={"X-Forwarded-For": "198.51.100.9"}).status_code == 429
    # Another client behind the same proxy signs in.
    assert _sign_in_from(behind, "127.0.0.1", headers={"X-Forwarded-For": "198.51.100.10"}).status_code == 302
    # Without TRUSTED_PROXIES the header is ignored: a client cannot pick its own address.
    direct = app_with(0).test_client()
    for i in range(LOGIN_MAX_FAILURES):
        headers = {"X-Forwarded-For": f"198.51.100.{i}"}
        assert _sign_in_from(direct, "192.0.2.5", f"guess{i}", headers=headers).status_code == 401
    assert _sign_in_from(direct, "192.0.2.5", headers={"X-Forwarded-For": "198.51.100.99"}).status_code == 429


@pytest.fixture
def a_job(app):
    from netoss.data.models import Job, JobEvent

    with app.app_context():
        job = Job(template="backup", parameters={}, status="running", created_by="vera")
        db.session.add(job)
        db.session.flush()
        for seq in (1, 2, 3):
            db.session.add(JobEvent(job_id=job.id, seq=seq, event="verbose", stdout=f"line {seq}"))
        db.session.commit()
        return job.id


BIG = "2147483648"


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("get", "/api/v1/jobs/{job}/events?after=" + BIG, {}, 400),
        ("get", "/api/v1/jobs/{job}/events?after=99999999999999999999999", {}, 400),
        ("get", "/api/v1/jobs/{job}/events?limit=0", {}, 400),
        ("get", "/api/v1/jobs?limit=0", {}, 400),
        ("get", "/api/v1/jobs?limit=-5", {}, 400),
        ("get", "/api/v1/audit?limit=0", {}, 400),
        ("get", "/api/v1/jobs?template=%00", {}, 400),
        ("get", "/api/v1/jobs?status=a%00b", {}, 400),
        ("get", "/tmf-api/alarmManagement/v4/alarm?device=%00", {}, 400),
        ("get", "/api/v1/jobs/{job}/stream", {"headers": {"Last-Event-ID": BIG}}, 400),
        ("get", "/api/v1/jobs/{job}/stream?after=" + BIG, {}, 400),
        ("get", "/api/v1/jobs/" + BIG, {}, 404),
        ("post", "/api/v1/jobs/" + BIG + "/cancel", {}, 404),
        ("patch", "/api/v1/schedules/" + BIG, {"json": {"name": "x"}}, 404),
        ("delete", "/api/v1/tokens/99999999999999999999", {}, 404),
        ("get", "/tmf-api/alarmManagement/v4/alarm/" + BIG, {}, 404),
        ("post", "/api/v1/tokens", {"json": {"name": "a\x00b"}}, 400),
        ("post", "/api/v1/schedules", {"json": {"name": "n\x00", "template": "backup", "cron": "0 * * * *"}}, 400),
        ("post", "/tmf-api/troubleTicket/v4/troubleTicket", {"json": {"name": "t\x00", "severity": "minor"}}, 400),
        ("post", "/api/v1/tokens", {"json": {"name\x00": "x"}}, 400),
        ("post", "/api/v1/tokens", {"json": {"name": "x" * 200_000}}, 400),
    ],
)
def test_inputs_are_bounded_at_the_boundary(app, client, a_job, method, path, kwargs, status):
    headers = dict(bearer(token_for(app, "ada")), **kwargs.pop("headers", {}))
    with getattr(client, method)(path.format(job=a_job), headers=headers, **kwargs) as resp:
        assert resp.status_code == status, resp.get_data(as_text=True)[:300]
        body = resp.get_data(as_text=True)
    assert len(body) < 1000  # names the input, quotes at most an excerpt
    if status == 400 and "\x00" in str(kwargs) + path:
        assert "NUL" in resp.get_json()["error"]


def test_an_oversized_body_is_refused_before_it_is_parsed(app, client):
    token = bearer(token_for(app, "ada"))
    big = b'{"alerts": [' + b'{"labels": {"a": "' + b"x" * (10 * 1024 * 1024) + b'"}}]}'
    resp = client.post("/api/v1/faults/alertmanager", data=big, headers=token, content_type="application/json")
    assert resp.status_code == 413 and len(resp.get_data()) < 1000
    resp = client.post("/api/v1/faults/alertmanager", data=big, content_type="application/json")  # anonymous too
    assert resp.status_code == 413


def _events(resp) -> list[str]:
    return [line for line in resp.get_data(as_text=True).splitlines() if line.startswith(("id:", "event:"))]


def test_live_streams_are_bounded_in_number_and_time_and_resume(app, client, a_job):
    from netoss.web.api import STREAM_SLOTS

    app.config.update(STREAM_MAX_PER_PROCESS=1, STREAM_SECONDS=0)
    auth = bearer(token_for(app, "vera"))
    assert STREAM_SLOTS.open == 0
    # The job still runs: the stream ends after STREAM_SECONDS without an end event...
    with client.get(f"/api/v1/jobs/{a_job}/stream", headers=auth) as first:
        assert first.status_code == 200
        assert _events(first) == ["id: 1", "event: job-event", "id: 2", "event: job-event", "id: 3", "event: job-event"]
    assert STREAM_SLOTS.open == 0  # its slot is given back
    # ... and the browser resumes it after the last event it got.
    with client.get(f"/api/v1/jobs/{a_job}/stream?after=0", headers=dict(auth, **{"Last-Event-ID": "2"})) as again:
        assert again.status_code == 200 and _events(again) == ["id: 3", "event: job-event"]
    # A slot is given back even when the client leaves before the first event.
    client.get(f"/api/v1/jobs/{a_job}/stream", headers=auth, buffered=False).close()
    assert STREAM_SLOTS.open == 0
    # Every slot taken (another viewer's stream): 503 with Retry-After, at once.
    assert STREAM_SLOTS.take(1)
    try:
        with client.get(f"/api/v1/jobs/{a_job}/stream", headers=auth) as refused:
            assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"
            assert "too many live streams" in refused.get_json()["error"]
    finally:
        STREAM_SLOTS.give_back()
