"""/api/v1: configuration compliance: record a run (then queue its alarms), runs, a run's
report and CSV, and the fleet's overview."""

from __future__ import annotations

from flask import abort, jsonify, request, url_for

from netoss.web.api import bp, faults
from netoss.web.apidoc import Int, Text, body, fails, many, query, responds
from netoss.web.security import audit, current_user, require_role


def _queue_compliance_alarms(events: list) -> dict:
    """Queue a run's alarm events; the answer says how many, or why none could be."""
    from flask import current_app
    from werkzeug.exceptions import HTTPException

    from netoss.domain.compliance import queue

    out = {
        "raised": sum(e.action == "raise" for e in events),
        "cleared": sum(e.action == "clear" for e in events),
        "queued": 0,
    }
    if not events:
        return out
    try:
        out["queued"] = queue(faults.fault_queue(), events)
    except HTTPException as exc:
        out["error"] = exc.description
    except Exception as exc:  # Redis went away: the run is stored, the next run raises or clears again
        out["error"] = f"the fault queue is unavailable: {type(exc).__name__}: {str(exc)[:200]}"
    if "error" in out:
        current_app.logger.warning("compliance alarms not queued (%d events): %s", len(events), out["error"])
    return out


@bp.post("/v1/compliance/runs")
@require_role("operator")
@body("ComplianceRun", check=False)  # the domain checks it (compliance.record_run): the collection's schema
@responds(201, "ComplianceRunSummary")
def record_compliance_run():
    """Record a compliance run (netoss.core.compliance_record), then queue its alarms

    Its history, then a raise for each device and feature that is not compliant and a clear
    for those compliant again."""
    from netoss.domain import compliance

    try:
        recorded = compliance.record_run(request.get_json(silent=True), current_user())
    except compliance.InvalidRun as exc:
        abort(400, str(exc))
    run = recorded.run
    audit(
        "compliance.record",
        target=f"compliance run {run.id}",
        detail={"source": run.source, "devices": run.device_count, "percent": run.percent, "job": run.job_id},
    )
    alarms = _queue_compliance_alarms(recorded.events)
    href = url_for("compliance.run_page", run_id=run.id, _external=True)
    return jsonify(dict(run.to_dict(), href=href, alarms=alarms)), 201


@bp.get("/v1/compliance/runs")
@require_role("viewer")
@query(limit=Int(1, 500, 50), offset=Int(0, 10_000_000, 0))
@responds(200, many("ComplianceRunSummary"))
def list_compliance_runs(args):
    """Compliance runs, newest first"""
    from netoss.domain.compliance import list_runs

    runs = list_runs(args["limit"], args["offset"])
    return jsonify([r.to_dict() for r in runs])


@bp.get("/v1/compliance/runs/<int(max=2147483647):run_id>")
@require_role("viewer")
@responds(200, "ComplianceReport")
@fails(s404="No such run")
def get_compliance_run(run_id: int):
    """A compliance run's report: summary, policy, and every device with its features and rule details"""
    from netoss.domain.compliance import run_report

    return jsonify(run_report(run_id) or abort(404, f"no compliance run {run_id}"))


@bp.get("/v1/compliance/runs/<int(max=2147483647):run_id>/csv")
@require_role("viewer")
@responds(200, description="text/csv", content_type="text/csv")
@fails(s404="No such run")
def compliance_run_csv(run_id: int):
    """A compliance run as CSV: a row per device, feature and rule

    Remediation lines joined by newlines, and one row per compliant feature."""
    from flask import Response

    from netoss.domain.compliance import run_report
    from netoss.domain.compliance.report import run_csv

    report = run_report(run_id) or abort(404, f"no compliance run {run_id}")
    headers = {"Content-Disposition": f'attachment; filename="compliance-run-{run_id}.csv"'}
    return Response(run_csv(report), mimetype="text/csv", headers=headers)


@bp.get("/v1/compliance/overview")
@require_role("viewer")
@query(device=Text(max_length=64), days=Int(1, 3660, 30))
@responds(200, "ComplianceOverview")
def compliance_overview(args):
    """Each device's latest compliance results, the fleet's percentage, and each run's percentage over the last days"""
    from netoss.domain.compliance import overview

    device = args["device"]
    if device is not None and len(device) > 64:
        abort(400, "device: a device name has 64 characters at most")
    return jsonify(overview(args["days"], device))
