# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Intended vs running configuration: the exact lines to send, and the way back.

hier_config does the work (it parses both configurations into trees and computes the
remediation: what to negate, what to add, in which section). netoss adds a driver for
FRRouting's vtysh, whose running configuration closes sections with ``exit`` and
``exit-address-family``, hides defaults, and refuses to delete a physical interface.

The same functions serve push (intended <- running), rollback (pre-push <- current) and,
later, compliance.
"""

from __future__ import annotations

import difflib
import re

_DRIVERS = {}


class DiffError(ValueError):
    """The configuration could not be compared; the message says why."""


def _frr_driver():
    from hier_config.models import IdempotentCommandsRule, MatchRule, PerLineSubRule, SectionalExitingRule
    from hier_config.platforms.driver_base import HConfigDriverBase, HConfigDriverRules

    def idem(*prefixes):
        return IdempotentCommandsRule(match_rules=tuple(MatchRule(startswith=p) for p in prefixes))

    class HConfigDriverFRR(HConfigDriverBase):
        """FRRouting 8.x vtysh (``show running-config``)."""

        @staticmethod
        def _instantiate_rules():
            return HConfigDriverRules(
                indentation=1,
                sectional_exiting=[
                    SectionalExitingRule(
                        match_rules=(MatchRule(startswith="router bgp"), MatchRule(startswith="address-family")),
                        exit_text="exit-address-family",
                    ),
                ],
                per_line_sub=[
                    PerLineSubRule(search="^Building configuration.*", replace=""),
                    PerLineSubRule(search="^Current configuration.*", replace=""),
                    PerLineSubRule(search="^frr version .*", replace=""),
                    PerLineSubRule(search="^end$", replace=""),
                    PerLineSubRule(search="^exit$", replace=""),
                    PerLineSubRule(search="^ exit-address-family$", replace=""),
                    PerLineSubRule(search=r"^\s*!.*", replace=""),
                ],
                idempotent_commands=[
                    idem("hostname "),
                    idem("log syslog"),
                    idem("frr defaults "),
                    idem("interface ", "description "),
                    idem("interface ", "mtu "),
                    idem("interface ", "ip ospf network "),
                    idem("router ospf", "ospf router-id "),
                    idem("router bgp", "bgp router-id "),
                    # neighbor lines: see idempotent_for below.
                ],
            )

        def idempotent_for(self, config, other_children):
            # "neighbor X <attribute> <value>" replaces the neighbour's previous value of that
            # attribute: the key is the address and the attribute ("neighbor X description A"
            # and "neighbor Y description B" are different commands), plus the direction for
            # policies ("route-map A in" and "route-map B out" are both kept).
            if config.text.startswith("neighbor "):
                key = _neighbor_key(config.text)
                if key is None:
                    return None
                return next((other for other in other_children if _neighbor_key(other.text) == key), None)
            return super().idempotent_for(config, other_children)

    return HConfigDriverFRR()


_DIRECTED = ("route-map", "prefix-list", "filter-list", "distribute-list")


def _neighbor_key(text):
    """What a ``neighbor X <attribute> <value…>`` line sets, or None for a line without a value."""
    words = text.split()
    if len(words) < 4 or words[0] != "neighbor":
        return None
    key = tuple(words[:3])
    return (*key, words[-1]) if words[2] in _DIRECTED else key


def driver(platform):
    """The hier_config driver for a NetBox platform slug (frr, eos, ios)."""
    if platform not in _DRIVERS:
        from hier_config import Platform
        from hier_config.constructors import get_hconfig_driver

        if platform == "frr":
            _DRIVERS[platform] = _frr_driver()
        elif platform == "eos":
            _DRIVERS[platform] = get_hconfig_driver(Platform.ARISTA_EOS)
        elif platform == "ios":
            _DRIVERS[platform] = get_hconfig_driver(Platform.CISCO_IOS)
        else:
            raise DiffError("no configuration differ for platform %r (known: frr, eos, ios)" % platform)
    return _DRIVERS[platform]


# What splitlines() takes for a line break besides "\n": hier_config splits on them, the
# prefilter below only sees "\n".
_OTHER_BREAKS = re.compile("[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
# A line the FRR driver's per-line substitutions could change (it blanks "!" comments, exits,
# "end" and vtysh's headers): more than they match (any whitespace, any indentation), never less.
_FRR_SUBSTITUTED = re.compile(
    r"^\s*(?:!|Building\s+configuration|Current\s+configuration|frr\s+version\s|end\s*$|exit\s*$"
    r"|exit-address-family\s*$)",
    re.MULTILINE,
)
_LEAN = {}


def _driver_for(text, platform):
    """The driver to load ``text`` with: FRR's without its per-line substitutions when none of
    them can change a line of ``text`` (configuration lines parsed already: hier_config then
    skips 7 regex substitutions per line, 40% of its load time); else the platform's own."""
    if platform != "frr" or _OTHER_BREAKS.search(text) or _FRR_SUBSTITUTED.search(text):
        return driver(platform)
    if platform not in _LEAN:
        lean = _frr_driver()
        lean.rules.per_line_sub.clear()  # the rules are frozen, their lists are not
        _LEAN[platform] = lean
    return _LEAN[platform]


def parse(text, platform):
    from hier_config import get_hconfig

    text = text or ""
    return get_hconfig(_driver_for(text, platform), text)


def _drop_empty_interfaces(config):
    # An interface whose every line is removed stays as an empty stanza in the intended tree;
    # FRR never shows empty stanzas, so keep it out of the lines to send.
    for child in tuple(config.children):
        if child.text.startswith("interface ") and not child.children:
            child.delete()


def _remediation_tree(running, intended, platform):
    current = parse(running, platform)
    target = parse(intended, platform)
    for child in current.children:
        if child.text.startswith("interface ") and target.get_child(equals=child.text) is None:
            # Keep the interface and drop its lines, except "shutdown": negating it would bring
            # up a port the intended configuration does not use.
            kept = target.add_child(child.text)
            if child.get_child(equals="shutdown") is not None:
                kept.add_child("shutdown")
    fix = current.config_to_get_to(target).set_order_weight()
    _drop_empty_interfaces(fix)
    if platform == "frr":
        _neighbors_go_whole(fix)
    return current, fix


def _neighbors_go_whole(fix):
    # "no neighbor X remote-as N" removes the neighbour with all its settings, and FRR then
    # refuses every other "no neighbor X ..." line ("Specify remote-as or peer-group commands
    # first"): keep only that one, here and in the address families.
    for bgp in fix.children:
        if not bgp.text.startswith("router bgp"):
            continue
        gone = {
            child.text.split()[2]
            for child in bgp.children
            if child.text.startswith("no neighbor ")
            and len(child.text.split()) > 3
            and child.text.split()[3] == "remote-as"
        }
        if not gone:
            continue
        for section in (bgp, *[c for c in bgp.children if c.text.startswith("address-family")]):
            for child in tuple(section.children):
                words = child.text.split()
                if words[:2] == ["no", "neighbor"] and len(words) > 3 and words[2] in gone and words[3] != "remote-as":
                    child.delete()
        for child in tuple(bgp.children):
            if child.text.startswith("address-family") and not child.children:
                child.delete()


def remediation(running, intended, platform):
    """The lines that take a device from ``running`` to ``intended`` (both full texts), in order.

    Sections removed from the intended configuration are negated, except physical interfaces,
    whose lines are negated one by one (a router cannot delete them).
    """
    _current, fix = _remediation_tree(running, intended, platform)
    return list(fix.dump_simple(sectional_exiting=True)) if fix.children else []


def _canonical_lines(config, depth=0):
    out = []
    for child in sorted(config.children, key=lambda c: _natural(c.text)):
        out.append(" " * depth + child.text)
        out.extend(_canonical_lines(child, depth + 1))
    return out


def _natural(text):
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", text)]


def canonical(text, platform):
    """The configuration as a tree with sections and lines in natural order: two configurations
    that differ only in order give the same text, so a diff of these shows only real changes."""
    return "\n".join(_canonical_lines(parse(text, platform))) + "\n"


def normalized(text, platform):
    """The configuration as the differ sees it (volatile lines, comments and exits removed)."""
    return "\n".join(parse(text, platform).dump_simple()) + "\n"


def unified(running, intended, platform, name="running", other="intended"):
    """A unified diff of the two configurations in canonical order (see :func:`canonical`)."""
    a = canonical(running, platform).splitlines(keepends=True)
    b = canonical(intended, platform).splitlines(keepends=True)
    return "".join(difflib.unified_diff(a, b, fromfile=name, tofile=other))


def leaves(lines):
    """Remediation lines as 'section > line' paths, one per command (section headers and exits left out)."""
    out, path = [], []
    body = [line for line in lines if line.strip() not in ("exit", "exit-address-family", "end", "!")]
    for i, line in enumerate(body):
        depth = len(line) - len(line.lstrip(" "))
        path = [*path[:depth], line.strip()]
        following = body[i + 1] if i + 1 < len(body) else ""
        if len(following) - len(following.lstrip(" ")) <= depth or not following:
            out.append(" > ".join(path))
    return out


def summary(lines):
    """'+3 -1': the commands added and removed (negated) by remediation ``lines``; section
    headers that only lead to a command do not count."""
    commands = [path.rsplit(" > ", 1)[-1] for path in leaves(lines)]
    removed = sum(1 for command in commands if command.startswith("no "))
    return "+%d -%d" % (len(commands) - removed, removed)
