"""Compliance pages: the fleet's overview (percentage over time, heat map, runs), a run's
report, and a device's history feature by feature. Read-only: runs arrive through the API."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request

from netoss.domain import compliance
from netoss.domain.jobs.job_templates import TemplateError
from netoss.domain.jobs.runner import templates
from netoss.web.security import current_user, require_role

bp = Blueprint("compliance", __name__)

HEATMAP_PAGE = 200  # devices per page of the heat map
REPORT_PAGE = 50  # devices that are not compliant per page of a run's report
HISTORY_PAGE = 20  # runs per page of a device's history


def _page() -> int:
    raw = request.args.get("page", "1")
    if not raw.isdigit() or not 1 <= int(raw) <= 100_000:
        abort(400, "page must be an integer from 1 to 100000")
    return int(raw)


def _filters() -> compliance.Filters:
    """The site, role, platform, status, feature and rule filters of the query string (empty:
    any); 400 naming the one that is wrong."""
    values = {name: request.args.get(name, "").strip() or None for name in FILTERS}
    try:
        return compliance.Filters(**values)
    except compliance.InvalidFilter as exc:
        abort(400, str(exc))


FILTERS = ("site", "role", "platform", "status", "feature", "rule")


def _kept(filters: compliance.Filters) -> dict:
    """The filters to keep in the links of the other pages."""
    return {name: getattr(filters, name) for name in FILTERS if getattr(filters, name) is not None}


@bp.get("/compliance")
@require_role("viewer")
def overview_page():
    """The fleet: percentage now and over time, the heat map (a page of devices), the recent runs."""
    query = request.args.get("q", "").strip()
    if len(query) > 64:
        abort(400, "q: a device name has 64 characters at most")
    show = request.args.get("show", "all")
    if show not in ("all", "problems"):
        abort(400, "show must be all or problems")
    page = _page()
    days = request.args.get("days", "30")
    if not days.isdigit() or not 1 <= int(days) <= 3660:
        abort(400, "days must be an integer from 1 to 3660")
    filters = _filters()
    heat = compliance.heatmap(query, show == "problems", (page - 1) * HEATMAP_PAGE, HEATMAP_PAGE, filters)
    return render_template(
        "compliance/overview.html",
        fleet=compliance.fleet(),
        heat=heat,
        series=compliance.over_time(int(days)),
        days=int(days),
        runs=compliance.list_runs(20),
        query=query,
        show=show,
        filters=filters,
        kept=_kept(filters),
        statuses=compliance.STATUSES,
        page=page,
        pages=max(1, -(-heat["total"] // HEATMAP_PAGE)),
    )


@bp.get("/compliance/runs/<int(max=2147483647):run_id>")
@require_role("viewer")
def run_page(run_id: int):
    """A run's report, with the devices that are not compliant (or, with ?show=all, every device)
    a page at a time, filtered by site, role, platform, status, feature or rule."""
    page = _page()
    show = request.args.get("show", "problems")
    if show not in ("all", "problems"):
        abort(400, "show must be all or problems")
    filters = _filters()
    report = compliance.run_report(
        run_id, problems=show == "problems", offset=(page - 1) * REPORT_PAGE, limit=REPORT_PAGE, filters=filters
    )
    if report is None:
        abort(404, f"no compliance run {run_id}")
    severity = {f["name"]: f.get("severity") or "major" for f in report["policy"].get("features", [])}
    return render_template(
        "compliance/run.html",
        report=report,
        severity=severity,
        show=show,
        filters=filters,
        kept=_kept(filters),
        statuses=compliance.STATUSES,
        page=page,
        pages=max(1, -(-report["page"]["total"] // REPORT_PAGE)),
    )


def _remediation_link(device: str, feature: str | None) -> tuple[dict | None, str | None]:
    """The launch page of the remediate template for ``device`` (and ``feature`` when the
    template takes features) as url_for arguments, or why there is none."""
    try:
        template = templates(current_app).get("remediate")
    except TemplateError as exc:
        current_app.logger.error("the job templates have problems:\n%s", exc)
        return None, "the job templates have problems (see the portal log)"
    if template is None:
        return None, "there is no remediate job template"
    if not template.allowed(current_user().role):
        return None, f"the remediate template needs the {' or '.join(template.roles)} role"
    link = {"name": template.name}
    parameter = (template.limit or {}).get("parameter") or "devices"
    if template.parameter(parameter) is not None:
        link[parameter] = [device]
    features = template.parameter("features")
    if feature and features is not None and feature in (features.choices or []):
        link["features"] = [feature]
    return link, None


@bp.get("/compliance/devices/<path:name>")
@require_role("viewer")
def device_page(name: str):
    """A device's history, feature by feature (one feature with ?feature=), and Remediate."""
    feature = request.args.get("feature") or None
    if len(name) > 64 or (feature is not None and len(feature) > 64):
        abort(400, "device and feature names have 64 characters at most")
    page = _page()
    history, runs_total = compliance.history_page(name, feature, (page - 1) * HISTORY_PAGE, HISTORY_PAGE)
    current = compliance.latest(name)
    if not history and not current:
        abort(404, f"no compliance result for device {name!r}" + (f" and feature {feature!r}" if feature else ""))
    by_feature: dict[str, list] = {}
    for entry in history:
        by_feature.setdefault(entry["feature"], []).append(entry)
    link, no_link = _remediation_link(name, feature)
    return render_template(
        "compliance/device.html",
        name=name,
        feature=feature,
        current=current[0] if current else None,
        by_feature=by_feature,
        remediate=link,
        no_remediate=no_link,
        page=page,
        pages=max(1, -(-runs_total // HISTORY_PAGE)),
        runs_total=runs_total,
    )
