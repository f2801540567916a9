# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cliconf plugin for FRRouting's vtysh, for ansible.netcommon.network_cli."""

from __future__ import annotations

DOCUMENTATION = r"""
author: netoss contributors (!UNKNOWN)
name: frr
short_description: Cliconf plugin for FRRouting (vtysh)
version_added: 0.1.0
description:
  - Lets the ansible.netcommon modules (C(cli_command), C(cli_config)) and the netoss.core
    modules talk to FRRouting over C(netoss.core.network_cli) (or C(ansible.netcommon.network_cli)).
  - C(get_config) returns C(show running-config); C(edit_config) enters C(configure terminal),
    sends each line and leaves with C(end); C(get_diff) compares a candidate with the running
    configuration line by line or by block.
  - FRR has no candidate configuration, commit or rollback; netoss.core takes a backup before
    a push and restores it when verification fails.
"""

EXAMPLES = r"""
# inventory: an FRR router reached over SSH, where the login session is vtysh
# pe1:
#   ansible_host: 198.18.0.13
#   ansible_network_os: netoss.core.frr
#   ansible_connection: netoss.core.network_cli

- name: Read the running configuration through the cliconf
  ansible.netcommon.cli_command:
    command: show running-config

- name: Push lines (netoss.core.config_push diffs first and rolls back on failure)
  ansible.netcommon.cli_config:
    config: |
      ip prefix-list DEMO seq 5 permit 203.0.113.0/24
"""

import json
import re

from ansible.module_utils.common.text.converters import to_text
from ansible_collections.ansible.netcommon.plugins.module_utils.network.common.config import NetworkConfig, dumps
from ansible_collections.ansible.netcommon.plugins.module_utils.network.common.utils import to_list
from ansible_collections.ansible.netcommon.plugins.plugin_utils.cliconf_base import CliconfBase

OPERATIONS = {
    "supports_diff_replace": True,
    "supports_commit": False,
    "supports_rollback": False,
    "supports_defaults": False,
    "supports_onbox_diff": False,
    "supports_commit_comment": False,
    "supports_multiline_delimiter": False,
    "supports_diff_match": True,
    "supports_diff_ignore_lines": True,
    "supports_generate_diff": True,
    "supports_replace": False,
}


class Cliconf(CliconfBase):
    def get_device_info(self):
        info = {"network_os": "frr"}
        reply = to_text(self.get("show version"), errors="surrogate_or_strict")
        match = re.search(r"FRRouting (\S+) \((\S+)\)", reply)
        if match:
            info["network_os_version"], info["network_os_hostname"] = match.group(1), match.group(2)
        return info

    def get_config(self, source="running", flags=None, format=None):
        if source != "running":
            raise ValueError("FRR has only a running configuration, not %r" % source)
        if format not in (None, "text"):
            raise ValueError("FRR configuration is text, not %r" % format)
        cmd = " ".join(["show running-config", *to_list(flags)])
        return self.send_command(cmd)

    def edit_config(self, candidate=None, commit=True, replace=None, comment=None):
        operations = self.get_device_operations()
        self.check_edit_config_capability(operations, candidate, commit, replace, comment)
        if not commit:
            raise ValueError("FRR has no candidate configuration: check mode is handled by diffing first")
        requests, responses = [], []
        self.send_command("configure terminal")
        try:
            for line in to_list(candidate):
                if not isinstance(line, dict):
                    line = {"command": line}
                cmd = line["command"].rstrip()
                if not cmd or cmd.startswith("!") or cmd == "end":
                    continue
                responses.append(self.send_command(**line))
                requests.append(cmd)
        finally:
            self.send_command("end")
        return {"request": requests, "response": responses}

    def get(self, command=None, prompt=None, answer=None, sendonly=False, newline=True, output=None, check_all=False):
        if not command:
            raise ValueError("must provide a value for command")
        if output:
            raise ValueError("'output' value %s is not supported for get" % output)
        return self.send_command(
            command=command, prompt=prompt, answer=answer, sendonly=sendonly, newline=newline, check_all=check_all
        )

    def get_diff(
        self, candidate=None, running=None, diff_match="line", diff_ignore_lines=None, path=None, diff_replace="line"
    ):
        diff = {}
        option_values = self.get_option_values()
        if candidate is None and diff_match != "none":
            raise ValueError("candidate configuration is required to generate a diff")
        if diff_match not in option_values["diff_match"]:
            raise ValueError(
                "'match' value %s is invalid, valid values are %s" % (diff_match, option_values["diff_match"])
            )
        if diff_replace not in option_values["diff_replace"]:
            raise ValueError(
                "'replace' value %s is invalid, valid values are %s" % (diff_replace, option_values["diff_replace"])
            )
        candidate_obj = NetworkConfig(indent=1)
        candidate_obj.load(candidate)
        if running and diff_match != "none":
            running_obj = NetworkConfig(indent=1, contents=running, ignore_lines=diff_ignore_lines)
            configdiffobjs = candidate_obj.difference(running_obj, path=path, match=diff_match, replace=diff_replace)
        else:
            configdiffobjs = candidate_obj.items
        diff["config_diff"] = dumps(configdiffobjs, "commands") if configdiffobjs else ""
        return diff

    def run_commands(self, commands=None, check_rc=True):
        if commands is None:
            raise ValueError("'commands' value is required")
        responses = []
        for cmd in to_list(commands):
            if not isinstance(cmd, dict):
                cmd = {"command": cmd}
            if cmd.get("output"):
                raise ValueError("'output' value %s is not supported for run_commands" % cmd["output"])
            try:
                out = self.send_command(**cmd)
            except Exception as exc:
                if check_rc:
                    raise
                out = getattr(exc, "err", exc)
            responses.append(out)
        return responses

    def get_device_operations(self):
        return dict(OPERATIONS)

    def get_option_values(self):
        return {
            "format": ["text"],
            "diff_match": ["line", "strict", "exact", "none"],
            "diff_replace": ["line", "block"],
            "output": [],
        }

    def get_capabilities(self):
        result = super().get_capabilities()
        result["rpc"] += ["get_diff", "run_commands"]
        result["device_operations"] = self.get_device_operations()
        result.update(self.get_option_values())
        return json.dumps(result)
