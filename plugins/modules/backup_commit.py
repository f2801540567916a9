#!/usr/bin/python
# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: backup_commit
short_description: Store configuration backups in git, one commit per changed device, and record them in NetBox
version_added: 0.2.0
description:
  - Writes each device's configuration to C(<repo>/<device>.cfg) and commits every changed
    device on its own, with the job and the time in the message, so C(git log -p -- pe1.cfg)
    is that device's history. Creates the repository when it does not exist.
  - Sets the NetBox custom field C(netoss_last_backup) of every device backed up, and writes
    a journal entry on each device whose configuration changed (with the commit and the
    diff). NetBox writes are bulk requests.
  - Run it once per play (C(run_once)) on the controller, after M(netoss.core.config_backup).
author: netoss contributors (!UNKNOWN)
extends_documentation_fragment:
  - netoss.core.netbox
options:
  repo:
    description:
      - Path of the git repository of backups.
    type: path
    required: true
  backups:
    description:
      - The configuration of each device, by device name.
    type: dict
    required: true
  job:
    description:
      - The job that took the backup, for the commit message and the journal.
    type: str
    default: cli
  record:
    description:
      - Record the backup time and the changes in NetBox.
    type: bool
    default: true
  last_backup_field:
    description:
      - Name of the device custom field (type datetime) that holds the last backup time.
    type: str
    default: netoss_last_backup
requirements:
  - git
  - pynetbox
attributes:
  check_mode:
    support: full
    description: Reports which devices changed; writes and commits nothing.
  diff_mode:
    support: none
    description: Returns no diff.
"""

EXAMPLES = r"""
- name: Commit the backups
  netoss.core.backup_commit:
    repo: "{{ playbook_dir }}/../.state/backups"
    backups: >-
      {{ dict(ansible_play_hosts | zip(ansible_play_hosts | map('extract', hostvars, ['running', 'config']))) }}
    job: "{{ lookup('ansible.builtin.env', 'NETOSS_JOB_ID', default='cli') }}"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
devices:
  description: By device - changed, first, added, removed, commit.
  returned: always
  type: dict
  sample: {"pe1": {"changed": true, "first": false, "added": 1, "removed": 0, "commit": "3f2a9c1"}}
changed_devices:
  description: Devices whose configuration changed.
  returned: always
  type: list
  elements: str
"""

import contextlib
import datetime

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netoss.core.plugins.module_utils.backup_repo import (
    BackupRepoError,
    as_owner,
    ensure,
    locked,
    store,
)
from ansible_collections.netoss.core.plugins.module_utils.netbox_client import (
    NETBOX_ARG_SPEC,
    api_from_params,
)
from ansible_collections.netoss.core.plugins.module_utils.netbox_records import (
    journal,
    set_custom_fields,
)

DIFF_LINES = 60


def _entry(device, job, result):
    if result["first"]:
        head = "**config-backup** (job %s): first backup, commit %s" % (job, result["commit"])
        return {"device": device, "kind": "info", "comments": head}
    lines = result["diff"].splitlines()
    body = "\n".join(lines[4 : 4 + DIFF_LINES])  # skip the diff header
    more = "\n… %d more lines" % (len(lines) - 4 - DIFF_LINES) if len(lines) > 4 + DIFF_LINES else ""
    head = "**config-backup** (job %s): the configuration changed (+%d -%d), commit %s" % (
        job,
        result["added"],
        result["removed"],
        result["commit"],
    )
    return {"device": device, "kind": "warning", "comments": "%s\n\n```diff\n%s%s\n```" % (head, body, more)}


def main():
    spec = dict(NETBOX_ARG_SPEC)
    spec.update(
        repo={"type": "path", "required": True},
        backups={"type": "dict", "required": True},
        job={"type": "str", "default": "cli"},
        record={"type": "bool", "default": True},
        last_backup_field={"type": "str", "default": "netoss_last_backup"},
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    results = {}
    for device in sorted(p["backups"]):
        text = p["backups"][device]
        if not isinstance(text, str) or not text.strip():
            module.fail_json(msg="%s: no configuration to store (did its backup task fail?)" % device)

    def work():
        done = {}
        with locked(p["repo"]) if not module.check_mode else contextlib.nullcontext():
            if not module.check_mode:
                ensure(p["repo"])
            for device in sorted(p["backups"]):
                done[device] = store(p["repo"], device, p["backups"][device], p["job"], stamp, module.check_mode)
        return done

    try:
        # root's playbook on a repository of the jobs' account: git runs as its owner
        results = as_owner(p["repo"], work)
    except (BackupRepoError, OSError) as exc:
        module.fail_json(msg=str(exc), devices=results)
    changed = [d for d, r in results.items() if r["changed"]]
    if p["record"] and not module.check_mode and results:
        try:
            api = api_from_params(p)
            set_custom_fields(api, {d: {p["last_backup_field"]: now.isoformat()} for d in results})
            journal(api, [_entry(d, p["job"], results[d]) for d in changed])
        except Exception as exc:  # NetboxError, RecordError, pynetbox's RequestError
            module.fail_json(msg="backups committed, but recording them in NetBox failed: %s" % exc, devices=results)
    for r in results.values():
        r.pop("diff", None)
    msg = "%d device(s) backed up, %d changed%s" % (
        len(results),
        len(changed),
        (": " + ", ".join(changed)) if changed else "",
    )
    module.exit_json(changed=bool(changed), devices=results, changed_devices=changed, msg=msg)


if __name__ == "__main__":
    main()
