#!/usr/bin/python
# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: config_data
short_description: Build each device's structured configuration data from NetBox
version_added: 0.2.0
description:
  - Stage 1 of rendering. Reads NetBox once (devices, interfaces and their cable peers,
    addresses, ASNs, sites, prefixes, config contexts) and builds, for each device, the
    vendor-neutral data its configuration is made of - interfaces, OSPF, iBGP and eBGP
    sessions, routing policy, logging, banner, users.
  - Writes one YAML file per device (C(<dest>/<device>.yml)) so the data can be read and
    diffed, and returns it. Run it once per play (C(run_once)) on the controller.
  - A device whose data is inconsistent (no loopback for its router ID, no platform, no
    common subnet with an eBGP peer) is reported in C(errors) and the others go on.
author: netoss contributors (!UNKNOWN)
extends_documentation_fragment:
  - netoss.core.netbox
options:
  devices:
    description:
      - Names of the NetBox devices to build data for.
    type: list
    elements: str
    required: true
  dest:
    description:
      - Directory for the C(<device>.yml) files. Nothing is written when omitted.
    type: path
requirements:
  - pynetbox
attributes:
  check_mode:
    support: full
    description: Builds the data and reports which files would change without writing them.
  diff_mode:
    support: none
    description: Returns no diff.
"""

EXAMPLES = r"""
- name: Build the structured data of every device in the play
  netoss.core.config_data:
    devices: "{{ ansible_play_hosts }}"
    dest: "{{ playbook_dir }}/../.state/rendered"
  delegate_to: localhost
  run_once: true
  register: config_data
"""

RETURN = r"""
data:
  description: Structured data by device name (see C(docs/config.md) for the keys).
  returned: always
  type: dict
  sample: {"pe1": {"hostname": "pe1", "platform": "frr", "router_id": "198.19.255.3", "bgp": {"asn": 64500}}}
errors:
  description: Why a device's data could not be built, by device name.
  returned: always
  type: dict
  sample: {"pe9": "pe9 runs BGP but has no IPv4 loopback address (an address with role loopback) for its router ID"}
changed_devices:
  description: Devices whose data file changed (or would change in check mode).
  returned: always
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netoss.core.plugins.module_utils.device_data import Snapshot, build_all, fetch
from ansible_collections.netoss.core.plugins.module_utils.files import write_if_changed
from ansible_collections.netoss.core.plugins.module_utils.netbox_client import (
    NETBOX_ARG_SPEC,
    NetboxError,
    api_from_params,
)


def main():
    spec = dict(NETBOX_ARG_SPEC)
    spec.update(
        devices={"type": "list", "elements": "str", "required": True},
        dest={"type": "path"},
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    try:
        import yaml
    except ImportError:
        module.fail_json(msg="netoss.core.config_data needs PyYAML on the controller")
    try:
        api = api_from_params(module.params)
        records = fetch(api)
    except NetboxError as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:  # pynetbox raises RequestError and friends
        module.fail_json(msg="reading NetBox failed: %s" % exc)
    data, errors = build_all(Snapshot(**records), module.params["devices"])
    changed = []
    if module.params["dest"]:
        for name, device in sorted(data.items()):
            text = yaml.safe_dump(device, sort_keys=False, default_flow_style=False)
            path = os.path.join(module.params["dest"], "%s.yml" % name)
            if write_if_changed(path, text, module.check_mode)[0]:
                changed.append(name)
    msg = "structured data for %d device(s)" % len(data)
    if errors:
        msg += "; %d cannot be built: %s" % (len(errors), ", ".join(sorted(errors)))
    module.exit_json(changed=bool(changed), data=data, errors=errors, changed_devices=changed, msg=msg)


if __name__ == "__main__":
    main()
