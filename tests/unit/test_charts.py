"""The portal's line charts (inline SVG drawn on the server): scaled to the data and the
objective, gaps left as gaps, units as people read them, every text escaped."""

from __future__ import annotations

import re

from netoss.domain.assurance import graphs
from netoss.web.charts import fmt, line_chart


def test_units_as_people_read_them():
    assert fmt(12_300_000, "bits") == "12.3 Mbit/s"
    assert fmt(950, "bits") == "950 bit/s"
    assert fmt(0.0041, "seconds") == "4.1 ms"
    assert fmt(0.005, "ratio") == "0.5 %"
    assert fmt(float("nan"), "ratio") == "-"


def test_a_chart_draws_each_series_the_objective_and_escapes_names():
    t0 = 1_800_000_000
    series = [
        ('<script>alert("x")</script>', [(t0 + 30 * i, 0.001 * i) for i in range(10)]),
        ("with a gap", [(t0, 0.002), (t0 + 30, 0.002), (t0 + 300, 0.003), (t0 + 330, float("nan"))]),
    ]
    svg = str(line_chart(series, t0, t0 + 3600, "seconds", objective=0.02, title="Round trip & more"))
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "Round trip &amp; more" in svg
    assert svg.count('class="objective"') == 1 and "objective 20 ms" in svg
    # The gap (a missed probe) breaks the second series' line: a polyline, then a lone point.
    assert svg.count("<polyline") == 2 and svg.count("<circle") == 1
    # Every point lies inside the plot, the objective (scaled to 1.25x) included.
    ys = [float(y) for y in re.findall(r",(\d+\.\d)", svg)]
    assert ys and all(10 <= y <= 150 for y in ys)
    assert "9 ms" in svg  # the first series' latest value in its legend


def test_an_empty_chart_says_so():
    svg = str(line_chart([], 0, 3600, "bits"))
    assert "no measurement" in svg


def test_graph_queries_quote_names_from_netbox():
    (rtt, loss, utilisation, traffic) = graphs.service_graphs('A"B', "pe\\1", "xe-0/0/0", {"latency_seconds": 0.02})
    assert (
        utilisation.unit == "ratio"
        and 'netoss:interface_utilisation:ratio{device="pe\\\\1"' in utilisation.queries[0][1]
    )
    assert 'service="A\\"B"' in rtt.queries[0][1] and rtt.objective == 0.02
    assert loss.objective is None and loss.unit == "ratio"
    assert 'device="pe\\\\1", interface="xe-0/0/0"' in traffic.queries[0][1]
    assert graphs.service_graphs("A", None, None, {})[-1].title == "Loss"  # no PE known: no traffic graph


def test_fetch_draws_what_prometheus_answers_and_names_what_it_refused():
    from netoss.data.prometheus import PrometheusError

    class Prom:
        def query_range(self, promql, start, end, step):
            if "errors" in promql:
                raise PrometheusError("Prometheus refused it: bad_data")
            assert end - start == 3600 and step == 30
            return [{"metric": {"direction": "in"}, "values": [(start, 1.0)]}]

    drawn = graphs.fetch(Prom(), graphs.interface_graphs("pe1", "eth3"), "1h", now=1_800_000_000)
    assert drawn[0].series == [("in", [(1_800_000_000 - 3600, 1.0)])]
    assert drawn[2].error == "Prometheus refused it: bad_data" and not drawn[2].series
