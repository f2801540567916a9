"""GitOps on the portal's side, in PostgreSQL: the git hosts' webhooks (signed, branch filter,
replays), deployments queued and superseded, and the checks a deployment makes before it
changes anything (protected branch, never older than what was applied), on a real git
repository of a network that is not the demo's. NetBox and the devices are not reached here:
a deployment refused before its plan never calls them (the full apply runs in
tests/e2e/test_own_network_gitops.py)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import uuid
from pathlib import Path

import pytest
from flask import current_app, g
from sqlalchemy import select, text
from test_gitops_repo import git, repo  # noqa: F401 - repo is a fixture

from netoss.data.db import db
from netoss.data.models import AuditEvent, Deployment, Job, Ticket, User, WebhookDelivery
from netoss.domain.gitops import apply, deployments
from netoss.domain.gitops.repo import Repository
from netoss.domain.gitops.webhooks import push_event, signed_headers
from netoss.web import create_app
from netoss.web.security import hash_password, new_token

NAME = "nordic/network-intent"
SECRET = "s3cret-of-the-repository"


@pytest.fixture(scope="module")
def app(postgres, tmp_path_factory):
    root = tmp_path_factory.mktemp("gitops-portal")
    secret = root / "intent.secret"
    secret.write_text(SECRET + "\n")
    secret.chmod(0o600)
    shared = root / "shared.secret"
    shared.write_text("anyone-can-read\n")
    shared.chmod(0o644)
    repositories = root / "gitops-repositories.yml"
    repositories.write_text(
        json.dumps(
            {
                "repositories": [
                    {
                        "name": NAME,
                        "url": "/nowhere",
                        "provider": "github",
                        "secret_file": str(secret),
                        "branches": ["production"],
                    },
                    {"name": "nordic/lab", "url": "/nowhere", "provider": "gitlab", "secret_file": str(secret)},
                    {"name": "nordic/leaky", "url": "/nowhere", "provider": "gitea", "secret_file": str(shared)},
                ]
            }
        )
    )
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": postgres.database(),
            "SECRET_KEY": "t",
            "TESTING": True,
            "GITOPS_REPOSITORIES_FILE": str(repositories),
            "JOBS_DIR": str(root / "jobs"),
        }
    )
    with app.app_context():
        tokens = {}
        for role in ("viewer", "engineer"):
            user = User(username=f"gitops-{role}", password_hash=hash_password("x" * 12), role=role)
            db.session.add(user)
            _row, tokens[role] = new_token(user, "t")
        db.session.commit()
        app.config["TOKENS"] = tokens
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(autouse=True)
def queued(app, monkeypatch):
    """The jobs handed to the queue (no Redis here), and a clean slate of deployments."""
    db.session.rollback()
    for table in ("gitops_webhook_deliveries", "gitops_deployments", "job_events", "jobs", "ticket_notes",
                  "ticket_status_changes", "tickets"):  # fmt: skip
        db.session.execute(text(f"DELETE FROM {table}"))  # noqa: S608 (our own table names)
    db.session.commit()
    seen: list[int] = []
    monkeypatch.setattr("netoss.domain.jobs.queue.enqueuer", lambda app: lambda job, sealed: seen.append(job.id))
    monkeypatch.setattr("netoss.domain.jobs.queue.drop", lambda app, job_id: None)
    return seen


def _api(client, method: str, url: str, role: str, **kwargs):
    """An API call as ``role``. The test holds the app context the requests reuse, so the user a
    request found (cached on ``g``) is dropped first."""
    g.pop("user", None)
    headers = {"Authorization": f"Bearer {current_app.config['TOKENS'][role]}"}
    return client.open(url, method=method, headers=headers, **kwargs)


def _push(client, branch="production", sha=None, delivery=None, secret=SECRET, repository=NAME, provider="github"):
    sha = sha or os.urandom(20).hex()
    body = json.dumps(push_event(repository, f"refs/heads/{branch}", "0" * 40, sha, "Erin Engineer")).encode()
    headers = signed_headers(provider, secret, body, "push", delivery or str(uuid.uuid4()))
    return client.post(f"/api/v1/gitops/webhook/{provider}", data=body, headers=headers,
                       content_type="application/json")  # fmt: skip


def test_a_signed_push_to_the_protected_branch_queues_a_deployment_once(app, queued):
    client = app.test_client()
    sha = "a" * 40
    resp = _push(client, sha=sha, delivery="d-1")
    assert resp.status_code == 202, resp.get_json()
    answer = resp.get_json()
    assert answer["status"] == "queued"
    deployment = db.session.get(Deployment, answer["deployment"])
    assert (deployment.repository, deployment.sha, deployment.status) == (NAME, sha, "queued")
    job = db.session.get(Job, deployment.job_id)
    assert job.template == "gitops-apply" and job.parameters == {"repository": NAME, "ref": sha}
    assert queued == [job.id]
    # The same delivery again: a replay, refused, nothing queued.
    again = _push(client, sha=sha, delivery="d-1")
    assert again.status_code == 409 and "replay" in again.get_json()["error"]
    assert queued == [job.id] and len(db.session.scalars(select(Deployment)).all()) == 1
    deliveries = db.session.scalars(select(WebhookDelivery)).all()
    assert [(d.delivery_id, d.outcome, d.deployment_id) for d in deliveries] == [("d-1", "queued", deployment.id)]


@pytest.mark.parametrize(
    ("secret", "strip", "why"),
    [("not-the-secret", None, "signature does not match"), (SECRET, "X-Hub-Signature-256", "unsigned")],
)
def test_a_mis_signed_or_unsigned_push_changes_nothing_and_is_logged(app, queued, secret, strip, why):
    client = app.test_client()
    body = json.dumps(push_event(NAME, "refs/heads/production", "0" * 40, "b" * 40, "Mallory")).encode()
    headers = signed_headers("github", secret, body, "push", "d-bad")
    headers.pop(strip or "none", None)
    resp = client.post("/api/v1/gitops/webhook/github", data=body, headers=headers, content_type="application/json")
    assert resp.status_code == 401 and why in resp.get_json()["error"]
    assert not db.session.scalars(select(Deployment)).all() and not queued
    assert not db.session.scalars(select(WebhookDelivery)).all()
    audit = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "gitops.webhook")).all()
    assert audit[-1].outcome == "refused" and why in audit[-1].detail["reason"]


def test_other_branches_events_and_repositories_are_ignored_or_refused(app, queued):
    client = app.test_client()
    other = _push(client, branch="feature/x", delivery="d-other")
    assert other.status_code == 202
    assert other.get_json()["status"] == "ignored" and "'feature/x'" in other.get_json()["reason"]
    unknown = _push(client, repository="someone/else", delivery="d-unknown")
    assert unknown.status_code == 404 and "someone/else" in unknown.get_json()["error"]
    wrong_provider = _push(client, provider="gitea", delivery="d-gitea")
    assert wrong_provider.status_code == 404
    # A secret file others may read is no secret: every delivery of that repository is refused.
    leaky = _push(client, repository="nordic/leaky", provider="gitea", secret="anyone-can-read", delivery="d-leaky")
    assert leaky.status_code == 401
    body = json.dumps({"zen": "Keep it logically awesome.", "repository": {"full_name": NAME}}).encode()
    ping = client.post("/api/v1/gitops/webhook/github", data=body, content_type="application/json",
                       headers=signed_headers("github", SECRET, body, "ping", "d-ping"))  # fmt: skip
    assert ping.status_code == 202 and ping.get_json()["status"] == "ignored"
    assert not queued and not db.session.scalars(select(Deployment)).all()
    outcomes = {d.delivery_id: d.outcome for d in db.session.scalars(select(WebhookDelivery))}
    assert outcomes == {"d-other": "ignored", "d-ping": "ignored"}


def test_gitlab_token_and_merge_requests_queue_a_plan(app, queued):
    client = app.test_client()
    doc = {
        "object_kind": "merge_request",
        "project": {"path_with_namespace": "nordic/lab"},
        "user": {"username": "erin"},
        "object_attributes": {"iid": 42, "action": "open", "target_branch": "main",
                              "last_commit": {"id": "c" * 40}},
    }  # fmt: skip
    body = json.dumps(doc).encode()
    headers = signed_headers("gitlab", SECRET, body, "merge_request", "d-mr")
    resp = client.post("/api/v1/gitops/webhook/gitlab", data=body, headers=headers, content_type="application/json")
    assert resp.status_code == 202 and resp.get_json()["status"] == "queued", resp.get_json()
    job = db.session.get(Job, resp.get_json()["job"])
    assert job.template == "gitops-plan" and job.check_mode
    assert job.parameters == {"repository": "nordic/lab", "ref": "c" * 40, "name": "mr-42", "merge_request": "42"}
    headers["X-Gitlab-Token"] = "wrong"
    headers["X-Gitlab-Event-UUID"] = "d-mr-2"
    assert client.post("/api/v1/gitops/webhook/gitlab", data=body, headers=headers,
                       content_type="application/json").status_code == 401  # fmt: skip


def test_a_newer_merge_supersedes_the_queued_older_one(app, queued):
    client = app.test_client()
    first = _push(client, sha="1" * 40).get_json()
    second = _push(client, sha="2" * 40).get_json()
    older = db.session.get(Deployment, first["deployment"])
    db.session.refresh(older)
    assert older.status == "superseded" and older.superseded_by == second["deployment"]
    assert db.session.get(Job, older.job_id).status == "canceled"  # it left the queue
    assert db.session.get(Deployment, second["deployment"]).status == "queued"
    listed = _api(client, "GET", "/api/v1/gitops/deployments", "viewer")
    assert [d["status"] for d in listed.get_json()] == ["queued", "superseded"]
    assert listed.headers["X-Total-Count"] == "2"


def test_the_api_queues_a_deployment_for_engineers_only(app, queued):
    client = app.test_client()
    body = {"repository": NAME, "ref": "d" * 40}
    assert _api(client, "POST", "/api/v1/gitops/deployments", "viewer", json=body).status_code == 403
    unknown = _api(client, "POST", "/api/v1/gitops/deployments", "engineer", json={**body, "repository": "x/y"})
    assert unknown.status_code == 404, unknown.get_json()
    short = _api(client, "POST", "/api/v1/gitops/deployments", "engineer", json={**body, "ref": "main"})
    assert short.status_code == 400 and "ref" in short.get_json()["error"]
    made = _api(client, "POST", "/api/v1/gitops/deployments", "engineer", json=body)
    assert made.status_code == 202 and made.get_json()["created_by"] == "gitops-engineer"
    one = _api(client, "GET", f"/api/v1/gitops/deployments/{made.get_json()['id']}", "viewer").get_json()
    assert one["sha"] == "d" * 40 and "plan" in one


# -- what a deployment checks before it changes anything ----------------------------------------


class _Untouched:
    """A NetBox and a playbook runner that must not be called."""

    def __getattr__(self, name):
        raise AssertionError(f"NetBox was called ({name}) before the deployment was allowed")

    def __call__(self, *args, **kwargs):
        raise AssertionError("a playbook ran before the deployment was allowed")


def _deploy(repo_path: Path, sha: str, tmp_path: Path, logs: list[str]) -> Deployment:
    deployment = deployments.queue_apply(NAME, sha, "erin", lambda job, sealed: None)
    apply.apply(deployment, Repository(repo_path), _Untouched(), _Untouched(), project=Path("."),
                workdir=tmp_path / f"work-{deployment.id}", env={}, log=logs.append)  # fmt: skip
    return deployment


def test_a_commit_off_the_protected_branch_older_or_already_applied_is_refused(app, repo, tmp_path):  # noqa: F811
    r = Repository(repo)
    first = r.commit("production").sha
    git(repo, "commit", "-q", "--allow-empty", "-m", "second")
    second = r.commit("production").sha
    git(repo, "checkout", "-q", "-b", "proposal")
    git(repo, "commit", "-q", "--allow-empty", "-m", "not merged")
    proposal = r.commit("proposal").sha
    logs: list[str] = []
    off = _deploy(repo, proposal, tmp_path, logs)
    assert off.status == "refused" and "not on the protected branch production" in off.error
    assert off.author == "Erin Engineer" and off.ticket_id is None  # nothing wrong with the network
    # The second commit was applied; the first is older: never applied after it.
    done = Deployment(repository=NAME, sha=second, status="succeeded", created_by="erin")
    db.session.add(done)
    db.session.commit()
    older = _deploy(repo, first, tmp_path, logs)
    assert older.status == "refused" and "never applied after a newer one" in older.error
    again = _deploy(repo, second, tmp_path, logs)
    assert again.status == "refused" and f"already applied (deployment {done.id})" in again.error
    unknown = _deploy(repo, "e" * 40, tmp_path, logs)
    assert unknown.status == "refused" and "names no commit" in unknown.error
    ticket = db.session.get(Ticket, unknown.ticket_id)  # a merged commit the mirror lacks: a problem
    assert ticket is not None and "e" * 40 in ticket.description


def test_a_broken_commit_on_the_protected_branch_is_refused_with_a_ticket_naming_it(app, repo, tmp_path):  # noqa: F811
    (repo / "netoss-gitops.yml").write_text("intent: network\ndrift: sometimes\n")
    git(repo, "commit", "-q", "-am", "a typo in the settings")
    sha = Repository(repo).commit("production").sha
    logs: list[str] = []
    deployment = _deploy(repo, sha, tmp_path, logs)
    assert deployment.status == "refused" and "netoss-gitops.yml: drift" in deployment.error
    ticket = db.session.get(Ticket, deployment.ticket_id)
    assert sha in ticket.description and "Erin Engineer <erin@example.net>" in ticket.description
    assert {"@referredType": "Deployment", "id": str(deployment.id), "name": deployment.ref, "role": "cause"} in (
        ticket.related
    )


def test_a_deployment_is_never_seen_ended_without_its_ticket(app, repo, tmp_path, monkeypatch):  # noqa: F811
    """Whoever watches the deployment (the API, a pipeline waiting for it to end) sees it end and
    its ticket in one step: once its status is final, its ticket is already linked (CI once read
    a rolled-back deployment whose ticket was opened a moment later)."""
    (repo / "netoss-gitops.yml").write_text("intent: network\ndrift: sometimes\n")
    git(repo, "commit", "-q", "-am", "a typo in the settings")
    sha = Repository(repo).commit("production").sha
    seen: list[tuple] = []
    real = apply.open_incident

    def watching(*args, **kwargs):
        with db.engine.connect() as other:  # what another process would read now
            seen.append(tuple(other.execute(text("SELECT status, ticket_id FROM gitops_deployments WHERE sha = :s"),
                                            {"s": sha}).one()))  # fmt: skip
        return real(*args, **kwargs)

    monkeypatch.setattr(apply, "open_incident", watching)
    deployment = _deploy(repo, sha, tmp_path, [])
    assert deployment.status == "refused" and deployment.ticket_id is not None
    assert seen == [("running", None)], seen  # not yet ended when its ticket was opened


def test_a_ticket_that_cannot_be_opened_does_not_leave_the_deployment_running(app, repo, tmp_path, monkeypatch):  # noqa: F811
    (repo / "netoss-gitops.yml").write_text("intent: network\ndrift: sometimes\n")
    git(repo, "commit", "-q", "-am", "a typo in the settings")
    sha = Repository(repo).commit("production").sha

    def broken(*args, **kwargs):
        raise RuntimeError("the tickets table is locked")

    monkeypatch.setattr(apply, "open_incident", broken)
    logs: list[str] = []
    deployment = _deploy(repo, sha, tmp_path, logs)
    assert deployment.status == "refused" and deployment.ticket_id is None and deployment.finished_at
    assert any("its ticket could not be opened: RuntimeError: the tickets table is locked" in line for line in logs)


def test_a_started_deployment_is_superseded_by_a_newer_queued_one(app, repo, tmp_path):  # noqa: F811
    sha = Repository(repo).commit("production").sha
    started = deployments.queue_apply(NAME, sha, "erin", lambda job, sealed: None)
    started.status = "running"
    db.session.commit()
    newer = deployments.queue_apply(NAME, "f" * 40, "erin", lambda job, sealed: None)
    logs: list[str] = []
    apply.apply(started, Repository(repo), _Untouched(), _Untouched(), project=Path("."),
                workdir=tmp_path / "work", env={}, log=logs.append)  # fmt: skip
    assert started.status == "superseded" and started.superseded_by == newer.id
    assert any("supersedes it" in line for line in logs)


def test_the_signature_is_hmac_sha256_of_the_body():
    body = b'{"a": 1}'
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert signed_headers("github", SECRET, body, "push", "x")["X-Hub-Signature-256"] == expected


def test_the_deployments_pages_show_the_commit_its_plan_job_and_ticket(app, repo, tmp_path):  # noqa: F811
    (repo / "netoss-gitops.yml").write_text("intent: network\ndrift: sometimes\n")
    git(repo, "commit", "-q", "-am", "a <b>bold</b> subject")
    sha = Repository(repo).commit("production").sha
    refused = _deploy(repo, sha, tmp_path, [])
    refused.plan = {"netbox": [{"action": "create", "kind": "ipam.prefix", "object": "192.0.2.0/28",
                                "fields": {"prefix": [None, "192.0.2.0/28"]}}],
                    "devices": {"edge-9": {"lines": ["ip prefix-list CUST seq 5 permit 192.0.2.0/28"]}}}  # fmt: skip
    db.session.commit()
    client = app.test_client()
    page = _api(client, "GET", "/gitops/deployments?status=refused", "viewer").get_data(as_text=True)
    assert f"/gitops/deployments/{refused.id}" in page and sha[:12] in page and "Erin Engineer" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page and "<b>bold</b>" not in page  # a commit's text is escaped
    other = _api(client, "GET", "/gitops/deployments?status=succeeded", "viewer").get_data(as_text=True)
    assert "No deployment yet" in other
    detail = _api(client, "GET", f"/gitops/deployments/{refused.id}", "viewer").get_data(as_text=True)
    assert "ip prefix-list CUST seq 5 permit 192.0.2.0/28" in detail and "192.0.2.0/28" in detail
    assert f"/jobs/{refused.job_id}" in detail and f"/tickets/{refused.ticket_id}" in detail
    ticket = _api(client, "GET", f"/tickets/{refused.ticket_id}", "viewer").get_data(as_text=True)
    assert f'href="/gitops/deployments/{refused.id}"' in ticket
