"""Property-based fuzz of the portal API over its own OpenAPI document (schemathesis):
whatever the input, no answer is a server error (5xx), and no error answer echoes more than
a short excerpt of what it was sent.

It runs with an admin token and with a viewer token (most writes are then refused: what is
fuzzed is that refusal, and the reads), derandomised: the same examples on every run, so a
failure seen once is seen again.

In-process (WSGI) on SQLite, with an admin token, the shipped job templates, and the job
queue replaced by a no-op (a launch that passes the checks is accepted, not run): this
fuzzes the input handling, not Ansible.
"""

from __future__ import annotations

import pytest
import schemathesis
from fault_queue import FaultQueue
from flask_migrate import upgrade
from hypothesis import HealthCheck, seed, settings
from schemathesis.checks import not_a_server_error

from netoss.data.db import db
from netoss.data.models import User
from netoss.web import create_app
from netoss.web.security import hash_password, new_token


def _app(tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "portal.db"
    app = create_app(
        # A live stream ends at once (STREAM_SECONDS=0): the stream of a pending job is fuzzed too.
        {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "fuzz", "TESTING": True, "STREAM_SECONDS": 0}
    )
    tokens = {}
    with app.app_context():
        upgrade()
        for name, role in (("ada", "admin"), ("vera", "viewer")):
            user = User(username=name, password_hash=hash_password("x" * 12), role=role)
            db.session.add(user)
            _row, tokens[role] = new_token(user, "fuzz")
        db.session.commit()
    app.config["FUZZ_TOKENS"] = tokens
    return app


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return _app(tmp_path_factory)


@pytest.fixture(autouse=True)
def no_queue(monkeypatch):
    monkeypatch.setattr("netoss.domain.jobs.queue.enqueuer", lambda app: lambda job, sealed: None)
    # NetBox is not there: parameters with NetBox choices answer 503 by design; give them none.
    monkeypatch.setattr("netoss.domain.jobs.launch.netbox_choices", lambda param, values, wanted=None: [])
    monkeypatch.setattr("netoss.domain.jobs.launch.search_devices", lambda match, offset, limit, base=None: (0, []))
    # Alarms go to the fault processor through Redis, absent here: queued, never applied (202).
    monkeypatch.setattr("netoss.web.tmf._queue", lambda event: None)
    monkeypatch.setattr("netoss.web.tmf._wait_for", lambda fingerprint, raised, active_id=None: None)
    monkeypatch.setattr("netoss.web.tmf._netbox_device_id", lambda name, field="relatedEntity": 1)
    monkeypatch.setattr("netoss.web.tmf._notify", lambda kind, ticket: None)
    monkeypatch.setattr("netoss.web.api.faults.fault_queue", lambda: FaultQueue())
    # Service orders and the inventory read NetBox through the shared order logic: an empty one.
    monkeypatch.setattr("netoss.domain.provisioning.catalog.view", lambda: None)
    monkeypatch.setattr("netoss.domain.provisioning.catalog.logic", lambda: _EmptyNetbox())


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

    def page_services(self, view, offset=0, limit=None, filters=None, customer=None, service=None, service_only=False):
        return 0, []

    def choices(self, service, name, view, values):
        return []


def no_echo(ctx, response, case):
    """An error answer names the input and quotes at most an excerpt: never the input whole."""
    if response.status_code >= 400 and len(response.content) > 2000:
        raise AssertionError(f"a {response.status_code} of {len(response.content)} bytes: it echoes its input")


@pytest.mark.parametrize("role", ["admin", "viewer"])
def test_no_input_makes_a_server_error(app, role):
    from hypothesis import given

    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    headers = {"Authorization": f"Bearer {app.config['FUZZ_TOKENS'][role]}"}
    operations, calls = 0, []
    for result in schema.get_all_operations():
        operation = result.ok()

        @seed(13)
        @given(case=operation.as_strategy())
        @settings(
            max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=True
        )
        def fuzz(case):
            response = case.call_and_validate(headers=headers, checks=[not_a_server_error, no_echo])
            calls.append(response.status_code)

        fuzz()
        operations += 1
    assert operations >= 20 and len(calls) >= 10 * operations
    if role == "admin":
        assert {200, 201, 400, 404} <= set(calls)  # the fuzz reached past validation too
    else:
        assert {200, 400, 403, 404} <= set(calls)
