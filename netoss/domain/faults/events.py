"""The one shape every fault source produces: an :class:`Event` that raises or clears a
condition on an object of a device. Receivers make them, the processor turns them into alarms.

The alarm an event belongs to is found by its fingerprint: device, object and condition, not
the source. So FRR's syslog, an SNMP linkDown trap and a health check that all say "pe1 eth3
is down" make one alarm, and any of them can clear it.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from dataclasses import dataclass, field

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
MAX_TIME = 40  # an ISO 8601 time, normalised (the column is VARCHAR(40))
MAX_DETAILS = 32  # keys of ``details``
MAX_DETAIL = 500  # characters of one ``details`` value
_FIELDS = {
    # name: (types, required)
    "source": (str, True),
    "action": (str, True),
    "device": (str, True),
    "object_type": (str, True),
    "object_name": (str, True),
    "condition": (str, True),
    "alarm_type": (str, False),
    "severity": (str, False),
    "probable_cause": (str, False),
    "specific_problem": (str, False),
    "time": ((str, type(None)), False),
    "received": ((str, type(None)), False),
    "text": (str, False),
    "details": (dict, False),
}
# Characters that never belong in a name (device, interface, condition...): C0 and C1
# controls (NUL among them: PostgreSQL's text cannot hold it) and the fingerprint's separator.
_NOT_IN_NAMES = re.compile(r"[\x00-\x1f\x7f-\x9f|]")
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # in free text: all but tab and newlines


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
        return json.dumps({name: getattr(self, name) for name in _FIELDS}, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Event:
        """The Event a queue entry holds; ValueError naming the field when it holds none
        (not JSON, not an object, a field missing, unknown or of the wrong type)."""
        try:
            data = json.loads(text)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"not JSON: {str(exc)[:80]}") from None
        if not isinstance(data, dict):
            raise ValueError(f"a JSON {type(data).__name__}, not an object")
        unknown = sorted(set(data) - set(_FIELDS))
        if unknown:
            raise ValueError(f"unknown field {str(unknown[0])[:40]!r}")
        for name, (types, required) in _FIELDS.items():
            if name not in data:
                if required:
                    raise ValueError(f"{name}: missing")
                continue
            if not isinstance(data[name], types):
                raise ValueError(f"{name}: a JSON {type(data[name]).__name__} where {_kind(types)} is needed")
        return cls(**data)


def _kind(types) -> str:
    types = types if isinstance(types, tuple) else (types,)
    return " or ".join({str: "a string", dict: "an object", type(None): "null"}[t] for t in types)


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class InvalidEvent(ValueError):
    """An event from outside (API, webhook, module) that is not acceptable; says which field."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def normal_time(value, name: str = "time") -> str | None:
    """An ISO 8601 / RFC 3339 time as UTC ISO text of at most MAX_TIME characters (a time
    without a zone is taken as UTC); InvalidEvent naming ``name`` when it is not one."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise InvalidEvent("invalid_field", f"{name}: an ISO 8601 time of at most 64 characters is needed")
    try:
        t = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidEvent("invalid_field", f"{name}: {value[:40]!r} is not an ISO 8601 time") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    try:
        return t.astimezone(dt.UTC).isoformat()[:MAX_TIME]
    except (OverflowError, ValueError):  # year 1 in a zone east of UTC
        raise InvalidEvent("invalid_field", f"{name}: {value[:40]!r} is out of range") from None


def clean_text(value, limit: int) -> str:
    """Free text as PostgreSQL can store it: NUL and other control characters (but tab and
    newlines) replaced by U+FFFD, at most ``limit`` characters."""
    text = str(value)[:limit]
    if text.isascii() and text.isprintable():  # the usual case, and no control character in it
        return text
    return _CONTROLS.sub("\ufffd", text)


def _detail(value):
    if isinstance(value, bool) or value is None or (isinstance(value, int) and abs(value) < 2**63):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    return clean_text(value if isinstance(value, str) else json.dumps(value, default=str)[:MAX_DETAIL], MAX_DETAIL)


def check(event: Event, device_known: bool = True) -> Event:
    """Raise InvalidEvent naming the field when ``event`` is not well-formed; normalise the
    rest in place (times to UTC ISO 8601, free text and ``details`` bounded and cleaned) so
    that whatever a source sends, the event can be stored.

    ``device_known=False`` is for the UDP receivers, whose events may have no device yet:
    the processor finds it from the sender's address.
    """
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
        needed = name == "condition" or (name == "device" and device_known)
        if not isinstance(value, str) or len(value) > limit or (needed and not value):
            raise InvalidEvent("invalid_field", f"{name}: a string of 1 to {limit} characters is needed")
        if _NOT_IN_NAMES.search(value):
            bad = _NOT_IN_NAMES.search(value).group()
            raise InvalidEvent(
                "invalid_field", f"{name}: {value[:40]!r} holds {bad!r}, a character that is not allowed in a name"
            )
    event.time = normal_time(event.time, "time")
    event.received = normal_time(event.received, "received")
    event.specific_problem = clean_text(event.specific_problem, 500)
    event.text = clean_text(event.text, MAX_TEXT)
    if not isinstance(event.details, dict):
        raise InvalidEvent("invalid_field", "details: an object is needed")
    event.details = {
        clean_text(k, 64).replace("\ufffd", "?"): _detail(v) for k, v in list(event.details.items())[:MAX_DETAILS]
    }
    return event
