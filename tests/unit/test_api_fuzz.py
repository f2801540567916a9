"""Property-based fuzz of the portal API over its own OpenAPI document (schemathesis):
whatever the input, no answer is a server error (5xx).

In-process (WSGI) on SQLite, with an admin token, the shipped job templates, and the job
queue replaced by a no-op (a launch that passes the checks is accepted, not run): this
fuzzes the input handling, not Ansible.
"""

from __future__ import annotations

import pytest
import schemathesis
from flask_migrate import upgrade
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from portal.app import create_app
from portal.app.extensions import db
from portal.app.models import User
from portal.app.security import hash_password, new_token


def _app(tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "portal.db"
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "fuzz", "TESTING": True})
    with app.app_context():
        upgrade()
        admin = User(username="ada", password_hash=hash_password("x" * 12), role="admin")
        db.session.add(admin)
        _row, token = new_token(admin, "fuzz")
        db.session.commit()
    app.config["FUZZ_TOKEN"] = token
    return app


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return _app(tmp_path_factory)


@pytest.fixture(autouse=True)
def no_queue(monkeypatch):
    monkeypatch.setattr("portal.jobs.queue.enqueuer", lambda app: lambda job, sealed: None)
    # NetBox is not there: parameters with NetBox choices answer 503 by design; give them none.
    monkeypatch.setattr("portal.jobs.launch.netbox_choices", lambda param, values: [])
    # Alarms go to the fault processor through Redis, absent here: queued, never applied (202).
    monkeypatch.setattr("portal.app.tmf._queue", lambda event: None)
    monkeypatch.setattr("portal.app.tmf._wait_for", lambda fingerprint, raised, timeout=5.0: None)
    monkeypatch.setattr("portal.app.tmf._netbox_device_id", lambda name, field="relatedEntity": 1)
    monkeypatch.setattr("portal.app.tmf._notify", lambda kind, ticket: None)
    monkeypatch.setattr("portal.app.api.fault_queue", lambda: _NoRedis())
    # Service orders and the inventory read NetBox through the shared order logic: an empty one.
    monkeypatch.setattr("portal.services.catalog.view", lambda: None)
    monkeypatch.setattr("portal.services.catalog.logic", lambda: _EmptyNetbox())


class _NoRedis:
    """Stands in for the stack's Redis in this fuzz of input handling: takes writes, holds nothing."""

    def pipeline(self, transaction=False):
        return self

    def hincrby(self, *args):
        return self

    def xadd(self, *args, **kwargs):
        return self

    def execute(self):
        return []

    def xlen(self, key):
        return 0

    def hgetall(self, key):
        return {}


class _EmptyNetbox:
    """Stands in for the shared order logic over a NetBox without devices or services."""

    def check_order(self, catalog, items, view):
        return [], ["item 1: pe: no device in this NetBox"]

    def devices_of(self, items):
        return []

    def describe(self, view, cid):
        return None

    def list_services(self, view, service_only=False):
        return []

    def choices(self, service, name, view, values):
        return []


def test_no_input_makes_a_server_error(app):
    from hypothesis import given

    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    headers = {"Authorization": f"Bearer {app.config['FUZZ_TOKEN']}"}
    operations, calls = 0, []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.endswith("/stream"):
            continue  # the stream of a pending job never ends

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case):
            response = case.call_and_validate(headers=headers, checks=[not_a_server_error])
            calls.append(response.status_code)

        fuzz()
        operations += 1
    assert operations >= 20 and len(calls) >= 10 * operations
    assert {200, 201, 400, 404} <= set(calls)  # the fuzz reached past validation too
