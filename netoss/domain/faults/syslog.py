"""Syslog messages, RFC 3164 and RFC 5424, from the bytes of one datagram: pure parsing.

A datagram that is not a syslog message raises :class:`Rejected` with a short machine reason
(``oversized``, ``not_utf8``, ``malformed``) and a detail for the log. Nothing here trusts
the input: sizes are checked first, every field is bounded.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

MAX_DATAGRAM = 8192  # RFC 5424 6.1: receivers should accept 2048 octets; longer ones are refused here
FACILITIES = 24

_PRI = re.compile(r"<(\d{1,3})>")
_MONTHS = {
    m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)
}
# Mmm dd hh:mm:ss (RFC 3164 4.1.2; the day is space-padded)
_BSD_TIME = re.compile(r"([A-Z][a-z]{2}) ([ \d]\d) (\d\d):(\d\d):(\d\d) ")
# TAG[pid]: or TAG: (RFC 3164 4.1.3; TAG is alphanumeric, at most 32 characters in practice)
_TAG = re.compile(r"([\w./-]{1,48})(?:\[(\d{1,10})\])?: ?")
_HOST = re.compile(r"[\w.:-]{1,255}")


class Rejected(ValueError):
    """Not a syslog message we accept; ``reason`` is one word for counters, ``detail`` says why."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Message:
    facility: int
    severity: int
    timestamp: dt.datetime | None  # as the sender wrote it (RFC 3164 has no year or zone: None)
    hostname: str | None
    app: str | None  # RFC 3164 TAG, RFC 5424 APP-NAME
    procid: str | None
    text: str
    msgid: str | None = None
    structured: dict = field(default_factory=dict)
    version: int = 0  # 0 for RFC 3164, 1 for RFC 5424


def parse(data: bytes, now: dt.datetime | None = None) -> Message:
    """One datagram to a :class:`Message`, or :class:`Rejected`."""
    if len(data) > MAX_DATAGRAM:
        raise Rejected("oversized", f"{len(data)} bytes (at most {MAX_DATAGRAM})")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejected("not_utf8", f"byte {exc.start} is not UTF-8") from None
    text = text.rstrip("\x00\r\n")
    m = _PRI.match(text)
    if not m:
        raise Rejected("malformed", "no <PRI> at the start")
    pri = int(m.group(1))
    if pri > 191 or (m.group(1).startswith("0") and m.group(1) != "0"):
        raise Rejected("malformed", f"PRI {m.group(1)} is out of range (0-191)")
    rest = text[m.end() :]
    if rest.startswith("1 "):
        return _rfc5424(pri, rest[2:])
    return _rfc3164(pri, rest, now or dt.datetime.now(dt.UTC))


def _rfc3164(pri: int, rest: str, now: dt.datetime) -> Message:
    m = _BSD_TIME.match(rest)
    if not m:
        raise Rejected("malformed", "no RFC 3164 timestamp (Mmm dd hh:mm:ss) after <PRI>")
    month = _MONTHS.get(m.group(1))
    day, hh, mm, ss = (int(g) for g in m.group(2, 3, 4, 5))
    if month is None or not (1 <= day <= 31 and hh < 24 and mm < 60 and ss < 61):
        raise Rejected("malformed", f"timestamp {m.group(0).strip()!r} is not a date")
    rest = rest[m.end() :]
    hostname = None
    tag = _TAG.match(rest)
    if not tag:
        # HOSTNAME then TAG (a sender that, like glibc, omits HOSTNAME goes straight to TAG).
        host, _, after = rest.partition(" ")
        if not _HOST.fullmatch(host):
            raise Rejected("malformed", "no HOSTNAME or TAG after the timestamp")
        hostname, rest = host, after
        tag = _TAG.match(rest)
    if not tag:
        raise Rejected("malformed", "no TAG (program[pid]:) before the message")
    text = rest[tag.end() :]
    if not text.strip():
        raise Rejected("malformed", "empty message")
    try:
        year = now.year - (1 if month > now.month + 1 else 0)  # December's lines read in January
        stamp = dt.datetime(year, month, day, hh, mm, min(ss, 59))
    except ValueError:
        raise Rejected("malformed", f"timestamp {m.group(0).strip()!r} is not a date") from None
    return Message(
        facility=pri // 8,
        severity=pri % 8,
        timestamp=stamp,
        hostname=hostname,
        app=tag.group(1),
        procid=tag.group(2),
        text=text,
    )


def _field(rest: str, name: str) -> tuple[str | None, str]:
    value, sep, after = rest.partition(" ")
    if not sep or not value:
        raise Rejected("malformed", f"the RFC 5424 header is cut off at {name}")
    if len(value) > 255 or not value.isprintable():
        raise Rejected("malformed", f"RFC 5424 {name} is not printable ASCII of at most 255 characters")
    return (None if value == "-" else value), after


def _structured(rest: str) -> tuple[dict, str]:
    """STRUCTURED-DATA (RFC 5424 6.3): '-' or [id k="v" ...]... with \\" \\\\ \\] escapes."""
    if rest.startswith("-"):
        return {}, rest[1:].lstrip(" ")
    out: dict[str, dict[str, str]] = {}
    i = 0
    while i < len(rest) and rest[i] == "[":
        j = i + 1
        while j < len(rest) and rest[j] not in " ]":
            j += 1
        sd_id = rest[i + 1 : j]
        if not sd_id:
            raise Rejected("malformed", "RFC 5424 SD-ELEMENT without an SD-ID")
        params: dict[str, str] = {}
        while j < len(rest) and rest[j] == " ":
            eq = rest.find('="', j)
            if eq < 0:
                raise Rejected("malformed", f'RFC 5424 SD-PARAM of [{sd_id}] without ="value"')
            name = rest[j + 1 : eq]
            k, value = eq + 2, []
            while k < len(rest) and rest[k] != '"':
                if rest[k] == "\\" and k + 1 < len(rest) and rest[k + 1] in '"\\]':
                    k += 1
                value.append(rest[k])
                k += 1
            if k >= len(rest):
                raise Rejected("malformed", f"RFC 5424 SD-PARAM {name!r} of [{sd_id}] is not closed")
            params[name] = "".join(value)
            j = k + 1
        if j >= len(rest) or rest[j] != "]":
            raise Rejected("malformed", f"RFC 5424 SD-ELEMENT [{sd_id}] is not closed")
        out[sd_id] = params
        i = j + 1
    if i == 0:
        raise Rejected("malformed", "RFC 5424 STRUCTURED-DATA is neither '-' nor [...]")
    return out, rest[i:].lstrip(" ")


def _rfc5424(pri: int, rest: str) -> Message:
    stamp_text, rest = _field(rest, "TIMESTAMP")
    stamp = None
    if stamp_text is not None:
        try:
            stamp = dt.datetime.fromisoformat(stamp_text.replace("Z", "+00:00"))
        except ValueError:
            raise Rejected("malformed", f"RFC 5424 TIMESTAMP {stamp_text[:40]!r} is not RFC 3339") from None
    hostname, rest = _field(rest, "HOSTNAME")
    app, rest = _field(rest, "APP-NAME")
    procid, rest = _field(rest, "PROCID")
    msgid, rest = _field(rest, "MSGID")
    structured, text = _structured(rest)
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise Rejected("malformed", "empty message")
    return Message(
        facility=pri // 8,
        severity=pri % 8,
        timestamp=stamp,
        hostname=hostname,
        app=app,
        procid=procid,
        text=text,
        msgid=msgid,
        structured=structured,
        version=1,
    )
