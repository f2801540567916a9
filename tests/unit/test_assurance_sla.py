"""SLA states from Prometheus' answers: measures against objectives (lower is better for
latency, jitter and loss; availability compares what it misses with what it may miss), alerts
firing or pending, and the worst services first."""

from __future__ import annotations

import pytest

from netoss.domain.assurance import sla


def _level(measures, objectives, firing=(), pending=()):
    return sla.state(sla.Level(dict(measures), dict(objectives), list(firing), list(pending)))


@pytest.mark.parametrize(
    ("measures", "firing", "pending", "expected"),
    [
        ({"loss_ratio": 0.0, "latency_seconds": 0.004}, (), (), "met"),
        ({"loss_ratio": 0.009, "latency_seconds": 0.004}, (), (), "at-risk"),  # 90% of its 1%
        ({"loss_ratio": 0.2}, (), (), "violated"),
        ({"loss_ratio": 0.0}, ("sla-loss",), (), "violated"),  # the alert's own window says so
        ({"loss_ratio": 0.0}, (), ("sla-loss",), "at-risk"),
        ({"availability_ratio": 0.9995}, (), (), "met"),  # misses 0.05% of its 0.1%
        ({"availability_ratio": 0.99}, (), (), "violated"),
        ({}, (), (), "unknown"),
    ],
)
def test_state(measures, firing, pending, expected):
    objectives = {"loss_ratio": 0.01, "latency_seconds": 0.05, "availability_ratio": 0.999}
    assert _level(measures, objectives, firing, pending).state == expected


def test_a_measure_without_an_objective_is_shown_but_judges_nothing():
    level = _level({"jitter_seconds": 5.0}, {})
    assert level.state == "met" and level.worst == 0.0
    assert level.to_json()["measures"] == {"jitter_seconds": 5.0}


def test_read_asks_a_handful_of_queries_for_every_service_and_ranks_the_worst():
    answers = {
        "latency": [{"metric": {"service": "A"}, "value": 0.010}, {"metric": {"service": "B"}, "value": 0.049}],
        "loss": [{"metric": {"service": "A"}, "value": 0.0}, {"metric": {"service": "B"}, "value": float("nan")}],
        "objective": [
            {"metric": {"service": "A", "objective": "latency_seconds"}, "value": 0.05},
            {"metric": {"service": "B", "objective": "latency_seconds"}, "value": 0.05},
            {"metric": {"service": "Z", "objective": "latency_seconds"}, "value": 0.05},
        ],
        "ALERTS": [{"metric": {"service": "C", "alertname": "sla-loss", "alertstate": "firing"}, "value": 1}],
    }
    asked = []

    class Prom:
        def query(self, promql):
            asked.append(promql)
            if promql.startswith("ALERTS"):
                return answers["ALERTS"]
            if promql.startswith("netoss_service_objective"):
                return answers["objective"]
            if "avg_over_time(netoss:service_rtt" in promql:
                return answers["latency"]
            if promql.startswith("max by (service) (1 - avg_over_time(probe_success"):
                return answers["loss"]
            return []

    levels = sla.read(Prom(), window="2m")
    assert len(asked) == 6 and "[2m]" in asked[0]
    assert levels["A"].state == "met" and levels["B"].state == "at-risk" and levels["C"].state == "violated"
    assert "loss_ratio" not in levels["B"].measures  # NaN: not measured
    assert "Z" not in levels  # an objective alone is not a measurement
    assert [s for s, _lv in sla.worst(levels)] == ["C", "B", "A"]
