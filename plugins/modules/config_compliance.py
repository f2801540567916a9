#!/usr/bin/python
# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: config_compliance
short_description: Check devices' configurations against the compliance policy
version_added: 0.6.0
description:
  - Checks each device's configuration against the compliance policy (a directory of YAML
    files, C(compliance/) in the repository), that is every rule of every feature for the device's
    platform, minus the exceptions in force.
  - For each (device, rule) it returns compliant or not, the missing and extra lines, the
    remediation commands and an ordered diff.
  - The configurations are the running ones read by M(netoss.core.config_backup) (O(configs),
    a live check) or the files of the backup repository (O(backups), an offline check of a
    whole fleet, on a process pool).
  - A configuration that cannot be parsed (unknown syntax, missing) is reported for that
    device, whose status is C(error), and the others go on.
  - Writes the run as JSON into O(report_dir) and, with O(record), the compliance status and
    check time of every device into NetBox's custom fields.
  - Runs on the controller, once for all the devices (C(run_once), delegated to localhost).
author: netoss contributors (!UNKNOWN)
extends_documentation_fragment:
  - netoss.core.netbox
options:
  policy:
    description: The policy directory (or one policy file).
    type: path
    required: true
  devices:
    description:
      - The devices to check, each with C(name), C(platform) (NetBox slug) and C(tags).
      - Optionally C(site) and C(role) (NetBox slugs), kept in the run's devices so that the
        portal's lists filter by them.
    type: list
    elements: dict
    required: true
  configs:
    description:
      - Running configurations by device name (a live check). Mutually exclusive with O(backups).
    type: dict
  backups:
    description:
      - Directory of configuration files C(<name>.cfg) (the backup repository, for an offline check).
    type: path
  intended:
    description:
      - Directory of the intended configurations C(<name>.cfg) rendered from NetBox; needed by
        section rules.
    type: path
  source:
    description: What the run is called in reports (C(live) or C(backup)); derived when omitted.
    type: str
    choices: [live, backup]
  workers:
    description: Processes for an offline check (default the CPUs, at most 8).
    type: int
  report_dir:
    description:
      - Where to write the run as C(<timestamp>.json) and C(latest.json). Nothing written when omitted.
    type: path
  record:
    description:
      - Write C(netoss_compliance_status) and C(netoss_compliance_checked) of every device to NetBox.
    type: bool
    default: false
  job:
    description: The portal job that runs the check (recorded with the run).
    type: str
requirements:
  - netutils
  - hier_config
attributes:
  check_mode:
    support: full
    description: Checks in check mode too; writes nothing to NetBox in check mode.
"""

EXAMPLES = r"""
- name: Check the running configurations read just before
  netoss.core.config_compliance:
    policy: "{{ playbook_dir }}/../compliance"
    devices: [{name: pe1, platform: frr, tags: []}]
    configs: {pe1: "{{ running.config }}"}
    intended: "{{ netoss_state_dir }}/rendered"
  run_once: true
  delegate_to: localhost

- name: Check the whole fleet offline, from the backups
  netoss.core.config_compliance:
    policy: compliance
    devices: "{{ fleet }}"
    backups: .state/backups
    intended: .state/rendered
    workers: 2
  run_once: true
  delegate_to: localhost
"""

RETURN = r"""
summary:
  description:
    - Counts by status (devices, device-feature pairs, per feature), the compliance percentage
      and the expired exceptions.
  returned: success
  type: dict
devices:
  description: Per device, its status, the status of each feature and the details of the rules that are not compliant.
  returned: success
  type: list
  elements: dict
non_compliant:
  description: The devices with at least one non-compliant feature.
  returned: success
  type: list
  elements: str
errors:
  description: The devices that could not be checked, with the reason.
  returned: success
  type: dict
run:
  description: The whole run (policy features, times, summary, devices) as the portal records it.
  returned: success
  type: dict
report:
  description: The JSON report written.
  returned: when report_dir is set
  type: str
"""

import datetime
import json
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netoss.core.plugins.module_utils.files import read, write_if_changed
from ansible_collections.netoss.core.plugins.module_utils.netbox_client import NETBOX_ARG_SPEC, api_from_params
from ansible_collections.netoss.core.plugins.module_utils.schema_files import require_schema_libraries


def _status_for_netbox(status):
    return {"compliant": "compliant", "exempt": "compliant", "non-compliant": "non-compliant"}.get(status, "unknown")


def main():
    spec = dict(NETBOX_ARG_SPEC)
    spec.update(
        policy={"type": "path", "required": True},
        devices={"type": "list", "elements": "dict", "required": True},
        configs={"type": "dict"},
        backups={"type": "path"},
        intended={"type": "path"},
        source={"type": "str", "choices": ["live", "backup"]},
        workers={"type": "int"},
        report_dir={"type": "path"},
        record={"type": "bool", "default": False},
        job={"type": "str"},
    )
    module = AnsibleModule(
        argument_spec=spec,
        mutually_exclusive=[("configs", "backups")],
        required_one_of=[("configs", "backups")],
        supports_check_mode=True,
    )
    p = module.params
    require_schema_libraries(module)
    try:
        from ansible_collections.netoss.core.plugins.module_utils import compliance
        from ansible_collections.netoss.core.plugins.module_utils.compliance_policy import PolicyError, load_policy
    except ImportError as exc:
        module.fail_json(msg="netoss.core.config_compliance needs netutils and hier_config: %s" % exc)

    devices = []
    for i, d in enumerate(p["devices"]):
        name, platform = d.get("name"), d.get("platform")
        if not isinstance(name, str) or not name:
            module.fail_json(msg="devices[%d]: no name" % i)
        if not isinstance(platform, str):
            module.fail_json(msg="devices[%d] %s: no platform (set the device's platform in NetBox)" % (i, name))
        devices.append(compliance.Device(name, platform, tuple(d.get("tags") or ())))
    try:
        policy = load_policy(p["policy"])
    except PolicyError as exc:
        module.fail_json(msg=str(exc), problems=[str(x) for x in exc.problems])
    if p["backups"] and not os.path.isdir(p["backups"]):
        module.fail_json(msg="backups: no directory %s (run the backup job first)" % p["backups"])

    started = datetime.datetime.now(datetime.timezone.utc)
    if p["configs"] is not None:
        texts = {d.name: read(os.path.join(p["intended"], d.name + ".cfg")) for d in devices if p["intended"]}
        intended = {name: text for name, text in texts.items() if text is not None}
        results = compliance.check_texts(policy, devices, p["configs"], intended)
    else:
        results = compliance.check_fleet(policy, devices, p["backups"], p["intended"], workers=p["workers"])
    finished = datetime.datetime.now(datetime.timezone.utc)

    summary = compliance.summarize(results, policy)
    run = {
        "source": p["source"] or ("live" if p["configs"] is not None else "backup"),
        "job_id": int(p["job"]) if p["job"] and p["job"].isdigit() else None,
        "started_at": started.isoformat(),
        "finished_at": finished.isoformat(),
        "policy": {
            "path": policy.path,
            "features": [
                {"name": f.name, "description": f.description, "severity": f.severity} for f in policy.features
            ],
        },
        "summary": summary,
        "devices": [r.as_dict() for r in results],
    }
    where = {d.get("name"): d for d in p["devices"]}
    for entry in run["devices"]:
        for key in ("site", "role"):
            value = where.get(entry["device"], {}).get(key)
            if isinstance(value, str) and value:
                entry[key] = value
    for warning in summary["expired_exceptions"]:
        module.warn(warning)

    report = None
    if p["report_dir"] and not module.check_mode:
        report = os.path.join(p["report_dir"], started.strftime("%Y%m%dT%H%M%SZ") + ".json")
        text = json.dumps(run, indent=1)
        for path in (report, os.path.join(p["report_dir"], "latest.json")):
            write_if_changed(path, text)

    changed = False
    if p["record"] and not module.check_mode and results:
        from ansible_collections.netoss.core.plugins.module_utils.netbox_records import set_custom_fields

        checked = finished.replace(microsecond=0).isoformat()
        try:
            set_custom_fields(
                api_from_params(p),
                {
                    r.device: {
                        "netoss_compliance_status": _status_for_netbox(r.status),
                        "netoss_compliance_checked": checked,
                    }
                    for r in results
                },
            )
            changed = True
        except Exception as exc:  # NetboxError, RecordError, pynetbox's RequestError
            module.fail_json(msg="compliance checked, but recording it in NetBox failed: %s" % exc, run=run)

    bad = [r.device for r in results if r.status == "non-compliant"]
    errors = {
        r.device: r.error
        or "; ".join("%s/%s: %s" % (x.feature, x.rule, x.message) for x in r.rules if x.status == "error")
        for r in results
        if r.status == "error"
    }
    parts = ["%s%% compliant: %d device(s) checked" % (summary["percent"], len(results))]
    for r in results:
        wrong = [f for f, s in r.features().items() if s == "non-compliant"]
        if wrong:
            parts.append("%s not compliant with %s" % (r.device, ", ".join(wrong)))
    parts += ["%s could not be checked: %s" % (d, e) for d, e in errors.items()]
    module.exit_json(
        changed=changed,
        summary=summary,
        devices=run["devices"],
        non_compliant=bad,
        errors=errors,
        run=run,
        report=report,
        msg="; ".join(parts),
    )


if __name__ == "__main__":
    main()
