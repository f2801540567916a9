"""/api/v1: configuration compliance: record a run (then queue its alarms), runs, a run's
report and CSV, and the fleet's overview."""

from __future__ import annotations

from flask import abort, jsonify, request, url_for

from netoss.domain.compliance.schema import STATUSES
from netoss.web.api import bp, faults
from netoss.web.apidoc import Choice, Int, Text, body, fails, many, query, record, responds
from netoss.web.security import audit, current_user, require_role

# The filters of the lists of results (netoss.domain.compliance.Filters), as query arguments.
FILTERS = {
    "device": Text(max_length=64),
    "q": Text(max_length=64),
    "site": Text(max_length=100),
    "role": Text(max_length=100),
    "platform": Text(max_length=64),
    "status": Choice(STATUSES),
    "feature": Text(max_length=53),
    "rule": Text(max_length=154),
}
PAGE = {"offset": Int(0, 10_000_000, 0)}


def _filters(args: dict):
    """The Filters of the query arguments; 400 naming the one that is wrong."""
    from netoss.domain.compliance import Filters, InvalidFilter

    try:
        return Filters(**{name: args[name] for name in FILTERS})
    except InvalidFilter as exc:
        abort(400, str(exc))


def _total(resp, total: int):
    resp.headers["X-Total-Count"] = str(total)
    return resp


def paged(schema: dict, description: str):
    """Decorator documenting a 200 answer that is one page of a list, with its X-Total-Count."""

    def wrap(view):
        return record(
            view,
            responses={
                "200": {
                    "description": description,
                    "headers": {
                        "X-Total-Count": {
                            "description": "how many match the filters (every page)",
                            "schema": {"type": "integer", "minimum": 0},
                        }
                    },
                    "content": {"application/json": {"schema": schema}},
                }
            },
        )

    return wrap


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
@paged(many("ComplianceRunSummary"), "Runs, newest first")
def list_compliance_runs(args):
    """Compliance runs, newest first (X-Total-Count: how many there are)"""
    from netoss.domain.compliance import count_runs, list_runs

    runs = list_runs(args["limit"], args["offset"])
    return _total(jsonify([r.to_dict() for r in runs]), count_runs())


@bp.get("/v1/compliance/runs/<int(max=2147483647):run_id>")
@require_role("viewer")
@query(limit=Int(1, 1000, None), problems=Choice(("true", "false")), **PAGE, **FILTERS)
@responds(200, "ComplianceReport")
@fails(s404="No such run")
def get_compliance_run(args, run_id: int):
    """A compliance run's report: summary, policy, and its devices with their features and rule details

    Every device without arguments; with ``limit``, ``offset``, ``problems=true`` (devices not
    compliant or in error) or a filter, the devices that match in pages (natural order of names),
    ``page`` saying which of how many, and X-Total-Count. ``status`` is the device's status in the
    run (with ``feature``: that feature's); ``rule`` (``rule`` or ``feature/rule``) keeps the
    devices where that rule is not compliant."""
    from netoss.domain.compliance import run_report

    filters = _filters(args)
    report = run_report(run_id, args["problems"] == "true", args["offset"], args["limit"], filters)
    if report is None:
        abort(404, f"no compliance run {run_id}")
    resp = jsonify(report)
    return _total(resp, report["page"]["total"]) if "page" in report else resp


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


@bp.get("/v1/compliance/results")
@require_role("viewer")
@query(limit=Int(1, 1000, 100), **PAGE, **FILTERS)
@paged(many("ComplianceDevice"), "A page of devices, in the natural order of their names")
def list_compliance_results(args):
    """Each device's latest compliance results, filtered and paged in the database

    One item per device (its results in the latest run that included it); X-Total-Count: how
    many devices match. ``device`` is a name, ``q`` a part of one; ``site``, ``role``, ``platform``
    NetBox slugs as the run gave them; ``status`` the device's status (with ``feature``: that
    feature's); ``feature`` the devices checked on it; ``rule`` (``rule`` or ``feature/rule``)
    the devices where that rule is not compliant."""
    from netoss.domain.compliance import latest_page

    devices, total = latest_page(_filters(args), args["offset"], args["limit"])
    return _total(jsonify(devices), total)


@bp.get("/v1/compliance/history")
@require_role("viewer")
@query(device=Text(max_length=64), feature=Text(max_length=53), limit=Int(1, 200, 20), **PAGE)
@paged(many("ComplianceHistoryEntry"), "The device's results, run after run, newest first")
@fails(s404="No result for this device")
def compliance_device_history(args):
    """A device's compliance history: its results (of ``feature``, or every feature) in its runs, newest first

    ``device`` is required; ``limit`` and ``offset`` count runs; X-Total-Count: how many runs
    the device has (of ``feature``)."""
    from netoss.domain.compliance import history_page

    name = args["device"]
    if name is None:
        abort(400, "device: the device whose history to read is required")
    _filters({**dict.fromkeys(FILTERS), "device": name, "feature": args["feature"]})  # 400 naming a bad one
    entries, total = history_page(name, args["feature"], args["offset"], args["limit"])
    if not total:
        feature = f" and feature {args['feature']!r}" if args["feature"] else ""
        abort(404, f"no compliance result for device {name!r}{feature}")
    return _total(jsonify(entries), total)


@bp.get("/v1/compliance/overview")
@require_role("viewer")
@query(device=Text(max_length=64), days=Int(1, 3660, 30), limit=Int(1, 1000, None), offset=Int(0, 10_000_000, 0))
@responds(200, "ComplianceOverview")
def compliance_overview(args):
    """Each device's latest compliance results, the fleet's percentage, and each run's percentage over the last days

    The counts are the fleet's, counted in the database; ``devices`` is every device, or with
    ``limit``/``offset`` a page of them (``devices_page`` says which of how many; the lists of
    /compliance/results filter too)."""
    from netoss.domain.compliance import InvalidFilter, overview

    device = args["device"]
    try:
        return jsonify(overview(args["days"], device, args["offset"], args["limit"]))
    except InvalidFilter as exc:
        abort(400, str(exc))
