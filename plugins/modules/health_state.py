#!/usr/bin/python
# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: health_state
short_description: Compare a device's live state with what NetBox says it must be
version_added: 0.5.0
description:
  - Reads the device's interfaces, BGP sessions and OSPF neighbours and checks them against its
    structured data (M(netoss.core.config_data)) - every interface enabled in NetBox must be
    operationally up, every BGP session NetBox implies Established, every OSPF interface with
    a peer Full.
  - Returns one check per object, with the fault condition it maps to, so that
    M(netoss.core.alarm) can raise the failing ones and clear the others.
  - Reads again until everything is up or O(timeout) passes (right after a change, sessions
    take a few seconds).
  - A device that cannot be reached ends unreachable.
  - Follows NetBox's status fields - a device that is not active is not checked, nor is an
    interface that is disabled, unused (no cable, no address), on a circuit that is not active
    or cabled to a device that is not active, nor the sessions over it. RV(not_checked) says what
    was left out and why, and RV(alarms) clears the alarms of those interfaces.
author: netoss contributors (!UNKNOWN)
options:
  device:
    description: The device's name (the alarms in RV(alarms) are on it).
    type: str
    required: true
  data:
    description: The device's structured data.
    type: dict
    required: true
  platform:
    description: The NetBox platform slug (live state is read on C(frr)).
    type: str
    required: true
  timeout:
    description: Seconds to wait for everything to be up before reporting.
    type: int
    default: 0
  interval:
    description: Seconds between two reads.
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
- name: Compare with NetBox
  netoss.core.health_state:
    device: "{{ inventory_hostname }}"
    data: "{{ health_check_data.data[inventory_hostname] }}"
    platform: frr
  register: health
"""

RETURN = r"""
checks:
  description: One per object, each with object_type, object_name, condition, ok, problem, severity, probable_cause.
  returned: always
  type: list
  elements: dict
alarms:
  description: The checks as alarms for M(netoss.core.alarm) - failing ones raised, passing ones cleared.
  returned: always
  type: list
  elements: dict
not_checked:
  description: What NetBox has out of service, so not checked - each with object_type, object_name and why.
  returned: always
  type: list
  elements: dict
  sample: [{"object_type": "interface", "object_name": "swp9", "why": "disabled in NetBox"}]
problems:
  description: The problems of the failing checks.
  returned: always
  type: list
  elements: str
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.connection import ConnectionError

from ansible_collections.netoss.core.plugins.module_utils.config_push import ConnectionDevice
from ansible_collections.netoss.core.plugins.module_utils.frr_state import COMMANDS, PARSERS, StateError
from ansible_collections.netoss.core.plugins.module_utils.health import alarms, checks, not_checked, rested
from ansible_collections.netoss.core.plugins.module_utils.reachability import fail_or_unreachable


def main():
    module = AnsibleModule(
        argument_spec={
            "device": {"type": "str", "required": True},
            "data": {"type": "dict", "required": True},
            "platform": {"type": "str", "required": True},
            "timeout": {"type": "int", "default": 0},
            "interval": {"type": "int", "default": 2},
        },
        supports_check_mode=True,
    )
    p = module.params
    left_out = not_checked(p["data"])
    if left_out and left_out[0]["object_type"] == "device":
        module.exit_json(
            changed=False, checks=[], alarms=[], problems=[], not_checked=left_out,
            msg="%s is not checked: %s" % (p["device"], left_out[0]["why"]),
        )  # fmt: skip
    if p["platform"] != "frr":
        module.exit_json(
            changed=False,
            checks=[],
            alarms=[],
            problems=[],
            not_checked=left_out,
            msg="no live state parser for %s" % p["platform"],
        )
    device = ConnectionDevice(module)
    start = time.monotonic()
    while True:
        try:
            state = {what: PARSERS[what](device.get(COMMANDS[what])) for what in ("interfaces", "bgp", "ospf")}
        except StateError as exc:
            module.fail_json(msg=str(exc))
        except (ConnectionError, Exception) as exc:
            fail_or_unreachable(module, exc, "reading the device's state failed")
        result = checks(p["data"], state["interfaces"], state["bgp"], state["ospf"])
        problems = [c["problem"] for c in result if not c["ok"]]
        if not problems or time.monotonic() - start >= p["timeout"]:
            break
        time.sleep(p["interval"])
    msg = "%d of %d checks pass" % (len(result) - len(problems), len(result))
    if left_out:
        msg += "; not checked (out of service in NetBox): %s" % ", ".join(
            "%s (%s)" % (s["object_name"], s["why"]) for s in left_out
        )
    module.exit_json(
        changed=False,
        checks=result,
        alarms=alarms(p["device"], result) + rested(p["device"], left_out),
        problems=problems,
        not_checked=left_out,
        msg=msg,
    )


if __name__ == "__main__":
    main()
