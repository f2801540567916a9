"""The job queue: RQ on the stack's Redis. Workers (`netoss worker`) take jobs from it."""

from __future__ import annotations

QUEUE = "netoss-jobs"


def connection(app):
    from redis import Redis

    url = app.config.get("REDIS_URL")
    if not url:
        raise RuntimeError("the portal has no REDIS_URL: the job queue is not configured")
    return Redis.from_url(url)


def rq_queue(app):
    from rq import Queue

    return Queue(QUEUE, connection=connection(app))


def run_queued(job_id: int, sealed: str | None) -> None:
    """What the worker runs for each job (a module-level function, importable by RQ)."""
    from portal.app import create_app

    from .runner import execute, unseal

    app = create_app()
    execute(job_id, app=app, secrets=unseal(app, sealed))


def enqueue(app, job, sealed: str | None, timeout: int) -> None:
    rq_queue(app).enqueue_call(
        run_queued,
        args=(job.id, sealed),
        job_id=f"netoss-job-{job.id}",
        timeout=timeout + 120,
        result_ttl=3600,
        failure_ttl=7 * 86400,
        description=f"job {job.id}: {job.template}",
    )
