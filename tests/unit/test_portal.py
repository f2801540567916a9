"""The portal app on SQLite: sign-in, CSRF, rate limit, roles, API tokens, audit, OpenAPI."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask_migrate import upgrade
from sqlalchemy import select

from portal.app import create_app
from portal.app.extensions import db
from portal.app.models import ApiToken, AuditEvent, User
from portal.app.security import LOGIN_MAX_FAILURES, hash_password, new_token

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
    from portal.app.models import Job

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
