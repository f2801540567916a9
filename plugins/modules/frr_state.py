#!/usr/bin/python
# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: frr_state
short_description: Read an FRR router's interfaces, OSPF neighbours, BGP sessions and routes as data
version_added: 0.1.0
description:
  - Runs FRR's C(show ... json) commands over C(netoss.core.network_cli) and returns
    their content as lists of plain dictionaries with stable keys.
  - Used to verify a push (are the sessions NetBox expects up?), by health checks, and by the
    GitOps rehearsal (the sessions and routes a change would lose).
author: netoss contributors (!UNKNOWN)
options:
  gather:
    description:
      - What to read.
    type: list
    elements: str
    choices: [interfaces, ospf, bgp, routes]
    default: [interfaces, ospf, bgp, routes]
notes:
  - Needs C(ansible_connection=netoss.core.network_cli) and C(ansible_network_os=netoss.core.frr).
attributes:
  check_mode:
    support: full
    description: Read-only; it behaves the same in check mode.
"""

EXAMPLES = r"""
- name: Read the routing state
  netoss.core.frr_state:
    gather: [bgp, ospf]
  register: state

- name: Every BGP session is established
  ansible.builtin.assert:
    that: state.bgp | rejectattr('established') | list | length == 0
"""

RETURN = r"""
taken_at:
  description: When the state was read (seconds since the epoch).
  returned: always
  type: float
interfaces:
  description: One entry per interface.
  returned: when interfaces is gathered
  type: list
  elements: dict
  sample: [{"name": "eth1", "admin_up": true, "oper_up": true, "mtu": 1500, "addresses": ["198.19.0.0/31"]}]
ospf:
  description: One entry per OSPF neighbour.
  returned: when ospf is gathered
  type: list
  elements: dict
  sample: [{"neighbor_id": "198.19.255.2", "state": "Full/-", "full": true, "address": "198.19.0.1",
            "interface": "eth1"}]
bgp:
  description: One entry per BGP neighbour and address family.
  returned: when bgp is gathered
  type: list
  elements: dict
  sample: [{"vrf": "default", "afi_safi": "ipv4Unicast", "neighbor": "198.19.255.2", "remote_as": 64500,
            "state": "Established", "established": true, "prefixes_received": 1, "uptime": "00:00:12"}]
routes:
  description: One entry per prefix of the IPv4 routing table, the route the router selected.
  returned: when routes is gathered
  type: list
  elements: dict
  sample: [{"prefix": "203.0.113.0/28", "protocol": "bgp", "interfaces": ["eth3"]}]
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.connection import Connection, ConnectionError

from ansible_collections.netoss.core.plugins.module_utils.frr_state import COMMANDS, PARSERS, StateError
from ansible_collections.netoss.core.plugins.module_utils.reachability import is_unreachable


def main():
    module = AnsibleModule(
        argument_spec={
            "gather": {"type": "list", "elements": "str", "choices": list(COMMANDS), "default": list(COMMANDS)},
        },
        supports_check_mode=True,
    )
    if not module._socket_path:
        module.fail_json(msg="netoss.core.frr_state needs ansible_connection=netoss.core.network_cli")
    connection = Connection(module._socket_path)
    result = {"changed": False, "taken_at": time.time()}
    try:
        for what in module.params["gather"]:
            result[what] = PARSERS[what](connection.get(COMMANDS[what]))
    except ConnectionError as exc:
        if is_unreachable(exc):
            module.exit_json(unreachable=True, changed=False, msg="cannot reach the device: %s" % exc)
        module.fail_json(msg=str(exc), **result)
    except StateError as exc:
        module.fail_json(msg=str(exc), **result)
    counts = []
    if "bgp" in result:
        counts.append(
            "%d/%d BGP sessions established" % (sum(s["established"] for s in result["bgp"]), len(result["bgp"]))
        )
    if "ospf" in result:
        counts.append("%d/%d OSPF neighbours full" % (sum(n["full"] for n in result["ospf"]), len(result["ospf"])))
    if "interfaces" in result:
        counts.append("%d interfaces" % len(result["interfaces"]))
    if "routes" in result:
        counts.append("%d routes" % len(result["routes"]))
    result["msg"] = ", ".join(counts)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
