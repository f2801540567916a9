#!/usr/bin/python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: sot_intent
short_description: Validate the netoss intent and translate it to NetBox payloads
description:
  - Loads the intent (YAML files describing the network), validates every file against the
    intent schema, then checks references, duplicates, addressing and cabling.
  - Reports every problem at once, each naming the file and the entry.
  - On success returns, for each kind of object, the C(data) payloads of the
    C(netbox.netbox) module that creates it, in the order they must be applied.
  - Reads local files only; it never contacts NetBox. Run it on localhost.
version_added: "0.1.0"
author:
  - netoss contributors (!UNKNOWN)
options:
  path:
    description:
      - Directory of intent files (every C(*.yml) and C(*.yaml), read in name order), or a
        single intent file.
      - Relative paths are resolved from the working directory of the module; prefer
        C({{ playbook_dir }}/...).
    type: path
    required: true
  managed_tag:
    description:
      - Tag put on every taggable object, so that a prune step can find the managed objects
        that are no longer in the intent.
      - Added to the C(tags) payloads when the intent does not define it.
    type: str
    default: netoss-managed
attributes:
  check_mode:
    description: Can run in check mode and return the same result; the module changes nothing.
    support: full
  diff_mode:
    description: Returns no diff; there is nothing to change.
    support: none
requirements:
  - PyYAML
  - jsonschema
notes:
  - Site C(asns) are validated but not part of the payloads, as C(netbox.netbox.netbox_site)
    has no option for them.
seealso:
  - module: netbox.netbox.netbox_device
"""

EXAMPLES = r"""
- name: Validate the intent and build the NetBox payloads
  netoss.core.sot_intent:
    path: "{{ lookup('ansible.builtin.env', 'NETOSS_INTENT') }}"
  register: intent
  delegate_to: localhost

- name: Create or update the devices
  netbox.netbox.netbox_device:
    netbox_url: "{{ netbox_url }}"
    netbox_token: "{{ netbox_token }}"
    data: "{{ item }}"
  loop: "{{ intent.objects.devices }}"
  loop_control:
    label: "{{ item.name }}"
"""

RETURN = r"""
objects:
  description:
    - Kind (C(tags), C(sites), C(devices), C(interfaces), C(ip_addresses), C(cables)...) to the
      list of C(data) payloads for the module named in RV(modules) for that kind.
    - Kinds come in dependency order and every kind is present, possibly with an empty list.
    - C(device_primary_ips) sets the primary IPv4 of devices once their addresses exist.
  returned: success
  type: dict
  sample:
    devices:
      - name: pe1
        device_type: frr-router
        device_role: pe
        site: ams1
        platform: frr
        status: active
        tags: [netoss-managed]
kinds:
  description:
    - The kinds in the order their payloads must be applied (the order of RV(objects), kept
      as a list because JSON consumers may not preserve the order of keys).
  returned: success
  type: list
  elements: str
  sample: [tags, custom_field_choice_sets, custom_fields, tenants]
modules:
  description: Kind to the fully qualified name of the netbox.netbox module that applies it.
  returned: success
  type: dict
  sample:
    devices: netbox.netbox.netbox_device
    cables: netbox.netbox.netbox_cable
counts:
  description: Kind to the number of payloads of that kind.
  returned: success
  type: dict
  sample:
    devices: 6
    interfaces: 26
msg:
  description: A summary, or every problem found, one per line.
  returned: always
  type: str
  sample: "intent OK (5 files in /srv/intent): 2 sites, 6 devices, 26 interfaces, 22 ip_addresses, 6 prefixes, 7 cables"
problems:
  description: Every problem found in the intent.
  returned: failed
  type: list
  elements: dict
  contains:
    file:
      description: The intent file.
      type: str
    where:
      description: The entry in the file, e.g. C(devices[2] 'pe1').
      type: str
    message:
      description: What is wrong.
      type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netoss.core.plugins.module_utils.intent_load import load_intent
from ansible_collections.netoss.core.plugins.module_utils.intent_payloads import (
    MODULE_FOR_KIND,
    build_netbox_objects,
    summary,
)
from ansible_collections.netoss.core.plugins.module_utils.intent_schema import IntentError
from ansible_collections.netoss.core.plugins.module_utils.schema_files import require_schema_libraries


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            managed_tag=dict(type="str", default="netoss-managed"),
        ),
        supports_check_mode=True,
    )
    require_schema_libraries(module)

    try:
        intent = load_intent(module.params["path"])
    except IntentError as error:
        problems = [dict(file=p.file, where=p.where, message=p.message) for p in error.problems]
        module.fail_json(msg=str(error), problems=problems)

    objects = build_netbox_objects(intent, managed_tag=module.params["managed_tag"])
    counts = {kind: len(payloads) for kind, payloads in objects.items()}
    module.exit_json(
        changed=False,
        objects=objects,
        kinds=list(objects),
        modules=MODULE_FOR_KIND,
        counts=counts,
        msg=summary(objects, intent.files, module.params["path"]),
    )


if __name__ == "__main__":
    main()
