"""How the rooms of the domain hear each other: the receivers of the domain's signals.

:func:`connect` is called by every process that runs or ends jobs (the portal's app factory, the
worker and each job it runs), so a job that ends has the same effects wherever it ends. The
rooms do not import each other to say such things: provisioning subscribes to the jobs' signal.
GitOps provides the actions of its job templates (gitops-apply, gitops-plan).
Compliance and faults read jobs from the database (correlation with changes, runs) and have no
job-ended effect today; they would subscribe here.
"""

from __future__ import annotations

from netoss.domain.gitops import apply
from netoss.domain.jobs import actions
from netoss.domain.jobs.signals import job_ended
from netoss.domain.provisioning import orders


def connect() -> None:
    """Connect every receiver and register every job action (idempotent: blinker keeps one
    connection per receiver, an action one entry per name)."""
    job_ended.connect(orders.job_finished)
    actions.register("gitops-apply", apply.run_job)
    actions.register("gitops-plan", apply.run_plan_job)
