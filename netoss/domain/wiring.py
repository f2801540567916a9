"""How the rooms of the domain hear each other: the receivers of the domain's signals.

:func:`connect` is called by every process that runs or ends jobs (the portal's app factory, the
worker and each job it runs), so a job that ends has the same effects wherever it ends. The
rooms do not import each other to say such things: provisioning subscribes to the jobs' signal.
GitOps provides the actions of its job templates (gitops-apply, gitops-plan).
Faults open a maintenance window over the devices of a planned change while it runs. Compliance
and faults read jobs from the database (correlation with changes, runs).
"""

from __future__ import annotations

from netoss.domain.faults import maintenance
from netoss.domain.gitops import apply
from netoss.domain.jobs import actions
from netoss.domain.jobs.signals import job_ended, job_started
from netoss.domain.provisioning import orders


def connect() -> None:
    """Connect every receiver and register every job action (idempotent: blinker keeps one
    connection per receiver, an action one entry per name)."""
    job_ended.connect(orders.job_finished)
    # A planned change (a template with maintenance_window: config-push, gitops-apply): its
    # devices' alarms are planned while it runs.
    job_started.connect(maintenance.on_job_started)
    job_ended.connect(maintenance.on_job_ended)
    actions.register("gitops-apply", apply.run_job)
    actions.register("gitops-plan", apply.run_plan_job)
