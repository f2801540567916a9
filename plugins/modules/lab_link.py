#!/usr/bin/python
# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: lab_link
short_description: Patch or unpatch links between the lab's routers (veth pairs)
version_added: 0.7.0
description:
  - The lab's field engineer. A service order connects a PE port to a CE port with a new
    circuit in NetBox; in the lab, whose routers are network namespaces built by
    C(netoss lab up), this patches that link as a veth pair, or removes it when the service
    is deleted. On a real network people patch the last mile, and this module is not used.
  - Runs on the controller as root; it touches only the lab's namespaces
    (each device's namespace as C(netoss lab up) names it, C(<namespace_prefix><device>) when the
    device's name is short and plain, else a safe stem and a hash of it) and fails when a router is
    not one of them.
author: netoss contributors (!UNKNOWN)
options:
  links:
    description: The links, each C(a) and C(b) as C(device:interface).
    type: list
    elements: dict
    required: true
  state:
    description: Patched or not.
    type: str
    choices: [present, absent]
    default: present
  namespace_prefix:
    description: The prefix of the lab's namespace names; defaults to E(NETOSS_LAB_PREFIX), else none.
    type: str
attributes:
  check_mode:
    support: full
    description: In check mode it says what it would patch.
"""

EXAMPLES = r"""
- name: Patch the new circuit in the lab
  netoss.core.lab_link:
    links:
      - {a: "pe1:eth4", b: "ce3:eth1"}
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
changed_links:
  description: The links patched or removed.
  returned: always
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netoss.core.plugins.module_utils.lab_netns import LabError, patch, unpatch


def main():
    module = AnsibleModule(
        argument_spec={
            "links": {"type": "list", "elements": "dict", "required": True},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "namespace_prefix": {"type": "str"},
        },
        supports_check_mode=True,
    )
    prefix = module.params["namespace_prefix"]
    if prefix is None:
        prefix = os.environ.get("NETOSS_LAB_PREFIX", "")
    action = patch if module.params["state"] == "present" else unpatch
    changed = []
    for link in module.params["links"]:
        if not isinstance(link.get("a"), str) or not isinstance(link.get("b"), str):
            module.fail_json(msg="links: each is {a: device:interface, b: device:interface}, not %r" % (link,))
        try:
            if action(link["a"], link["b"], prefix, module.check_mode):
                changed.append("%s - %s" % (link["a"], link["b"]))
        except LabError as exc:
            module.fail_json(msg=str(exc), changed=bool(changed), changed_links=changed)
    verb = "patched" if module.params["state"] == "present" else "unpatched"
    module.exit_json(
        changed=bool(changed),
        changed_links=changed,
        msg="%s: %s" % (verb, ", ".join(changed)) if changed else "nothing to do",
    )


if __name__ == "__main__":
    main()
