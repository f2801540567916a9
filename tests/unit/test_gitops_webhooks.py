"""Webhooks of git hosts (pure logic): a delivery is acted on only when signed with the
repository's secret (compared in constant time), and reads into a push or a merge request with
its commit, author and delivery id, whatever the host (GitHub, GitLab, Gitea, Forgejo)."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from netoss.domain.gitops.webhooks import Delivery, WebhookRefused, parse, verify

SECRET = "s3cret-for-the-intent-repo"
SHA = "3f2c" + "a" * 36
OLD = "1b7e" + "b" * 36


def sign(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def github_push(ref="refs/heads/main", after=SHA) -> bytes:
    return json.dumps({
        "ref": ref, "before": OLD, "after": after,
        "repository": {"full_name": "nordic/network", "clone_url": "https://git.example.net/nordic/network.git"},
        "head_commit": {"id": after, "message": "more space", "author": {"name": "Erin Engineer", "email": "e@x"}},
        "pusher": {"name": "erin"},
    }).encode()  # fmt: skip


def github_pr(action="synchronize") -> bytes:
    return json.dumps({
        "action": action, "number": 42,
        "pull_request": {"number": 42, "head": {"sha": SHA, "ref": "more-space"}, "base": {"ref": "main"},
                         "user": {"login": "erin"}},
        "repository": {"full_name": "nordic/network"},
    }).encode()  # fmt: skip


def gitlab_push() -> bytes:
    return json.dumps({
        "object_kind": "push", "ref": "refs/heads/main", "before": OLD, "after": SHA, "checkout_sha": SHA,
        "user_name": "Erin Engineer", "project": {"path_with_namespace": "nordic/network"},
    }).encode()  # fmt: skip


def gitlab_mr() -> bytes:
    return json.dumps({
        "object_kind": "merge_request", "user": {"username": "erin"},
        "project": {"path_with_namespace": "nordic/network"},
        "object_attributes": {"iid": 7, "action": "update", "source_branch": "more-space", "target_branch": "main",
                              "last_commit": {"id": SHA}},
    }).encode()  # fmt: skip


def test_a_github_push_signed_with_the_secret_is_a_push_with_its_commit():
    body = github_push()
    headers = {"X-Hub-Signature-256": f"sha256={sign(body)}", "X-GitHub-Event": "push", "X-GitHub-Delivery": "d-1"}
    verify("github", headers, body, SECRET)
    assert parse("github", headers, body) == Delivery(
        provider="github", delivery_id="d-1", kind="push", repository="nordic/network", branch="main", sha=SHA,
        author="Erin Engineer", event="push",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({}, "unsigned: no X-Hub-Signature-256"),
        ({"X-Hub-Signature-256": "sha1=abc"}, "is not sha256=<hex>"),
        ({"X-Hub-Signature-256": "sha256=" + "0" * 64}, "signature does not match"),
        ({"X-Hub-Signature-256": "sha256=" + sign(b"another body")}, "signature does not match"),
        ({"X-Hub-Signature-256": "sha256=" + sign(github_push(), "another secret")}, "signature does not match"),
    ],
)
def test_an_unsigned_or_mis_signed_github_delivery_is_refused_by_reason(headers, why):
    with pytest.raises(WebhookRefused) as refused:
        verify("github", headers, github_push(), SECRET)
    assert refused.value.status == 401 and why in refused.value.reason
    assert SECRET not in refused.value.reason


def test_gitea_and_forgejo_sign_with_their_own_headers():
    body = github_push()
    gitea = {"X-Gitea-Signature": sign(body), "X-Gitea-Event": "push", "X-Gitea-Delivery": "g-1"}
    verify("gitea", gitea, body, SECRET)
    assert parse("gitea", gitea, body).kind == "push"
    forgejo = {"X-Forgejo-Signature": sign(body).upper(), "X-Forgejo-Event": "push", "X-Forgejo-Delivery": "f-1"}
    verify("forgejo", forgejo, body, SECRET)
    assert parse("forgejo", forgejo, body).delivery_id == "f-1"
    with pytest.raises(WebhookRefused, match="unsigned: no X-Gitea-Signature"):
        verify("gitea", {"X-Hub-Signature-256": f"sha256={sign(body)}"}, body, SECRET)


def test_gitlab_carries_its_token_compared_in_constant_time():
    body = gitlab_push()
    headers = {"X-Gitlab-Token": SECRET, "X-Gitlab-Event": "Push Hook", "X-Gitlab-Event-UUID": "gl-1"}
    verify("gitlab", headers, body, SECRET)
    push = parse("gitlab", headers, body)
    assert (push.kind, push.branch, push.sha, push.author, push.repository) == (
        "push", "main", SHA, "Erin Engineer", "nordic/network",
    )  # fmt: skip
    for token, why in ((None, "no X-Gitlab-Token"), ("guess", "wrong X-Gitlab-Token")):
        with pytest.raises(WebhookRefused, match=why):
            verify("gitlab", {"X-Gitlab-Token": token} if token else {}, body, SECRET)


def test_merge_requests_read_the_same_from_every_host():
    gh = parse("github", {"X-GitHub-Event": "pull_request", "X-GitHub-Delivery": "d-2"}, github_pr())
    gl = parse("gitlab", {"X-Gitlab-Event": "Merge Request Hook", "X-Gitlab-Event-UUID": "gl-2"}, gitlab_mr())
    for mr, number in ((gh, "42"), (gl, "7")):
        assert (mr.kind, mr.branch, mr.sha, mr.merge_request) == ("merge_request", "main", SHA, number)
    assert gh.action == "synchronize" and gl.action == "update" and gh.author == gl.author == "erin"


def test_a_tag_a_deleted_branch_or_a_ping_is_answered_and_ignored():
    headers = {"X-GitHub-Event": "push", "X-GitHub-Delivery": "d-3"}
    assert parse("github", headers, github_push(ref="refs/tags/v1")).kind == "other"
    assert parse("github", headers, github_push(after="0" * 40)).kind == "other"
    ping = json.dumps({"zen": "hi", "repository": {"full_name": "nordic/network"}}).encode()
    assert parse("github", {"X-GitHub-Event": "ping", "X-GitHub-Delivery": "d-4"}, ping).kind == "other"


@pytest.mark.parametrize(
    ("provider", "headers", "body", "why"),
    [
        ("github", {"X-GitHub-Event": "push"}, github_push(), "no delivery id"),
        ("github", {"X-GitHub-Event": "push", "X-GitHub-Delivery": "a b;"}, github_push(), "not an id"),
        ("github", {"X-GitHub-Delivery": "d"}, b"{not json", "not JSON"),
        ("github", {"X-GitHub-Delivery": "d"}, b"[1, 2]", "not a JSON object"),
        ("github", {"X-GitHub-Delivery": "d", "X-GitHub-Event": "push"}, b'{"ref": "refs/heads/main"}', "full_name"),
        ("github", {"X-GitHub-Delivery": "d", "X-GitHub-Event": "pull_request"},
         b'{"repository": {"full_name": "a/b"}, "pull_request": {"head": {}}}', "without head.sha"),
        ("gitlab", {"X-Gitlab-Event-UUID": "u"}, b'{"object_kind": "push"}', "path_with_namespace"),
    ],
)  # fmt: skip
def test_a_delivery_that_is_not_what_a_host_sends_is_refused_by_reason(provider, headers, body, why):
    with pytest.raises(WebhookRefused) as refused:
        parse(provider, headers, body)
    assert refused.value.status == 400 and why in refused.value.reason


def test_no_secret_refuses_everything_and_an_unknown_provider_is_not_found():
    with pytest.raises(WebhookRefused, match="no webhook secret"):
        verify("github", {"X-Hub-Signature-256": "sha256=" + sign(b"x", "")}, b"x", "")
    with pytest.raises(WebhookRefused) as refused:
        verify("bitbucket", {}, b"", SECRET)
    assert refused.value.status == 404
