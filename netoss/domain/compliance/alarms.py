"""The fault events a compliance run calls for: pure functions over a validated run.

Each device and feature of the run is an alarm of the device (object type ``device``,
condition ``compliance:<feature>``): raised while the feature is not compliant, with the
feature's severity, and cleared once it is compliant (or exempt) again. A feature or a device
that could not be checked says nothing either way. The fault processor groups the alarms of
one device into one ticket ("ce1 not compliant: logging, aaa").
"""

from __future__ import annotations

from collections.abc import Iterable

from netoss.domain.faults.events import Event, now_iso
from netoss.domain.faults.pipeline import count, publish

CONDITION = "compliance:"
PROBLEM_LENGTH = 200


def condition(feature: str) -> str:
    """The alarm condition of a feature: compliance:<feature>."""
    return f"{CONDITION}{feature}"


def _lines(text: str) -> str:
    return ", ".join(line.strip() for line in text.splitlines() if line.strip())


def specific_problem(feature: str, rules: Iterable[dict]) -> str:
    """ "not compliant with logging: missing log syslog; extra password <removed>", bounded."""
    parts = []
    for rule in rules:
        if rule.get("status") != "non-compliant":
            continue
        found = [f"{what} {_lines(rule[what])}" for what in ("missing", "extra") if _lines(rule.get(what) or "")]
        parts.extend(found or [rule.get("message") or f"rule {rule['rule']}"])
    text = f"not compliant with {feature}" + (": " + "; ".join(parts) if parts else "")
    return text if len(text) <= PROBLEM_LENGTH else text[: PROBLEM_LENGTH - 3] + "..."


def severities(run: dict) -> dict[str, str]:
    """feature -> the severity of its alarms (the policy's; major when it gives none)."""
    return {f["name"]: f.get("severity") or "major" for f in run["policy"]["features"]}


def alarm_events(run: dict, run_id: int, alarmed: set[tuple[str, str]] | None = None) -> list[Event]:
    """The raise and clear events of a validated ``run`` recorded as ``run_id``.

    Without ``alarmed``, every compliant or exempt feature of every device is cleared. With it
    (the (device, feature) pairs whose alarm may be active), only those are: a fleet of 10,000
    devices then sends its few clears, not 80,000 every run.
    """
    severity = severities(run)
    order = {name: i for i, name in enumerate(severity)}  # the policy's order, whatever the JSON's
    when, received = run["finished_at"], now_iso()
    job = run.get("job_id")
    events = []
    for device in run["devices"]:
        name = device["device"]
        features = device.get("features") or {}
        for feature, status in sorted(features.items(), key=lambda item: order.get(item[0], len(order))):
            common = dict(source="compliance", device=name, object_type="device", object_name="",
                          condition=condition(feature), alarm_type="processingErrorAlarm",
                          severity=severity.get(feature, "major"), probable_cause="configurationOrCustomizationError",
                          time=when, received=received)  # fmt: skip
            if status == "non-compliant":
                rules = [r for r in device.get("rules") or [] if r["feature"] == feature]
                problem = specific_problem(feature, rules)
                broken = [r["rule"] for r in rules if r.get("status") == "non-compliant"]
                details = {"run": run_id, "rules": ", ".join(broken)}  # alarms keep scalar details only
                if job:
                    details["job"] = job
                events.append(Event(action="raise", specific_problem=problem, text=problem, details=details, **common))
            elif status in ("compliant", "exempt") and (alarmed is None or (name, feature) in alarmed):
                text = f"compliant with {feature}" + (" (exempt)" if status == "exempt" else "")
                events.append(
                    Event(action="clear", specific_problem=text, text=text, details={"run": run_id}, **common)
                )
    return events


def queue(conn, events: list[Event]) -> int:
    """Count the events as received from the compliance source and queue them for the processor."""
    if not events:
        return 0
    pipe = conn.pipeline(transaction=False)
    count(pipe, "received", "compliance", n=len(events))
    pipe.execute()
    return publish(conn, events)
