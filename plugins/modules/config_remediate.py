#!/usr/bin/python
# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: config_remediate
short_description: Fix a device's non-compliant configuration with the policy's remediation
version_added: 0.6.0
description:
  - Reads the running configuration, checks it against the compliance policy (as
    M(netoss.core.config_compliance) does) and builds the remediation commands of the rules
    that are not compliant, for all features or those of O(features).
  - In check mode nothing is sent; C(commands) (and C(--diff)) show what would be.
  - Otherwise the commands are sent in one configuration session, then the device is read and
    checked again. If the device refuses a line, or a remediated rule is still not compliant,
    the device is taken back to the configuration read before and the task fails with the
    reason, so nothing is left half-applied.
  - Rules netoss cannot fix (a custom check without remediation, a regex) are listed in
    C(unfixable); they do not fail the task.
author: netoss contributors (!UNKNOWN)
options:
  policy:
    description: The policy directory.
    type: path
    required: true
  device:
    description: The device's NetBox name (for the policy's exceptions and the messages).
    type: str
    required: true
  platform:
    description: The NetBox platform slug (C(frr), C(eos), C(ios)).
    type: str
    required: true
  tags:
    description: The device's NetBox tags (for the policy's exceptions).
    type: list
    elements: str
    default: []
  intended:
    description: The device's intended configuration file (needed by section rules).
    type: path
  features:
    description: Only these features (all when empty).
    type: list
    elements: str
    default: []
notes:
  - Needs C(ansible_connection=netoss.core.network_cli).
attributes:
  check_mode:
    support: full
    description: Reads and checks the device and reports the commands; sends nothing.
  diff_mode:
    support: full
    description: The commands that fix the device, as added lines.
"""

EXAMPLES = r"""
- name: Show the remediation of the logging feature
  netoss.core.config_remediate:
    policy: "{{ playbook_dir }}/../compliance"
    device: "{{ inventory_hostname }}"
    platform: frr
    intended: "{{ netoss_state_dir }}/rendered/{{ inventory_hostname }}.cfg"
    features: [logging]
  check_mode: true
"""

RETURN = r"""
commands:
  description: The commands sent (or that would be sent in check mode).
  returned: always
  type: list
  elements: str
before:
  description: The status of each feature before.
  returned: always
  type: dict
after:
  description: The status of each feature after the push.
  returned: changed, not in check mode
  type: dict
unfixable:
  description: The non-compliant rules netoss has no remediation for, with the reason.
  returned: always
  type: list
  elements: str
rolled_back:
  description: Whether the device was restored to its configuration read before the push.
  returned: failure
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netoss.core.plugins.module_utils.config_push import (
    ConnectionDevice,
    PushError,
    remediate,
)
from ansible_collections.netoss.core.plugins.module_utils.config_text import ConfigTextError
from ansible_collections.netoss.core.plugins.module_utils.reachability import fail_or_unreachable
from ansible_collections.netoss.core.plugins.module_utils.schema_files import require_schema_libraries


def main():
    module = AnsibleModule(
        argument_spec={
            "policy": {"type": "path", "required": True},
            "device": {"type": "str", "required": True},
            "platform": {"type": "str", "required": True},
            "tags": {"type": "list", "elements": "str", "default": []},
            "intended": {"type": "path"},
            "features": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )
    p = module.params
    require_schema_libraries(module)
    from ansible_collections.netoss.core.plugins.module_utils.compliance_policy import PolicyError, load_policy

    try:
        policy = load_policy(p["policy"])
    except PolicyError as exc:
        module.fail_json(msg=str(exc))
    unknown = [f for f in p["features"] if policy.feature(f) is None]
    if unknown:
        module.fail_json(
            msg="features: no feature %s in the policy (it has: %s)"
            % (", ".join(unknown), ", ".join(f.name for f in policy.features))
        )
    intended = None
    if p["intended"]:
        try:
            with open(p["intended"], encoding="utf-8") as stream:
                intended = stream.read()
        except OSError as exc:
            module.fail_json(msg="intended: cannot read %s: %s (render it first)" % (p["intended"], exc.strerror))
    device = ConnectionDevice(module)
    try:
        out = remediate(
            device,
            policy,
            p["device"],
            p["platform"],
            intended,
            p["tags"],
            p["features"] or None,
            module.check_mode,
        )
    except PushError as exc:
        module.fail_json(msg=str(exc), rolled_back=exc.rolled_back, rollback_commands=exc.commands)
    except ConfigTextError as exc:
        module.fail_json(msg="nothing pushed: %s" % exc)
    except Exception as exc:  # ConnectionError: the device could not be read
        fail_or_unreachable(module, exc, "nothing pushed: reading the running configuration failed")
    commands, unfixable = out["commands"], out["unfixable"]
    hand = "; fix by hand: " + "; ".join(unfixable) if unfixable else ""
    if module._diff and commands:
        out["diff"] = {"before": "", "after": "\n".join(commands) + "\n", "after_header": "remediation"}
    if not commands:
        out["msg"] = "nothing to remediate" + hand
    elif module.check_mode:
        out["msg"] = "would send %d line(s)%s" % (len(commands), hand)
    else:
        out["msg"] = "sent %d line(s); the remediated rules are compliant%s" % (len(commands), hand)
    module.exit_json(**out)


if __name__ == "__main__":
    main()
