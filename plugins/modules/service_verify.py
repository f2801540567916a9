#!/usr/bin/python
# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: service_verify
short_description: Check that a customer's service is right on a router after its push
version_added: 0.7.0
description:
  - Waits up to O(timeout) seconds until the service is right on this router (FRR), then
    fails naming what is not.
  - With eBGP, the session to O(neighbor) is established and, on the PE, every prefix of
    O(prefixes) is received from it; on the CE, every route of O(receives) (the default
    route the PE sends, and the provider's aggregates); with static routing, the PE routes each prefix to
    O(neighbor) and the CE has a default route to it; for a deleted service
    (O(removed=true)), the session is gone.
  - No other session was disturbed. Each session established in O(baseline), read before the
    push by M(netoss.core.frr_state), is still established and its uptime grew as time went
    by (a restart resets it). A disturbed session fails at once.
author: netoss contributors (!UNKNOWN)
options:
  role:
    description: This router's end of the service.
    type: str
    required: true
    choices: [pe, ce]
  neighbor:
    description: The far end's address on the PE-CE link.
    type: str
    required: true
  bgp:
    description: The service runs eBGP (else static routes).
    type: bool
    default: true
  prefixes:
    description: The customer's prefixes (the PE must receive or route them).
    type: list
    elements: str
    default: []
  receives:
    description: With eBGP on the CE, the routes the PE must send it (accepted by its import policy).
    type: list
    elements: str
    default: []
  removed:
    description: The service was deleted; its session must be gone.
    type: bool
    default: false
  baseline:
    description: The result of M(netoss.core.frr_state) (with C(bgp)) read before the push.
    type: dict
  timeout:
    description: Seconds to wait for the service to come right.
    type: int
    default: 60
notes:
  - Needs C(ansible_connection=netoss.core.network_cli) and C(ansible_network_os=netoss.core.frr).
attributes:
  check_mode:
    support: full
    description: Read-only; in check mode it reads once and does not wait.
"""

EXAMPLES = r"""
- name: The customer's session is up and its prefixes are received
  netoss.core.service_verify:
    role: pe
    neighbor: 198.19.128.5
    prefixes: [203.0.113.32/28]
    baseline: "{{ before_push }}"

- name: The customer's router has its default route from the PE
  netoss.core.service_verify:
    role: ce
    neighbor: 198.19.128.4
    receives: [0.0.0.0/0]
    baseline: "{{ before_push }}"
"""

RETURN = r"""
problems:
  description: What is not right (empty when the service is right).
  returned: always
  type: list
  elements: str
timings:
  description:
    - Seconds from the start of the check until the service was first right (C(right), the
      session Established and the prefixes received and routed) and until it had stayed right
      for the settle time (C(settled)), shown by the C(netoss.core.timings) callback.
  returned: success
  type: dict
  sample: {"right": 2.1, "settled": 5.1}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.connection import Connection, ConnectionError

from ansible_collections.netoss.core.plugins.module_utils.frr_state import StateError
from ansible_collections.netoss.core.plugins.module_utils.reachability import fail_or_unreachable
from ansible_collections.netoss.core.plugins.module_utils.service_verify import verify


def main():
    module = AnsibleModule(
        argument_spec={
            "role": {"type": "str", "required": True, "choices": ["pe", "ce"]},
            "neighbor": {"type": "str", "required": True},
            "bgp": {"type": "bool", "default": True},
            "prefixes": {"type": "list", "elements": "str", "default": []},
            "receives": {"type": "list", "elements": "str", "default": []},
            "removed": {"type": "bool", "default": False},
            "baseline": {"type": "dict"},
            "timeout": {"type": "int", "default": 60},
        },
        supports_check_mode=True,
    )
    if not module._socket_path:
        module.fail_json(msg="netoss.core.service_verify needs ansible_connection=netoss.core.network_cli")
    p = module.params
    spec = {k: p[k] for k in ("role", "neighbor", "bgp", "prefixes", "receives", "removed")}
    baseline = (p["baseline"] or {}).get("bgp") or []
    taken_at = (p["baseline"] or {}).get("taken_at")
    timings = {}
    try:
        found = verify(
            Connection(module._socket_path),
            spec,
            baseline,
            taken_at,
            0 if module.check_mode else p["timeout"],
            timings=timings,
        )
    except ConnectionError as exc:
        fail_or_unreachable(module, exc, "reading the service's state failed")
    except StateError as exc:
        module.fail_json(msg=str(exc))
    if found:
        module.fail_json(msg="the service is not right: " + "; ".join(found), problems=found)
    what = (
        "removed" if p["removed"] else ("eBGP with %s" % p["neighbor"] if p["bgp"] else "static via %s" % p["neighbor"])
    )
    module.exit_json(
        changed=False,
        problems=[],
        timings=timings,
        msg="service right (%s) after %ss; no other session disturbed" % (what, timings.get("right", 0)),
    )


if __name__ == "__main__":
    main()
