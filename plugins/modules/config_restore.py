#!/usr/bin/python
# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: config_restore
short_description: Take a device back to a saved configuration (rollback)
version_added: 0.2.0
description:
  - Computes, with the same differ as M(netoss.core.config_push), the lines that take the
    running configuration to the saved one, and sends them.
  - Used by the C(netoss.core.config_push) role to roll back after a failed verification,
    from the configuration M(netoss.core.config_push) saved before the push.
author: netoss contributors (!UNKNOWN)
options:
  src:
    description:
      - File holding the configuration to go back to.
    type: path
    required: true
  platform:
    description:
      - The NetBox platform slug.
    type: str
    required: true
notes:
  - Needs C(ansible_connection=netoss.core.network_cli).
attributes:
  check_mode:
    support: full
    description: Reports the lines it would send; sends nothing.
  diff_mode:
    support: none
    description: Returns no diff.
"""

EXAMPLES = r"""
- name: Roll back to the configuration taken before the push
  netoss.core.config_restore:
    src: "/var/lib/netoss/pre-push/{{ inventory_hostname }}.cfg"
    platform: frr
"""

RETURN = r"""
commands:
  description: The lines sent.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netoss.core.plugins.module_utils import config_diff
from ansible_collections.netoss.core.plugins.module_utils.config_push import (
    ConnectionDevice,
    restore,
)
from ansible_collections.netoss.core.plugins.module_utils.config_text import ConfigTextError, check
from ansible_collections.netoss.core.plugins.module_utils.files import read
from ansible_collections.netoss.core.plugins.module_utils.reachability import fail_or_unreachable


def main():
    module = AnsibleModule(
        argument_spec={"src": {"type": "path", "required": True}, "platform": {"type": "str", "required": True}},
        supports_check_mode=True,
    )
    p = module.params
    target = read(p["src"])
    try:
        check(target, p["platform"])
    except ConfigTextError as exc:
        module.fail_json(msg="cannot restore from %s: %s" % (p["src"], exc))
    device = ConnectionDevice(module)
    try:
        if module.check_mode:
            lines = config_diff.remediation(device.get_config(), target, p["platform"])
        else:
            lines = restore(device, target, p["platform"])
    except Exception as exc:
        fail_or_unreachable(module, exc, "restoring %s failed" % p["src"])
    module.exit_json(changed=bool(lines), commands=lines, msg="sent %d line(s)" % len(lines))


if __name__ == "__main__":
    main()
