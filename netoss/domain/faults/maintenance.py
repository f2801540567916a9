"""Maintenance windows: planned outages. While a window lasts, an alarm on one of its devices,
or affecting one of its services, is planned (TMF642 ``plannedOutageIndicator``:
``OutOfService``) and opens no ticket; an alarm still active when the window ends is planned no
longer, and is ticketed as any other (the change overran). A problem that already has a ticket
keeps it.

Windows are made by hand (the API, the portal), by a job that changes devices (over its
devices, while it runs: :func:`for_job`), or by a GitOps deployment (through its job).
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import and_, func, not_, or_, select

from netoss.data.db import db
from netoss.data.models import MaintenanceWindow

MAX_LENGTH = dt.timedelta(days=7)
MAX_OBJECTS = 1000
JOB_GRACE = dt.timedelta(minutes=2)  # after a job ends: the sessions it bounced come back
_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")
_OBJECT = re.compile(r"^[^\x00-\x1f\x7f]{1,100}$")


class WindowError(ValueError):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _aware(t: dt.datetime) -> dt.datetime:
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def parse_time(value: str, field: str) -> dt.datetime:
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        raise WindowError(400, f"{field}: {str(value)[:40]!r} is not an ISO 8601 time") from None
    if t.tzinfo is None:
        raise WindowError(400, f"{field}: {value!r} has no time zone (add Z for UTC)")
    return t.astimezone(dt.UTC)


def in_state(state: str, now: dt.datetime) -> list:
    """SQL conditions of the windows that are ``state`` at ``now``, as to_json names them: over
    once past its end or ended (a scheduled window ended before its start is called off: over),
    else scheduled before its start, else active."""
    w = MaintenanceWindow
    over = or_(w.ends_at <= now, and_(w.ended_at.is_not(None), w.ended_at <= now))
    if state == "over":
        return [over]
    if state == "scheduled":
        return [w.starts_at > now, not_(over)]
    if state == "active":
        return [w.starts_at <= now, not_(over)]
    raise ValueError(f"unknown window state {state!r}")


def active(now: dt.datetime) -> list[MaintenanceWindow]:
    """The windows in force at ``now``."""
    return list(db.session.scalars(select(MaintenanceWindow).where(*in_state("active", now))))


def page(state: str | None, now: dt.datetime, limit: int, offset: int) -> tuple[list[dict], int]:
    """One page of the windows in ``state`` (None: all), the latest first, and how many match."""
    where = in_state(state, now) if state else []
    total = db.session.scalar(select(func.count(MaintenanceWindow.id)).where(*where))
    rows = db.session.scalars(
        select(MaintenanceWindow).where(*where).order_by(MaintenanceWindow.id.desc()).limit(limit).offset(offset)
    )
    return [to_json(w, now) for w in rows], total


def covered(device: str, services: list[str], windows: list[MaintenanceWindow]) -> bool:
    return any(w.covers(device, services) for w in windows)


def create(
    created_by: str,
    name: str,
    devices: list[str],
    services: list[str],
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    description: str = "",
    source: str = "manual",
    job_id: int | None = None,
    known=None,
) -> MaintenanceWindow:
    """A new window (committed by the caller). ``known(devices, services)`` returns the names
    NetBox does not have (each refused by name); None skips that check."""
    if not _NAME.match(name or ""):
        raise WindowError(400, "name: 1 to 200 printable characters")
    if not devices and not services:
        raise WindowError(400, "a window needs devices or services: it would cover nothing")
    for field, values in (("devices", devices), ("services", services)):
        if len(values) > MAX_OBJECTS:
            raise WindowError(400, f"{field}: at most {MAX_OBJECTS}")
        bad = next((v for v in values if not isinstance(v, str) or not _OBJECT.match(v)), None)
        if bad is not None:
            raise WindowError(400, f"{field}: {str(bad)[:40]!r} is not a name")
    if ends_at <= starts_at:
        raise WindowError(400, f"ends_at ({ends_at.isoformat()}) is not after starts_at ({starts_at.isoformat()})")
    if ends_at - starts_at > MAX_LENGTH:
        raise WindowError(400, f"a window lasts at most {MAX_LENGTH.days} days")
    if known is not None:
        missing = known(devices, services)
        if missing:
            raise WindowError(400, f"not in NetBox: {', '.join(missing[:10])}")
    window = MaintenanceWindow(
        name=name,
        description=description or "",
        starts_at=starts_at,
        ends_at=ends_at,
        devices=sorted(set(devices)),
        services=sorted(set(services)),
        source=source,
        job_id=job_id,
        created_by=created_by,
    )
    db.session.add(window)
    db.session.flush()
    return window


def missing_in_netbox(devices: list[str], services: list[str]) -> list[str]:
    """The devices and services (circuit IDs) NetBox does not have, named; none checked when
    the portal has no NetBox."""
    from netoss.data.context import config
    from netoss.data.netbox import NetBox

    netbox = NetBox.from_config(config())
    if netbox is None:
        return []
    missing = []
    for path, key, names, label in (
        ("dcim/devices", "name", devices, "device"),
        ("circuits/circuits", "cid", services, "service"),
    ):
        for start in range(0, len(names), 100):
            chunk = names[start : start + 100]
            found = {r[key] for r in netbox.get_all(path, {key: chunk, "limit": 1000, "fields": key})}
            missing += [f"{label} {n!r}" for n in chunk if n not in found]
    return missing


def end(window: MaintenanceWindow, now: dt.datetime) -> MaintenanceWindow:
    """End a window now (it stays in the history); one already over is left as it was."""
    if state(window, now) == "over":
        raise WindowError(409, f"maintenance window {window.id} is already over")
    window.ended_at = now
    return window


def for_job(job_id: int, template: str, devices: list[str], created_by: str, now: dt.datetime) -> MaintenanceWindow:
    """The window of a job that changes ``devices``: from now until the job ends (closed by
    :func:`job_ended`; at most MAX_LENGTH)."""
    return create(
        created_by,
        f"job {job_id}: {template}",
        devices,
        [],
        now,
        now + MAX_LENGTH,
        description=f"Opened by job {job_id} ({template}) for the devices it changes.",
        source="job",
        job_id=job_id,
    )


def job_ended(job_id: int, now: dt.datetime) -> int:
    """Close the windows of a job that ended, after JOB_GRACE; returns how many."""
    closed = 0
    for w in db.session.scalars(select(MaintenanceWindow).where(MaintenanceWindow.job_id == job_id)):
        if w.ended_at is None:
            w.ended_at = now + JOB_GRACE
            closed += 1
    return closed


def on_job_started(job, devices: list[str], planned: bool) -> None:
    """A planned change (its template's ``maintenance_window``) that changes devices: a window
    over them while it runs (jobs.signals.job_started)."""
    if not planned or not devices:
        return
    for_job(job.id, job.template, devices, job.created_by, dt.datetime.now(dt.UTC))
    db.session.commit()


def on_job_ended(job) -> None:
    """Close the windows of a job that ended (jobs.signals.job_ended)."""
    if job_ended(job.id, dt.datetime.now(dt.UTC)):
        db.session.commit()


def state(w: MaintenanceWindow, now: dt.datetime) -> str:
    """active, scheduled or over (in_state's conditions, on one window)."""
    if _aware(w.ends_at) <= now or (w.ended_at is not None and _aware(w.ended_at) <= now):
        return "over"
    return "scheduled" if _aware(w.starts_at) > now else "active"


def to_json(w: MaintenanceWindow, now: dt.datetime) -> dict:
    end_at = min(_aware(w.ends_at), _aware(w.ended_at)) if w.ended_at else _aware(w.ends_at)
    return {
        "id": w.id,
        "name": w.name,
        "description": w.description,
        "startsAt": _aware(w.starts_at).isoformat(),
        "endsAt": end_at.isoformat(),
        "devices": w.devices,
        "services": w.services,
        "source": w.source,
        "job": w.job_id,
        "createdBy": w.created_by,
        "state": state(w, now),
    }
