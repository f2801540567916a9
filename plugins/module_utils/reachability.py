# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unreachable or failed: how a module that talks to a device ends when the talk fails.

Ansible counts a host as unreachable when a module's result says ``unreachable: true``; the
netoss fault report raises "device-unreachable" for it (and opens a ticket), where a failed
task would only be a failed task.
"""

from __future__ import annotations

import re

# What a persistent connection (network_cli) says when the device cannot be reached at all,
# as opposed to a device that answered with an error.
_UNREACHABLE = re.compile(
    r"timed out|timeout|unable to (?:open shell|connect)|no route to host|connection refused|"
    r"network is unreachable|host is unreachable|ssh connect(?:ion)? failed|authentication failed|"
    r"name or service not known|connection reset|socket",
    re.IGNORECASE,
)


def is_unreachable(exc):
    """Whether ``exc`` (a ConnectionError, usually) means the device could not be reached."""
    return bool(_UNREACHABLE.search(str(exc)))


def fail_or_unreachable(module, exc, what):
    """End the module: unreachable (so Ansible, and netoss's fault report, count the host as
    unreachable rather than failed) when the device could not be reached, failed otherwise."""
    message = "%s: %s" % (what, exc)
    if is_unreachable(exc):
        module.exit_json(unreachable=True, changed=False, msg="cannot reach the device: " + message)
    module.fail_json(msg=message)
