"""What the jobs domain tells the other rooms (blinker signals, the ones Flask uses).

``job_started`` is sent once per job, by :func:`started`, when its run starts (its row committed
running), with the devices it may change (``devices``: empty when it changes none, ``*`` for
all) and whether its template makes it a planned change (``planned``). ``job_ended`` is sent
once per job, by :func:`ended`, when the job has its final status and
``finished_at``, whoever ended it: its run, the reaper of lost jobs, a cancel before it started.
The rooms that care subscribe in ``netoss.domain.wiring.connect``, which every process that runs
or ends jobs calls (the portal's app factory, the worker).
"""

from __future__ import annotations

import logging

from blinker import Namespace

log = logging.getLogger("netoss.jobs")

signals = Namespace()
job_ended = signals.signal(
    "job-ended", doc="A job ended (its row is committed with its status). Sender: the Job. Receivers never raise."
)


job_started = signals.signal(
    "job-started",
    doc="A job's run started. Sender: the Job; devices (what it may change), planned (bool). Receivers never raise.",
)


def started(job, devices: list[str], planned: bool) -> None:
    """Send ``job_started`` for ``job``. A receiver that raises is logged, and the others still run."""
    for receiver in job_started.receivers_for(job):
        try:
            receiver(job, devices=devices, planned=planned)
        except Exception:
            log.exception("job %s: a receiver of job_started failed", job.id)


def ended(job) -> None:
    """Send ``job_ended`` for ``job``. A receiver that raises is logged, and the others still run."""
    for receiver in job_ended.receivers_for(job):
        try:
            receiver(job)
        except Exception:
            log.exception("job %s: a receiver of job_ended failed", job.id)
