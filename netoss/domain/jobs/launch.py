"""Launching a job: validate, record, enqueue. Shared by the API and the UI."""

from __future__ import annotations

from netoss.data import context
from netoss.data.db import db
from netoss.data.models import Job, Ticket, TicketNote, User
from netoss.data.netbox import NetBox
from netoss.domain.jobs.job_templates import JobTemplate, Parameter, netbox_filter, validate_launch
from netoss.domain.jobs.runner import seal, templates


class LaunchError(Exception):
    """A launch refused before anything runs: ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.status = status
        self.problems = problems or []


def netbox_choices(param: Parameter, values: dict) -> list:
    """The allowed values of a parameter whose choices come from NetBox (dependent filters applied)."""
    netbox = NetBox.from_config(context.config())
    if netbox is None:
        raise LaunchError(503, f"{param.name}: its choices come from NetBox, which the portal is not configured for")
    spec = param.choices_from
    records = netbox.endpoint(spec["netbox"]).filter(**netbox_filter(param, values))
    key = spec.get("value", "name")
    return [getattr(r, key) for r in records]


def _limit(template: JobTemplate, clean: dict, resolve) -> str | None:
    if not template.limit:
        return None
    param = template.parameter(template.limit["parameter"])
    chosen = clean.get(param.name)
    if chosen:
        return ",".join(chosen if isinstance(chosen, list) else [chosen])
    if param.choices_from and netbox_filter(param, clean):
        # e.g. a site but no devices: every device of the site
        devices = resolve(param, clean)
        if not devices:
            raise LaunchError(400, f"{param.name}: no device matches the other parameters")
        return ",".join(devices)
    return None


def checked(user: User, name: str, values: dict, check: bool, resolve=None) -> tuple[JobTemplate, dict]:
    """The template and the clean values of a launch (or a schedule) that ``user`` may make;
    LaunchError, with the HTTP status to answer, says what is wrong."""
    template = templates(context.current()).get(name)
    if template is None:
        raise LaunchError(404, f"no job template {name!r}")
    if not template.allowed(user.role):
        raise LaunchError(403, f"template {name!r} is not allowed for the {user.role} role")
    if check and template.check_mode == "never":
        raise LaunchError(400, f"template {name!r} cannot run in check mode")
    if not check and template.check_mode == "allowed" and not template.may_apply(user.role):
        raise LaunchError(
            403,
            f"template {name!r} runs outside check mode only for the {', '.join(template.apply_roles)} role(s): "
            f"run it in check mode, and ask one of them to approve it by applying",
        )
    clean, problems = validate_launch(template, values, resolve or netbox_choices)
    if problems:
        raise LaunchError(400, "invalid parameters: " + "; ".join(problems), problems)
    return template, clean


def launch(
    user: User, name: str, values: dict, check: bool, enqueue, resolve=None, ticket_id: int | None = None
) -> Job:
    """Check and record a launch, then hand it to ``enqueue(job, sealed_secrets)``.

    ``ticket_id`` links the job to the ticket it was launched from (a remediation): the job
    appears in the ticket's timeline, and the ticket gets a note."""
    ticket = None
    if ticket_id is not None:
        ticket = db.session.get(Ticket, ticket_id)
        if ticket is None:
            raise LaunchError(400, f"ticket: no ticket {ticket_id}")
    template, clean = checked(user, name, values, check, resolve)
    secrets = {p.name: clean.pop(p.name) for p in template.parameters if p.type == "secret" and p.name in clean}
    shown = dict(clean, **{name: "********" for name in secrets})
    job = Job(
        template=name,
        parameters=shown,
        check_mode=bool(check or template.check_mode == "always"),
        limit=_limit(template, clean, resolve or netbox_choices),
        created_by=user.username,
        ticket_id=ticket.id if ticket else None,
    )
    db.session.add(job)
    db.session.flush()
    if ticket is not None:
        mode = " in check mode" if job.check_mode else ""
        db.session.add(
            TicketNote(ticket_id=ticket.id, author=user.username,
                       text=f"Job {job.id} ({name}{mode}, limit {job.limit or 'all'}) launched from this ticket.")
        )  # fmt: skip
    db.session.commit()
    try:
        enqueue(job, seal(context.current(), secrets))
    except Exception as exc:
        job.status, job.error = "error", f"the job queue is unavailable: {exc}"
        db.session.commit()
        raise LaunchError(503, job.error) from None
    return job
