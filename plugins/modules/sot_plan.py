#!/usr/bin/python
# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: sot_plan
short_description: Plan what NetBox must create, update and delete to match the intent
version_added: 0.1.0
description:
  - Reads NetBox in bulk (one listing per kind) and compares it with the payloads of the
    intent returned by M(netoss.core.sot_intent), like a C(terraform plan).
  - Returns, by kind, the payloads to create or update and the objects to delete, so the
    C(netoss.core.sot_sync) role runs the C(netbox.netbox) modules only for what changes.
  - Only objects carrying the managed tag are compared and deleted. An object that exists
    without the tag is planned as a create; the netbox.netbox module then adopts and tags it.
    Objects without the tag are never deleted.
  - In check mode it reports C(changed) when anything would change, and with C(--diff) it
    shows each object's changed fields (before is NetBox, after is the intent).
author: netoss contributors (!UNKNOWN)
extends_documentation_fragment:
  - netoss.core.netbox
  - netoss.core.sot_plan
options:
  objects:
    description:
      - The C(objects) returned by M(netoss.core.sot_intent).
    type: dict
    required: true
requirements:
  - pynetbox
attributes:
  check_mode:
    support: full
    description: Read-only; in check mode it reports what would change.
  diff_mode:
    support: full
    description: In check mode, one before/after entry per object that would change.
"""

EXAMPLES = r"""
- name: Plan the changes
  netoss.core.sot_plan:
    objects: "{{ intent.objects }}"
  register: plan

- name: Create or update the devices that differ
  netbox.netbox.netbox_device:
    netbox_url: "{{ lookup('ansible.builtin.env', 'NETBOX_API') }}"
    netbox_token: "{{ lookup('ansible.builtin.env', 'NETBOX_TOKEN') }}"
    data: "{{ item }}"
  loop: "{{ plan.apply.devices }}"
"""

RETURN = r"""
read:
  description: How NetBox was read for the plan (in full, or incrementally from the change log, and why).
  returned: always
  type: str
  sample: "incremental: 1 changes, 1 objects read again"
apply:
  description: By kind, in apply order, the payloads to create or update.
  returned: success
  type: dict
  sample: {"devices": [{"name": "pe1", "description": "PE Amsterdam"}], "cables": []}
delete:
  description: By kind, in delete order, the payloads of the managed objects to delete.
  returned: success
  type: dict
  sample: {"cables": [], "devices": [{"name": "pe9"}]}
changes:
  description: One entry per object that changes, with its action and changed fields (NetBox's value, the intent's).
  returned: success
  type: list
  elements: dict
  sample: [{"action": "update", "kind": "devices", "object": "pe1", "fields": {"description": ["", "PE Amsterdam"]}}]
counts:
  description: How many objects are created, updated, deleted and left unchanged.
  returned: always
  type: dict
  sample: {"create": 0, "update": 1, "delete": 0, "unchanged": 96}
would_delete:
  description: When the plan is refused for deleting too much, by kind, what it would delete (20 per kind at most).
  returned: failed
  type: dict
  sample: {"devices": ["pe1", "pe2"]}
managed:
  description: How many objects carrying the managed tag NetBox holds (what O(prune_limit) is a share of).
  returned: always
  type: int
  sample: 213
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netoss.core.plugins.module_utils.netbox_client import (
    NETBOX_ARG_SPEC,
)
from ansible_collections.netoss.core.plugins.module_utils.sot_plan import PLAN_ARG_SPEC, diffs, run_or_fail


def main():
    spec = dict(NETBOX_ARG_SPEC, **PLAN_ARG_SPEC)
    spec.update(objects={"type": "dict", "required": True})
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    _api, _records, result, msg, managed = run_or_fail(module)
    out = dict(result, msg=msg, changed=False, managed=managed)
    if module.check_mode:
        out["changed"] = bool(result["changes"])
        if module._diff:
            out["diff"] = diffs(result["changes"])
    module.exit_json(**out)


if __name__ == "__main__":
    main()
