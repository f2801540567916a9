"""The job worker (`netoss worker`): takes jobs from the queue (RQ on the stack's Redis) and runs
each with ansible-runner; a thread of its main process beats its heartbeat, reaps lost jobs and
fires due schedules.

Its app context comes from ``netoss.data.context.build_app`` (the portal's configuration, no web),
and it connects the same job-ended receivers as the portal (``netoss.domain.wiring``).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

from rq import Worker

from netoss.data.context import build_app
from netoss.domain import wiring
from netoss.domain.jobs import environment
from netoss.domain.jobs.launch import launch
from netoss.domain.jobs.queue import (
    BEAT,
    REAP,
    beat,
    clean_ended_runs,
    connection,
    enqueuer,
    expire_parked,
    park,
    reap_lost_jobs,
    rq_queue,
    wake,
    wake_quietly,
)
from netoss.domain.jobs.runner import execute, unseal
from netoss.domain.jobs.schedules import fire_due


def run_queued(job_id: int, sealed: str | None) -> None:
    """What the worker runs for each job (queue.RUN_QUEUED names it; RQ imports it by that name)."""
    app = build_app()
    wiring.connect()
    # RQ runs this in a work horse forked by the worker: the run stops if the worker dies.
    run_job(app, job_id, sealed, environment.job_environment(), parent=os.getppid())


def run_job(app, job_id: int, sealed: str | None, env: dict[str, str], parent: int | None = None) -> None:
    """Run a job taken from the queue. One whose devices other jobs are changing is parked (the
    worker goes on with the next job) and queued again, first, once they are free."""
    try:
        execute(job_id, app=app, secrets=unseal(app, sealed), env=env, parent=parent,
                park=lambda job: park(app, job, sealed))  # fmt: skip
    finally:
        wake_quietly(app)  # the jobs that wait for the devices this one freed, or that ended as it parked


def tend_parked(app, conn, log: Callable[[str], None]) -> None:
    """End the jobs that waited too long for their devices, and wake those whose devices are free
    (a wake missed, a holder reaped)."""
    with app.app_context():
        for job_id in expire_parked(app, conn):
            log(f"job {job_id}: waited too long for its devices (or lost its place); failed")
        for job_id in wake(app):
            log(f"job {job_id}: its devices are free; queued again")


def start_heartbeat(app, name: str, log: Callable[[str], None]) -> None:
    """A daemon thread of the worker's main process: heartbeat, and reaping of lost jobs."""
    conn = connection(app)

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
                        log(f"job {job_id}: its worker or process was lost; ended, locks released")
                    tend_parked(app, conn, log)
                for schedule_id, outcome in fire_due(app, conn, launch_as):
                    log(f"schedule {schedule_id}: {outcome}")
            except Exception as exc:  # Redis or PostgreSQL away for a moment: try again
                log(f"heartbeat: {exc}")
            time.sleep(BEAT)

    beat(conn, name)
    # What a dead run left: the jobs it left unfinished, then the files of ended runs.
    for job_id in reap_lost_jobs(app, conn):
        log(f"job {job_id}: its worker or process was lost; ended, locks released")
    tend_parked(app, conn, log)
    for job_id in clean_ended_runs(app):
        log(f"job {job_id}: the files its run left were cleaned")
    threading.Thread(target=loop, name="netoss-heartbeat", daemon=True).start()


def run(
    name: str,
    burst: bool,
    log: Callable[[str], None],
    job_environment: environment.Provider | None = None,
) -> None:
    """Run the worker ``name`` until it is stopped (``burst``: until the queue is empty).
    ``job_environment`` is the deployment's provider of what each job's environment adds."""
    if job_environment is not None:
        environment.register(job_environment)
    app = build_app()
    wiring.connect()
    os.environ["NETOSS_WORKER_NAME"] = name  # the jobs it runs record it
    worker = Worker([rq_queue(app)], connection=connection(app), name=name)
    start_heartbeat(app, name, log)
    log(f"worker {worker.name} takes jobs from {rq_queue(app).name}")
    worker.work(burst=burst, with_scheduler=False)
