# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Push an intended configuration, verify the device, roll back when it is not right.

``device`` is anything with ``get_config()``, ``edit_config(lines)`` and ``get(command)``;
the modules pass an ansible.netcommon Connection, unit tests a small fake router.

The push is all or nothing: when a line is refused, or the running configuration does not
match the intended one afterwards, the device is taken back to the configuration read just
before the push and the push fails, saying why.
"""

from __future__ import annotations

import time

from ansible_collections.netoss.core.plugins.module_utils import config_diff, config_text
from ansible_collections.netoss.core.plugins.module_utils.frr_state import (
    COMMANDS,
    StateError,
    parse_bgp_summary,
    parse_ospf_neighbors,
    session_state,
)


class PushError(Exception):
    """The push failed; ``rolled_back`` says whether the device was restored."""

    def __init__(self, message, rolled_back=False, commands=None):
        super().__init__(message)
        self.rolled_back = rolled_back
        self.commands = commands or []


def read_running(device, platform):
    """The device's running configuration, refused when empty, cut off or an error message."""
    text = device.get_config()
    config_text.check(text, platform)
    return text


def plan(running, intended, platform):
    """What a push would do: the lines to send, a summary and a before/after diff."""
    lines = config_diff.remediation(running, intended, platform)
    before, after = config_diff.canonical(running, platform), config_diff.canonical(intended, platform)
    return {"commands": lines, "summary": config_diff.summary(lines), "diff": {"before": before, "after": after}}


def restore(device, target, platform):
    """Take the device back to the configuration ``target``; returns the lines sent."""
    current = device.get_config()
    lines = config_diff.remediation(current, target, platform)
    if lines:
        device.edit_config(lines)
    return lines


def _first_line(exc):
    return (str(exc).strip().splitlines() or ["(no message)"])[-1]


def push(device, intended, platform, check_mode=False):
    """Make the running configuration equal to ``intended``; see the module docstring."""
    running = read_running(device, platform)
    result = plan(running, intended, platform)
    result["changed"] = bool(result["commands"])
    result["before_config"] = running
    if check_mode or not result["commands"]:
        return result
    try:
        device.edit_config(result["commands"])
    except Exception as exc:  # ConnectionError from the device: a refused line
        reason = "the device refused the change: %s" % _first_line(exc)
        _roll_back_or_raise(device, running, platform, reason)
    after = device.get_config()
    left = config_diff.leaves(config_diff.remediation(after, intended, platform))
    if left:
        reason = "after the push %d line(s) still differ from the intended configuration: %s" % (
            len(left),
            "; ".join(left[:3]) + (" …" if len(left) > 3 else ""),
        )
        _roll_back_or_raise(device, running, platform, reason)
    return result


def _roll_back_or_raise(device, running, platform, reason):
    try:
        lines = restore(device, running, platform)
    except Exception as exc:
        raise PushError(
            "%s; the rollback failed too (%s): the device needs a look" % (reason, _first_line(exc))
        ) from None
    raise PushError("%s; rolled back (%d line(s))" % (reason, len(lines)), rolled_back=True, commands=lines)


# --- verification ----------------------------------------------------------------------------


def expectations(data):
    """What must be up after a push, from the device's structured data."""
    bgp = [
        {"address": n["address"], "description": n["description"]}
        for n in ((data.get("bgp") or {}).get("neighbors") or [])
    ]
    ospf = [
        i["name"]
        for i in data.get("interfaces") or []
        if i.get("ospf") and not i["ospf"].get("passive") and i.get("peer") and i.get("enabled", True)
    ]
    return {"bgp": bgp, "ospf": ospf}


def _frr_problems(device, expected):
    problems = []
    if expected["bgp"]:
        sessions = {s["neighbor"]: s for s in parse_bgp_summary(device.get(COMMANDS["bgp"]))}
        for peer in expected["bgp"]:
            state = sessions.get(peer["address"])
            if state is None:
                problems.append("BGP neighbour %s (%s) is not configured" % (peer["address"], peer["description"]))
            elif not state["established"]:
                problems.append(
                    "BGP neighbour %s (%s) is %s, not Established"
                    % (peer["address"], peer["description"], session_state(state["state"]))
                )
    if expected["ospf"]:
        full = {n["interface"] for n in parse_ospf_neighbors(device.get(COMMANDS["ospf"])) if n["full"]}
        for name in expected["ospf"]:
            if name not in full:
                problems.append("no Full OSPF neighbour on %s" % name)
    return problems


def verify(device, data, platform, timeout=120, interval=2, clock=time.monotonic, sleep=time.sleep):
    """Wait until the device answers and every session the data expects is up.

    Returns (problems, waited seconds); no problems means verified. Routing state is read
    for platforms netoss has a state parser for (frr); the others are checked for answering.
    """
    expected = expectations(data)
    start = clock()
    while True:
        try:
            device.get("show version")
        except Exception as exc:
            problems = ["the device does not answer: %s" % _first_line(exc)]
        else:
            try:
                problems = _frr_problems(device, expected) if platform == "frr" else []
            except StateError as exc:
                problems = [str(exc)]
        waited = clock() - start
        if not problems or waited >= timeout:
            return problems, round(waited, 1)
        sleep(interval)


class ConnectionDevice:
    """A device reached through the module's persistent network_cli connection."""

    def __init__(self, module):
        from ansible.module_utils.connection import Connection

        if not module._socket_path:
            module.fail_json(msg="this module needs ansible_connection=netoss.core.network_cli")
        self._conn = Connection(module._socket_path)

    def get_config(self):
        return self._conn.get_config()

    def edit_config(self, lines):
        return self._conn.edit_config(candidate=lines)

    def get(self, command):
        return self._conn.get(command)


# --- remediation of compliance drift ---------------------------------------------------------


def remediate(device, policy, name, platform, intended=None, tags=(), features=None, check_mode=False):
    """Fix what the compliance policy finds wrong on the device, all or nothing.

    Reads the running configuration, checks it (secrets replaced, as in backups), and sends the
    remediation of the non-compliant rules (of ``features`` only, when given). Then reads and
    checks again: if the device refused a line or a remediated rule is still not compliant,
    the device goes back to the configuration read before and PushError says why.
    Returns {commands, unfixable, before, after, changed} (``after``: feature statuses, None in
    check mode or when nothing was sent); a configuration that cannot be checked raises
    ConfigTextError.
    """
    from ansible_collections.netoss.core.plugins.module_utils.compliance import check_device, remediation_plan

    def check(raw):
        return check_device(
            policy, name, platform, config_text.sanitize(config_text.stable(raw, platform)), intended, tags
        )

    running = read_running(device, platform)
    before = check(running)
    if before.status == "error" and before.error:
        raise config_text.ConfigTextError(before.error)
    commands, unfixable = remediation_plan(before, features)
    out = {"commands": commands, "unfixable": unfixable, "before": before.features(), "after": None}
    out["changed"] = bool(commands)
    if check_mode or not commands:
        return out
    fixed = sorted({(r.feature, r.rule) for r in before.rules if r.status == "non-compliant" and r.remediation})
    try:
        device.edit_config(commands)
    except Exception as exc:  # ConnectionError from the device: a refused line
        _roll_back_or_raise(device, running, platform, "the device refused the remediation: %s" % _first_line(exc))
    after = check(device.get_config())
    still = ["%s/%s" % key for key in fixed if any((r.feature, r.rule) == key and not r.compliant for r in after.rules)]
    if still:
        _roll_back_or_raise(device, running, platform, "still not compliant after the push: %s" % ", ".join(still))
    out["after"] = after.features()
    return out
