"""The one shape every fault source produces: an :class:`Event` that raises or clears a
condition on an object of a device. Receivers make them, the processor turns them into alarms.

The alarm an event belongs to is found by its fingerprint: device, object and condition, not
the source. So FRR's syslog, an SNMP linkDown trap and a health check that all say "pe1 eth3
is down" make one alarm, and any of them can clear it.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field

ALARM_TYPES = (
    "communicationsAlarm",
    "processingErrorAlarm",
    "environmentalAlarm",
    "qualityOfServiceAlarm",
    "equipmentAlarm",
)
SEVERITIES = ("critical", "major", "minor", "warning", "indeterminate")  # TMF642 perceivedSeverity, worst first
OBJECT_TYPES = ("device", "interface", "bgp_session", "ospf_adjacency", "bfd_session", "service", "job")
ACTIONS = ("raise", "clear")
SOURCES = ("syslog", "snmp", "alertmanager", "ansible", "health", "api", "compliance")

MAX_TEXT = 2048  # raw text kept with each event


def severity_rank(severity: str) -> int:
    """0 for critical ... 4 for indeterminate (lower is worse)."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


@dataclass
class Event:
    source: str
    action: str  # raise | clear
    device: str
    object_type: str
    object_name: str  # the interface, the peer address, ... ('' for the device itself)
    condition: str  # what is wrong: interface-down, bgp-session-down, device-unreachable, ...
    alarm_type: str = "communicationsAlarm"
    severity: str = "major"
    probable_cause: str = "unspecified"
    specific_problem: str = ""
    time: str | None = None  # ISO 8601, when the source says it happened
    received: str | None = None  # ISO 8601, when netoss received it
    text: str = ""  # the raw line, alert or message, bounded
    details: dict = field(default_factory=dict)  # rule fields: peer name, vrf, reason, job id, ...

    @property
    def fingerprint(self) -> str:
        return f"{self.device}|{self.object_type}:{self.object_name}|{self.condition}"

    @property
    def alarmed_object(self) -> str:
        return self.device if self.object_type == "device" else f"{self.device} {self.object_name}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Event:
        return cls(**json.loads(text))


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class InvalidEvent(ValueError):
    """An event from outside (API, webhook, module) that is not acceptable; says which field."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def check(event: Event) -> Event:
    """Raise InvalidEvent naming the field when ``event`` is not well-formed."""
    if event.action not in ACTIONS:
        raise InvalidEvent("invalid_field", f"action: {event.action!r} is not one of {', '.join(ACTIONS)}")
    if event.source not in SOURCES:
        raise InvalidEvent("invalid_field", f"source: {event.source!r} is not one of {', '.join(SOURCES)}")
    if event.object_type not in OBJECT_TYPES:
        raise InvalidEvent(
            "invalid_field", f"object_type: {event.object_type!r} is not one of {', '.join(OBJECT_TYPES)}"
        )
    if event.alarm_type not in ALARM_TYPES:
        raise InvalidEvent("invalid_field", f"alarm_type: {event.alarm_type!r} is not an X.733 alarm type")
    if event.severity not in SEVERITIES:
        raise InvalidEvent("invalid_field", f"severity: {event.severity!r} is not one of {', '.join(SEVERITIES)}")
    for name, limit in (("device", 64), ("object_name", 200), ("condition", 64), ("probable_cause", 64)):
        value = getattr(event, name)
        if not isinstance(value, str) or len(value) > limit or (name in ("device", "condition") and not value):
            raise InvalidEvent("invalid_field", f"{name}: a string of 1 to {limit} characters is needed")
        if any(c in value for c in "|\n\r\t"):
            raise InvalidEvent("invalid_field", f"{name}: {value[:40]!r} holds a character that is not allowed")
    event.specific_problem = str(event.specific_problem)[:500]
    event.text = str(event.text)[:MAX_TEXT]
    return event
