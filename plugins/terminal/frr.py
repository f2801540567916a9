# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Terminal plugin for FRRouting's vtysh, for ansible.netcommon.network_cli."""

from __future__ import annotations

DOCUMENTATION = r"""
author: netoss contributors (!UNKNOWN)
name: frr
short_description: Terminal plugin for FRRouting (vtysh)
version_added: 0.1.0
description:
  - Recognises vtysh prompts (C(pe1#), C(pe1(config-router)#)) and its error messages,
    and turns paging off when the session opens.
  - Use with C(ansible_connection=netoss.core.network_cli) and
    C(ansible_network_os=netoss.core.frr).
"""

import re

from ansible.errors import AnsibleConnectionFailure
from ansible_collections.ansible.netcommon.plugins.plugin_utils.terminal_base import TerminalBase


class TerminalModule(TerminalBase):
    # pe1#  pe1>  pe1(config)#  pe1(config-router-af)#
    terminal_stdout_re = [re.compile(rb"[\r\n]?[\w+\-.:/\[\]]+(?:\([^)]+\)){0,3}[>#] ?$")]

    # vtysh reports errors with a leading "% " (and a few daemons without it).
    terminal_stderr_re = [
        re.compile(rb"% Unknown command", re.I),
        re.compile(rb"% Command incomplete", re.I),
        re.compile(rb"% Ambiguous command", re.I),
        re.compile(rb"% Invalid", re.I),
        re.compile(rb"% Malformed", re.I),
        re.compile(rb"% Can't", re.I),
        re.compile(rb"% Please specify", re.I),
        re.compile(rb"% (?:Create|Specify) .* first", re.I),
        re.compile(rb"% Configuration failed", re.I),
        re.compile(rb"failed to connect to any daemons", re.I),
        re.compile(rb"Exiting: failed to connect", re.I),
    ]

    terminal_config_prompt = re.compile(rb"\)#$")

    def on_open_shell(self):
        try:
            self._exec_cli_command(b"terminal length 0")
        except AnsibleConnectionFailure as exc:
            raise AnsibleConnectionFailure("unable to set terminal parameters") from exc
