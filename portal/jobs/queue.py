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


def job_environment() -> dict[str, str]:
    """The environment of a job: the worker's, plus the lab's device login as it is now (the lab
    may have been built after the worker started)."""
    import os

    env = dict(os.environ)
    if env.get("NETOSS_STATE"):
        from portal import lab
        from portal.stack import Stack

        env.update(lab.device_env(Stack.from_env()))
    return env


def run_queued(job_id: int, sealed: str | None) -> None:
    """What the worker runs for each job (a module-level function, importable by RQ)."""
    import os

    from portal.app import create_app

    from .runner import execute, unseal

    app = create_app()
    # RQ runs this in a work horse forked by the worker: the run stops if the worker dies.
    execute(job_id, app=app, secrets=unseal(app, sealed), env=job_environment(), parent=os.getppid())


def drop(app, job_id: int) -> None:
    """Remove a canceled job from the queue (best effort: a worker skips it anyway)."""
    try:
        from rq.job import Job as RQJob

        RQJob.fetch(f"netoss-job-{job_id}", connection=connection(app)).delete()
    except Exception:  # no queue configured, or already taken: the runner skips canceled jobs
        return


def enqueuer(app):
    """The ``enqueue(job, sealed)`` that launch() takes: onto this app's queue."""
    from .runner import templates

    def enqueue_job(job, sealed):
        enqueue(app, job, sealed, templates(app)[job.template].timeout)

    return enqueue_job


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


# --- lost workers -----------------------------------------------------------------------------
# Each worker refreshes a key of its own every BEAT seconds, valid for BEAT_TTL. A job left
# running by a worker whose key expired (SIGKILL, a crashed host) is marked failed and its
# device locks released by any live worker, within BEAT_TTL + REAP seconds.
BEAT = 5
BEAT_TTL = 20
REAP = 10
BEAT_PREFIX = "netoss:worker:"


def beat(conn, name: str) -> None:
    conn.set(BEAT_PREFIX + name, "alive", ex=BEAT_TTL)


def live_workers(conn) -> set[str]:
    return {key.decode()[len(BEAT_PREFIX) :] for key in conn.scan_iter(match=BEAT_PREFIX + "*")}


def reap_lost_jobs(app, conn) -> list[int]:
    """Mark failed the jobs left running by workers that are gone; release their locks."""
    from sqlalchemy import select

    from portal.app.extensions import db
    from portal.app.models import Job, utcnow
    from portal.services import orders

    from .runner import release_locks

    live = live_workers(conn)
    reaped = []
    with app.app_context():
        for job in db.session.scalars(select(Job).where(Job.status == "running")):
            if job.worker and job.worker not in live:
                job.status = "failed"
                job.error = f"worker lost: {job.worker} stopped while running the job"
                job.finished_at = utcnow()
                db.session.commit()
                release_locks(job.id)
                orders.job_finished(job)  # its service order, if any, fails with the job
                reaped.append(job.id)
    return reaped


def start_heartbeat(app, name: str, log) -> None:
    """A daemon thread of the worker's main process: heartbeat, and reaping of lost jobs."""
    import threading
    import time

    conn = connection(app)

    from .launch import launch
    from .schedules import fire_due

    def launch_as(user, schedule):
        return launch(user, schedule.template, dict(schedule.parameters), schedule.check_mode, enqueuer(app))

    def loop():
        last_reap = 0.0
        while True:
            try:
                beat(conn, name)
                if time.monotonic() - last_reap >= REAP:
                    last_reap = time.monotonic()
                    for job_id in reap_lost_jobs(app, conn):
                        log(f"job {job_id}: its worker was lost; marked failed, locks released")
                for schedule_id, outcome in fire_due(app, conn, launch_as):
                    log(f"schedule {schedule_id}: {outcome}")
            except Exception as exc:  # Redis or PostgreSQL away for a moment: try again
                log(f"heartbeat: {exc}")
            time.sleep(BEAT)

    beat(conn, name)
    threading.Thread(target=loop, name="netoss-heartbeat", daemon=True).start()
