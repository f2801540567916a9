#!/usr/bin/python
# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: lab_ping
short_description: Ping from inside one of the lab's routers
version_added: 0.7.0
description:
  - The lab's probe. A service order checks that a new customer's loopback is reachable from
    the core by pinging it from a provider router next to the PE, from that router's loopback,
    and that the core is reachable from the customer by pinging back from the customer's
    loopback, so that both directions are routed (by the provider and that customer alone).
  - Runs on the controller as root, inside the router's network namespace
    (the device's namespace as C(netoss lab up) names it, C(<namespace_prefix><device>) when the
    device's name is short and plain, else a safe stem and a hash of it), never in the host's;
    it fails when the router is not one of the lab's.
  - Pings again until an answer comes or O(timeout) seconds pass (routes take a moment to
    propagate).
author: netoss contributors (!UNKNOWN)
options:
  device:
    description: The router to ping from.
    type: str
    required: true
  source:
    description: The source address (one of the router's).
    type: str
    required: true
  destination:
    description: The address to ping.
    type: str
    required: true
  timeout:
    description: Seconds to keep trying.
    type: int
    default: 30
  namespace_prefix:
    description: The prefix of the lab's namespace names; defaults to E(NETOSS_LAB_PREFIX), else none.
    type: str
attributes:
  check_mode:
    support: full
    description: Read-only; it pings in check mode too.
"""

EXAMPLES = r"""
- name: The customer's loopback answers from the core
  netoss.core.lab_ping:
    device: p2
    source: 198.19.255.2
    destination: 203.0.113.33
  delegate_to: localhost
"""

RETURN = r"""
attempts:
  description: How many rounds of pings it took.
  returned: always
  type: int
output:
  description: The last output of ping.
  returned: always
  type: str
"""

import ipaddress
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netoss.core.plugins.module_utils.lab_netns import LabError, ping


def main():
    module = AnsibleModule(
        argument_spec={
            "device": {"type": "str", "required": True},
            "source": {"type": "str", "required": True},
            "destination": {"type": "str", "required": True},
            "timeout": {"type": "int", "default": 30},
            "namespace_prefix": {"type": "str"},
        },
        supports_check_mode=True,
    )
    p = module.params
    for key in ("source", "destination"):
        try:
            ipaddress.ip_address(p[key])
        except ValueError:
            module.fail_json(msg="%s: %r is not an IP address" % (key, p[key]))
    prefix = p["namespace_prefix"] if p["namespace_prefix"] is not None else os.environ.get("NETOSS_LAB_PREFIX", "")
    try:
        ok, attempts, output = ping(p["device"], p["source"], p["destination"], prefix, timeout=p["timeout"])
    except LabError as exc:
        module.fail_json(msg=str(exc))
    if not ok:
        module.fail_json(
            msg="%s does not answer from %s (%s) after %d s"
            % (p["destination"], p["device"], p["source"], p["timeout"]),
            attempts=attempts,
            output=output,
        )
    module.exit_json(
        changed=False,
        attempts=attempts,
        output=output,
        msg="%s answers from %s (%s)" % (p["destination"], p["device"], p["source"]),
    )


if __name__ == "__main__":
    main()
