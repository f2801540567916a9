# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Configuration compliance: a device's configuration against the policy, rule by rule.

For each (device, rule) the result says whether it is compliant, and when it is not: the
missing and extra lines (as configuration snippets, parents first), the remediation commands
and an ordered diff of what the rule looks at.

- **Parsing.** netutils' configuration parsers (one per platform; FRR's vtysh output gets a
  small subclass that drops its ``exit`` lines and has no multi-line banners). A configuration
  is parsed once; the rules then cost set lookups. netutils' own ``feature_compliance`` parses
  the whole configuration again for every feature, which is what makes Golden Config's report
  slow at scale, so the comparison below works on the parsed lines with the same semantics
  (unordered: set difference of (line, parents); ordered: the same lines in the same order).
- **Remediation.** hier_config, through :mod:`config_diff`: the commands that take what the
  rule looks at from the actual to the expected configuration. Only for non-compliant rules.
- **Secrets.** Backups hold ``<removed>`` instead of secret values. A remediation that would
  have to send such a line is refused for that rule, with a message asking for the rule's
  ``remediation``.

Pure Python (netutils, hier_config); :func:`check_fleet` runs a whole fleet on a process pool.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
from dataclasses import dataclass, field
from typing import ClassVar

from ansible_collections.netoss.core.plugins.module_utils import config_diff
from ansible_collections.netoss.core.plugins.module_utils.compliance_policy import PLATFORMS

SECRET_MARK = "<removed>"  # noqa: S105 - what sanitizing puts in place of a secret
STATUSES = ("compliant", "non-compliant", "exempt", "error")

_PARSERS = {}


class ConfigSyntaxError(ValueError):
    """The configuration is not in the platform's syntax; the message says what it looks like."""


_FRR_SKIP = frozenset(
    (
        "exit",
        "exit-address-family",
        "exit-vrf",
        "exit-vnc",
        "end",
        "Building configuration...",
        "Current configuration:",
    )
)


def _frr_lines(text):
    """The configuration lines of FRR's vtysh output: no comments, blank lines, ``exit`` lines
    (syntax, not configuration) or headers; each without trailing spaces."""
    out = []
    skip = _FRR_SKIP
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and stripped[0] != "!" and stripped not in skip and not stripped.startswith("frr version "):
            out.append(line.rstrip())
    return out


def _frr_parser_class():
    from netutils.config.parser import BaseSpaceConfigParser

    class FRRConfigParser(BaseSpaceConfigParser):
        """FRRouting's vtysh ``show running-config``: sections close with ``exit`` lines, which
        are syntax, not configuration; banners are one line (``banner motd line …``)."""

        comment_chars: ClassVar[list] = ["!"]
        banner_start: ClassVar[list] = []

        @property
        def banner_end(self):
            raise NotImplementedError("FRR banners are one line")

        @property
        def config_lines_only(self):
            if self._config is None:
                self._config = "\n".join(_frr_lines(self.config))
            return self._config

    return FRRConfigParser


class _Fallback(Exception):
    """The fast path does not model this configuration: netutils' own parser decides."""


def _space_lines(text, comments):
    """netutils' BaseSpaceConfigParser.config_lines_only, as a list: no blank lines, no lines
    that start (after indentation) with a comment character, each without trailing spaces."""
    out = []
    for line in text.splitlines():
        stripped = line.lstrip()
        if stripped and not stripped.startswith(comments):
            out.append(line.rstrip())
    return out


def _relationships(lines, line_class, banner=None):
    """netutils' BaseSpaceConfigParser.build_config_relationship over ``lines`` (filtered), in
    one pass: each line with the tuple of its parents' lines; and the top-level blocks as
    :class:`Parsed` keeps them. Indentation rules are netutils' own, quirks included: a line
    deeper than the previous one is its child; a line less deep closes each open parent deeper
    than it and one more; a dedent that would close every parent stays under the first.
    ``banner`` (a :class:`_Banners`) takes the top-level banners. :class:`_Fallback` for what
    netutils raises on, and for banners anywhere else."""
    out, blocks = [], []
    append = out.append
    new = tuple.__new__  # line_class(line, parents) without the namedtuple's Python-level __new__
    starts = banner.starts if banner is not None else None
    parents = ()
    indent = 0
    block = None
    i, count = 0, len(lines)
    while i < count:
        line = lines[i]
        i += 1
        if not line[0].isspace():
            parents = ()
            if starts and line.startswith(starts):
                first = len(out)
                i = banner.take(lines, i, line, out)
                if i < count and lines[i][0].isspace():
                    raise _Fallback()  # netutils keeps such a line at the top level
                for entry in out[first:]:
                    if entry[1]:
                        block.append(entry)
                    else:
                        block = [entry]
                        blocks.append((entry[0], block))
                continue
            entry = new(line_class, (line, ()))
            append(entry)
            block = [entry]
            blocks.append((line, block))
            continue
        if starts and line.lstrip().startswith(starts):
            raise _Fallback()
        spaces = len(line) - len(line.lstrip())
        if not parents:
            if not out:
                raise _Fallback()  # the first line is indented: netutils says so
            parents = (out[-1][0],)
        elif spaces > indent:
            parents = (*parents, out[-1][0])
        elif spaces < indent:
            closing = 1
            try:
                previous = parents[-1]
                while len(previous) - len(previous.lstrip()) > spaces:
                    closing += 1
                    previous = parents[-closing]
            except IndexError:
                raise _Fallback() from None
            parents = parents[:-closing] or (parents[0],)
        indent = spaces
        entry = new(line_class, (line, parents))
        append(entry)
        block.append(entry)
    return out, blocks


class _Banners:
    """Top-level banners as netutils' parser ``cls`` takes them: EOS's (up to a line holding
    ``EOF``) or Cisco's (a delimiter, normalised to ^C; on one line or up to the next one)."""

    def __init__(self, cls, line_class, cisco):
        self.cls, self.line_class, self.cisco = cls, line_class, cisco
        self.starts = tuple(cls.banner_start)

    def take(self, lines, i, first, out):
        """Append the banner starting with ``first`` (lines[i:] follow it) to ``out``; the
        index of the line after it."""
        line_class = self.line_class
        if self.cisco:
            from netutils.banner import normalise_delimiter_caret_c

            found = self.cls.regex_banner.match(first)
            if not found:
                raise _Fallback()
            end = found.group("banner_delimiter")
            first = normalise_delimiter_caret_c(end, first)
            out.append(line_class(first, ()))
            if self.cls.is_banner_one_line(first):
                return i
        else:
            end = self.cls.banner_end
            out.append(line_class(first, ()))
        body = []
        while i < len(lines):
            line = lines[i]
            i += 1
            if end not in line:
                body.append(line)
                continue
            if self.cisco:
                body.append(normalise_delimiter_caret_c(end, line))
                text = "\n".join(body)
                if text.endswith("^C"):
                    banner, caret, _after = text.rpartition("^C")
                    text = banner + caret
            else:
                body.append(line)
                text = "\n".join(body)
            out.append(line_class(text, (first,)))
            return i
        raise _Fallback()  # no end: netutils says so


def _fast_path(cls):
    """(split, banners, unique) when ``cls``'s parsing is the one :func:`_relationships`
    models, else None: ``split`` gives the configuration lines of a text, ``banners`` takes
    banners, ``unique`` says that a line repeated under the same parents is re-parented (IOS)."""
    from netutils.config.parser import (
        BaseSpaceConfigParser,
        ConfigLine,
        EOSConfigParser,
        IOSConfigParser,
    )

    if cls is _PARSERS.get("frr"):
        return _frr_lines, None, False
    if cls in (EOSConfigParser, IOSConfigParser) and cls.config_lines_only is BaseSpaceConfigParser.config_lines_only:
        comments = tuple(cls.comment_chars)
        banners = _Banners(cls, ConfigLine, cisco=cls is IOSConfigParser) if cls.banner_start else None
        return (lambda text: _space_lines(text, comments)), banners, cls is IOSConfigParser
    return None


_FAST = {}


def _parse(cls, text, split_lines=None):
    """(lines, blocks): the netutils ConfigLines of ``text`` as parser ``cls`` gives them
    (raising ValueError, IndexError, NotImplementedError as it does), and the top-level blocks
    when the fast path made them (else None). ``split_lines``: FRR's configuration lines of
    ``text`` already split (:func:`_frr_lines_sniffed`).

    netutils' parser costs about 0.5 ms for a 500-line configuration, much of a fleet check;
    for the platforms netoss parses, :func:`_relationships` does the same in one pass (checked
    equal to netutils on generated fleets and on random indentation, comments and banners:
    tests/unit/test_compliance_parser.py). What it does not model (a banner below the top level,
    a repeated line on IOS, what netutils refuses) goes to netutils' own parser."""
    if cls not in _FAST:
        _FAST[cls] = _fast_path(cls)
    fast = _FAST[cls]
    if fast is not None:
        from netutils.config.parser import ConfigLine

        split, banners, unique = fast
        try:
            lines = split_lines if split_lines is not None and split is _frr_lines else split(text)
            out, blocks = _relationships(lines, ConfigLine, banners)
        except _Fallback:
            out = None
        if out is not None and not (unique and len(set(out)) != len(out)):
            return out, blocks
    return cls(text).config_lines, None


def config_lines(cls, text):
    """The netutils ConfigLines of ``text`` as parser ``cls`` gives them (see :func:`_parse`)."""
    return _parse(cls, text)[0]


def parser_class(platform):
    """The netutils parser class for a NetBox platform slug."""
    if platform not in _PARSERS:
        if platform == "frr":
            _PARSERS[platform] = _frr_parser_class()
        elif platform in ("eos", "ios"):
            from netutils.config.compliance import parser_map

            _PARSERS[platform] = parser_map["arista_eos" if platform == "eos" else "cisco_ios"]
        else:
            raise ConfigSyntaxError(
                "no configuration parser for platform %r (netoss parses: %s)" % (platform, ", ".join(PLATFORMS))
            )
    return _PARSERS[platform]


def sniff(text, platform):
    """Raise :class:`ConfigSyntaxError` when ``text`` is plainly not ``platform``'s CLI syntax
    (one pass over the lines: it runs on every configuration of a fleet)."""
    body = braces = sets = 0
    first = None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped[0] in "!#":
            continue
        body += 1
        if first is None:
            first = stripped[0]
        if stripped[-1] in "{}" or stripped.endswith("};"):
            braces += 1
        if line[:1] in "sd" and line.startswith(("set ", "delete ")):
            sets += 1
    _sniffed(body, first, braces, sets, platform)


def _sniffed(body, first, braces, sets, platform):
    """What :func:`sniff` concludes from its counts."""
    if not body:
        raise ConfigSyntaxError("the configuration is empty")
    if first in "{[":
        raise ConfigSyntaxError("the configuration looks like JSON, not %s CLI" % platform)
    if first == "<":
        raise ConfigSyntaxError("the configuration looks like XML, not %s CLI" % platform)
    if braces * 10 > body:
        raise ConfigSyntaxError(
            "the configuration looks like a brace-structured one (Junos, PAN-OS…), not %s CLI" % platform
        )
    if sets * 2 > body:
        raise ConfigSyntaxError("the configuration looks like 'set' commands (Junos, VyOS…), not %s CLI" % platform)


def _frr_lines_sniffed(text, platform):
    """:func:`_frr_lines` and :func:`sniff` in one pass over the lines (a fleet's FRR backups):
    the lines, or the sniff's ConfigSyntaxError."""
    out = []
    skip = _FRR_SKIP
    body = braces = sets = 0
    first = None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        char = stripped[0]
        if char == "!":
            continue
        if char != "#":
            body += 1
            if first is None:
                first = char
            if stripped[-1] in "{}" or stripped.endswith("};"):
                braces += 1
            if line[:1] in "sd" and line.startswith(("set ", "delete ")):
                sets += 1
        if stripped not in skip and not stripped.startswith("frr version "):
            out.append(line.rstrip())
    _sniffed(body, first, braces, sets, platform)
    return out


@dataclass
class Parsed:
    """A configuration parsed once: its lines, its top-level blocks and an index by text."""

    lines: list  # netutils ConfigLine(config_line, parents), in order
    blocks: list  # (header, [ConfigLine…]) per top-level line, its children following it
    top: frozenset  # stripped top-level lines
    _stripped: list | None = None
    _joined: str | None = None
    _newline_joined: str | None = None
    _words: dict | None = None

    @property
    def stripped(self):
        """Every line without its indentation, in order (computed once)."""
        if self._stripped is None:
            self._stripped = [line.config_line.strip() for line in self.lines]
        return self._stripped

    @property
    def joined(self):
        """The stripped lines as one text, one per line (computed once)."""
        if self._joined is None:
            self._joined = "\n".join(self.stripped)
        return self._joined

    @property
    def newline_joined(self):
        """A newline, then :attr:`joined`: every line follows a newline (what Rule.multiline searches)."""
        if self._newline_joined is None:
            self._newline_joined = "\n" + self.joined
        return self._newline_joined

    @classmethod
    def of(cls, text, platform, trusted=False):
        """Parse ``text``; ``trusted`` (netoss rendered it) skips the syntax sniff."""
        split = None
        if not trusted and platform == "frr":
            split = _frr_lines_sniffed(text, platform)  # the sniff and the FRR parser's lines in one pass
        elif not trusted:
            sniff(text, platform)
        try:
            lines, blocks = _parse(parser_class(platform), text, split)
        except (ValueError, IndexError, NotImplementedError) as exc:
            raise ConfigSyntaxError("the configuration cannot be parsed as %s: %s" % (platform, exc)) from None
        if blocks is None:
            blocks, current = [], None
            for line in lines:
                if not line.parents:
                    current = (line.config_line, [line])
                    blocks.append(current)
                elif current is not None:
                    current[1].append(line)
        return cls(lines, blocks, frozenset(b[0].strip() for b in blocks))

    def blocks_of(self, prefixes):
        """The top-level blocks (header, lines) whose header starts with one of ``prefixes``, in order."""
        prefixes = tuple(prefixes)
        if self._words is None:  # the blocks by the first word of their header
            self._words = {}
            for i, (header, _block) in enumerate(self.blocks):
                self._words.setdefault(header.split(" ", 1)[0], []).append(i)
        # A header that starts with "w rest" has first word "w"; one that starts with "w"
        # (no space) has a first word that starts with "w".
        found = []
        for prefix in prefixes:
            word, space, _rest = prefix.partition(" ")
            if space:
                found.extend(self._words.get(word, ()))
            else:
                found.extend(i for first, ids in self._words.items() if first.startswith(word) for i in ids)
        blocks = self.blocks
        if len(found) > 1:
            found = sorted(set(found))
        return [blocks[i] for i in found if blocks[i][0].startswith(prefixes)]

    def sections(self, prefixes):
        """The lines of the top-level blocks whose header starts with one of ``prefixes``."""
        return [line for _header, block in self.blocks_of(prefixes) for line in block]

    def scope(self, within):
        """The lines a required/forbidden rule looks at: all of them, or those of ``within``'s blocks."""
        return self.lines if within is None else self.sections((within,))


def snippet(lines, parents_only=False):
    """Configuration text of ``lines`` (ConfigLines), each preceded by its parents once; with
    ``parents_only``, the sections they are in without the lines themselves."""
    out, seen = [], set()
    for line in lines:
        for depth, parent in enumerate(line.parents):
            key = line.parents[: depth + 1]
            if key not in seen:
                seen.add(key)
                out.append(parent)
        key = (*line.parents, line.config_line)
        if not parents_only and key not in seen:
            seen.add(key)
            out.append(line.config_line)
    return "\n".join(out)


def _text(lines):
    return [line.config_line for line in lines]


@dataclass
class RuleResult:
    """The verdict of one rule on one device."""

    feature: str
    rule: str
    kind: str
    status: str  # compliant, non-compliant, exempt, error
    missing: str = ""
    extra: str = ""
    remediation: list = field(default_factory=list)
    diff: str = ""
    message: str = ""  # why it is exempt, or failed, or why there is no remediation

    @property
    def compliant(self):
        return self.status in ("compliant", "exempt")

    def as_dict(self):
        return {
            "feature": self.feature,
            "rule": self.rule,
            "kind": self.kind,
            "status": self.status,
            "compliant": self.compliant,
            "missing": self.missing,
            "extra": self.extra,
            "remediation": list(self.remediation),
            "diff": self.diff,
            "message": self.message,
        }


def _status_of(statuses):
    statuses = set(statuses)
    if "error" in statuses:
        return "error"
    if "non-compliant" in statuses:
        return "non-compliant"
    if statuses == {"exempt"}:
        return "exempt"
    return "compliant"


@dataclass
class DeviceResult:
    """Every rule's verdict on one device (or the reason it could not be checked)."""

    device: str
    platform: str
    status: str
    rules: list = field(default_factory=list)
    error: str = ""

    def features(self):
        """{feature: status}, in policy order: error, non-compliant, exempt (all rules exempt) or compliant."""
        out = {}
        for r in self.rules:
            out.setdefault(r.feature, []).append(r.status)
        return {name: _status_of(statuses) for name, statuses in out.items()}

    def as_dict(self, everything=False):
        """JSON form: the status of every feature, and the details of the rules that are not
        plainly compliant (all rules with ``everything``)."""
        return {
            "device": self.device,
            "platform": self.platform,
            "status": self.status,
            "error": self.error,
            "features": self.features(),
            "rules": [r.as_dict() for r in self.rules if everything or r.status != "compliant"],
        }


def _result(rule, status, **details):
    """The verdict ``status`` of ``rule``, with its missing/extra lines, remediation, diff, message."""
    return RuleResult(rule.feature, rule.name, rule.kind, status, **details)


def _verdict(rule, missing, extra, commands, diff, message):
    return _result(
        rule, "non-compliant", missing=missing, extra=extra, remediation=commands, diff=diff, message=message
    )


def _unified(actual, expected, name):
    return "".join(
        difflib.unified_diff(
            [line + "\n" for line in actual],
            [line + "\n" for line in expected],
            fromfile="%s (actual)" % name,
            tofile="%s (expected)" % name,
        )
    )


def _remediate(rule, platform, current, target):
    """(commands, message): hier_config's way from ``current`` to ``target`` (texts)."""
    if rule.remediation is not None:
        return list(rule.remediation), ""
    try:
        commands = config_diff.remediation(current, target, platform)
    except Exception as exc:
        return [], "no remediation: %s" % exc
    if any(SECRET_MARK in c for c in commands):
        return [], (
            "no remediation: a line holds a secret removed from the backup; "
            "give rule %s a 'remediation' (%s)" % (rule.id, rule.source)
        )
    return commands, ""


def _check_section(rule, platform, actual, intended):
    have = actual.sections(rule.lines)
    want = intended.sections(rule.lines)
    ok = have == want if rule.ordered else set(have) == set(want)
    if ok:
        return _result(rule, "compliant")
    have_set, want_set = set(have), set(want)
    missing = [line for line in want if line not in have_set]
    extra = [line for line in have if line not in want_set]
    message = "" if missing or extra else "the lines are all there, in another order"
    if missing or extra:
        commands, why = _remediate(rule, platform, "\n".join(_text(have)), "\n".join(_text(want)))
    else:
        # Same lines, other order: re-enter the sections in the intended order.
        commands, why = list(rule.remediation or _text(want)), ""
    note = "; ".join(m for m in (message, why) if m)
    return _verdict(rule, snippet(missing), snippet(extra), commands, _unified(_text(have), _text(want), rule.id), note)


def _required(rule, platform, actual):
    remediable, message = True, ""
    if rule.within is None:
        if rule.patterns:
            missing = ["/%s/" % p.pattern for p in rule.patterns if not any(p.search(t) for t in actual.top)]
            remediable = False
        else:
            missing = [line for line in rule.lines if line not in actual.top]
        if not missing:
            return _result(rule, "compliant")
        blocks_missing = "\n".join(missing)
        have = [header for header, block in actual.blocks if len(block) == 1]  # the one-line settings
        want = have + missing
    else:
        blocks = actual.blocks_of((rule.within,))
        if not blocks:  # the device does not run what the rule is about
            return _result(rule, "compliant", message="no %r section: nothing to check" % rule.within)
        losses = []
        for _header, block in blocks:
            children = {line.config_line.strip() for line in block[1:]}
            if rule.patterns:
                lost = ["/%s/" % p.pattern for p in rule.patterns if not any(p.search(c) for c in children)]
                remediable = False
            else:
                lost = [line for line in rule.lines if line not in children]
            losses.append(lost)
        missing = [line for lost in losses for line in lost]
        if not missing:
            return _result(rule, "compliant")
        parts, have, want = [], [], []
        for i, (header, block) in enumerate(blocks):
            lost = losses[i]
            if lost:
                parts.append("\n".join([header] + [" " + line for line in lost]))
            have += _text(block)
            want += _text(block) + [" " + line for line in lost]
        blocks_missing = "\n".join(parts)
    if remediable or rule.remediation is not None:
        commands, message = _remediate(rule, platform, "", blocks_missing)
    else:
        commands, message = [], "no remediation for a regex: give the rule a 'remediation' (%s)" % rule.source
    return _verdict(rule, blocks_missing, "", commands, _unified(have, want, rule.id), message)


def _forbidden(rule, platform, actual):
    if rule.within is None:  # a quick "nothing here" before the line-by-line scan
        if rule.regex is None and rule.line_set.isdisjoint(actual.stripped):
            return _result(rule, "compliant")
        if rule.multiline is not None and not rule.multiline.search(actual.newline_joined):
            return _result(rule, "compliant")
    scope = actual.scope(rule.within)
    if rule.regex is not None:
        search = rule.regex.search
        extra = [line for line in scope if search(line.config_line.strip())]
    else:
        found = rule.line_set
        extra = [line for line in scope if line.config_line.strip() in found]
    if not extra:
        return _result(rule, "compliant")
    # The sections stay, their forbidden lines go.
    commands, message = _remediate(rule, platform, snippet(extra), snippet(extra, parents_only=True))
    context = snippet(extra).splitlines()
    bad = {line.config_line for line in extra}
    return _verdict(
        rule, "", snippet(extra), commands, _unified(context, [c for c in context if c not in bad], rule.id), message
    )


def _as_text(value):
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip("\n")
    return "\n".join(str(v) for v in value)


def _custom(rule, platform, actual, intended, device):
    """A custom check: ``function(config, intended, device)`` where ``config``/``intended`` are
    :class:`Parsed` (``intended`` may be None) and ``device`` is a dict (name, platform, tags).
    It returns None when compliant, or a dict with ``missing`` and/or ``extra`` (snippets, str
    or list of str), optionally ``message`` and ``remediation`` (commands). Without a
    remediation from the check or the rule, a custom finding is fixed by hand."""
    out = rule.check(actual, intended, device) or {}
    if not isinstance(out, dict) or set(out) - {"missing", "extra", "message", "remediation"}:
        raise TypeError(
            "a custom check returns None or a dict of missing, extra, message, remediation; got %r" % (out,)
        )
    missing, extra = _as_text(out.get("missing")), _as_text(out.get("extra"))
    if not missing and not extra:
        return _result(rule, "compliant", message=out.get("message", ""))
    if out.get("remediation"):
        commands, message = [str(c) for c in out["remediation"]], ""
    elif rule.remediation is not None:
        commands, message = list(rule.remediation), ""
    else:
        commands, message = [], "no remediation: this check's findings are fixed by hand"
    note = "; ".join(m for m in (out.get("message", ""), message) if m)
    return _verdict(rule, missing, extra, commands, _unified(extra.splitlines(), missing.splitlines(), rule.id), note)


def check_device(policy, device, platform, actual, intended=None, tags=(), today=None):
    """Check one device's configuration ``actual`` (text) against ``policy``.

    ``intended`` (text, or None) is needed by section rules; without it they are errors.
    Returns a :class:`DeviceResult`; a configuration that cannot be parsed makes the device's
    status ``error`` with the reason, and nothing is raised.
    """
    today = today or dt.date.today()
    try:
        rules = policy.rules_for(platform)
    except KeyError:
        return DeviceResult(
            device,
            platform,
            "error",
            error="no configuration parser for platform %r (netoss parses: %s)" % (platform, ", ".join(PLATFORMS)),
        )
    try:
        parsed = Parsed.of(actual or "", platform)
    except ConfigSyntaxError as exc:
        return DeviceResult(device, platform, "error", error=str(exc))
    target, target_error = None, "no intended configuration: render it first"
    if intended and any(r.kind in ("section", "custom") for r in rules):
        try:
            target = Parsed.of(intended, platform, trusted=True)
        except ConfigSyntaxError as exc:
            target_error = "the intended configuration: %s" % exc
    results = []
    info = {"name": device, "platform": platform, "tags": list(tags)}
    for rule in rules:
        exemption = policy.exemption(device, tags, rule, today)
        if exemption is not None:
            until = "%s (until %s, %s)" % (exemption.reason, exemption.expires.isoformat(), exemption.source)
            results.append(_result(rule, "exempt", message=until))
            continue
        try:
            if rule.kind == "section":
                if target is None:
                    results.append(_result(rule, "error", message=target_error))
                    continue
                results.append(_check_section(rule, platform, parsed, target))
            elif rule.kind == "required":
                results.append(_required(rule, platform, parsed))
            elif rule.kind == "forbidden":
                results.append(_forbidden(rule, platform, parsed))
            else:
                results.append(_custom(rule, platform, parsed, target, info))
        except Exception as exc:
            results.append(_result(rule, "error", message="%s: %s (%s)" % (type(exc).__name__, exc, rule.source)))
    return DeviceResult(device, platform, _status_of(r.status for r in results), results)


# ---------------------------------------------------------------------------------------------
# A fleet


@dataclass
class Device:
    """What the engine needs to know about a device besides its configurations."""

    name: str
    platform: str
    tags: tuple = ()


def _read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as stream:
            return stream.read()
    except FileNotFoundError:
        return None


def _check_one(policy, device, actual, intended, today, missing_actual):
    if actual is None:
        return DeviceResult(device.name, device.platform, "error", error=missing_actual)
    return check_device(policy, device.name, device.platform, actual, intended, device.tags, today)


_WORKER = {}


def _init_worker(policy_path):
    import gc

    from ansible_collections.netoss.core.plugins.module_utils.compliance_policy import load_policy

    _WORKER["policy"] = load_policy(policy_path)
    # A worker makes millions of small objects that live for one device: collect less often,
    # and never scan what was loaded before the first device.
    gc.freeze()
    gc.set_threshold(10000, 10, 10)


def _check_chunk(args):
    devices, actual_dir, intended_dir, today = args
    policy = _WORKER["policy"]
    out = []
    for device in devices:
        actual = _read(os.path.join(actual_dir, device.name + ".cfg"))
        intended = _read(os.path.join(intended_dir, device.name + ".cfg")) if intended_dir else None
        result = _check_one(
            policy, device, actual, intended, today, "no backup %s.cfg in %s" % (device.name, actual_dir)
        )
        out.append(result)
    return out


def check_fleet(policy, devices, actual_dir, intended_dir=None, workers=None, today=None, chunk=200):
    """Check every device of ``devices`` (:class:`Device`) from files ``<dir>/<name>.cfg``.

    ``policy`` is a loaded :class:`~compliance_policy.Policy`. With more than one worker
    (default: the CPUs, at most 8) the devices are checked in chunks on a process pool, each
    process loading the policy once from ``policy.path``. Returns the :class:`DeviceResult` s
    in the order of ``devices``.
    """
    today = today or dt.date.today()
    devices = list(devices)
    workers = workers or min(os.cpu_count() or 1, 8)
    if workers <= 1 or len(devices) <= chunk:
        _WORKER["policy"] = policy
        return _check_chunk((devices, actual_dir, intended_dir, today))
    import multiprocessing

    import hier_config  # noqa: F401 - imported once here rather than in every worker

    for platform in {d.platform for d in devices} & set(PLATFORMS):
        parser_class(platform)
    chunks = [(devices[i : i + chunk], actual_dir, intended_dir, today) for i in range(0, len(devices), chunk)]
    context = multiprocessing.get_context("fork")
    with context.Pool(workers, initializer=_init_worker, initargs=(policy.path,)) as pool:
        out = []
        for part in pool.imap(_check_chunk, chunks):
            out.extend(part)
    return out


def check_texts(policy, devices, actual, intended=None, today=None):
    """Check ``devices`` from configurations in memory: ``actual``/``intended`` map names to texts."""
    today = today or dt.date.today()
    intended = intended or {}
    return [
        _check_one(
            policy,
            d,
            actual.get(d.name),
            intended.get(d.name),
            today,
            "no running configuration was read from %s" % d.name,
        )
        for d in devices
    ]


def summarize(results, policy=None, today=None):
    """Counts of a run: devices and (device, feature) pairs by status, and the percentage of
    checked pairs that are compliant (exempt pairs and errors are not counted in it)."""
    devices = {s: 0 for s in STATUSES}
    pairs = {s: 0 for s in STATUSES}
    by_feature = {}
    for r in results:
        devices[r.status] += 1
        for feature, status in r.features().items():
            pairs[status] += 1
            by_feature.setdefault(feature, {s: 0 for s in STATUSES})[status] += 1
    checked = pairs["compliant"] + pairs["non-compliant"]
    summary = {
        "devices": len(results),
        "by_status": devices,
        "pairs": pairs,
        "features": by_feature,
        "percent": round(100.0 * pairs["compliant"] / checked, 2) if checked else 100.0,
    }
    if policy is not None:
        today = today or dt.date.today()
        summary["expired_exceptions"] = [
            "%s: exception for %s expired on %s (%s)" % (e.source, e.feature, e.expires.isoformat(), e.reason)
            for e in policy.expired(today)
        ]
    return summary


def remediation_plan(result, features=None):
    """(commands, unfixable) for a :class:`DeviceResult`: the remediation of its non-compliant
    rules (of ``features`` only, when given) in policy order, and ``feature/rule: why`` for
    those netoss cannot fix."""
    commands, unfixable = [], []
    for r in result.rules:
        if r.status != "non-compliant" or (features and r.feature not in features):
            continue
        if r.remediation:
            commands.extend(r.remediation)
        else:
            unfixable.append("%s/%s: %s" % (r.feature, r.rule, r.message or "no remediation"))
    return commands, unfixable
