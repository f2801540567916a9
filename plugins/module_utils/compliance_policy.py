# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The compliance policy, as code: features, their rules per platform, and exceptions.

The policy is a directory of YAML files (``compliance/*.yml``), each with ``features`` and/or
``exceptions``; custom checks are Python files beside them. :func:`load_policy` checks every
file against :data:`SCHEMA`, then the cross-file rules (unique names, known platforms,
compilable regexes, loadable checks), and reports every problem at once, naming the file and
the key. A valid policy is compiled once: rules per platform with their lines as sets and their
regexes joined, so checking a configuration costs set lookups.

A feature's ``rules`` map a platform (the NetBox platform slug) to a list of rules;
``default`` applies to every platform. A platform's list overrides the default rule by rule:
a rule with the same name replaces the default one (``disabled: true`` drops it), new names
are added. Each rule is one of:

- ``section``: the sections whose header starts with one of the prefixes must equal the
  intended configuration's (``ordered`` or not);
- ``required``: these lines must be present (top level, or under the sections named by
  ``within``);
- ``forbidden``: these lines must not be present (at any depth, or under ``within``);
- ``custom``: ``file.py:function`` decides (see :mod:`compliance` for the contract).

``match: regex`` makes the lines of ``required``/``forbidden`` regular expressions (searched in
each line, stripped of its indentation). ``remediation`` gives the commands that fix the rule
when netoss cannot derive them (a forbidden regex, a secret removed from the backup).

An exception exempts devices (by name or tag) from a feature, or from some of its rules, with
a reason and an expiry date; once expired it no longer applies and the run says so.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import re
from dataclasses import dataclass, field
from pathlib import Path

from ansible_collections.netoss.core.plugins.module_utils.schema_files import (
    Problem,
    ProblemsError,
    display,
    read_checked,
    where,
)

# Platforms whose configuration netoss can parse (NetBox platform slugs).
PLATFORMS = ("frr", "eos", "ios")
SEVERITIES = ("critical", "major", "minor", "warning")
KINDS = ("section", "required", "forbidden", "custom")
NAME = r"^[a-z][a-z0-9-]{0,62}$"
# Regex syntax that sees past the end or the start of a line (lookarounds, \A, \Z): a
# pattern with one is only searched line by line.
_LINE_ONLY = ("(?=", "(?!", "(?<", "\\A", "\\Z", "\\z")

_RULE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "pattern": NAME, "description": "lower case, digits and dashes"},
        "description": {"type": "string"},
        "disabled": {"type": "boolean", "description": "drop the default rule of this name for this platform"},
        "section": {
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "minItems": 1,
            "description": "prefixes of the section headers compared with the intended configuration",
        },
        "ordered": {"type": "boolean", "description": "the section's lines must also be in the intended order"},
        "required": {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
        "forbidden": {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
        "match": {"enum": ["exact", "regex"], "description": "how required/forbidden lines are matched"},
        "within": {"type": "string", "minLength": 1, "description": "prefix of the sections the lines belong to"},
        "custom": {
            "type": "string",
            "pattern": r"^[A-Za-z0-9_./-]+\.py:[A-Za-z_][A-Za-z0-9_]*$",
            "description": "file.py:function, the file relative to the policy directory",
        },
        "remediation": {
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "minItems": 1,
            "description": "the commands that fix this rule, when they cannot be derived",
        },
    },
}

_FEATURE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "rules"],
    "properties": {
        "name": {"type": "string", "pattern": NAME, "description": "lower case, digits and dashes"},
        "description": {"type": "string"},
        "severity": {"enum": list(SEVERITIES), "description": "of the alarm raised when a device breaks it"},
        "rules": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"type": "string"},
            "additionalProperties": {"type": "array", "items": _RULE},
            "description": "platform (or default): list of rules",
        },
    },
}

_EXCEPTION = {
    "type": "object",
    "additionalProperties": False,
    "required": ["feature", "reason", "expires"],
    "anyOf": [{"required": ["devices"]}, {"required": ["tags"]}],
    "properties": {
        "feature": {"type": "string", "pattern": NAME},
        "rules": {"type": "array", "items": {"type": "string", "pattern": NAME}, "minItems": 1},
        "devices": {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
        "tags": {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
        "reason": {"type": "string", "minLength": 3},
        "expires": {"type": "string", "format": "date", "description": "YYYY-MM-DD, the last day it applies"},
    },
}

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "features": {"type": "array", "items": _FEATURE},
        "exceptions": {"type": "array", "items": _EXCEPTION},
    },
}


class PolicyError(ProblemsError):
    """The policy is invalid; ``problems`` lists everything wrong with it."""

    what = "compliance policy"


@dataclass(frozen=True)
class Rule:
    """One compiled rule of a feature, for one platform."""

    feature: str
    name: str
    kind: str
    description: str = ""
    lines: tuple = ()  # required/forbidden lines (exact), or the section prefixes
    line_set: frozenset = frozenset()
    regex: object = None  # forbidden: the patterns joined into one
    multiline: object = None  # forbidden: the same, to search all lines at once (None: not safe)
    patterns: tuple = ()
    within: str | None = None
    ordered: bool = False
    check: object = None  # the custom function
    remediation: tuple | None = None
    source: str = ""  # "file: where", for messages

    @property
    def id(self):
        return "%s/%s" % (self.feature, self.name)


@dataclass(frozen=True)
class Feature:
    name: str
    description: str
    severity: str
    source: str


@dataclass(frozen=True)
class Exemption:
    """An exception of the policy: who, from what, why and until when."""

    feature: str
    rules: frozenset | None
    devices: frozenset
    tags: frozenset
    reason: str
    expires: dt.date
    source: str

    def covers(self, device, tags, feature, rule):
        if feature != self.feature or (self.rules is not None and rule not in self.rules):
            return False
        return device in self.devices or bool(self.tags & set(tags))


@dataclass
class Policy:
    """A loaded, valid policy."""

    path: str
    files: list
    features: list  # of Feature, in file order
    rules: dict  # platform -> tuple of Rule, in feature then rule order
    exemptions: list = field(default_factory=list)

    def feature(self, name):
        return next((f for f in self.features if f.name == name), None)

    def rules_for(self, platform):
        """The rules that apply to ``platform``; KeyError when netoss cannot parse it."""
        return self.rules[platform]

    def exemption(self, device, tags, rule, today):
        """The exception (in force on ``today``) that exempts ``device`` from ``rule``, if any."""
        for e in self.exemptions:
            if e.expires >= today and e.covers(device, tags, rule.feature, rule.name):
                return e
        return None

    def expired(self, today):
        """The exceptions that no longer apply on ``today``."""
        return [e for e in self.exemptions if e.expires < today]


def _line_start(pattern):
    """``pattern`` as an alternative of a rule's multi-line search, which runs over "\\n" and the
    configuration's lines joined by newlines. A pattern anchored at the start of the line
    (``^rest``, no top-level ``|``) becomes ``\\n(?:rest)``: every line follows a newline there,
    and a pattern that starts with a literal lets the regex engine jump from newline to newline
    instead of trying ``^`` at every character (20 times faster on a 500-line configuration). Any
    other pattern is kept as it is. The search only decides whether to scan line by line, so it
    may find more than a line-by-line search would, never less."""
    try:
        from re import _constants as sre_constants  # Python 3.11+
        from re import _parser as sre_parse

        items = sre_parse.parse(pattern).data
    except Exception:
        return "(?:%s)" % pattern
    starts = bool(items) and items[0] == (sre_constants.AT, sre_constants.AT_BEGINNING)
    if starts and pattern.startswith("^") and not any(op is sre_constants.BRANCH for op, _av in items):
        return "\n(?:%s)" % pattern[1:]
    return "(?:%s)" % pattern


def _compile_regex(pattern, problems, file, at):
    try:
        return re.compile(pattern)
    except re.error as exc:
        problems.append(Problem(file, at, "invalid regex %r: %s" % (pattern, exc)))
        return None


def _load_check(root, spec, problems, file, at, cache):
    """The function ``file.py:function`` of the policy directory ``root``."""
    filename, function = spec.rsplit(":", 1)
    path = (root / filename).resolve()
    if root.resolve() not in path.parents:
        problems.append(Problem(file, at, "custom: %r is outside the policy directory" % filename))
        return None
    if path not in cache:
        if not path.is_file():
            problems.append(Problem(file, at, "custom: no file %s" % display(path)))
            return None
        name = "netoss_compliance_check_%s" % re.sub(r"\W", "_", str(path.relative_to(root.resolve())))
        module_spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(module_spec)
        try:
            module_spec.loader.exec_module(module)
        except Exception as exc:
            problems.append(
                Problem(file, at, "custom: %s cannot be loaded: %s: %s" % (filename, type(exc).__name__, exc))
            )
            return None
        cache[path] = module
    func = getattr(cache[path], function, None)
    if not callable(func):
        problems.append(Problem(file, at, "custom: %s has no function %r" % (filename, function)))
        return None
    return func


def _kind(rule):
    kinds = [k for k in KINDS if k in rule]
    return kinds


def _compile_rule(feature, rule, root, problems, file, at, checks):
    kinds = _kind(rule)
    if len(kinds) != 1:
        found = ", ".join(kinds) or "none"
        problems.append(Problem(file, at, "a rule has exactly one of %s (found: %s)" % (", ".join(KINDS), found)))
        return None
    kind = kinds[0]
    regex = rule.get("match") == "regex"
    misplaced = [
        key
        for key, allowed in (
            ("ordered", ("section",)),
            ("match", ("required", "forbidden")),
            ("within", ("required", "forbidden")),
        )
        if key in rule and kind not in allowed
    ]
    for key in misplaced:
        problems.append(Problem(file, at, "%s: does not apply to a %s rule" % (key, kind)))
    common = dict(
        feature=feature,
        name=rule["name"],
        kind=kind,
        description=rule.get("description", ""),
        remediation=tuple(rule["remediation"]) if "remediation" in rule else None,
        source="%s: %s" % (file, at),
        within=rule.get("within"),
    )
    if kind == "section":
        return Rule(lines=tuple(rule["section"]), ordered=bool(rule.get("ordered")), **common)
    if kind == "custom":
        func = _load_check(root, rule["custom"], problems, file, at, checks)
        return Rule(check=func, **common) if func else None
    lines = tuple(line.strip() for line in rule[kind])
    if not regex:
        return Rule(lines=lines, line_set=frozenset(lines), **common)
    compiled = [_compile_regex(p, problems, file, "%s: %s" % (at, kind)) for p in lines]
    if any(c is None for c in compiled):
        return None
    if kind == "forbidden":
        joined = re.compile("|".join("(?:%s)" % p for p in lines))
        # Searched once over all the lines (joined by newlines) to skip the line-by-line scan
        # when nothing can match; only for patterns that mean the same there as on one line.
        multiline = None
        if not any(token in p for p in lines for token in _LINE_ONLY):
            multiline = re.compile("|".join(_line_start(p) for p in lines), re.MULTILINE)
        return Rule(lines=lines, regex=joined, patterns=tuple(compiled), multiline=multiline, **common)
    return Rule(lines=lines, patterns=tuple(compiled), **common)


def _exception_dates(doc):
    """YAML reads 2027-01-31 as a date: an exception's ``expires`` is checked as its ISO text."""
    for exc in (doc.get("exceptions") or []) if isinstance(doc, dict) else []:
        if isinstance(exc, dict) and isinstance(exc.get("expires"), dt.date):
            exc["expires"] = exc["expires"].isoformat()


def load_policy(path, platforms=PLATFORMS):
    """Load, check and compile the policy in ``path`` (a directory of *.yml, or one file).

    Raises :class:`PolicyError` listing every problem, each naming its file and key.
    """
    root = Path(path) if Path(path).is_dir() else Path(path).parent
    problems, docs, files = read_checked(
        path, SCHEMA, "a mapping with features and/or exceptions", what="policy", prepare=_exception_dates
    )
    if problems:
        raise PolicyError(problems)

    features, per_platform, seen, checks = [], {p: [] for p in platforms}, {}, {}
    for name, doc in docs:
        for i, feat in enumerate(doc.get("features") or []):
            at = where(doc, ["features", i])
            if feat["name"] in seen:
                problems.append(
                    Problem(name, at, "duplicate feature %r (first at %s)" % (feat["name"], seen[feat["name"]]))
                )
                continue
            seen[feat["name"]] = "%s: %s" % (name, at)
            features.append(
                Feature(feat["name"], feat.get("description", ""), feat.get("severity", "major"), seen[feat["name"]])
            )
            compiled = {}
            for platform, rules in feat["rules"].items():
                if platform != "default" and platform not in platforms:
                    problems.append(
                        Problem(
                            name,
                            "%s: rules: %s" % (at, platform),
                            "unknown platform %r (netoss parses: %s; or default)" % (platform, ", ".join(platforms)),
                        )
                    )
                    continue
                names, out = set(), []
                for j, rule in enumerate(rules):
                    rat = "%s: rules: %s[%d] '%s'" % (at, platform, j, rule["name"])
                    if rule["name"] in names:
                        problems.append(Problem(name, rat, "duplicate rule name %r" % rule["name"]))
                        continue
                    names.add(rule["name"])
                    if rule.get("disabled"):
                        if platform == "default":
                            problems.append(
                                Problem(name, rat, "disabled: only a platform's rule can drop a default one")
                            )
                        elif set(rule) - {"name", "disabled", "description"}:
                            problems.append(Problem(name, rat, "a disabled rule has only name (and description)"))
                        out.append((rule["name"], None))
                        continue
                    out.append((rule["name"], _compile_rule(feat["name"], rule, root, problems, name, rat, checks)))
                compiled[platform] = out
            default = compiled.get("default", [])
            for platform in platforms:
                merged = dict(default)
                for rule_name, rule in compiled.get(platform, []):
                    if rule is None and rule_name not in merged:
                        problems.append(
                            Problem(name, "%s: rules: %s" % (at, platform), "disabled: no default rule %r" % rule_name)
                        )
                    merged[rule_name] = rule
                per_platform[platform].extend(r for r in merged.values() if r is not None)

    exemptions = []
    for name, doc in docs:
        for i, exc in enumerate(doc.get("exceptions") or []):
            at = where(doc, ["exceptions", i])
            try:
                expires = dt.date.fromisoformat(exc["expires"])
            except ValueError:
                problems.append(Problem(name, at, "expires: %r is not a date (YYYY-MM-DD)" % exc["expires"]))
                continue
            if exc["feature"] not in seen:
                problems.append(Problem(name, at, "feature: no feature %r in the policy" % exc["feature"]))
                continue
            rules = frozenset(exc["rules"]) if "rules" in exc else None
            known = {r.name for rs in per_platform.values() for r in rs if r.feature == exc["feature"]}
            for unknown in sorted((rules or set()) - known):
                problems.append(Problem(name, at, "rules: feature %r has no rule %r" % (exc["feature"], unknown)))
            exemptions.append(
                Exemption(
                    feature=exc["feature"],
                    rules=rules,
                    devices=frozenset(exc.get("devices", ())),
                    tags=frozenset(exc.get("tags", ())),
                    reason=exc["reason"],
                    expires=expires,
                    source="%s: %s" % (name, at),
                )
            )
    if problems:
        raise PolicyError(problems)
    return Policy(
        path=display(path),
        files=files,
        features=features,
        rules={p: tuple(rs) for p, rs in per_platform.items()},
        exemptions=exemptions,
    )
