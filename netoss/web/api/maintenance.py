"""/api/v1: maintenance windows (planned outages): alarms on their devices or services are
planned (TMF642 plannedOutageIndicator) and open no ticket while they last."""

from __future__ import annotations

import datetime as dt

from flask import abort, jsonify

from netoss.data.db import db
from netoss.web.api import bp
from netoss.web.apidoc import Choice, Int, body, fails, many, query, responds
from netoss.web.paging import listed
from netoss.web.security import audit, current_user, require_role


@bp.get("/v1/maintenance-windows")
@require_role("viewer")
@query(state=Choice(("active", "scheduled", "over")), limit=Int(1, 500, 50), offset=Int(0, 10_000_000, 0))
@responds(200, many("MaintenanceWindow"), total=True)
def list_maintenance_windows(args):
    """Maintenance windows, the latest first (filter: state; X-Total-Count: how many match)"""
    from netoss.domain.faults.maintenance import page

    return listed(*page(args["state"], dt.datetime.now(dt.UTC), args["limit"], args["offset"]))


@bp.post("/v1/maintenance-windows")
@require_role("engineer")
@body("MaintenanceWindowCreate")
@responds(201, "MaintenanceWindow")
def create_maintenance_window(data):
    """Open a maintenance window over devices and/or services (circuit IDs), from startsAt
    (default: now) to endsAt, or for durationMinutes

    Alarms raised on them meanwhile are planned and open no ticket. Needs the engineer role."""
    from netoss.domain.faults import maintenance

    now = dt.datetime.now(dt.UTC)
    try:
        starts = maintenance.parse_time(data["startsAt"], "startsAt") if data.get("startsAt") else now
        if "endsAt" in data:
            ends = maintenance.parse_time(data["endsAt"], "endsAt")
        elif "durationMinutes" in data:
            ends = starts + dt.timedelta(minutes=data["durationMinutes"])
        else:
            abort(400, "endsAt or durationMinutes is needed")
        window = maintenance.create(
            current_user().username,
            data["name"],
            data.get("devices", []),
            data.get("services", []),
            starts,
            ends,
            description=data.get("description", ""),
            known=maintenance.missing_in_netbox,
        )
    except maintenance.WindowError as exc:
        abort(exc.status, str(exc))
    db.session.commit()
    audit(
        "maintenance.create",
        target=f"maintenance window {window.id} ({len(window.devices)} devices, {len(window.services)} services)",
    )
    return jsonify(maintenance.to_json(window, now)), 201


@bp.delete("/v1/maintenance-windows/<int(max=2147483647):window_id>")
@require_role("engineer")
@responds(200, "MaintenanceWindow")
@fails(s404="No such maintenance window", s409="The window is already over")
def end_maintenance_window(window_id: int):
    """End a maintenance window now (it stays in the history); alarms still active are then
    ticketed as any other"""
    from netoss.data.models import MaintenanceWindow
    from netoss.domain.faults import maintenance

    now = dt.datetime.now(dt.UTC)
    window = db.session.get(MaintenanceWindow, window_id) or abort(404, f"no maintenance window {window_id}")
    try:
        maintenance.end(window, now)
    except maintenance.WindowError as exc:
        abort(exc.status, str(exc))
    db.session.commit()
    audit("maintenance.end", target=f"maintenance window {window_id}")
    return jsonify(maintenance.to_json(window, now))
