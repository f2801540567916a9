"""The portal's own tables (its PostgreSQL database; SQLite in unit tests)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, event, false
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.orm.base import NEVER_SET, NO_VALUE

from netoss.data.db import db

ROLES = ("viewer", "operator", "engineer", "admin")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def utc(t: dt.datetime | None) -> dt.datetime | None:
    """``t`` with its time zone: SQLite (the unit tests) gives naive datetimes back, and they are UTC."""
    return t.replace(tzinfo=dt.UTC) if t is not None and t.tzinfo is None else t


def iso(t: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC (SQLite, used by unit tests, gives back naive datetimes)."""
    return None if t is None else utc(t).isoformat()


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False, default="viewer")
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    # Carried in each browser session; a password change or disabling the user moves it on, which
    # ends every session signed in before (see the listeners below and security.current_user).
    session_epoch: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user", cascade="all, delete-orphan")

    def at_least(self, role: str) -> bool:
        """Whether the user's role includes ``role`` (viewer < operator < engineer < admin)."""
        return ROLES.index(self.role) >= ROLES.index(role)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "username": self.username,
            "role": self.role,
            "active": self.active,
            "created_at": iso(self.created_at),
        }


@event.listens_for(User.password_hash, "set")
@event.listens_for(User.active, "set")
def _end_sessions(user: User, value, oldvalue, _initiator):
    """Whatever code changes a user's password or disables the user, their sessions end."""
    if oldvalue in (NO_VALUE, NEVER_SET) or value == oldvalue:
        return  # a new user, or no change
    user.session_epoch = (user.session_epoch or 0) + 1


class ApiToken(db.Model):
    """An API token: only its SHA-256 is stored; the token itself is shown once, at creation."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    prefix: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)

    user: Mapped[User] = relationship(back_populates="tokens")

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "prefix": self.prefix,
            "user": self.user.username,
            "created_at": iso(self.created_at),
            "expires_at": iso(self.expires_at),
            "last_used_at": iso(self.last_used_at),
            "revoked": self.revoked,
        }


class AuditEvent(db.Model):
    """Who did what, when, from where. Never holds a secret."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow, index=True)
    actor: Mapped[str | None] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    target: Mapped[str | None] = mapped_column(String(255))
    source: Mapped[str | None] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(16), nullable=False, default="ok")
    detail: Mapped[dict | None] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "at": iso(self.at),
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "source": self.source,
            "outcome": self.outcome,
            "detail": self.detail,
        }


JOB_STATES = ("pending", "running", "successful", "failed", "canceled", "error")
FINISHED = ("successful", "failed", "canceled", "error")


class Job(db.Model):
    """One run of a job template. Parameters are stored with secret values masked."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    template: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    parameters: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    check_mode: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    limit: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending", index=True)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow, index=True)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    worker: Mapped[str | None] = mapped_column(String(255))
    # The process that runs it (the work horse): its host, pid and start time (clock ticks
    # after boot, so a reused pid is not taken for it). A worker on that host ends the job
    # as lost when the process is gone (netoss.domain.jobs.queue.reap_lost_jobs).
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column(Integer)
    pid_started: Mapped[int | None] = mapped_column(BigInteger)
    # SHA-256 of the run's token (NETOSS_JOB_TOKEN), set only while it runs: the credential
    # with which the run reports its service order's progress.
    token_hash: Mapped[str | None] = mapped_column(String(64))
    rc: Mapped[int | None] = mapped_column(Integer)
    stats: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    event_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # Each play's hosts and task count as the run goes (netoss.core.job_plan): the progress totals.
    plan: Mapped[list | None] = mapped_column(JSON)
    # The ticket it was launched from (a remediation).
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL", name="fk_jobs_ticket_id_tickets", use_alter=True), index=True
    )
    # A job whose devices were locked waits pending, out of any worker (netoss.domain.jobs.queue:
    # parked), since ``waiting_since`` for what ``waiting_for`` says; both stay once it ran.
    waiting_since: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    waiting_for: Mapped[str | None] = mapped_column(String(500))

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "template": self.template,
            "parameters": self.parameters,
            "check": self.check_mode,
            "limit": self.limit,
            "status": self.status,
            "created_by": self.created_by,
            "created_at": iso(self.created_at),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "worker": self.worker,
            "rc": self.rc,
            "stats": self.stats,
            "error": self.error,
            "event_count": self.event_count,
            "ticket": f"TT-{self.ticket_id:06d}" if self.ticket_id else None,
            "waiting_since": iso(self.waiting_since),
            "waiting_for": self.waiting_for,
        }


class JobEvent(db.Model):
    """One ansible-runner event of a job, in order (``seq``), with its output line(s)."""

    __tablename__ = "job_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    event: Mapped[str] = mapped_column(String(64), nullable=False)
    host: Mapped[str | None] = mapped_column(String(255))
    task: Mapped[str | None] = mapped_column(Text)
    stdout: Mapped[str | None] = mapped_column(Text)
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)

    __table_args__ = (db.UniqueConstraint("job_id", "seq", name="uq_job_events_job_seq"),)

    def to_dict(self) -> dict:
        return {
            "seq": self.seq,
            "event": self.event,
            "host": self.host,
            "task": self.task,
            "stdout": self.stdout,
            "created": iso(self.created),
        }


class DeviceLock(db.Model):
    """A device being changed by a job: two jobs never change the same device at once."""

    __tablename__ = "device_locks"

    device: Mapped[str] = mapped_column(String(255), primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False, index=True)
    acquired_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)


class Schedule(db.Model):
    """A template launched on a cron schedule by the workers, as the user who made it."""

    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    template: Mapped[str] = mapped_column(String(64), nullable=False)
    parameters: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    check_mode: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    cron: Mapped[str] = mapped_column(String(100), nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    next_run_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    last_run_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_job_id: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "template": self.template,
            "parameters": self.parameters,
            "check": self.check_mode,
            "cron": self.cron,
            "enabled": self.enabled,
            "created_by": self.created_by,
            "next_run_at": iso(self.next_run_at),
            "last_run_at": iso(self.last_run_at),
            "last_job_id": self.last_job_id,
            "last_error": self.last_error,
        }


# -- fault management: alarms (TMF642) and trouble tickets (TMF621) -------------------------

ALARM_STATES = ("raised", "updated", "cleared")
TICKET_STATES = ("acknowledged", "pending", "held", "inProgress", "resolved", "closed", "cancelled", "rejected")
TICKET_OPEN = ("acknowledged", "pending", "held", "inProgress")


class Alarm(db.Model):
    """One alarm: a condition on an object of a device, from raise to clear (TMF642).

    Events with the same fingerprint (device, object, condition) while it is active count as
    occurrences of it; a raise after the clear is a new alarm. ``parent_id`` points at the
    root-cause alarm it is correlated with; root causes have ``is_root_cause``.
    """

    __tablename__ = "alarms"
    # The lists' orders under their common filters (the alarm list pages newest first).
    __table_args__ = (
        db.Index("ix_alarms_severity_id", "severity", "id"),
        db.Index("ix_alarms_device_id", "device", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(400), nullable=False, index=True)
    # The fingerprint while the alarm is active, NULL once cleared: unique, so an active
    # alarm exists at most once per fingerprint.
    active_key: Mapped[str | None] = mapped_column(String(400), unique=True)
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="raised", index=True)
    ack_state: Mapped[str] = mapped_column(String(16), nullable=False, default="unacknowledged")
    ack_user: Mapped[str | None] = mapped_column(String(64))
    ack_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    alarm_type: Mapped[str] = mapped_column(String(32), nullable=False)
    severity: Mapped[str] = mapped_column(String(16), nullable=False)
    probable_cause: Mapped[str] = mapped_column(String(64), nullable=False)
    specific_problem: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    device: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    device_id: Mapped[int | None] = mapped_column(Integer)  # NetBox's
    object_type: Mapped[str] = mapped_column(String(32), nullable=False)
    object_name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    interface_id: Mapped[int | None] = mapped_column(Integer)  # NetBox's, when the object is (on) an interface
    condition: Mapped[str] = mapped_column(String(64), nullable=False)
    source: Mapped[str] = mapped_column(String(16), nullable=False)  # the source that raised it
    raised_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow, index=True)
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    cleared_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    occurrences: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    flapping: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    clear_due_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))  # a damped clear
    is_root_cause: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    # Raised inside a maintenance window over its device or an affected service (TMF642
    # plannedOutageIndicator OutOfService): it opens no ticket while the window lasts.
    planned_outage: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("alarms.id", ondelete="SET NULL"), index=True)
    correlation: Mapped[str | None] = mapped_column(String(400))  # what groups it: "link pe1:eth3 ce1:eth1", ...
    service_affecting: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    affected_services: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    # probable cause; indexed, as is tickets.root_alarm_id, so that deleting jobs or alarms in
    # bulk does not scan the table for each row deleted (ON DELETE SET NULL)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL", name="fk_alarms_ticket_id_tickets", use_alter=True), index=True
    )
    details: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)

    @property
    def alarmed_object(self) -> str:
        return self.device if self.object_type == "device" else f"{self.device} {self.object_name}"


class MaintenanceWindow(db.Model):
    """A planned outage: from ``starts_at`` to ``ends_at`` (or ``ended_at``, when ended early),
    alarms on its devices, or affecting its services, are planned and open no ticket. Made by
    hand, by a job that changes devices (its devices, while it runs), or by a GitOps deployment."""

    __tablename__ = "maintenance_windows"
    __table_args__ = (db.Index("ix_maintenance_windows_ends_at_starts_at", "ends_at", "starts_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    starts_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    ends_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    devices: Mapped[list] = mapped_column(JSON, nullable=False, default=list)  # NetBox device names
    services: Mapped[list] = mapped_column(JSON, nullable=False, default=list)  # service (circuit) IDs
    source: Mapped[str] = mapped_column(String(16), nullable=False, default="manual")  # manual, job, gitops
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"), index=True)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)

    def covers(self, device: str, services: list[str]) -> bool:
        devices = self.devices or []
        return device in devices or "*" in devices or bool(set(self.services or []) & set(services))


class AlarmEvent(db.Model):
    """Every event stored, in the order received: the alarm's history (and the ingest count)."""

    __tablename__ = "alarm_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alarm_id: Mapped[int | None] = mapped_column(ForeignKey("alarms.id", ondelete="CASCADE"), index=True)
    received_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, default=utcnow, index=True
    )
    event_time: Mapped[str | None] = mapped_column(String(40))  # as the source gave it
    source: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    action: Mapped[str] = mapped_column(String(16), nullable=False)  # raise, clear, ack, comment, ...
    actor: Mapped[str | None] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text, nullable=False, default="")

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "alarm_id": self.alarm_id,
            "received_at": iso(self.received_at),
            "event_time": self.event_time,
            "source": self.source,
            "action": self.action,
            "actor": self.actor,
            "text": self.text,
        }


class FaultShard(db.Model):
    """How far the fault processors have stored each shard of the event stream
    (``netoss.domain.faults.shards``): the last entry id stored, written in the transaction that
    stored it, so an entry read again (a processor died before acknowledging it, another took
    its shard over) is never stored twice; and what that last batch still had to count in Redis
    (``unsettled``: counters and dead letters), for whoever finds its entries unacknowledged."""

    __tablename__ = "fault_shards"

    shard: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_id: Mapped[str] = mapped_column(String(40), nullable=False, default="0-0")
    unsettled: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)


class Ticket(db.Model):
    """A trouble ticket (TMF621): one per root cause, or opened by hand."""

    __tablename__ = "tickets"
    # The ticket queue's order (the last changed first), alone and by status.
    __table_args__ = (
        db.Index("ix_tickets_updated_at_id", "updated_at", "id"),
        db.Index("ix_tickets_status_updated_at_id", "status", "updated_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(300), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    severity: Mapped[str] = mapped_column(String(16), nullable=False)
    priority: Mapped[int] = mapped_column(Integer, nullable=False)  # 1 (highest) to 4
    ticket_type: Mapped[str] = mapped_column(String(32), nullable=False)  # alarm, complaint, request
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="acknowledged", index=True)
    status_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    expected_resolution_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))  # SLA due
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    assignee: Mapped[str | None] = mapped_column(String(64), index=True)
    device: Mapped[str | None] = mapped_column(String(64), index=True)
    root_alarm_id: Mapped[int | None] = mapped_column(ForeignKey("alarms.id", ondelete="SET NULL"), index=True)
    correlation: Mapped[str | None] = mapped_column(String(400), index=True)  # of its root cause
    related: Mapped[list] = mapped_column(JSON, nullable=False, default=list)  # TMF relatedEntity
    reopen_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    @property
    def ref(self) -> str:
        return f"TT-{self.id:06d}"


class TicketStatusChange(db.Model):
    __tablename__ = "ticket_status_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False, index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    reason: Mapped[str | None] = mapped_column(String(500))
    actor: Mapped[str] = mapped_column(String(64), nullable=False)


class TicketNote(db.Model):
    __tablename__ = "ticket_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False, index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    author: Mapped[str] = mapped_column(String(64), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)


# -- configuration compliance -------------------------------------------------------------

COMPLIANCE_STATUSES = ("compliant", "non-compliant", "exempt", "error")


class ComplianceRun(db.Model):
    """One run of the compliance engine over some devices, as the job (or a person) posted it."""

    __tablename__ = "compliance_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"), index=True)
    source: Mapped[str] = mapped_column(String(16), nullable=False)  # live | backup
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, index=True)
    finished_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(64), nullable=False)
    percent: Mapped[float] = mapped_column(Float, nullable=False)
    summary: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    policy: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    device_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "job_id": self.job_id,
            "source": self.source,
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "recorded_at": iso(self.recorded_at),
            "recorded_by": self.recorded_by,
            "percent": self.percent,
            "device_count": self.device_count,
        }


class ComplianceResult(db.Model):
    """The status of one feature of one device in one run, with the rules that are not plainly
    compliant (``details``). A device that could not be checked has one row, feature ''."""

    __tablename__ = "compliance_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("compliance_runs.id", ondelete="CASCADE"), nullable=False)
    device: Mapped[str] = mapped_column(String(64), nullable=False)
    platform: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    feature: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    details: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    # Where the device was and what it was when checked (NetBox's site and role slugs, '' unknown).
    site: Mapped[str] = mapped_column(String(100), nullable=False, default="", server_default="")
    role: Mapped[str] = mapped_column(String(100), nullable=False, default="", server_default="")
    # The rules of ``details`` that are not compliant, as "|rule|rule|" (a rule filter is a LIKE).
    rules: Mapped[str] = mapped_column(Text, nullable=False, default="", server_default="")

    __table_args__ = (
        # A device's history of a feature, newest first.
        db.Index("ix_compliance_results_device_feature_run", "device", "feature", "run_id"),
        # A run's results, and the latest results of each device (through compliance_devices).
        db.Index("ix_compliance_results_run_device", "run_id", "device"),
    )


class ComplianceDevice(db.Model):
    """Each device's latest run: what makes "the fleet's compliance now" one indexed join,
    not a scan of every run's results (10,000 devices x 8 features per run)."""

    __tablename__ = "compliance_devices"

    device: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("compliance_runs.id", ondelete="CASCADE"), nullable=False, index=True
    )
    platform: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    error: Mapped[str | None] = mapped_column(Text)
    # NetBox's site and role slugs of the device when last checked ('' when the run did not say).
    site: Mapped[str] = mapped_column(String(100), nullable=False, default="", server_default="", index=True)
    role: Mapped[str] = mapped_column(String(100), nullable=False, default="", server_default="", index=True)

    __table_args__ = (db.Index("ix_compliance_devices_status", "status"),)


# -- service orders (TMF641) ----------------------------------------------------------------

ORDER_STATES = ("acknowledged", "inProgress", "completed", "failed", "partial", "cancelled")
ORDER_OPEN = ("acknowledged", "inProgress")


class ServiceOrder(db.Model):
    """A customer's order (TMF641): its items as the order check cleaned them, run by one
    ``service-order`` job, and the history of its state."""

    __tablename__ = "service_orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(100), index=True)  # the BSS's own reference
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    category: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="acknowledged", index=True)
    state_reason: Mapped[str | None] = mapped_column(String(500))
    requested_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    # [{id, action, service, service_id, values, state, resources}]
    items: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    # [{state, at, reason, step}], oldest first
    state_changes: Mapped[list] = mapped_column(JSON, nullable=False, default=list)


# -- GitOps ---------------------------------------------------------------------------------

DEPLOYMENT_STATUSES = ("queued", "running", "succeeded", "failed", "rolled-back", "superseded", "refused")
DEPLOYMENT_ACTIVE = ("queued", "running")


class Deployment(db.Model):
    """One commit of an intent repository applied to the network (netoss.domain.gitops.apply):
    from queued to succeeded, rolled back, failed, refused (older than what was applied, off the
    protected branch, a plan that breaks something) or superseded (a newer merge came first)."""

    __tablename__ = "gitops_deployments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository: Mapped[str] = mapped_column(String(200), nullable=False, index=True)
    sha: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    author: Mapped[str | None] = mapped_column(String(200))
    author_email: Mapped[str | None] = mapped_column(String(200))
    subject: Mapped[str | None] = mapped_column(String(500))
    merge_request: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="queued", index=True)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow, index=True)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    delivery_id: Mapped[str | None] = mapped_column(String(100))  # the webhook delivery that queued it
    netbox_branch: Mapped[str | None] = mapped_column(String(200))
    plan: Mapped[dict | None] = mapped_column(JSON)  # the plan it was applied with (Plan.to_dict)
    devices: Mapped[list] = mapped_column(JSON, nullable=False, default=list)  # the devices it changes
    failed_devices: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    previous_sha: Mapped[str | None] = mapped_column(String(64))  # the last good commit before it
    superseded_by: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)

    @property
    def ref(self) -> str:
        return f"deployment {self.id} ({self.sha[:12]})"

    @property
    def seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return round((self.finished_at - self.started_at).total_seconds(), 1)

    def to_dict(self, plan: bool = False) -> dict:
        out = {
            "id": self.id,
            "repository": self.repository,
            "sha": self.sha,
            "author": self.author,
            "author_email": self.author_email,
            "subject": self.subject,
            "merge_request": self.merge_request,
            "status": self.status,
            "created_by": self.created_by,
            "created_at": iso(self.created_at),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "seconds": self.seconds,
            "job_id": self.job_id,
            "ticket_id": self.ticket_id,
            "delivery_id": self.delivery_id,
            "netbox_branch": self.netbox_branch,
            "devices": list(self.devices or []),
            "failed_devices": list(self.failed_devices or []),
            "previous_sha": self.previous_sha,
            "superseded_by": self.superseded_by,
            "error": self.error,
        }
        if plan:
            out["plan"] = self.plan
        return out


class WebhookDelivery(db.Model):
    """A verified webhook delivery of a git host, kept so that a replay (the same delivery id)
    is refused, with what netoss did with it."""

    __tablename__ = "gitops_webhook_deliveries"
    __table_args__ = (db.UniqueConstraint("provider", "delivery_id", name="uq_gitops_delivery"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider: Mapped[str] = mapped_column(String(16), nullable=False)
    delivery_id: Mapped[str] = mapped_column(String(100), nullable=False)
    repository: Mapped[str] = mapped_column(String(200), nullable=False)
    event: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # push, merge_request, other
    branch: Mapped[str | None] = mapped_column(String(200))
    sha: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, default=utcnow, index=True
    )
    outcome: Mapped[str] = mapped_column(String(16), nullable=False)  # queued, ignored
    reason: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    deployment_id: Mapped[int | None] = mapped_column(ForeignKey("gitops_deployments.id", ondelete="SET NULL"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "provider": self.provider,
            "delivery_id": self.delivery_id,
            "repository": self.repository,
            "event": self.event,
            "kind": self.kind,
            "branch": self.branch,
            "sha": self.sha,
            "received_at": iso(self.received_at),
            "outcome": self.outcome,
            "reason": self.reason,
            "deployment_id": self.deployment_id,
            "job_id": self.job_id,
        }
