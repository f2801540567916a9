"""Syslog rules as data (``faults/syslog.yml``): loading, checking, and matching a message.

:func:`load_rules` reports every problem of the file at once, each naming the file and the
rule's key. :meth:`RuleSet.event` turns one parsed syslog message into an Event, or says in
one word why it does not make one (``no_rule``, ``no_transition``).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import yaml

from netoss.domain.faults.events import ALARM_TYPES, OBJECT_TYPES, SEVERITIES, Event
from netoss.domain.faults.syslog import Message

SCHEMA = {
    "type": "object",
    "required": ["rules"],
    "additionalProperties": False,
    "properties": {
        "rules": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": [
                    "name",
                    "match",
                    "object",
                    "condition",
                    "raise_when",
                    "clear_when",
                    "alarm_type",
                    "severity",
                    "probable_cause",
                    "specific_problem",
                ],
                "properties": {
                    "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,63}$"},
                    "description": {"type": "string"},
                    "program": {"type": "string", "minLength": 1},
                    "match": {"type": "string", "minLength": 1},
                    "object": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["type", "name"],
                        "properties": {
                            "type": {"enum": [t for t in OBJECT_TYPES if t not in ("service", "job")]},
                            "name": {"type": "string"},
                        },
                    },
                    "condition": {"type": "string", "pattern": "^[a-z0-9][a-z0-9:-]{0,63}$"},
                    "raise_when": {"$ref": "#/$defs/when"},
                    "clear_when": {"$ref": "#/$defs/when"},
                    "alarm_type": {"enum": list(ALARM_TYPES)},
                    "severity": {"enum": list(SEVERITIES)},
                    "probable_cause": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9-]{0,63}$"},
                    "specific_problem": {"type": "string", "maxLength": 300},
                },
            },
        }
    },
    "$defs": {
        "when": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": {"type": "string"},
        }
    },
}


class RuleError(ValueError):
    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


class _Fields(dict):
    def __missing__(self, key):  # an optional group that did not take part
        return ""


def _placeholders(template: str) -> list[str]:
    return [name for _text, name, _spec, _conv in string.Formatter().parse(template) if name is not None]


def _fill(template: str, fields: dict) -> str:
    """The template with the fields; an optional field that is absent leaves no "()" or ": " behind."""
    text = template.format_map(_Fields({k: v or "" for k, v in fields.items()}))
    text = " ".join(text.replace("()", "").split())
    return text[:-1] if text.endswith(":") else text


@dataclass
class Rule:
    name: str
    program: re.Pattern | None
    match: re.Pattern
    object_type: str
    object_name: str
    condition: str
    raise_when: dict[str, re.Pattern]
    clear_when: dict[str, re.Pattern]
    alarm_type: str
    severity: str
    probable_cause: str
    specific_problem: str

    def action(self, fields: dict) -> str | None:
        for action, when in (("raise", self.raise_when), ("clear", self.clear_when)):
            if all(p.fullmatch(fields.get(k) or "") for k, p in when.items()):
                return action
        return None


class RuleSet:
    def __init__(self, rules: list[Rule]):
        self.rules = rules
        self.by_program: dict[str, list[Rule]] = {}

    def _candidates(self, app: str | None) -> list[Rule]:
        key = app or ""
        found = self.by_program.get(key)
        if found is None:
            found = [r for r in self.rules if r.program is None or r.program.fullmatch(key)]
            if len(self.by_program) < 4096:  # programs seen: bounded, whatever senders invent
                self.by_program[key] = found
        return found

    def event(self, message: Message, device: str, received: str) -> Event | str:
        """The Event of ``message`` from ``device``, or the reason there is none."""
        for rule in self._candidates(message.app):
            m = rule.match.search(message.text)
            if not m:
                continue
            fields = {k: v for k, v in m.groupdict().items() if v is not None}
            action = rule.action(fields)
            if action is None:
                return "no_transition"
            object_name = _fill(rule.object_name, fields)
            return Event(
                source="syslog",
                action=action,
                device=device,
                object_type=rule.object_type,
                object_name=object_name,
                condition=rule.condition,
                alarm_type=rule.alarm_type,
                severity=rule.severity,
                probable_cause=rule.probable_cause,
                specific_problem=_fill(rule.specific_problem, fields),
                time=message.timestamp.isoformat() if message.timestamp else None,
                received=received,
                text=message.text[:2048],
                details={"rule": rule.name, **{k: v[:200] for k, v in fields.items()}},
            )
        return "no_rule"


def load_rules(path: Path) -> RuleSet:
    """The rules of ``path``; RuleError lists every problem, each with the file and the key."""
    where = f"{path.parent.name}/{path.name}"
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise RuleError([f"{where}: cannot be read: {exc.strerror}"]) from None
    except yaml.YAMLError as exc:
        raise RuleError([f"{where}: not valid YAML: {exc}"]) from None
    errors = sorted(jsonschema.Draft202012Validator(SCHEMA).iter_errors(data), key=lambda e: list(e.path))
    if errors:
        raise RuleError([f"{where}: {'.'.join(str(p) for p in e.path) or '(top)'}: {e.message}" for e in errors])
    problems, rules, names = [], [], set()
    for i, r in enumerate(data["rules"]):
        key = f"{where}: rules.{i} ({r['name']})"
        if r["name"] in names:
            problems.append(f"{key}: name: another rule has this name")
        names.add(r["name"])
        compiled = {}
        for name in ("program", "match"):
            if name in r:
                try:
                    compiled[name] = re.compile(r[name])
                except re.error as exc:
                    problems.append(f"{key}: {name}: not a regular expression: {exc}")
        whens = {}
        for name in ("raise_when", "clear_when"):
            whens[name] = {}
            for group, pattern in r[name].items():
                try:
                    whens[name][group] = re.compile(pattern)
                except re.error as exc:
                    problems.append(f"{key}: {name}.{group}: not a regular expression: {exc}")
        if "match" in compiled:
            groups = set(compiled["match"].groupindex)
            for name, template in (("object.name", r["object"]["name"]), ("specific_problem", r["specific_problem"])):
                try:
                    used = _placeholders(template)
                except ValueError as exc:
                    problems.append(f"{key}: {name}: {exc}")
                    continue
                for field_name in used:
                    if not field_name.isidentifier() or field_name not in groups:
                        problems.append(f"{key}: {name}: {{{field_name}}} is not a named group of match")
            for name in ("raise_when", "clear_when"):
                for group in r[name]:
                    if group not in groups:
                        problems.append(f"{key}: {name}.{group}: not a named group of match")
        if problems:
            continue
        rules.append(
            Rule(
                name=r["name"],
                program=compiled.get("program"),
                match=compiled["match"],
                object_type=r["object"]["type"],
                object_name=r["object"]["name"],
                condition=r["condition"],
                raise_when=whens["raise_when"],
                clear_when=whens["clear_when"],
                alarm_type=r["alarm_type"],
                severity=r["severity"],
                probable_cause=r["probable_cause"],
                specific_problem=r["specific_problem"],
            )
        )
    if problems:
        raise RuleError(problems)
    return RuleSet(rules)
