"""The dashboard's figures, from the jobs table: recent jobs, success rate per day, and the
devices whose last run failed."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from netoss.data.db import db
from netoss.data.models import FINISHED, Job, utcnow


def recent_jobs(limit: int = 10) -> list[Job]:
    return list(db.session.scalars(select(Job).order_by(Job.id.desc()).limit(limit)))


def success_by_day(days: int = 14, now: dt.datetime | None = None) -> list[dict]:
    """[{day, successful, failed, rate}] for the last ``days`` days (UTC), oldest first."""
    now = now or utcnow()
    start = (now - dt.timedelta(days=days - 1)).date()
    counts = {start + dt.timedelta(days=i): {"successful": 0, "failed": 0} for i in range(days)}
    since = dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
    rows = db.session.execute(
        select(Job.created_at, Job.status).where(Job.created_at >= since, Job.status.in_(FINISHED))
    )
    for created, status in rows:
        day = created.date()
        if day in counts and status != "canceled":
            counts[day]["successful" if status == "successful" else "failed"] += 1
    out = []
    for day, c in counts.items():
        total = c["successful"] + c["failed"]
        out.append({"day": day.isoformat(), **c, "rate": round(c["successful"] / total, 3) if total else None})
    return out


def failing_devices(scan: int = 500) -> list[dict]:
    """Devices whose most recent finished run (in the last ``scan`` jobs) failed or could not reach them."""
    latest: dict[str, dict] = {}
    jobs = db.session.scalars(
        select(Job)
        .where(Job.status.in_(("successful", "failed")), Job.stats.is_not(None))
        .order_by(Job.created_at.desc(), Job.id.desc())
        .limit(scan)
    )
    for job in jobs:
        stats = job.stats or {}
        for host in stats.get("processed") or {}:
            if host in latest:
                continue
            if (stats.get("failures") or {}).get(host) or (stats.get("dark") or {}).get(host):
                how = "unreachable" if (stats.get("dark") or {}).get(host) else "failed"
                latest[host] = {"device": host, "job_id": job.id, "template": job.template, "how": how}
            else:
                latest[host] = {}
    return sorted((v for v in latest.values() if v), key=lambda v: v["device"])
