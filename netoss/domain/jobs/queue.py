"""The job queue: RQ on the stack's Redis. Workers (`netoss worker`, netoss.daemons.worker) take
jobs from it, and reap the jobs whose worker or process was lost."""

from __future__ import annotations

import logging
import os
import socket
import time
from pathlib import Path

from redis import Redis
from rq import Queue
from rq.job import Job as RQJob
from sqlalchemy import and_, delete, or_, select, update

from netoss.data.db import db
from netoss.data.models import DeviceLock, Job, utcnow
from netoss.domain.jobs import processes, signals
from netoss.domain.jobs.runner import (
    CLEANED,
    blocked,
    clean,
    finish,
    lock_names,
    overlap,
    release_locks,
    sensitive_values,
    stuck,
    templates,
    waiting_jobs,
)

log = logging.getLogger("netoss.jobs")

QUEUE = "netoss-jobs"
# What a worker runs for each job (a module-level function RQ imports by this name): the worker's
# entry point builds the job's app context, its environment and the job-ended wiring.
RUN_QUEUED = "netoss.daemons.worker.run_queued"


def connection(app):
    """The app's Redis client: one per app, whose connection pool every request and thread shares
    (a client per call opened a connection, and made its handshake, on every launch)."""
    client = app.extensions.get("netoss_redis")
    if client is None:
        url = app.config.get("REDIS_URL")
        if not url:
            raise RuntimeError("the portal has no REDIS_URL: the job queue is not configured")
        client = app.extensions["netoss_redis"] = Redis.from_url(url)
    return client


def rq_queue(app):
    """The job queue: ``netoss-jobs``, or the app's JOB_QUEUE (a test's own workers and jobs)."""
    return Queue(app.config.get("JOB_QUEUE") or QUEUE, connection=connection(app))


def drop(app, job_id: int) -> None:
    """Remove a canceled job from the queue, and from the jobs waiting for devices (best effort:
    a worker skips it anyway)."""
    try:
        conn = connection(app)
        conn.delete(parked_key(app, job_id))
        RQJob.fetch(f"netoss-job-{job_id}", connection=conn).delete()
    except Exception:  # no queue configured, or already taken: the runner skips canceled jobs
        return


def enqueuer(app):
    """The ``enqueue(job, sealed)`` that launch() takes: onto this app's queue."""

    def enqueue_job(job, sealed):
        enqueue(app, job, sealed, templates(app)[job.template].timeout)

    return enqueue_job


def enqueue(app, job, sealed: str | None, timeout: int, *, again: int = 0) -> None:
    """Queue ``job`` (``sealed``: its secret values, encrypted); ``again``: the how-manieth time
    it is woken from waiting for its devices (first in the queue, under an id of its own)."""
    rq_queue(app).enqueue_call(
        RUN_QUEUED,
        args=(job.id, sealed),
        job_id=f"netoss-job-{job.id}" + (f"-wake-{again}" if again else ""),
        timeout=timeout + 120,
        result_ttl=3600,
        failure_ttl=7 * 86400,
        description=f"job {job.id}: {job.template}" + (" (its devices are free)" if again else ""),
        at_front=bool(again),
    )


# --- jobs waiting for devices -----------------------------------------------------------------
# A job whose devices other jobs are changing does not hold a worker while it waits: the runner
# parks it (it stays pending with waiting_since and waiting_for, netoss.domain.jobs.runner._claim)
# and `park` keeps what it needs to be queued again (its encrypted secrets) in a Redis hash of
# its own. `wake` queues again, first in the queue, each parked job whose devices are free and
# that no older waiting job waits for (oldest first), once: a worker runs it after a job ends
# (its locks released), after a job parks (a job that ended meanwhile may have missed it), when
# a job is cancelled, and with every reap. `expire_parked`, with every reap, fails the jobs stuck
# (runner.stuck: JOB_LOCK_WAIT for a job that has held their device as long; saying which) and
# those whose place was lost (Redis emptied), and keeps the others' places (PARKED_TTL).
PARKED_PREFIX = "netoss:parked:"
PARKED_TTL = 3600  # s: a parked job's place outlives the workers by this much (renewed with each reap)
WAKE_AGAIN = 120  # s: a job woken this long ago and still parked (its queued run was lost) is woken again


def parked_key(app, job_id: int) -> str:
    return f"{PARKED_PREFIX}{rq_queue(app).name}:{job_id}"


def park(app, job, sealed: str | None) -> None:
    """Keep what parked ``job`` needs to be queued again, for as long as it may wait (and more)."""
    key = parked_key(app, job.id)
    pipe = connection(app).pipeline()
    pipe.hset(key, mapping={"sealed": sealed or ""})
    pipe.hdel(key, "woken")
    pipe.expire(key, PARKED_TTL)
    pipe.execute()


def wakeable(parked: list[tuple[int, list[str]]], held: set[str]) -> list[int]:
    """Of the ``parked`` jobs (id, lock names; oldest first), those that may run now: none of
    their devices is ``held`` nor waited for by an older parked job."""
    claimed: set[str] = set(held)
    found = []
    for job_id, names in parked:
        if not overlap(names, claimed):
            found.append(job_id)
        claimed.update(names)
    return found


def wake(app) -> list[int]:
    """Queue again the parked jobs that may run now (see `wakeable`); their ids."""
    parked = list(db.session.scalars(waiting_jobs()))
    if not parked:
        db.session.commit()
        return []
    held = set(db.session.scalars(select(DeviceLock.device)))
    db.session.commit()
    by_id = {job.id: job for job in parked}
    conn = connection(app)
    woken = []
    for job_id in wakeable([(job.id, lock_names(job)) for job in parked], held):
        key = parked_key(app, job_id)
        sealed = conn.hget(key, "sealed")
        if sealed is None:
            continue  # parked by the workers of another queue (they wake it), or lost (expire_parked)
        now = time.time()
        if not conn.hsetnx(key, "woken", now):
            if _run_to_come(conn, key, job_id, now):
                continue  # woken already: its run is queued or starting
            conn.hset(key, "woken", now)  # its run came and went without taking it, or was lost
        template = templates(app).get(by_id[job_id].template)
        again = conn.hincrby(key, "wakes", 1)
        enqueue(app, by_id[job_id], sealed.decode() or None, template.timeout if template else 3600, again=again)
        woken.append(job_id)
        log.info("job %s: its devices are free: queued again (wake %s)", job_id, again)
    return woken


def _run_to_come(conn, key: str, job_id: int, now: float) -> bool:
    """Whether the run queued when parked job ``job_id`` (its place: ``key``) was last woken is still to come."""
    wakes = conn.hget(key, "wakes")
    if wakes is None:
        last = conn.hget(key, "woken")
        return last is not None and now - float(last) < WAKE_AGAIN
    try:
        status = RQJob.fetch(f"netoss-job-{job_id}-wake-{int(wakes)}", connection=conn).get_status()
    except Exception:  # no such RQ job (expired, deleted): lost
        return False
    return str(getattr(status, "value", status)) in ("queued", "started", "deferred", "scheduled")


def _parked_elsewhere(conn, job_id: int) -> bool:
    """Whether a parked job has its place under another queue's name (a test's own workers)."""
    return any(True for _key in conn.scan_iter(match=f"{PARKED_PREFIX}*:{job_id}", count=1000))


def expire_parked(app, conn) -> list[int]:
    """End the parked jobs that waited longer than JOB_LOCK_WAIT for a job that has held their
    devices that long (runner.stuck), and those whose place is lost; keep the others' places."""
    wait = float(app.config.get("JOB_LOCK_WAIT", 300))
    now = utcnow()
    ended = []
    for job in list(db.session.scalars(waiting_jobs())):
        names = lock_names(job)
        if stuck(job, names, wait, now):
            why = blocked(job, names) or job.waiting_for or "its devices were locked"
        elif conn.expire(parked_key(app, job.id), PARKED_TTL) or _parked_elsewhere(conn, job.id):
            continue  # its place renewed while it waits its turn (or another queue's workers keep it)
        else:
            why = "lost: its place among the jobs waiting for devices was lost (Redis emptied); launch it again"
        # Only if still pending: a worker may be taking it this very moment.
        still = (Job.id == job.id) & (Job.status == "pending")
        done = db.session.execute(update(Job).where(still).values(status="failed", error=why[:2000], finished_at=now))
        db.session.commit()
        if not done.rowcount:
            continue
        conn.delete(parked_key(app, job.id))
        db.session.refresh(job)
        signals.ended(job)  # its service order, if any, fails with the job
        ended.append(job.id)
    return ended


def wake_quietly(app) -> None:
    """`wake`, for the moments a job ended or parked: what fails is logged (the next reap wakes)."""
    try:
        with app.app_context():
            wake(app)
    except Exception as exc:  # Redis or PostgreSQL away for a moment: the reaper wakes them
        log.warning("waking the jobs waiting for devices failed: %s: %s", type(exc).__name__, exc)


# --- lost workers and lost runs ---------------------------------------------------------------
# Each worker refreshes a key of its own every BEAT seconds, valid for BEAT_TTL, and every REAP
# seconds looks at the jobs left unfinished (running, or canceled but not yet stopped):
# - one whose work horse on this host is gone (kill -9 of it, an RQ timeout) is ended as lost:
#   its remaining processes are stopped, its directory cleaned, its device locks released;
# - one whose worker's key expired (SIGKILL, a crashed host) is marked failed and its locks
#   released, unless its work horse still runs here (it then stops its run itself, as its
#   CancelCheck sees its worker gone, and ends the job).
# Locks whose job has ended are released. A worker starting does the same, and cleans the
# directory of every ended run that was not cleaned.
BEAT = 5
BEAT_TTL = 20
REAP = 10
BEAT_PREFIX = "netoss:worker:"


def beat(conn, name: str) -> None:
    conn.set(BEAT_PREFIX + name, "alive", ex=BEAT_TTL)


def live_workers(conn) -> set[str]:
    return {key.decode()[len(BEAT_PREFIX) :] for key in conn.scan_iter(match=BEAT_PREFIX + "*")}


def _credentials() -> list[str]:
    """What a dead run's files may hold in clear: this worker's credentials (those of its runs)."""
    return sensitive_values(dict(os.environ))


def unfinished():
    """The query of jobs that started and have not ended (running, or canceled and stopping)."""
    stopping = and_(Job.status == "canceled", Job.finished_at.is_(None), Job.started_at.is_not(None))
    return select(Job).where(or_(Job.status == "running", stopping)).order_by(Job.id)


def process_gone(job) -> bool:
    """Whether ``job``'s work horse ran on this host and is gone."""
    return bool(job.pid) and job.host == socket.gethostname() and not processes.alive(job.pid, job.pid_started)


def end_lost(app, job, why: str) -> None:
    """End a job whose process is gone: its other processes stopped, its files cleaned, failed
    (a canceled one stays canceled) with ``why``, its locks released."""
    finish(app, job, "failed", why, _credentials())


def release_ended_locks() -> int:
    """Release the device locks of jobs that have ended (whoever ended them)."""
    ended = select(Job.id).where(Job.finished_at.is_not(None))
    count = db.session.execute(delete(DeviceLock).where(DeviceLock.job_id.in_(ended))).rowcount
    db.session.commit()
    return count or 0


def reap_lost_jobs(app, conn) -> list[int]:
    """End the jobs whose work horse (on this host) or worker is gone; release their locks."""
    live = live_workers(conn)
    host = socket.gethostname()
    reaped = []
    with app.app_context():
        for job in list(db.session.scalars(unfinished())):
            if process_gone(job):
                end_lost(app, job, f"lost: its process {job.pid} on {host} stopped while running the job")
                reaped.append(job.id)
            elif job.worker and job.worker not in live and job.status == "running":
                if job.host == host and processes.alive(job.pid, job.pid_started):
                    continue  # its work horse stops the run and ends the job (CancelCheck)
                job.status = "failed"
                job.error = f"worker lost: {job.worker} stopped while running the job"
                job.finished_at = utcnow()
                job.token_hash = None
                db.session.commit()
                release_locks(job.id)
                signals.ended(job)  # its service order, if any, fails with the job
                reaped.append(job.id)
        release_ended_locks()
    return reaped


def clean_ended_runs(app) -> list[int]:
    """Clean the directory of every ended job that was not cleaned (its run died)."""
    root = Path(app.config["JOBS_DIR"])
    done = []
    if not root.is_dir():
        return done
    with app.app_context():
        for path in sorted(root.iterdir()):
            try:
                if not path.name.isdigit() or (path / CLEANED).exists() or not path.is_dir():
                    continue
                job = db.session.get(Job, int(path.name))
                if job is None or job.finished_at is not None:
                    clean(path, _credentials())
                    done.append(int(path.name))
            except PermissionError as exc:  # another account's run (a root terminal's): not ours to clean
                logging.getLogger("netoss.jobs").warning(
                    "job directory %s cannot be cleaned by this account: %s", path.name, exc.strerror
                )
    return done


def cancel_pending(app, job) -> None:
    """End a job cancelled before any worker took it: it leaves the queue, and job_ended is sent."""
    job.status, job.finished_at = "canceled", utcnow()
    db.session.commit()
    drop(app, job.id)  # no worker needs to pick it up
    signals.ended(job)  # its service order, if it runs one, is cancelled with it
    if job.waiting_since is not None:
        wake_quietly(app)  # younger jobs waited behind it
