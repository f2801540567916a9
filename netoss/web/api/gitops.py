"""/api/v1/gitops: the git hosts' webhooks, the deployments (the record of each commit applied),
and a deployment queued by hand or by a pipeline (``netoss gitops apply``)."""

from __future__ import annotations

import logging

from flask import abort, current_app, jsonify, request
from sqlalchemy import func, select

from netoss.data.db import db
from netoss.data.models import DEPLOYMENT_STATUSES, Deployment, WebhookDelivery
from netoss.domain.gitops import deployments, repositories, webhooks
from netoss.domain.jobs import queue
from netoss.web.api import bp
from netoss.web.apidoc import Choice, Int, Text, body, fails, many, query, responds, signed
from netoss.web.security import audit, current_user, require_role, source_address

log = logging.getLogger("netoss.gitops")


def _refuse(provider: str, status: int, reason: str, repository: str | None = None):
    """Log and audit a delivery netoss does not act on, then answer ``status`` with the reason."""
    where = f"{provider} webhook" + (f" for {repository}" if repository else "")
    log.warning("%s from %s refused (%s): %s", where, source_address(), status, reason)
    audit("gitops.webhook", target=where[:200], outcome="refused", detail={"status": status, "reason": reason[:300]},
          actor="webhook")  # fmt: skip
    abort(status, reason)


@bp.post("/v1/gitops/webhook/<provider>")
@signed
@responds(202, {"type": "object"}, description="Queued, or ignored with the reason")
@fails(s404="Unknown provider or repository", s409="A replayed delivery", s413="Body too large")
def gitops_webhook(provider: str):
    """A git host's webhook: a push queues a deployment, a merge request a plan

    A push to one of the repository's branches queues its deployment, a merge request that
    targets one queues a plan.
    Signed with the repository's secret (GitHub's X-Hub-Signature-256, Gitea's X-Gitea-Signature,
    Forgejo's X-Forgejo-Signature: HMAC-SHA256 of the body; GitLab's X-Gitlab-Token), checked in
    constant time. An unsigned or mis-signed call is 401, a replayed delivery id 409, another
    branch or event 202 with status "ignored"; none of them changes anything."""
    body_bytes = request.get_data(cache=False)
    try:
        name = webhooks.repository_of(provider, body_bytes)
    except webhooks.WebhookRefused as exc:
        _refuse(provider, exc.status, exc.reason)
    try:
        config = repositories.load(current_app.config.get("GITOPS_REPOSITORIES_FILE")).get(name)
    except repositories.RepositoriesError as exc:
        log.error("%s", exc)
        abort(503, "the GitOps repositories file has problems: see the portal's log")
    if config is None or config.provider != provider:
        _refuse(provider, 404, f"no {provider} repository {name!r} is configured for GitOps", name)
    try:
        webhooks.verify(provider, request.headers, body_bytes, config.secret() or "")
        delivery = webhooks.parse(provider, request.headers, body_bytes)
    except webhooks.WebhookRefused as exc:
        _refuse(provider, exc.status, exc.reason, name)
    except repositories.RepositoriesError as exc:
        log.error("%s", exc)
        _refuse(provider, 401, "the repository's webhook secret cannot be read: every delivery is refused", name)
    if delivery.repository != name:
        _refuse(provider, 400, "the body names two repositories", name)
    try:
        outcome = deployments.receive(delivery, config, queue.enqueuer(current_app._get_current_object()))
    except deployments.Replayed as exc:
        _refuse(provider, 409, str(exc), name)
    log.info("%s webhook %s for %s: %s", provider, delivery.delivery_id, name, outcome.reason)
    audit("gitops.webhook", target=f"{provider} webhook for {name}"[:200], outcome=outcome.outcome,
          detail={"delivery": delivery.delivery_id, "reason": outcome.reason}, actor="webhook")  # fmt: skip
    return jsonify(outcome.to_dict()), 202


@bp.get("/v1/gitops/deployments")
@require_role("viewer")
@query(
    repository=Text(),
    status=Choice(DEPLOYMENT_STATUSES),
    limit=Int(1, 500, 50),
    offset=Int(0, 10_000_000, 0),
)
@responds(200, many("Deployment"), total=True)
def list_deployments(args):
    """Deployments, newest first (X-Total-Count: how many match)"""
    where = []
    if args["repository"]:
        where.append(Deployment.repository == args["repository"])
    if args["status"]:
        where.append(Deployment.status == args["status"])
    total = db.session.scalar(select(func.count(Deployment.id)).where(*where))
    rows = db.session.scalars(
        select(Deployment).where(*where).order_by(Deployment.id.desc()).limit(args["limit"]).offset(args["offset"])
    )
    resp = jsonify([d.to_dict() for d in rows])
    resp.headers["X-Total-Count"] = str(total)
    return resp


@bp.get("/v1/gitops/deployments/<int(max=2147483647):deployment_id>")
@require_role("viewer")
@responds(200, "Deployment")
@fails(s404="No such deployment")
def get_deployment(deployment_id: int):
    """One deployment, with the plan it was applied with"""
    deployment = db.session.get(Deployment, deployment_id) or abort(404, f"no deployment {deployment_id}")
    return jsonify(deployment.to_dict(plan=True))


@bp.post("/v1/gitops/deployments")
@require_role("engineer")
@body("DeploymentCreate")
@responds(202, "Deployment")
@fails(s404="No such repository")
def create_deployment(data):
    """Queue the deployment of a commit (what the webhook of a push does): `netoss gitops apply`

    The commit is checked by the deployment itself (on the protected branch, newer than the last
    applied); a newer one queued after it supersedes it."""
    try:
        known = repositories.load(current_app.config.get("GITOPS_REPOSITORIES_FILE"))
    except repositories.RepositoriesError as exc:
        abort(503, str(exc))
    if data["repository"] not in known:
        abort(404, f"repository: no repository {data['repository']!r} in the GitOps repositories file")
    user = current_user()
    deployment = deployments.queue_apply(
        data["repository"], data["ref"], user.username, queue.enqueuer(current_app._get_current_object())
    )
    audit("gitops.deploy", target=f"{deployment.ref} of {deployment.repository}")
    return jsonify(deployment.to_dict()), 202


@bp.get("/v1/gitops/deliveries")
@require_role("engineer")
@query(repository=Text(), limit=Int(1, 500, 50))
@responds(200, many("WebhookDelivery"))
def list_deliveries(args):
    """Webhook deliveries received (verified ones), newest first, with what netoss did with each"""
    query_ = select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(args["limit"])
    if args["repository"]:
        query_ = query_.where(WebhookDelivery.repository == args["repository"])
    return jsonify([d.to_dict() for d in db.session.scalars(query_)])
