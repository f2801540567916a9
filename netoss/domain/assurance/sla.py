"""Each service's SLA state from Prometheus' answers: its measures over a window (latency,
jitter, loss; availability over a day) against its objectives (the service catalog's, as the
assurance daemon serves them), and the alerts firing or pending for it.

- ``violated``: an alert for the service fires, or a measure misses its objective;
- ``at-risk``: an alert is pending, or a measure has used more than AT_RISK of its margin;
- ``met``: measured, and none of the above;
- ``unknown``: nothing measured (no probe, or Prometheus cannot be read).

:func:`state` and :func:`ratio` are pure; :func:`read` asks Prometheus a fixed handful of
queries for every service at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from netoss.domain.assurance.policy import OBJECTIVE_METRIC, PROBE_JOB

AT_RISK = 0.8
# measure -> (PromQL by service, {window} is the window; the direction of good)
MEASURES = {
    "latency_seconds": ("avg_over_time(netoss:service_rtt:seconds[{window}])", "lower"),
    "jitter_seconds": ("stddev_over_time(netoss:service_rtt:seconds[{window}])", "lower"),
    "loss_ratio": (f'1 - avg_over_time(probe_success{{job="{PROBE_JOB}"}}[{{window}}])', "lower"),
    "availability_ratio": (f'avg_over_time(probe_success{{job="{PROBE_JOB}"}}[{{long}}])', "higher"),
}
STATES = ("violated", "at-risk", "met", "unknown")


@dataclass
class Level:
    """One service's measures and objectives (units of the measures), its alerts, its state."""

    measures: dict[str, float] = field(default_factory=dict)
    objectives: dict[str, float] = field(default_factory=dict)
    firing: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    state: str = "unknown"
    worst: float = 0.0  # the largest ratio of a measure to its objective (1: at the objective)

    def to_json(self) -> dict:
        return {
            "state": self.state,
            "measures": {k: round(v, 6) for k, v in sorted(self.measures.items())},
            "objectives": dict(sorted(self.objectives.items())),
            "alerts": {"firing": sorted(self.firing), "pending": sorted(self.pending)},
        }


def ratio(measure: str, value: float, objective: float) -> float:
    """How much of its objective a measure uses: 1 at the objective, above 1 beyond it. A
    'higher is better' measure (availability) compares what it misses with what it may miss."""
    if MEASURES[measure][1] == "higher":
        allowed = 1 - objective
        missed = 1 - value
        return missed / allowed if allowed > 0 else (float("inf") if missed > 0 else 0.0)
    if objective <= 0:
        return float("inf") if value > 0 else 0.0
    return value / objective


def state(level: Level) -> Level:
    """Set ``level.state`` and ``level.worst`` from its measures, objectives and alerts."""
    ratios = [ratio(m, v, level.objectives[m]) for m, v in level.measures.items() if m in level.objectives]
    level.worst = max(ratios, default=0.0)
    if level.firing or level.worst > 1:
        level.state = "violated"
    elif level.pending or level.worst > AT_RISK:
        level.state = "at-risk"
    elif level.measures:
        level.state = "met"
    else:
        level.state = "unknown"
    return level


def read(prom, window: str = "5m", long: str = "1d") -> dict[str, Level]:
    """Every measured service's Level (Prometheus: a netoss.data.prometheus.Prometheus)."""
    levels: dict[str, Level] = {}

    def level(labels: dict) -> Level | None:
        service = labels.get("service")
        return levels.setdefault(service, Level()) if service else None

    for measure, (expr, _good) in MEASURES.items():
        for r in prom.query(f"max by (service) ({expr.replace('{window}', window).replace('{long}', long)})"):
            if (lv := level(r["metric"])) is not None and r["value"] == r["value"]:  # not NaN
                lv.measures[measure] = r["value"]
    for r in prom.query(OBJECTIVE_METRIC):
        if (lv := levels.get(r["metric"].get("service"))) is not None:
            lv.objectives[r["metric"].get("objective", "")] = r["value"]
    for r in prom.query('ALERTS{alarm_type="qualityOfServiceAlarm", service!=""}'):
        if (lv := level(r["metric"])) is not None:
            (lv.firing if r["metric"].get("alertstate") == "firing" else lv.pending).append(r["metric"]["alertname"])
    for lv in levels.values():
        state(lv)
    return levels


def worst(levels: dict[str, Level], n: int = 5) -> list[tuple[str, Level]]:
    """The ``n`` services furthest from their objectives (violated first), measured ones only."""
    rank = {s: i for i, s in enumerate(STATES)}
    measured = [(s, lv) for s, lv in levels.items() if lv.state != "unknown"]
    return sorted(measured, key=lambda item: (rank[item[1].state], -item[1].worst, item[0]))[:n]
