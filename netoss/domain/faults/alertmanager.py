"""Alertmanager's webhook (payload version 4) to events: pure mapping and checking.

Each alert becomes one event: ``firing`` raises, ``resolved`` clears. Labels say what it is about:

- the device: ``device``, else ``instance`` (its host part; an address is resolved to the
  device that has it in NetBox), else ``host`` / ``hostname``;
- the object: ``interface`` (or ``ifName``), else ``peer`` / ``neighbor`` (a BGP session),
  else the device itself;
- the condition: ``netoss_condition`` when a rule wants its alerts to be the same alarm as
  another source's (``interface-down``), else ``am-<alertname>``;
- the severity: ``severity`` (critical, major/error, minor, warning, info).

The payload is checked against the format Alertmanager documents; a field it does not
document, or a missing one, rejects the payload (a misconfigured sender should be seen, not
half-read).
"""

from __future__ import annotations

import re

import jsonschema

from netoss.domain.faults.events import Event, now_iso

_ALERT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["status", "labels", "startsAt"],
    "properties": {
        "status": {"enum": ["firing", "resolved"]},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}, "required": ["alertname"]},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        "startsAt": {"type": "string"},
        "endsAt": {"type": "string"},
        "generatorURL": {"type": "string"},
        "fingerprint": {"type": "string"},
    },
}
SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["version", "status", "alerts"],
    "properties": {
        "version": {"const": "4"},
        "groupKey": {"type": "string"},
        "truncatedAlerts": {"type": "integer"},
        "status": {"enum": ["firing", "resolved"]},
        "receiver": {"type": "string"},
        "groupLabels": {"type": "object"},
        "commonLabels": {"type": "object"},
        "commonAnnotations": {"type": "object"},
        "externalURL": {"type": "string"},
        "alerts": {"type": "array", "maxItems": 10000, "items": _ALERT},
    },
}
SEVERITY = {
    "critical": "critical",
    "page": "critical",
    "major": "major",
    "error": "major",
    "high": "major",
    "minor": "minor",
    "warning": "warning",
    "warn": "warning",
    "info": "indeterminate",
    "none": "indeterminate",
}
_SLUG = re.compile(r"[^a-z0-9]+")


class PayloadError(ValueError):
    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def check(payload) -> dict:
    """The payload if it is Alertmanager's webhook format; PayloadError names what is wrong."""
    if not isinstance(payload, dict):
        raise PayloadError("invalid_json", "the body is not a JSON object")
    errors = sorted(jsonschema.Draft202012Validator(SCHEMA).iter_errors(payload), key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        where = ".".join(str(p) for p in e.path) or "body"
        reason = "unknown_field" if e.validator == "additionalProperties" else "invalid_field"
        raise PayloadError(reason, f"{where}: {e.message}")
    return payload


def _host(instance: str) -> str:
    if instance.startswith("["):  # [2001:db8::1]:9100
        return instance[1 : instance.find("]")] if "]" in instance else instance
    return instance.rsplit(":", 1)[0] if instance.count(":") == 1 else instance


def events(payload: dict) -> list[Event]:
    """One event per alert of a checked payload."""
    out = []
    received = now_iso()
    for alert in payload["alerts"]:
        labels, notes = alert["labels"], alert.get("annotations") or {}
        device = labels.get("device") or labels.get("host") or labels.get("hostname") or ""
        address = _host(labels["instance"]) if labels.get("instance") else ""
        if not device:
            device = address
        if labels.get("interface") or labels.get("ifName"):
            kind, name = "interface", labels.get("interface") or labels["ifName"]
        elif labels.get("peer") or labels.get("neighbor"):
            kind, name = "bgp_session", labels.get("peer") or labels["neighbor"]
        else:
            kind, name = "device", ""
        condition = labels.get("netoss_condition") or "am-" + _SLUG.sub("-", labels["alertname"].lower()).strip("-")
        out.append(
            Event(
                source="alertmanager",
                action="raise" if alert["status"] == "firing" else "clear",
                device=device[:64],
                object_type=kind,
                object_name=name[:200],
                condition=condition[:64],
                alarm_type=labels.get("alarm_type") or "qualityOfServiceAlarm",
                severity=SEVERITY.get((labels.get("severity") or "major").lower(), "major"),
                probable_cause=labels.get("probable_cause") or "thresholdCrossed",
                specific_problem=(notes.get("summary") or notes.get("description") or labels["alertname"])[:500],
                time=alert.get("startsAt"),
                received=received,
                text=f"{labels['alertname']}: {notes.get('description') or notes.get('summary') or ''}"[:2048],
                details={
                    "alertname": labels["alertname"][:200],
                    "source_address": address,
                    **({"generator": alert["generatorURL"][:500]} if alert.get("generatorURL") else {}),
                    **({"am_fingerprint": alert["fingerprint"][:64]} if alert.get("fingerprint") else {}),
                },
            )
        )
    return out
