#!/usr/bin/python
# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: compliance_record
short_description: Record a compliance run in the portal (history, alarms, tickets)
version_added: 0.6.0
description:
  - Sends the run returned by M(netoss.core.config_compliance) to the portal, which keeps the
    history per device and feature and draws the reports.
  - The portal raises an alarm for each device and feature that is not compliant (condition
    C(compliance:<feature>), the feature's severity), which opens a ticket as any alarm does,
    and clears the alarms of the features that are compliant again, which resolves the ticket.
author: netoss contributors (!UNKNOWN)
extends_documentation_fragment:
  - netoss.core.portal
options:
  run:
    description: The C(run) returned by M(netoss.core.config_compliance).
    type: dict
    required: true
attributes:
  check_mode:
    support: full
    description: In check mode nothing is sent.
"""

EXAMPLES = r"""
- name: Record the run in the portal
  netoss.core.compliance_record:
    run: "{{ compliance_result.run }}"
  run_once: true
  delegate_to: localhost
"""

RETURN = r"""
id:
  description: The portal's id of the run.
  returned: success, not in check mode
  type: int
href:
  description: The run's report in the portal.
  returned: success, not in check mode
  type: str
alarms:
  description: What the portal did with alarms (raised and cleared counts, or why it could not queue them).
  returned: success, not in check mode
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netoss.core.plugins.module_utils.portal_client import (
    PORTAL_ARG_SPEC,
    PortalError,
    client_from_params,
)


def main():
    spec = dict(PORTAL_ARG_SPEC)
    spec.update(run={"type": "dict", "required": True})
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    run = module.params["run"]
    for key in ("devices", "summary", "policy"):
        if key not in run:
            module.fail_json(msg="run: no %r (pass the run returned by netoss.core.config_compliance)" % key)
    if module.check_mode:
        module.exit_json(
            changed=False, msg="check mode: the run of %d device(s) was not recorded" % len(run["devices"])
        )
    try:
        answer = client_from_params(module.params).compliance_run(run)
    except PortalError as exc:
        module.fail_json(msg="recording the compliance run failed: %s" % exc)
    alarms = answer.get("alarms") or {}
    module.exit_json(
        changed=True,
        id=answer.get("id"),
        href=answer.get("href"),
        alarms=alarms,
        msg="compliance run %s recorded (%s%% compliant); alarms: %s"
        % (
            answer.get("id"),
            run["summary"].get("percent"),
            ", ".join("%s %s" % (v, k) for k, v in alarms.items()) or "none",
        ),
    )


if __name__ == "__main__":
    main()
