#!/usr/bin/python
# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: netbox_journal
short_description: Write journal entries on NetBox devices (what netoss did, who, which job)
version_added: 0.2.0
description:
  - Creates one NetBox journal entry per item of O(entries), all in one request.
  - Used to record pushes, rollbacks and backups on the device they changed.
author: netoss contributors (!UNKNOWN)
extends_documentation_fragment:
  - netoss.core.netbox
options:
  entries:
    description:
      - The entries to write.
    type: list
    elements: dict
    required: true
    suboptions:
      device:
        description: Name of the NetBox device.
        type: str
        required: true
      kind:
        description: Journal entry kind.
        type: str
        choices: [info, success, warning, danger]
        default: info
      comments:
        description: The text (Markdown) of the entry.
        type: str
        required: true
requirements:
  - pynetbox
attributes:
  check_mode:
    support: full
    description: Writes nothing and reports C(changed) when entries would be written.
  diff_mode:
    support: none
    description: Returns no diff.
"""

EXAMPLES = r"""
- name: Record the push on the device
  netoss.core.netbox_journal:
    entries:
      - device: "{{ inventory_hostname }}"
        kind: success
        comments: "config-push by alice (job 42): +3 -1"
  delegate_to: localhost
"""

RETURN = r"""
ids:
  description: IDs of the journal entries created.
  returned: always
  type: list
  elements: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netoss.core.plugins.module_utils.netbox_client import (
    NETBOX_ARG_SPEC,
    NetboxError,
    api_from_params,
)
from ansible_collections.netoss.core.plugins.module_utils.netbox_records import RecordError, journal


def main():
    spec = dict(NETBOX_ARG_SPEC)
    spec["entries"] = {
        "type": "list",
        "elements": "dict",
        "required": True,
        "options": {
            "device": {"type": "str", "required": True},
            "kind": {"type": "str", "choices": ["info", "success", "warning", "danger"], "default": "info"},
            "comments": {"type": "str", "required": True},
        },
    }
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    entries = module.params["entries"]
    if module.check_mode or not entries:
        module.exit_json(changed=bool(entries), ids=[], msg="%d journal entr(ies) to write" % len(entries))
    try:
        api = api_from_params(module.params)
        ids = journal(api, entries)
    except (NetboxError, RecordError) as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:  # pynetbox RequestError
        module.fail_json(msg="writing the journal entries failed: %s" % exc)
    module.exit_json(changed=True, ids=ids, msg="%d journal entr(ies) written" % len(ids))


if __name__ == "__main__":
    main()
