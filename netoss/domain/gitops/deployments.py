"""Deployments: the record of each commit applied (or refused, superseded, rolled back), and how
one is queued, by a webhook, the API or the CLI.

A deployment is run by a job of the template ``gitops-apply`` (its action is
:func:`netoss.domain.gitops.apply.run_job`), so it is queued, locked, shown live and cancelled
like any job. Queuing a newer one supersedes the queued ones of the same repository that have
not started: only the newest merge is applied (each merge's commit contains the ones before
it). A deployment that has started checks again, before it changes anything, that no newer one
is waiting (:func:`newer`).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from netoss.data import context
from netoss.data.db import db
from netoss.data.models import DEPLOYMENT_ACTIVE, Deployment, Job, WebhookDelivery, utcnow
from netoss.domain.jobs import queue

APPLY_TEMPLATE = "gitops-apply"
PLAN_TEMPLATE = "gitops-plan"


def queue_apply(
    repository: str,
    ref: str,
    created_by: str,
    enqueue,
    *,
    delivery_id: str | None = None,
    author: str | None = None,
    merge_request: str | None = None,
) -> Deployment:
    """Record a deployment of ``ref`` and queue its job; the older queued ones of the repository
    are superseded by it."""
    job = Job(template=APPLY_TEMPLATE, parameters={"repository": repository, "ref": ref}, created_by=created_by)
    db.session.add(job)
    db.session.flush()
    deployment = Deployment(
        repository=repository,
        sha=ref,
        author=author,
        merge_request=merge_request,
        status="queued",
        created_by=created_by,
        job_id=job.id,
        delivery_id=delivery_id,
    )
    db.session.add(deployment)
    db.session.flush()
    older = db.session.scalars(
        select(Deployment).where(
            Deployment.repository == repository, Deployment.status == "queued", Deployment.id < deployment.id
        )
    ).all()
    db.session.commit()
    for old in older:
        supersede(old, deployment)
    enqueue(job, None)
    return deployment


def queue_plan(
    repository: str, ref: str, created_by: str, enqueue, *, name: str | None = None, merge_request: str | None = None
) -> Job:
    """Queue a plan of ``ref`` (a merge request's head): a job of the template ``gitops-plan``."""
    parameters = {"repository": repository, "ref": ref}
    if name:
        parameters["name"] = name
    if merge_request:
        parameters["merge_request"] = merge_request
    job = Job(template=PLAN_TEMPLATE, parameters=parameters, created_by=created_by, check_mode=True)
    db.session.add(job)
    db.session.commit()
    enqueue(job, None)
    return job


def supersede(old: Deployment, new: Deployment) -> None:
    """Mark ``old`` superseded by ``new``; its job, if no worker took it yet, leaves the queue."""
    old.status, old.superseded_by, old.finished_at = "superseded", new.id, utcnow()
    old.error = f"superseded by deployment {new.id} ({new.sha[:12]}), queued after it"
    db.session.commit()
    job = db.session.get(Job, old.job_id) if old.job_id else None
    if job is not None and job.status == "pending":
        queue.cancel_pending(context.current(), job)


def of_job(job: Job) -> Deployment:
    """The deployment a gitops-apply job runs (one is recorded when the job was launched as a
    job, from the portal's form or the jobs API)."""
    found = db.session.scalar(select(Deployment).where(Deployment.job_id == job.id))
    if found is not None:
        return found
    deployment = Deployment(
        repository=str(job.parameters.get("repository") or ""),
        sha=str(job.parameters.get("ref") or ""),
        status="queued",
        created_by=job.created_by,
        job_id=job.id,
    )
    db.session.add(deployment)
    db.session.flush()
    for old in db.session.scalars(
        select(Deployment).where(
            Deployment.repository == deployment.repository,
            Deployment.status == "queued",
            Deployment.id < deployment.id,
        )
    ).all():
        supersede(old, deployment)
    db.session.commit()
    return deployment


def last_applied(repository: str, before: int | None = None) -> Deployment | None:
    """The repository's last deployment that succeeded (the last good commit)."""
    query = select(Deployment).where(Deployment.repository == repository, Deployment.status == "succeeded")
    if before is not None:
        query = query.where(Deployment.id < before)
    return db.session.scalar(query.order_by(Deployment.finished_at.desc(), Deployment.id.desc()).limit(1))


def newer(deployment: Deployment) -> Deployment | None:
    """A deployment of the same repository queued after this one and not ended: it supersedes it."""
    return db.session.scalar(
        select(Deployment)
        .where(
            Deployment.repository == deployment.repository,
            Deployment.id > deployment.id,
            Deployment.status.in_(DEPLOYMENT_ACTIVE),
        )
        .order_by(Deployment.id.desc())
        .limit(1)
        .execution_options(populate_existing=True)
    )


def of_jobs(job_ids: list[int]) -> dict[int, Deployment]:
    """The deployments run by these jobs, by job id."""
    if not job_ids:
        return {}
    return {d.job_id: d for d in db.session.scalars(select(Deployment).where(Deployment.job_id.in_(job_ids)))}


# -- webhooks ------------------------------------------------------------------------------

# Merge-request actions that change what would merge (GitHub, GitLab, Gitea/Forgejo): each queues a plan.
PLAN_ACTIONS = frozenset({"opened", "synchronize", "synchronized", "reopened", "open", "reopen", "update", "edited"})


class Outcome:
    """What a delivery did: ``status`` the HTTP answer (202), ``outcome`` queued or ignored."""

    def __init__(self, outcome: str, reason: str, deployment=None, job=None):
        self.outcome, self.reason, self.deployment, self.job = outcome, reason, deployment, job

    def to_dict(self) -> dict:
        return {
            "status": self.outcome,
            "reason": self.reason,
            "deployment": self.deployment.id if self.deployment is not None else None,
            "job": self.job.id if self.job is not None else None,
        }


class Replayed(Exception):
    """A delivery id already received: a replay, refused (409)."""


def receive(delivery, config, enqueue) -> Outcome:
    """Act on a verified delivery of repository ``config``: a push to one of its branches queues
    a deployment, a merge request targeting one of them a plan; anything else is recorded as
    ignored, with the reason. Replayed (the delivery id was seen) changes nothing."""
    seen = db.session.scalar(
        select(WebhookDelivery.id).where(
            WebhookDelivery.provider == delivery.provider, WebhookDelivery.delivery_id == delivery.delivery_id
        )
    )
    if seen is not None:
        raise Replayed(_replay(delivery))
    record = WebhookDelivery(
        provider=delivery.provider,
        delivery_id=delivery.delivery_id,
        repository=config.name,
        event=delivery.event[:64],
        kind=delivery.kind,
        branch=(delivery.branch or None) and delivery.branch[:200],
        sha=delivery.sha,
        outcome="ignored",
    )
    db.session.add(record)
    try:
        db.session.flush()  # the unique (provider, delivery id): a replay racing this one fails here
    except IntegrityError:
        db.session.rollback()
        raise Replayed(_replay(delivery)) from None
    outcome = _decide(delivery, config)
    if outcome is None:
        who = f"{delivery.provider}:{delivery.author or 'webhook'}"[:64]
        if delivery.kind == "push":
            deployment = queue_apply(config.name, delivery.sha, who, enqueue, delivery_id=delivery.delivery_id,
                                     author=delivery.author)  # fmt: skip
            outcome = Outcome("queued", f"push to {delivery.branch}: deployment {deployment.id} queued",
                              deployment=deployment, job=db.session.get(Job, deployment.job_id))  # fmt: skip
            record.deployment_id, record.job_id = deployment.id, deployment.job_id
        else:
            job = queue_plan(config.name, delivery.sha, who, enqueue, name=f"mr-{delivery.merge_request}",
                             merge_request=delivery.merge_request)  # fmt: skip
            outcome = Outcome("queued", f"merge request {delivery.merge_request}: plan queued (job {job.id})", job=job)
            record.job_id = job.id
    record.outcome, record.reason = outcome.outcome, outcome.reason[:500]
    db.session.commit()
    return outcome


def _replay(delivery) -> str:
    return f"delivery {delivery.delivery_id} of {delivery.provider} was already received: a replay"


def _decide(delivery, config) -> Outcome | None:
    """Why the delivery is ignored (None: it is acted on)."""
    if delivery.kind == "other":
        return Outcome("ignored", f"{delivery.event or 'this'} event: nothing to plan or apply")
    if delivery.branch not in config.branches:
        allowed = ", ".join(config.branches)
        target = "pushed to" if delivery.kind == "push" else "targets"
        return Outcome("ignored", f"{target} branch {delivery.branch!r}, not one of the repository's ({allowed})")
    if delivery.kind == "merge_request":
        if not config.merge_requests:
            return Outcome("ignored", "merge requests are not planned for this repository")
        if delivery.action not in PLAN_ACTIONS:
            return Outcome("ignored", f"merge request {delivery.action or 'event'}: nothing new to plan")
    return None
