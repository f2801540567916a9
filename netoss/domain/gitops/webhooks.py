"""Webhooks of git hosts, checked and read: GitHub, GitLab, Gitea and Forgejo.

:func:`verify` checks that a delivery comes from the host that knows the repository's secret,
in constant time: GitHub's ``X-Hub-Signature-256`` (``sha256=`` + HMAC-SHA256 of the body),
Gitea's ``X-Gitea-Signature`` and Forgejo's ``X-Forgejo-Signature`` (the same HMAC, hex),
GitLab's ``X-Gitlab-Token`` (the secret itself). :func:`parse` reads a verified delivery into
a :class:`Delivery`: a push to a branch, or a merge request opened or updated, with the commit,
its author and the delivery id that replays are refused by. Anything else (a ping, a tag, an
event netoss does not act on) is a Delivery of kind ``other``, answered and ignored.

Pure: no database, no web framework. The web floor calls these and keeps the delivery ids.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass

PROVIDERS = ("github", "gitlab", "gitea", "forgejo")
MAX_BODY = 5 * 1024 * 1024  # bytes: a push of many commits stays far below
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_DELIVERY = re.compile(r"[A-Za-z0-9._:-]{1,100}")
_ZERO = re.compile(r"0{40}|0{64}")  # a deleted branch's "after"


class WebhookRefused(Exception):
    """A delivery netoss will not act on; ``status`` is the HTTP answer, the message the reason
    (logged; never the secret or the signature)."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Delivery:
    provider: str
    delivery_id: str
    kind: str  # push, merge_request, other
    repository: str  # owner/name as the host names it
    branch: str | None = None  # push: the branch pushed to; merge_request: its target branch
    sha: str | None = None  # push: the new head; merge_request: its last commit
    author: str | None = None
    merge_request: str | None = None  # its number (GitHub, Gitea) or iid (GitLab)
    action: str | None = None  # merge_request: opened, synchronize/update, reopened...
    event: str = ""  # the host's own name for the event

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _header(headers, name: str) -> str | None:
    value = headers.get(name)
    return value.strip() if isinstance(value, str) else None


def _hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(provider: str, headers, body: bytes, secret: str) -> None:
    """Return when the delivery is signed (or, for GitLab, carries the token) with ``secret``;
    raise WebhookRefused(401) naming what is wrong otherwise."""
    if provider not in PROVIDERS:
        raise WebhookRefused(404, f"unknown provider {provider!r} (known: {', '.join(PROVIDERS)})")
    if not secret:
        raise WebhookRefused(401, "no webhook secret is set for this repository: every delivery is refused")
    if len(body) > MAX_BODY:
        raise WebhookRefused(413, f"body of {len(body)} bytes, more than {MAX_BODY}")
    if provider == "gitlab":
        token = _header(headers, "X-Gitlab-Token")
        if not token:
            raise WebhookRefused(401, "unsigned: no X-Gitlab-Token")
        if not hmac.compare_digest(token.encode(), secret.encode()):
            raise WebhookRefused(401, "wrong X-Gitlab-Token")
        return
    expected = _hmac_hex(secret, body)
    if provider == "github":
        given = _header(headers, "X-Hub-Signature-256")
        if not given:
            raise WebhookRefused(401, "unsigned: no X-Hub-Signature-256")
        if not given.startswith("sha256="):
            raise WebhookRefused(401, "X-Hub-Signature-256 is not sha256=<hex>")
        given = given.removeprefix("sha256=")
    else:
        names = ("X-Gitea-Signature",) if provider == "gitea" else ("X-Forgejo-Signature", "X-Gitea-Signature")
        given = next((v for v in (_header(headers, n) for n in names) if v), None)
        if not given:
            raise WebhookRefused(401, f"unsigned: no {' or '.join(names)}")
    if not hmac.compare_digest(given.lower().encode(), expected.encode()):
        raise WebhookRefused(401, "signature does not match the body and the repository's secret")


def repository_of(provider: str, body: bytes) -> str:
    """The repository a delivery names, read before it is verified, only to find the secret it
    must be signed with; WebhookRefused(400) when the body names none."""
    if provider not in PROVIDERS:
        raise WebhookRefused(404, f"unknown provider {provider!r} (known: {', '.join(PROVIDERS)})")
    if len(body) > MAX_BODY:
        raise WebhookRefused(413, f"body of {len(body)} bytes, more than {MAX_BODY}")
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookRefused(400, "the body is not JSON") from None
    holder, key = ("project", "path_with_namespace") if provider == "gitlab" else ("repository", "full_name")
    found = doc.get(holder) if isinstance(doc, dict) else None
    name = found.get(key) if isinstance(found, dict) else None
    if not isinstance(name, str) or not name or len(name) > 200:
        raise WebhookRefused(400, f"no {holder}.{key} in the body")
    return name


def _delivery_id(provider: str, headers) -> str:
    names = {
        "github": ("X-GitHub-Delivery",),
        "gitlab": ("X-Gitlab-Event-UUID", "Idempotency-Key"),
        "gitea": ("X-Gitea-Delivery",),
        "forgejo": ("X-Forgejo-Delivery", "X-Gitea-Delivery"),
    }[provider]
    value = next((v for v in (_header(headers, n) for n in names) if v), None)
    if not value:
        raise WebhookRefused(400, f"no delivery id ({' or '.join(names)}): replays could not be told apart")
    if not _DELIVERY.fullmatch(value):
        raise WebhookRefused(400, "the delivery id is not an id")
    return value


def _branch(ref) -> str | None:
    return ref.removeprefix("refs/heads/") if isinstance(ref, str) and ref.startswith("refs/heads/") else None


def _sha(value) -> str | None:
    return value if isinstance(value, str) and _SHA.fullmatch(value) and not _ZERO.fullmatch(value) else None


def parse(provider: str, headers, body: bytes) -> Delivery:
    """The delivery, read (after :func:`verify`); WebhookRefused(400) when it is not what the
    host sends."""
    delivery_id = _delivery_id(provider, headers)
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookRefused(400, "the body is not JSON") from None
    if not isinstance(doc, dict):
        raise WebhookRefused(400, "the body is not a JSON object")
    if provider == "gitlab":
        return _parse_gitlab(delivery_id, _header(headers, "X-Gitlab-Event") or "", doc)
    event_header = {"github": "X-GitHub-Event", "gitea": "X-Gitea-Event", "forgejo": "X-Forgejo-Event"}[provider]
    event = _header(headers, event_header) or (_header(headers, "X-Gitea-Event") if provider == "forgejo" else None)
    repo = (doc.get("repository") or {}).get("full_name") if isinstance(doc.get("repository"), dict) else None
    if not isinstance(repo, str) or not repo:
        raise WebhookRefused(400, "no repository.full_name in the body")
    base = {"provider": provider, "delivery_id": delivery_id, "repository": repo, "event": event or ""}
    if event == "push":
        branch, sha = _branch(doc.get("ref")), _sha(doc.get("after"))
        if branch is None or sha is None:  # a tag, or a deleted branch: nothing to apply
            return Delivery(kind="other", branch=branch, **base)
        head = doc.get("head_commit") if isinstance(doc.get("head_commit"), dict) else {}
        author = ((head.get("author") or {}).get("name")) or ((doc.get("pusher") or {}).get("name"))
        return Delivery(kind="push", branch=branch, sha=sha, author=author, **base)
    if event == "pull_request":
        pr = doc.get("pull_request") if isinstance(doc.get("pull_request"), dict) else None
        if pr is None:
            raise WebhookRefused(400, "no pull_request in a pull_request event")
        sha = _sha((pr.get("head") or {}).get("sha"))
        target = (pr.get("base") or {}).get("ref")
        number = doc.get("number", pr.get("number"))
        if sha is None or not isinstance(target, str) or not isinstance(number, int):
            raise WebhookRefused(400, "a pull_request event without head.sha, base.ref or number")
        author = (pr.get("user") or {}).get("login")
        return Delivery(kind="merge_request", branch=target, sha=sha, author=author, merge_request=str(number),
                        action=str(doc.get("action") or ""), **base)  # fmt: skip
    return Delivery(kind="other", **base)


def _parse_gitlab(delivery_id: str, event: str, doc: dict) -> Delivery:
    project = doc.get("project") if isinstance(doc.get("project"), dict) else {}
    repo = project.get("path_with_namespace")
    if not isinstance(repo, str) or not repo:
        raise WebhookRefused(400, "no project.path_with_namespace in the body")
    base = {"provider": "gitlab", "delivery_id": delivery_id, "repository": repo, "event": event}
    kind = doc.get("object_kind")
    if kind == "push":
        branch, sha = _branch(doc.get("ref")), _sha(doc.get("checkout_sha") or doc.get("after"))
        if branch is None or sha is None:
            return Delivery(kind="other", branch=branch, **base)
        return Delivery(kind="push", branch=branch, sha=sha, author=doc.get("user_name"), **base)
    if kind == "merge_request":
        attrs = doc.get("object_attributes") if isinstance(doc.get("object_attributes"), dict) else None
        if attrs is None:
            raise WebhookRefused(400, "no object_attributes in a merge_request event")
        sha = _sha((attrs.get("last_commit") or {}).get("id"))
        target, iid = attrs.get("target_branch"), attrs.get("iid")
        if sha is None or not isinstance(target, str) or not isinstance(iid, int):
            raise WebhookRefused(400, "a merge_request event without last_commit.id, target_branch or iid")
        author = (doc.get("user") or {}).get("username")
        return Delivery(kind="merge_request", branch=target, sha=sha, author=author, merge_request=str(iid),
                        action=str(attrs.get("action") or ""), **base)  # fmt: skip
    return Delivery(kind="other", **base)


def push_event(repository: str, ref: str, before: str, after: str, author: str | None) -> dict:
    """A GitHub-format push event's body (the fields netoss reads): what ``netoss gitops notify``
    sends from a repository's own post-receive hook, for a git server that has no webhooks."""
    return {
        "ref": ref,
        "before": before,
        "after": after,
        "repository": {"full_name": repository},
        "head_commit": {"id": after, "author": {"name": author}} if author else None,
        "pusher": {"name": author},
    }


def signed_headers(provider: str, secret: str, body: bytes, event: str, delivery_id: str) -> dict[str, str]:
    """The headers a git host of ``provider`` sends with ``body``: its event, delivery id and
    signature (GitLab: the secret token)."""
    if provider == "github":
        return {
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery_id,
            "X-Hub-Signature-256": "sha256=" + _hmac_hex(secret, body),
        }
    if provider == "gitlab":
        kind = {"push": "Push Hook", "merge_request": "Merge Request Hook"}.get(event, event)
        return {"X-Gitlab-Event": kind, "X-Gitlab-Event-UUID": delivery_id, "X-Gitlab-Token": secret}
    prefix = "X-Forgejo" if provider == "forgejo" else "X-Gitea"
    return {f"{prefix}-Event": event, f"{prefix}-Delivery": delivery_id, f"{prefix}-Signature": _hmac_hex(secret, body)}
