#!/usr/bin/python
# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: alarm
short_description: Raise or clear a netoss alarm
version_added: 0.5.0
description:
  - Raises (O(state=raised)) or clears (O(state=cleared)) the alarm of a condition on an object
    of a device, through the portal's TMF642 API. The alarm is the one of O(device), O(object_type),
    O(object_name) and O(condition), whatever raised it, so a playbook can clear what FRR's syslog raised.
  - The fault processor deduplicates, correlates and opens tickets as for any other source.
  - Raising an alarm that is already active counts one more occurrence of it (not a change).
    Clearing one that is not active does nothing.
  - With O(alarms), raises and clears many at once (a health check's results) in one call.
author: netoss contributors (!UNKNOWN)
extends_documentation_fragment:
  - netoss.core.portal
options:
  device:
    description: The device (its NetBox name). Required unless O(alarms) is given.
    type: str
  alarms:
    description:
      - Many alarms at once, each a dict of O(device), O(object_type), O(object_name),
        O(condition), O(state), O(severity), O(alarm_type), O(probable_cause) and
        O(specific_problem) (the same defaults as the options).
      - They are queued in one call; the result says how many were raised and cleared.
    type: list
    elements: dict
  source:
    description: The source recorded on the events (C(health) for health checks).
    type: str
    choices: [ansible, health, compliance, api]
    default: ansible
  object_type:
    description: What on the device the alarm is about.
    type: str
    choices: [device, interface, bgp_session, ospf_adjacency, bfd_session, service, job]
    default: device
  object_name:
    description: The interface, peer address, service... (empty for the device itself).
    type: str
    default: ""
  condition:
    description:
      - What is wrong, as a word (C(interface-down), C(bgp-session-down), C(my-check-failed)).
      - Required unless O(alarms) is given.
    type: str
  state:
    description: Raise or clear it.
    type: str
    choices: [raised, cleared]
    default: raised
  severity:
    description: TMF642 perceivedSeverity.
    type: str
    choices: [critical, major, minor, warning, indeterminate]
    default: major
  alarm_type:
    description: X.733 alarm type.
    type: str
    choices: [communicationsAlarm, processingErrorAlarm, environmentalAlarm, qualityOfServiceAlarm, equipmentAlarm]
    default: communicationsAlarm
  probable_cause:
    description: X.733 probable cause (C(lossOfSignal), C(thresholdCrossed), ...).
    type: str
    default: unspecified
  specific_problem:
    description: What happened, for people.
    type: str
    default: ""
attributes:
  check_mode:
    support: full
    description: Says whether the alarm would be raised or cleared, and sends nothing.
"""

EXAMPLES = r"""
- name: Raise an alarm when a customer prefix is missing
  netoss.core.alarm:
    device: pe1
    object_type: bgp_session
    object_name: 198.19.128.1
    condition: customer-prefix-missing
    severity: major
    probable_cause: communicationsProtocolError
    specific_problem: 203.0.113.0/28 not received from ce1
  delegate_to: localhost

- name: Clear it once the prefix is back
  netoss.core.alarm:
    device: pe1
    object_type: bgp_session
    object_name: 198.19.128.1
    condition: customer-prefix-missing
    state: cleared
  delegate_to: localhost
"""

RETURN = r"""
alarm:
  description: The alarm (TMF642 JSON) after the change; absent when the processor had not applied it yet.
  returned: when known
  type: dict
queued:
  description: True when the portal queued the event but its processor had not applied it within 5 s.
  returned: always
  type: bool
raised:
  description: With O(alarms), how many were raised that were not active.
  returned: with alarms
  type: int
cleared:
  description: With O(alarms), how many active ones were cleared.
  returned: with alarms
  type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netoss.core.plugins.module_utils.portal_client import (
    PORTAL_ARG_SPEC,
    PortalError,
    client_from_params,
)


def main():
    spec = dict(
        PORTAL_ARG_SPEC,
        device={"type": "str"},
        alarms={"type": "list", "elements": "dict"},
        source={"type": "str", "default": "ansible", "choices": ["ansible", "health", "compliance", "api"]},
        object_type={
            "type": "str",
            "default": "device",
            "choices": ["device", "interface", "bgp_session", "ospf_adjacency", "bfd_session", "service", "job"],
        },
        object_name={"type": "str", "default": ""},
        condition={"type": "str"},
        state={"type": "str", "default": "raised", "choices": ["raised", "cleared"]},
        severity={
            "type": "str",
            "default": "major",
            "choices": ["critical", "major", "minor", "warning", "indeterminate"],
        },
        alarm_type={
            "type": "str",
            "default": "communicationsAlarm",
            "choices": [
                "communicationsAlarm",
                "processingErrorAlarm",
                "environmentalAlarm",
                "qualityOfServiceAlarm",
                "equipmentAlarm",
            ],
        },
        probable_cause={"type": "str", "default": "unspecified"},
        specific_problem={"type": "str", "default": ""},
    )
    module = AnsibleModule(
        argument_spec=spec,
        supports_check_mode=True,
        required_one_of=[("device", "alarms")],
        mutually_exclusive=[("device", "alarms")],
        required_by={"device": ("condition",)},
    )
    p = module.params
    if p["alarms"] is not None:
        batch(module, spec)
    try:
        client = client_from_params(p)
        active = [
            a
            for a in client.active_alarms(p["device"], p["condition"])
            if a["netoss"]["fingerprint"]
            == "%s|%s:%s|%s" % (p["device"], p["object_type"], p["object_name"], p["condition"])
        ]
        changed = not active if p["state"] == "raised" else bool(active)
        if module.check_mode or (p["state"] == "cleared" and not active):
            module.exit_json(changed=changed, queued=False, **({"alarm": active[0]} if active else {}))
        body = {
            "alarmedObject": {"device": p["device"], "type": p["object_type"], "name": p["object_name"]},
            "condition": p["condition"],
            "state": p["state"],
            "perceivedSeverity": p["severity"],
            "alarmType": p["alarm_type"],
            "probableCause": p["probable_cause"],
            "specificProblem": p["specific_problem"],
            "sourceSystemId": "ansible",
        }
        status, answer = client.alarm(body)
    except PortalError as exc:
        module.fail_json(msg=str(exc))
    if status == 202:
        module.exit_json(changed=changed, queued=True, msg="queued: the fault processor has not applied it yet")
    module.exit_json(changed=changed, queued=False, alarm=answer)


KEYS = ("device", "object_type", "object_name", "condition", "state", "severity", "alarm_type", "probable_cause",
        "specific_problem")  # fmt: skip


def batch(module, spec):
    """Raise and clear the alarms of ``alarms`` in one call."""
    p = module.params
    events, wanted = [], {}
    for i, item in enumerate(p["alarms"]):
        unknown = set(item) - set(KEYS)
        if unknown:
            module.fail_json(
                msg="alarms[%d]: unknown keys %s (known: %s)" % (i, ", ".join(sorted(unknown)), ", ".join(KEYS))
            )
        a = {k: item.get(k, spec[k].get("default")) for k in KEYS}
        for k in ("device", "condition"):
            if not a[k]:
                module.fail_json(msg="alarms[%d]: %s is required" % (i, k))
        for k in ("object_type", "state", "severity", "alarm_type"):
            if a[k] not in spec[k]["choices"]:
                module.fail_json(
                    msg="alarms[%d]: %s must be one of %s, not %r" % (i, k, ", ".join(spec[k]["choices"]), a[k])
                )
        key = "%s|%s:%s|%s" % (a["device"], a["object_type"], a["object_name"] or "", a["condition"])
        wanted[key] = a["state"]
        events.append(
            {
                "source": p["source"],
                "action": "raise" if a["state"] == "raised" else "clear",
                "device": a["device"],
                "object_type": a["object_type"],
                "object_name": a["object_name"] or "",
                "condition": a["condition"],
                "severity": a["severity"],
                "alarm_type": a["alarm_type"],
                "probable_cause": a["probable_cause"],
                "specific_problem": a["specific_problem"] or "",
            }
        )
    try:
        client = client_from_params(p)
        active = set()
        for device in sorted({a["device"] for a in events}):
            active.update(x["netoss"]["fingerprint"] for x in client.active_alarms(device))
        raised = sum(1 for k, state in wanted.items() if state == "raised" and k not in active)
        cleared = sum(1 for k, state in wanted.items() if state == "cleared" and k in active)
        # Clears of alarms that are not active are not sent: nothing to clear.
        send = [e for e in events if e["action"] == "raise" or "%s|%s:%s|%s" % (
            e["device"], e["object_type"], e["object_name"], e["condition"]) in active]  # fmt: skip
        if module.check_mode or not send:
            module.exit_json(changed=bool(raised or cleared), raised=raised, cleared=cleared, queued=False)
        answer = {"accepted": 0, "rejected": []}
        for i in range(0, len(send), 1000):
            part = client.events(send[i : i + 1000])
            answer["accepted"] += part.get("accepted", 0)
            answer["rejected"] += part.get("rejected") or []
    except PortalError as exc:
        module.fail_json(msg=str(exc))
    if answer["rejected"]:
        module.fail_json(
            msg="the portal refused %d alarm(s): %s" % (len(answer["rejected"]), answer["rejected"][0]["detail"])
        )
    module.exit_json(changed=bool(raised or cleared), raised=raised, cleared=cleared, queued=True)


if __name__ == "__main__":
    main()
