"""Line charts as inline SVG, drawn on the server from Prometheus' series (no script, no
second store): each series a polyline, the objective a dashed line, the axes labelled in the
measure's unit. Every text is escaped."""

from __future__ import annotations

import datetime as dt
import itertools
import math

from markupsafe import Markup, escape

COLOURS = ("#1f5fa8", "#c05a00", "#1b7f2a", "#7a2e9e", "#b00020", "#00838f", "#6d6d00", "#5d4037")


def fmt(value: float, unit: str) -> str:
    """``value`` in ``unit`` as people read it: 12.3 Mbit/s, 4.1 ms, 0.5 %, 3 /s."""
    if value != value:  # NaN
        return "-"
    if unit == "bits":
        for factor, name in ((1e9, "Gbit/s"), (1e6, "Mbit/s"), (1e3, "kbit/s")):
            if abs(value) >= factor:
                return f"{value / factor:.3g} {name}"
        return f"{value:.3g} bit/s"
    if unit == "seconds":
        return f"{value * 1000:.3g} ms" if abs(value) < 1 else f"{value:.3g} s"
    if unit == "ratio":
        return f"{value * 100:.3g} %"
    if unit == "per_second":
        return f"{value:.3g} /s"
    return f"{value:.3g}"


def measure(value: float, name: str) -> str:
    """An SLA measure (latency_seconds, loss_ratio, ...) as people read it."""
    unit = "seconds" if name.endswith("_seconds") else "ratio" if name.endswith("_ratio") else ""
    return fmt(float(value), unit)


def _nice(top: float) -> float:
    """A round number at or above ``top`` for the axis."""
    if top <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(top))
    for m in (1, 2, 2.5, 5, 10):
        if m * exp >= top:
            return m * exp
    return 10 * exp


def line_chart(
    series: list[tuple[str, list[tuple[float, float]]]],
    start: float,
    end: float,
    unit: str,
    objective: float | None = None,
    title: str = "",
    width: int = 640,
    height: int = 180,
) -> Markup:
    left, right, top, bottom = 70, 10, 10, 40
    w, h = width - left - right, height - top - bottom
    values = [v for _name, points in series for _t, v in points if v == v and not math.isinf(v)]
    peak = _nice(max(values + ([objective * 1.25] if objective else []) + [0.0]))
    span = max(end - start, 1.0)

    def x(t: float) -> float:
        return left + (t - start) / span * w

    def y(v: float) -> float:
        return top + h - min(max(v, 0.0), peak) / peak * h

    parts = [
        f'<svg class="chart" width="{width}" height="{height + 16 * len(series)}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="#fafafa" stroke="#ccc"></rect>',
    ]
    for frac in (0, 0.5, 1):
        yy = y(peak * frac)
        parts.append(f'<line x1="{left}" x2="{left + w}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#e3e3e3"></line>')
        parts.append(
            f'<text x="{left - 4}" y="{yy + 4:.1f}" font-size="10" text-anchor="end">'
            f"{escape(fmt(peak * frac, unit))}</text>"
        )
    for t, anchor in ((start, "start"), ((start + end) / 2, "middle"), (end, "end")):
        label = dt.datetime.fromtimestamp(t, dt.UTC).strftime("%H:%M" if span <= 86400 else "%m-%d %H:%M")
        parts.append(
            f'<text x="{x(t):.1f}" y="{top + h + 14}" font-size="10" text-anchor="{anchor}">{label} UTC</text>'
        )
    if objective is not None:
        yy = y(objective)
        parts.append(
            f'<line class="objective" x1="{left}" x2="{left + w}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#b00020" '
            f'stroke-dasharray="6 4"></line>'
            f'<text x="{left + w - 2}" y="{yy - 3:.1f}" font-size="10" text-anchor="end" fill="#b00020">'
            f"objective {escape(fmt(objective, unit))}</text>"
        )
    for i, (name, points) in enumerate(series):
        colour = COLOURS[i % len(COLOURS)]
        # A gap in the data (a missed scrape, a probe that had nothing) breaks the line.
        runs, run, last = [], [], None
        step = min((b[0] - a[0] for a, b in itertools.pairwise(points)), default=span)
        for t, v in points:
            if v != v or math.isinf(v) or (last is not None and t - last > 2.5 * step):
                if run:
                    runs.append(run)
                run = []
            if v == v and not math.isinf(v):
                run.append(f"{x(t):.1f},{y(v):.1f}")
            last = t
        if run:
            runs.append(run)
        for r in runs:
            if len(r) == 1:
                cx, cy = r[0].split(",")
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="1.5" fill="{colour}"></circle>')
            else:
                parts.append(
                    f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{" ".join(r)}"></polyline>'
                )
        latest = next((v for _t, v in reversed(points) if v == v), float("nan"))
        ly = height + 16 * i + 2
        parts.append(
            f'<rect x="{left}" y="{ly - 8}" width="10" height="10" fill="{colour}"></rect>'
            f'<text class="legend" x="{left + 14}" y="{ly + 1}" font-size="11">'
            f"{escape(name)}: {escape(fmt(latest, unit))}</text>"
        )
    if not series:
        parts.append(
            f'<text x="{left + w / 2}" y="{top + h / 2}" font-size="12" text-anchor="middle">no measurement</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every value above is a number or escaped
