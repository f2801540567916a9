#!/usr/bin/python
# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: config_push
short_description: Make a device's running configuration equal to its intended configuration
version_added: 0.2.0
description:
  - Reads the running configuration, refuses it if it is empty, cut off or an error
    message, and computes with hier_config the exact lines that take it to the intended
    configuration - negations included, in the sections where they belong.
  - In check mode nothing is sent; C(commands) and, with C(--diff), the before/after
    configurations show what a push would do.
  - Otherwise the lines are sent in one configuration session. If the device refuses a
    line, or its running configuration still differs afterwards, the device is taken back
    to the configuration read before the push and the task fails with the reason.
  - The configuration read before the push is written to O(backup) so that
    M(netoss.core.config_restore) can roll back after a failed M(netoss.core.config_verify).
author: netoss contributors (!UNKNOWN)
options:
  intended:
    description:
      - The intended configuration (the whole text, as rendered by M(netoss.core.config_render)).
    type: str
    required: true
  platform:
    description:
      - The NetBox platform slug; it selects the configuration grammar (C(frr), C(eos), C(ios)).
    type: str
    required: true
  backup:
    description:
      - File to save the pre-push running configuration to (mode 0600), when something changes.
    type: path
notes:
  - Needs C(ansible_connection=netoss.core.network_cli).
attributes:
  check_mode:
    support: full
    description: Reads the device and reports the lines it would send; sends nothing.
  diff_mode:
    support: full
    description: Before is the running configuration, after the intended one (both normalised).
"""

EXAMPLES = r"""
- name: Show what a push would change
  netoss.core.config_push:
    intended: "{{ rendered.config }}"
    platform: frr
  check_mode: true
  diff: true

- name: Push
  netoss.core.config_push:
    intended: "{{ rendered.config }}"
    platform: frr
    backup: "/var/lib/netoss/pre-push/{{ inventory_hostname }}.cfg"
  register: pushed
"""

RETURN = r"""
commands:
  description: The lines sent (or that would be sent in check mode).
  returned: always
  type: list
  elements: str
  sample: ["interface eth1", " ip address 198.19.0.2/31", " exit"]
summary:
  description: Lines added and removed.
  returned: always
  type: str
  sample: "+12 -1"
report:
  description: The summary and the lines sent, as Markdown (for the NetBox journal).
  returned: always
  type: str
rolled_back:
  description: Whether the device was restored to its pre-push configuration after a failure.
  returned: failure
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netoss.core.plugins.module_utils.config_diff import DiffError
from ansible_collections.netoss.core.plugins.module_utils.config_push import (
    ConnectionDevice,
    PushError,
    push,
)
from ansible_collections.netoss.core.plugins.module_utils.config_text import ConfigTextError
from ansible_collections.netoss.core.plugins.module_utils.files import write_if_changed
from ansible_collections.netoss.core.plugins.module_utils.reachability import fail_or_unreachable


def main():
    module = AnsibleModule(
        argument_spec={
            "intended": {"type": "str", "required": True},
            "platform": {"type": "str", "required": True},
            "backup": {"type": "path"},
        },
        supports_check_mode=True,
    )
    p = module.params
    device = ConnectionDevice(module)
    try:
        result = push(device, p["intended"], p["platform"], module.check_mode)
    except PushError as exc:
        module.fail_json(msg=str(exc), rolled_back=exc.rolled_back, rollback_commands=exc.commands)
    except (ConfigTextError, DiffError) as exc:
        module.fail_json(msg="nothing pushed: %s" % exc)
    except Exception as exc:  # ConnectionError: the device could not be read
        fail_or_unreachable(module, exc, "nothing pushed: reading the running configuration failed")
    before = result.pop("before_config")
    if result["changed"] and not module.check_mode and p["backup"]:
        write_if_changed(p["backup"], before, mode=0o600)
    out = {"changed": result["changed"], "commands": result["commands"], "summary": result["summary"]}
    # Markdown for the NetBox journal: the summary, then the lines sent.
    out["report"] = "%s\n\n```\n%s\n```" % (result["summary"], "\n".join(result["commands"]))
    if module._diff and result["changed"]:
        out["diff"] = dict(result["diff"], before_header="running", after_header="intended")
    if not result["changed"]:
        out["msg"] = "the running configuration is the intended one"
    elif module.check_mode:
        out["msg"] = "would send %d line(s) (%s)" % (len(result["commands"]), result["summary"])
    else:
        out["msg"] = "sent %d line(s) (%s)" % (len(result["commands"]), result["summary"])
    module.exit_json(**out)


if __name__ == "__main__":
    main()
