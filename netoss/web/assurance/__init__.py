"""Pages of service assurance: a device's and an interface's traffic and errors, the services
furthest from their objectives, the maintenance windows; graphs drawn from Prometheus' HTTP
API on the server (netoss.web.charts). The service page's graphs are the services blueprint's."""

from __future__ import annotations

import datetime as dt
import time

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from netoss.data.prometheus import Prometheus, PrometheusError
from netoss.domain.assurance import graphs as graph_defs
from netoss.domain.assurance import sla
from netoss.web.charts import line_chart
from netoss.web.security import require_role

bp = Blueprint("assurance", __name__)


def prometheus() -> Prometheus | None:
    prom = Prometheus.from_config(current_app.config)
    if prom is not None:
        prom.timeout = 5.0  # a page waits this much at most for a graph
    return prom


def range_arg() -> str:
    chosen = request.args.get("range") or "1h"
    if chosen not in graph_defs.RANGES:
        abort(400, f"range must be one of {', '.join(graph_defs.RANGES)}")
    return chosen


def drawn(graphs: list[graph_defs.Graph], range_name: str) -> tuple[list[dict], str | None]:
    """The charts of ``graphs`` over the range, and why there are none (no Prometheus)."""
    prom = prometheus()
    if prom is None:
        return [], "the portal has no Prometheus (PROMETHEUS_URL): no measurement to draw"
    now = time.time()
    graph_defs.fetch(prom, graphs, range_name, now=now)
    length, _step = graph_defs.RANGES[range_name]
    return [
        {
            "title": g.title,
            "error": g.error,
            "svg": line_chart(g.series, now - length, now, g.unit, g.objective, g.title),
        }
        for g in graphs
    ], None


def _name(value: str, what: str) -> str:
    if not value or len(value) > 200 or not value.isprintable():
        abort(400, f"{what}: 1 to 200 printable characters")
    return value


@bp.get("/assurance/devices/<path:name>")
@require_role("viewer")
def device_page(name: str):
    name = _name(name, "device")
    range_name = range_arg()
    charts, problem = drawn(graph_defs.device_graphs(name), range_name)
    interfaces: list[str] = []
    if problem is None:
        try:
            found = prometheus().query(f"netoss_interface_info{{device={graph_defs.quote(name)}}}")
            interfaces = sorted({r["metric"].get("interface", "") for r in found} - {""})
        except PrometheusError as exc:
            problem = str(exc)
    return render_template(
        "assurance/device.html",
        device=name,
        charts=charts,
        problem=problem,
        interfaces=interfaces,
        range_name=range_name,
        ranges=graph_defs.RANGES,
    )


@bp.get("/assurance/interface")
@require_role("viewer")
def interface_page():
    device = _name(request.args.get("device", ""), "device")
    interface = _name(request.args.get("interface", ""), "interface")
    range_name = range_arg()
    charts, problem = drawn(graph_defs.interface_graphs(device, interface), range_name)
    return render_template(
        "assurance/interface.html",
        device=device,
        interface=interface,
        charts=charts,
        problem=problem,
        range_name=range_name,
        ranges=graph_defs.RANGES,
    )


def worst_services(n: int = 5) -> tuple[list[tuple[str, sla.Level]], str | None]:
    """The services furthest from their objectives now, and why none are known."""
    prom = prometheus()
    if prom is None:
        return [], "the portal has no Prometheus (PROMETHEUS_URL)"
    prom.timeout = 3.0
    try:
        return sla.worst(sla.read(prom), n), None
    except PrometheusError as exc:
        return [], str(exc)


def _maintenance(problem: str | None = None, status: int = 200, form=None):
    """The page: every window in force or to come (up to 500 each), then the latest over."""
    from netoss.domain.faults import maintenance

    now = dt.datetime.now(dt.UTC)
    windows = []
    for state in ("active", "scheduled"):
        windows += maintenance.page(state, now, 500, 0)[0]
    over, over_total = maintenance.page("over", now, 50, 0)
    page = render_template(
        "assurance/maintenance.html",
        windows=windows + over,
        earlier=over_total - len(over),
        problem=problem,
        form=form or {},
    )
    return page, status


@bp.get("/assurance/maintenance")
@require_role("viewer")
def maintenance_page():
    """The maintenance windows (an engineer also sees the form that opens one)."""
    return _maintenance()


@bp.post("/assurance/maintenance")
@require_role("engineer")
def maintenance_change():
    """Open a window (devices and/or services, a duration) or end one, as through the API."""
    from netoss.data.db import db
    from netoss.data.models import MaintenanceWindow
    from netoss.domain.faults import maintenance
    from netoss.web.security import audit, current_user

    now = dt.datetime.now(dt.UTC)
    form = request.form
    try:
        if form.get("end"):
            if not form["end"].isdigit() or len(form["end"]) > 9:
                abort(400, "end: a window number")
            window = db.session.get(MaintenanceWindow, int(form["end"])) or abort(404, "no such window")
            maintenance.end(window, now)
            action = "maintenance.end"
        else:
            minutes = form.get("minutes", "")
            if not minutes.isdigit() or not 1 <= int(minutes) <= 10080:
                raise maintenance.WindowError(400, "duration: 1 to 10080 minutes")
            window = maintenance.create(
                current_user().username,
                form.get("name", "").strip(),
                _names(form.get("devices", "")),
                _names(form.get("services", "")),
                now,
                now + dt.timedelta(minutes=int(minutes)),
                description=form.get("description", "")[:2000],
                known=maintenance.missing_in_netbox,
            )
            action = "maintenance.create"
    except maintenance.WindowError as exc:
        db.session.rollback()
        return _maintenance(str(exc), exc.status, form)
    db.session.commit()
    audit(action, target=f"maintenance window {window.id}")
    return redirect(url_for("assurance.maintenance_page"))


def _names(text: str) -> list[str]:
    """Names typed one per line or separated by commas."""
    return [n.strip() for n in text.replace(",", "\n").splitlines() if n.strip()][:1001]
