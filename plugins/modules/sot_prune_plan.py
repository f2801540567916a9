#!/usr/bin/python
# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: sot_prune_plan
short_description: List the NetBox objects netoss owns that the intent no longer has
version_added: 0.1.0
description:
  - Reads every NetBox object that carries the managed tag (C(netoss-managed) by default)
    and returns those whose identity is not in the intent, as payloads that the matching
    C(netbox.netbox) module deletes with C(state=absent).
  - Objects without the managed tag are never listed, so objects made by hand or by other
    tools are never deleted.
  - Read-only; the deletions are done by the C(netoss.core.sot_sync) role.
author: netoss contributors
extends_documentation_fragment:
  - netoss.core.netbox
options:
  objects:
    description:
      - The C(objects) returned by M(netoss.core.sot_intent).
    type: dict
    required: true
  managed_tag:
    description:
      - Slug of the tag that marks the objects netoss owns.
    type: str
    default: netoss-managed
requirements:
  - pynetbox
attributes:
  check_mode:
    support: full
    description: Read-only; it behaves the same in check mode.
"""

EXAMPLES = r"""
- name: Find what NetBox has that the intent dropped
  netoss.core.sot_prune_plan:
    objects: "{{ intent.objects }}"
  register: stale
"""

RETURN = r"""
stale:
  description: By kind, in the order deletions must run, the payloads to delete.
  returned: success
  type: dict
  sample: {"cables": [], "devices": [{"name": "pe9"}]}
count:
  description: How many objects are stale.
  returned: success
  type: int
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.netoss.core.plugins.module_utils.netbox_client import (
    NETBOX_ARG_SPEC,
    NetboxError,
    connect,
    settings_from_params,
)
from ansible_collections.netoss.core.plugins.module_utils.sot_prune import fetch_tagged, stale_objects


def main():
    spec = dict(NETBOX_ARG_SPEC)
    spec.update(objects={"type": "dict", "required": True}, managed_tag={"type": "str", "default": "netoss-managed"})
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    try:
        url, token, verify = settings_from_params(module.params)
        api, _status = connect(url, token, verify)
        stale = stale_objects(fetch_tagged(api, module.params["managed_tag"]), module.params["objects"])
    except NetboxError as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:  # pynetbox raises RequestError and friends
        module.fail_json(msg=f"reading tagged objects from NetBox failed: {exc}")
    count = sum(len(v) for v in stale.values())
    summary = ", ".join(f"{len(v)} {k}" for k, v in stale.items() if v) or "nothing"
    module.exit_json(changed=False, stale=stale, count=count, msg=f"stale objects to delete: {summary}")


if __name__ == "__main__":
    main()
