# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Is this text a whole, good running configuration? And its stable form for backups.

A backup tool that stores an empty, cut-off or error-message "configuration" as a good
backup is worse than none (Nautobot Golden Config issue 957). Every configuration netoss
reads from a device passes :func:`check` before it is stored or diffed.
"""

from __future__ import annotations

import re


class ConfigTextError(ValueError):
    """The text is not a usable running configuration; the message says why."""


# Lines that change on every read without any configuration change.
_VOLATILE = {
    "frr": [r"^Building configuration\.\.\.$", r"^Current configuration:?$"],
    "ios": [
        r"^Building configuration\.\.\.$",
        r"^Current configuration : \d+ bytes$",
        r"^! Last configuration change at .*",
        r"^! NVRAM config last updated at .*",
        r"^ntp clock-period \d+$",
    ],
    "eos": [r"^! Command: show running-config.*", r"^! device: .*", r"^! Time: .*"],
}

# What a device prints instead of a configuration when something went wrong.
_ERRORS = [
    r"^% ",
    r"failed to connect to any daemons",
    r"Exiting: failed to connect",
    r"^Invalid input",
    r"^\s*\^\s*$",
    r"Permission denied",
]

# Each platform's configuration ends with this line; without it the text was cut off.
_LAST_LINE = {"frr": "end", "ios": "end", "eos": "end"}

MIN_LINES = 5


def check(text, platform):
    """Raise ConfigTextError unless ``text`` looks like a complete running configuration."""
    if text is None or not text.strip():
        raise ConfigTextError("the device returned an empty configuration")
    lines = [line.rstrip() for line in text.splitlines()]
    for line in lines:
        for pattern in _ERRORS:
            if re.search(pattern, line):
                raise ConfigTextError("the device returned an error instead of its configuration: %r" % line.strip())
    body = [line for line in lines if line.strip()]
    if len(body) < MIN_LINES:
        raise ConfigTextError("the configuration is only %d line(s) long: refusing it as truncated" % len(body))
    last = _LAST_LINE.get(platform)
    if last and body[-1].strip() != last:
        raise ConfigTextError(
            "the configuration is truncated: it ends with %r instead of %r" % (body[-1].strip()[:60], last)
        )


def stable(text, platform):
    """The configuration without the lines that change on every read, with one trailing newline."""
    patterns = [re.compile(p) for p in _VOLATILE.get(platform, [])]
    out = [line.rstrip() for line in text.splitlines() if not any(p.search(line.rstrip()) for p in patterns)]
    while out and not out[0].strip():
        out.pop(0)
    return "\n".join(out).rstrip() + "\n"


# Secrets never go into a backup (nor into git): the value is replaced, the line kept, so a
# diff still shows that a secret changed. Patterns for the platforms netoss renders.
SANITIZE_FILTERS = [
    {"regex": r"^(\s*(?:enable )?(?:password|secret)(?: level \d+)?(?: \d+)?) \S+.*$", "replace": r"\1 <removed>"},
    {
        "regex": r"^(\s*username \S+(?: privilege \d+)?(?: role \S+)? (?:password|secret)(?: \S+)?) \S+$",
        "replace": r"\1 <removed>",
    },
    {"regex": r"^(\s*neighbor \S+ password(?: \d+)?) \S+$", "replace": r"\1 <removed>"},
    {"regex": r"^(\s*snmp-server community) \S+(.*)$", "replace": r"\1 <removed>\2"},
    {"regex": r"^(\s*(?:ip )?ospf (?:authentication-key|message-digest-key \d+ md5)) \S+$", "replace": r"\1 <removed>"},
    {"regex": r"^(\s*key-string(?: \d+)?) \S+$", "replace": r"\1 <removed>"},
    {"regex": r"^(\s*(?:tacacs|radius)-server(?: host \S+)? key(?: \d+)?) \S+$", "replace": r"\1 <removed>"},
]


def sanitize(text):
    """``text`` with every secret value replaced by <removed> (netutils' sanitize_config)."""
    from netutils.config.clean import sanitize_config

    return sanitize_config(text, SANITIZE_FILTERS)
