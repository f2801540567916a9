"""The job list as SQL: its filters become WHERE clauses, newest first (the primary key's
order), so that the database filters, counts and pages it (netoss.data.paging.page)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, or_, select

from netoss.data.models import Job


@dataclass(frozen=True)
class JobFilter:
    """Each field narrows the list when given; ``device``: a job whose limit names it."""

    status: str | None = None
    template: str | None = None
    created_by: str | None = None
    device: str | None = None


def jobs(f: JobFilter) -> Select:
    found = select(Job).order_by(Job.id.desc())
    for value, column in ((f.status, Job.status), (f.template, Job.template), (f.created_by, Job.created_by)):
        if value:
            found = found.where(column == value)
    if f.device:
        # The limit is "a,b,c": the device whole, at the start, the end, or between commas.
        d = f.device.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        found = found.where(
            or_(
                Job.limit == f.device,
                Job.limit.like(f"{d},%", escape="\\"),
                Job.limit.like(f"%,{d}", escape="\\"),
                Job.limit.like(f"%,{d},%", escape="\\"),
            )
        )
    return found
