"""The assurance policy, as code: how the network is polled and which thresholds raise alarms.

The policy is a directory of YAML files (``assurance/*.yml``), each with ``polling`` (in one
file at most) and/or ``thresholds``. :func:`load` checks every file against :data:`SCHEMA`,
then the cross-file rules (one polling section, unique threshold names), and reports every
problem at once, naming the file and the key, as the compliance policy does.

A threshold names a *measure* (:data:`MEASURES`: what Prometheus computes, per interface, BGP
session or service), a bound (``above`` or ``below``: a number in the measure's unit, or
``objective``: the service's objective from the service catalog), how long the bound must be
crossed (``for``), over which window an SLA measure is taken (``window``), and the alarm's
severity. :func:`rules` renders the policy into Prometheus rule groups: the recording rules
that the graphs and the thresholds share, then one alerting rule per threshold, whose labels
say what netoss's Alertmanager webhook needs (device, interface, service, customer,
``alarm_type: qualityOfServiceAlarm``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ansible_collections.netoss.core.plugins.module_utils.schema_files import (
    Problem,
    ProblemsError,
    read_checked,
    where,
)
from netoss.domain.assurance.snmp import GROUPS

NAME = r"^[a-z][a-z0-9-]{0,62}$"
DURATION = r"^[1-9][0-9]{0,5}(ms|s|m|h|d)$"
SEVERITIES = ("critical", "major", "minor", "warning")
# The jobs of Prometheus' configuration (netoss.embedded.stack.assurance writes it).
SNMP_JOB, PROBE_JOB, INVENTORY_JOB = "netoss-snmp", "netoss-probes", "netoss-inventory"
# The labels that join a measured series to NetBox's view of it (netoss_interface_info).
INTERFACE_LABELS = ("site", "tenant", "circuit", "customer", "service")


@dataclass(frozen=True)
class Measure:
    """What Prometheus computes: ``expr`` (``{window}`` is the threshold's window), its unit,
    what it is measured on (interface, bgp_session, service), the catalog objective an
    ``objective`` bound compares it with, and what the alarm's probable cause is."""

    expr: str
    unit: str
    on: str
    objective: str | None = None
    cause: str = "thresholdCrossed"
    description: str = ""


MEASURES: dict[str, Measure] = {
    "interface_utilisation": Measure(
        "netoss:interface_utilisation:ratio",
        "ratio (0-1) of the interface's speed in NetBox, the busier direction",
        "interface",
        cause="congestion",
    ),
    "interface_errors": Measure(
        "netoss:interface_errors:rate",
        "packets with errors or discarded, per second, both directions",
        "interface",
        cause="transmissionError",
    ),
    "bgp_prefixes_received": Measure(
        "netoss:bgp_prefixes_received:count", "routes received from the peer", "bgp_session"
    ),
    "service_latency": Measure(
        "avg_over_time(netoss:service_rtt:seconds[{window}])",
        "seconds of round trip from the PE to the customer's address",
        "service",
        "latency_seconds",
        "performanceDegraded",
    ),
    "service_loss": Measure(
        f'1 - avg_over_time(probe_success{{job="{PROBE_JOB}"}}[{{window}}])',
        "ratio (0-1) of probes lost",
        "service",
        "loss_ratio",
        "performanceDegraded",
    ),
    "service_jitter": Measure(
        "stddev_over_time(netoss:service_rtt:seconds[{window}])",
        "seconds (standard deviation of the round trip)",
        "service",
        "jitter_seconds",
        "performanceDegraded",
    ),
    "service_availability": Measure(
        f'avg_over_time(probe_success{{job="{PROBE_JOB}"}}[{{window}}])',
        "ratio (0-1) of probes answered",
        "service",
        "availability_ratio",
        "performanceDegraded",
    ),
}

_THRESHOLD = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "measure", "for"],
    "oneOf": [{"required": ["above"]}, {"required": ["below"]}],
    "properties": {
        "name": {"type": "string", "pattern": NAME, "description": "lower case, digits and -"},
        "description": {"type": "string", "maxLength": 300},
        "measure": {"enum": sorted(MEASURES)},
        "above": {"anyOf": [{"type": "number"}, {"const": "objective"}]},
        "below": {"anyOf": [{"type": "number"}, {"const": "objective"}]},
        "for": {"type": "string", "pattern": DURATION, "description": "a duration such as 30s, 5m, 1h"},
        "window": {"type": "string", "pattern": DURATION, "description": "a duration such as 1m"},
        "severity": {"enum": list(SEVERITIES)},
        "roles": {
            "type": "array",
            "items": {"type": "string", "pattern": r"^[a-z0-9_-]{1,100}$"},
            "description": "NetBox device role slugs; the threshold applies to devices of these roles only",
        },
    },
}
_GROUPS = {"type": "array", "minItems": 1, "items": {"enum": sorted(GROUPS)}, "uniqueItems": True}
SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "polling": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "scrape_interval": {"type": "string", "pattern": DURATION},
                "probe_interval": {"type": "string", "pattern": DURATION},
                "snmp": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "default": _GROUPS,
                        "platforms": {
                            "type": "object",
                            "propertyNames": {"pattern": r"^[a-z0-9_-]{1,100}$"},
                            "additionalProperties": _GROUPS,
                        },
                        "timeout": {"type": "string", "pattern": DURATION},
                    },
                },
            },
        },
        "thresholds": {"type": "array", "items": _THRESHOLD},
    },
}


class PolicyError(ProblemsError):
    what = "the assurance policy"


@dataclass(frozen=True)
class Threshold:
    name: str
    measure: str
    bound: str  # above | below
    value: float | str  # a number, or "objective"
    hold: str  # Prometheus' `for`
    window: str
    severity: str
    description: str = ""
    roles: tuple[str, ...] = ()
    origin: str = ""  # file: where


@dataclass
class Policy:
    scrape_interval: str = "30s"
    probe_interval: str = "10s"
    snmp_default: list[str] = field(default_factory=lambda: ["interfaces", "system", "bgp"])
    snmp_platforms: dict[str, list[str]] = field(default_factory=dict)
    snmp_timeout: str = "5s"
    thresholds: list[Threshold] = field(default_factory=list)


_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(duration: str) -> float:
    """A Prometheus duration of the policy's form (30s, 5m) in seconds."""
    m = re.fullmatch(r"(\d+)(ms|s|m|h|d)", duration)
    if not m:
        raise ValueError(f"not a duration: {duration!r}")
    return int(m.group(1)) * _UNITS[m.group(2)]


def load(path: str | Path) -> Policy:
    """Load and check the policy in ``path`` (a directory of *.yml, or one file).

    Raises :class:`PolicyError` listing every problem, each naming its file and key."""
    problems, docs, _files = read_checked(path, SCHEMA, "a mapping with polling and/or thresholds")
    if problems:
        raise PolicyError(problems)
    policy, polling_at, seen = Policy(), None, {}
    for name, doc in docs:
        if "polling" in doc:
            if polling_at:
                problems.append(Problem(name, "polling", f"a second polling section (the first is in {polling_at})"))
            else:
                polling_at = name
                p = doc["polling"]
                policy.scrape_interval = p.get("scrape_interval", policy.scrape_interval)
                policy.probe_interval = p.get("probe_interval", policy.probe_interval)
                snmp = p.get("snmp") or {}
                policy.snmp_default = list(snmp.get("default", policy.snmp_default))
                policy.snmp_platforms = {k: list(v) for k, v in (snmp.get("platforms") or {}).items()}
                policy.snmp_timeout = snmp.get("timeout", policy.snmp_timeout)
        for i, t in enumerate(doc.get("thresholds") or []):
            at = where(doc, ["thresholds", i])
            if t["name"] in seen:
                problems.append(Problem(name, at, f"duplicate threshold {t['name']!r} (first at {seen[t['name']]})"))
                continue
            seen[t["name"]] = f"{name}: {at}"
            measure = MEASURES[t["measure"]]
            bound = "above" if "above" in t else "below"
            if t[bound] == "objective" and measure.objective is None:
                why = f"{bound}: objective: measure {t['measure']} has no objective in the service catalog"
                problems.append(Problem(name, at, why))
            if "window" in t and "{window}" not in measure.expr:
                problems.append(Problem(name, at, f"window: measure {t['measure']} is not taken over a window"))
            policy.thresholds.append(
                Threshold(
                    name=t["name"],
                    measure=t["measure"],
                    bound=bound,
                    value=t[bound],
                    hold=t["for"],
                    window=t.get("window", "5m"),
                    severity=t.get("severity", "major"),
                    description=t.get("description", ""),
                    roles=tuple(t.get("roles") or ()),
                    origin=seen[t["name"]],
                )
            )
    if problems:
        raise PolicyError(problems)
    for threshold in policy.thresholds:
        if "{window}" in MEASURES[threshold.measure].expr and seconds(threshold.window) < 2 * seconds(
            policy.probe_interval
        ):
            problems.append(
                Problem(
                    threshold.origin,
                    "window",
                    f"{threshold.window} holds fewer than 2 probes (probe_interval {policy.probe_interval})",
                )
            )
    if problems:
        raise PolicyError(problems)
    return policy


# -- Prometheus rules --------------------------------------------------------------------------

OBJECTIVE_METRIC = "netoss_service_objective"


def rate_window(policy: Policy) -> str:
    """The window of rate(): four scrapes, so that one missed scrape leaves a value."""
    return f"{int(seconds(policy.scrape_interval) * 4)}s"


def recording_rules(policy: Policy) -> dict:
    """The series the graphs and thresholds share, labelled with NetBox's names."""
    w = rate_window(policy)
    snmp = f'job="{SNMP_JOB}"'
    join = f"* on(device, interface) group_left({', '.join(INTERFACE_LABELS)}) netoss_interface_info"
    return {
        "name": "netoss-assurance-recording",
        "interval": policy.scrape_interval,
        "rules": [
            {
                "record": "netoss:interface_speed:bits",
                "expr": (
                    "max by (device, interface) (netoss_interface_speed_bits) or on(device, interface) "
                    f"max by (device, interface) (ifHighSpeed{{{snmp}}} * 1000000 > 0)"
                ),
            },
            {
                "record": "netoss:interface_traffic:bits_rate",
                "expr": "("
                + " or ".join(
                    f"label_replace(max by (device, interface) (rate({m}{{{snmp}}}[{w}])) * 8, "
                    f'"direction", "{d}", "", "")'
                    for m, d in (("ifHCInOctets", "in"), ("ifHCOutOctets", "out"))
                )
                + f") {join}",
            },
            {
                "record": "netoss:interface_utilisation:ratio",
                "expr": (
                    "max by (device, interface) (netoss:interface_traffic:bits_rate) "
                    f"/ on(device, interface) netoss:interface_speed:bits {join}"
                ),
            },
            {
                "record": "netoss:interface_errors:rate",
                "expr": (
                    "sum by (device, interface) ("
                    + " or ".join(
                        f'label_replace(rate({m}{{{snmp}}}[{w}]), "counter", "{m}", "", "")'
                        for m in ("ifInErrors", "ifOutErrors", "ifInDiscards", "ifOutDiscards")
                    )
                    + f") {join}"
                ),
            },
            {
                "record": "netoss:bgp_prefixes_received:count",
                "expr": f"count by (device, peer) (bgp4PathAttrBest{{{snmp}}})",
            },
            {
                "record": "netoss:service_rtt:seconds",
                "expr": (
                    f'max without (phase) (probe_icmp_duration_seconds{{job="{PROBE_JOB}", phase="rtt"}}) '
                    f'and on(service) (probe_success{{job="{PROBE_JOB}"}} == 1)'
                ),
            },
        ],
    }


def _alert(policy: Policy, t: Threshold) -> dict:
    measure = MEASURES[t.measure]
    expr = measure.expr.replace("{window}", t.window)
    if t.roles:  # every measured series names its device (a service's: its PE)
        roles = "|".join(re.escape(r) for r in t.roles)
        expr = f'({expr}) and on(device) netoss_device_info{{role=~"{roles}"}}'
    op = ">" if t.bound == "above" else "<"
    if t.value == "objective":
        # group_left: the alert keeps the measured series' labels (device, interface, customer, ...).
        rhs = f'on(service) group_left() {OBJECTIVE_METRIC}{{objective="{measure.objective}"}}'
        expr = f"({expr}) {op} {rhs}"
        value_text = f"the service's objective ({measure.objective})"
    else:
        expr = f"({expr}) {op} {t.value:g}"
        value_text = f"{t.value:g}"
    subject = {
        "interface": "{{ $labels.device }} {{ $labels.interface }}",
        "bgp_session": "{{ $labels.device }} peer {{ $labels.peer }}",
    }.get(measure.on, "service {{ $labels.service }} ({{ $labels.customer }})")
    return {
        "alert": t.name,
        "expr": expr,
        "for": t.hold,
        "labels": {
            "severity": t.severity,
            "alarm_type": "qualityOfServiceAlarm",
            "probable_cause": measure.cause,
            "netoss_condition": t.name,
            "netoss_measure": t.measure,
        },
        "annotations": {
            "summary": f"{t.name}: {subject} {t.bound} {value_text}"[:500],
            "description": (
                f'{t.measure} ({measure.unit}) is {{{{ $value | printf "%.4g" }}}}, '
                f"{t.bound} {value_text} for {t.hold}"
                + (f" over {t.window}" if "{window}" in measure.expr else "")
                + (f". {t.description}" if t.description else "")
            )[:1000],
        },
    }


def rules(policy: Policy) -> dict:
    """Prometheus' rule file (``groups``) for ``policy``."""
    return {
        "groups": [
            recording_rules(policy),
            {
                "name": "netoss-assurance-thresholds",
                "interval": policy.scrape_interval,
                "rules": [_alert(policy, t) for t in policy.thresholds],
            },
        ]
    }
