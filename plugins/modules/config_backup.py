#!/usr/bin/python
# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: config_backup
short_description: Read a device's running configuration and check that it is whole
version_added: 0.2.0
description:
  - Reads the running configuration over C(netoss.core.network_cli).
  - Refuses, as a failure of this device, a configuration that is empty, shorter than a few
    lines, cut off (it does not end with the platform's last line, C(end)) or an error
    message instead of a configuration. A refused configuration is never stored.
  - Returns it without the lines that change on every read (C(Building configuration...))
    and with secret values replaced by C(<removed>), ready for
    M(netoss.core.backup_commit).
author: netoss contributors (!UNKNOWN)
options:
  platform:
    description:
      - The NetBox platform slug (C(frr), C(eos), C(ios)).
    type: str
    required: true
  sanitize:
    description:
      - Replace secret values (passwords, keys, communities) by C(<removed>).
    type: bool
    default: true
notes:
  - Needs C(ansible_connection=netoss.core.network_cli).
attributes:
  check_mode:
    support: full
    description: Read-only; it behaves the same in check mode.
"""

EXAMPLES = r"""
- name: Read the running configuration
  netoss.core.config_backup:
    platform: "{{ platforms | first }}"
  register: running
"""

RETURN = r"""
config:
  description: The configuration to store.
  returned: success
  type: str
lines:
  description: Its number of lines.
  returned: success
  type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netoss.core.plugins.module_utils.config_push import (
    ConnectionDevice,
    read_running,
)
from ansible_collections.netoss.core.plugins.module_utils.config_text import ConfigTextError, sanitize, stable
from ansible_collections.netoss.core.plugins.module_utils.reachability import fail_or_unreachable


def main():
    module = AnsibleModule(
        argument_spec={"platform": {"type": "str", "required": True}, "sanitize": {"type": "bool", "default": True}},
        supports_check_mode=True,
    )
    p = module.params
    try:
        text = read_running(ConnectionDevice(module), p["platform"])
    except ConfigTextError as exc:
        module.fail_json(msg="backup refused: %s" % exc)
    except Exception as exc:  # ConnectionError
        fail_or_unreachable(module, exc, "reading the running configuration failed")
    text = stable(text, p["platform"])
    if p["sanitize"]:
        text = sanitize(text)
    lines = len(text.splitlines())
    module.exit_json(changed=False, config=text, lines=lines, msg="read %d lines" % lines)


if __name__ == "__main__":
    main()
