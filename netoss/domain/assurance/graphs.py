"""What the portal's graphs show, as Prometheus range queries: a service's round trip, loss and
access-interface traffic with its objectives; a device's traffic and errors per interface; an
interface's traffic and errors. Label values are quoted for PromQL whatever NetBox holds.

:func:`fetch` runs a graph's queries over a range and gives plain series for the chart.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from netoss.domain.assurance.policy import PROBE_JOB

RANGES = {"1h": (3600, 30), "6h": (6 * 3600, 120), "1d": (86400, 600)}  # seconds, step


def quote(value: str) -> str:
    """A PromQL string literal of ``value``."""
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


@dataclass
class Graph:
    title: str
    unit: str  # bits, seconds, ratio, per_second
    queries: list[tuple[str, str]]  # (legend, PromQL); a legend with {label} takes the series' label
    objective: float | None = None
    series: list[tuple[str, list[tuple[float, float]]]] = field(default_factory=list)
    error: str | None = None


def service_graphs(service: str, pe: str | None, interface: str | None, objectives: dict[str, float]) -> list[Graph]:
    s = quote(service)
    graphs = [
        Graph(
            "Round trip from the PE",
            "seconds",
            [("round trip", f"avg_over_time(netoss:service_rtt:seconds{{service={s}}}[{{step}}])")],
            objectives.get("latency_seconds"),
        ),
        Graph(
            "Loss",
            "ratio",
            [("lost", f'1 - avg_over_time(probe_success{{job="{PROBE_JOB}", service={s}}}[{{step}}])')],
            objectives.get("loss_ratio"),
        ),
    ]
    if pe and interface:
        where = f"device={quote(pe)}, interface={quote(interface)}"
        graphs += [
            Graph(
                f"Utilisation of the access link ({pe} {interface})",
                "ratio",
                [("utilisation", f"netoss:interface_utilisation:ratio{{{where}}}")],
            ),
            Graph(
                f"Traffic on {pe} {interface}",
                "bits",
                [("{direction}", f"netoss:interface_traffic:bits_rate{{{where}}}")],
            ),
        ]
    return graphs


def interface_graphs(device: str, interface: str) -> list[Graph]:
    d, i = quote(device), quote(interface)
    return [
        Graph(
            f"Traffic on {device} {interface}",
            "bits",
            [("{direction}", f"netoss:interface_traffic:bits_rate{{device={d}, interface={i}}}")],
        ),
        Graph(
            "Utilisation (the busier direction)",
            "ratio",
            [("utilisation", f"netoss:interface_utilisation:ratio{{device={d}, interface={i}}}")],
        ),
        Graph(
            "Errors and discards",
            "per_second",
            [("errors", f"netoss:interface_errors:rate{{device={d}, interface={i}}}")],
        ),
    ]


def device_graphs(device: str) -> list[Graph]:
    d = quote(device)
    return [
        Graph(
            f"Traffic of {device}, per interface (in + out)",
            "bits",
            [("{interface}", f"sum by (interface) (netoss:interface_traffic:bits_rate{{device={d}}})")],
        ),
        Graph(
            "Errors and discards, per interface",
            "per_second",
            [("{interface}", f"netoss:interface_errors:rate{{device={d}}}")],
        ),
    ]


def _legend(template: str, labels: dict) -> str:
    out = template
    for key, value in labels.items():
        out = out.replace("{" + key + "}", value)
    return out


def fetch(prom, graphs: list[Graph], range_name: str, now: float | None = None, max_series: int = 12) -> list[Graph]:
    """Each graph's series over ``range_name`` (a key of RANGES); a query Prometheus refuses or
    cannot answer leaves its graph with ``error``, the others are drawn."""
    from netoss.data.prometheus import PrometheusError

    length, step = RANGES[range_name]
    end = now or time.time()
    for g in graphs:
        try:
            for legend, promql in g.queries:
                for r in prom.query_range(promql.replace("{step}", f"{step}s"), end - length, end, step)[:max_series]:
                    g.series.append((_legend(legend, r["metric"]), r["values"]))
        except PrometheusError as exc:
            g.error = str(exc)
    return graphs
