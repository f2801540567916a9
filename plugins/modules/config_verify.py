#!/usr/bin/python
# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: config_verify
short_description: Wait until a device answers and the routing sessions NetBox expects are up
version_added: 0.2.0
description:
  - Expectations come from the device's structured data (M(netoss.core.config_data)) - every
    BGP neighbour must be Established and every OSPF interface with a peer must have a Full
    neighbour.
  - Polls until all are up or O(timeout) passes, then fails listing what is not up.
  - Routing state is read on platforms with a state parser (C(frr)); on the others only
    that the device answers is checked.
author: netoss contributors (!UNKNOWN)
options:
  data:
    description:
      - The device's structured data.
    type: dict
    required: true
  platform:
    description:
      - The NetBox platform slug.
    type: str
    required: true
  timeout:
    description:
      - Seconds to wait for everything to come up.
    type: int
    default: 120
  interval:
    description:
      - Seconds between two reads.
    type: int
    default: 2
notes:
  - Needs C(ansible_connection=netoss.core.network_cli).
attributes:
  check_mode:
    support: full
    description: Read-only; it behaves the same in check mode.
"""

EXAMPLES = r"""
- name: Verify the sessions after a push
  netoss.core.config_verify:
    data: "{{ config_data.data[inventory_hostname] }}"
    platform: frr
    timeout: 90
"""

RETURN = r"""
problems:
  description: What is not up (empty when verified).
  returned: always
  type: list
  elements: str
  sample: ["BGP neighbour 198.19.128.1 (ce1 (Acme Corp)) is Active, not Established"]
waited:
  description: Seconds waited.
  returned: always
  type: float
timings:
  description: The seconds until every session was up (C(sessions up)), for the C(netoss.core.timings) callback.
  returned: success
  type: dict
  sample: {"sessions up": 4.2}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netoss.core.plugins.module_utils.config_push import ConnectionDevice, expectations, verify


def main():
    module = AnsibleModule(
        argument_spec={
            "data": {"type": "dict", "required": True},
            "platform": {"type": "str", "required": True},
            "timeout": {"type": "int", "default": 120},
            "interval": {"type": "int", "default": 2},
        },
        supports_check_mode=True,
    )
    p = module.params
    problems, waited = verify(ConnectionDevice(module), p["data"], p["platform"], p["timeout"], p["interval"])
    expected = expectations(p["data"])
    if problems:
        module.fail_json(
            msg="verification failed after %ss: %s" % (waited, "; ".join(problems)), problems=problems, waited=waited
        )
    module.exit_json(
        changed=False,
        problems=[],
        waited=waited,
        timings={"sessions up": waited},
        msg="verified in %ss: %d BGP session(s) established, %d OSPF interface(s) full"
        % (waited, len(expected["bgp"]), len(expected["ospf"])),
    )


if __name__ == "__main__":
    main()
