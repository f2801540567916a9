#!/usr/bin/python
# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: sot_apply
short_description: Plan the intent against NetBox and apply the plan through NetBox's bulk endpoints
version_added: 0.2.0
description:
  - Plans like M(netoss.core.sot_plan) (NetBox read in bulk, only what differs, the managed tag,
    prune and its limit), then writes the plan with one request per chunk of objects of a kind
    (POST to create, PATCH to update, DELETE to delete), in the order the C(netbox.netbox)
    modules would apply the objects one by one.
  - References are resolved to NetBox IDs from what the plan read and what was just created.
    An object that exists in NetBox without the managed tag is adopted (updated and tagged),
    as the C(netbox.netbox) modules do, not created twice.
  - A chunk NetBox refuses is written object by object, so what NetBox accepts is written and
    each refusal is named, with its intent file and entry when O(path) is given. The apply then
    stops before the next kind and fails, saying what was written and what was not; a rerun
    plans and writes what is missing.
  - In check mode nothing is written; the result is the plan, with C(--diff) field by field.
author: netoss contributors (!UNKNOWN)
extends_documentation_fragment:
  - netoss.core.netbox
  - netoss.core.sot_plan
options:
  path:
    description:
      - The intent (a directory of C(*.yml) files, or one file). Without O(objects) it is loaded
        and validated here, as M(netoss.core.sot_intent) does (nothing is written when it is
        invalid, and every problem is named); with O(objects) it only names the file and entry
        of an object NetBox refuses.
      - One of O(path) and O(objects) is required.
    type: path
  objects:
    description:
      - The C(objects) returned by M(netoss.core.sot_intent), instead of loading O(path) here.
        At fleet size passing O(path) alone is faster (the payloads do not travel through Ansible).
    type: dict
  chunk_size:
    description:
      - How many objects of a kind one request writes.
    type: int
    default: 500
requirements:
  - pynetbox
attributes:
  check_mode:
    support: full
    description: In check mode it plans and writes nothing.
  diff_mode:
    support: full
    description: One before/after entry per object that changes.
"""

EXAMPLES = r"""
- name: Load and validate the intent
  netoss.core.sot_intent:
    path: /srv/netoss/intent
  register: intent

- name: Apply it to NetBox
  netoss.core.sot_apply:
    objects: "{{ intent.objects }}"
    path: /srv/netoss/intent

- name: Load, validate, plan and apply an intent in one step
  netoss.core.sot_apply:
    path: /srv/netoss/intent
"""

RETURN = r"""
read:
  description: How NetBox was read for the plan (in full, or incrementally from the change log, and why).
  returned: always
  type: str
  sample: "incremental: 1 changes, 1 objects read again"
cache:
  description: How the plan cache was brought up to date with what was written (O(incremental)).
  returned: when something was written and O(incremental) is on
  type: str
  sample: "incremental: 1 changes, 1 objects read again"
intent:
  description: With O(path) alone, the loaded intent's summary.
  returned: when the intent was loaded here
  type: str
  sample: "intent OK (12 files in /srv/intent): 20 sites, 1000 devices, 10000 interfaces, 4520 ip_addresses"
problems:
  description: With O(path) alone, every problem of an invalid intent (file, where, message).
  returned: failed
  type: list
  elements: dict
msg:
  description: The plan's summary, and what was written.
  returned: always
  type: str
  sample: "Plan: 10 to create, 1 to update, 0 to delete (4268 unchanged). Written in 4 request(s) (0.8 s)."
counts:
  description: How many objects are created, updated, deleted and left unchanged.
  returned: always
  type: dict
  sample: {"create": 10, "update": 1, "delete": 0, "unchanged": 4268}
changes:
  description: One entry per object that changes, with its action and changed fields (NetBox's value, the intent's).
  returned: success
  type: list
  elements: dict
  sample: [{"action": "update", "kind": "devices", "object": "edge-1", "fields": {"description": ["", "Edge"]}}]
written:
  description: How many objects of each kind were created, updated and deleted.
  returned: when not in check mode
  type: dict
  sample: {"create": {"devices": 10}, "update": {"devices": 1}, "delete": {}}
failed_objects:
  description: The objects NetBox refused, each with its kind, action, name, intent file and entry, and NetBox's reason.
  returned: failed
  type: list
  elements: dict
  sample:
    - kind: devices
      action: create
      object: edge-1
      origin: "30-devices.yml: devices[0] 'edge-1'"
      error: '{"name": ["Device name must be unique per site."]}'

requests:
  description: How many write requests were sent to NetBox.
  returned: when not in check mode
  type: int
  sample: 4
managed:
  description: How many objects carrying the managed tag NetBox held before the run.
  returned: always
  type: int
  sample: 4279
would_delete:
  description: When the plan is refused for deleting too much, by kind, what it would delete (20 per kind at most).
  returned: failed
  type: dict
  sample: {"devices": ["edge-1", "edge-2"]}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netoss.core.plugins.module_utils.netbox_client import (
    NETBOX_ARG_SPEC,
)
from ansible_collections.netoss.core.plugins.module_utils.sot_apply import ApplyError, apply
from ansible_collections.netoss.core.plugins.module_utils.sot_plan import (
    PLAN_ARG_SPEC,
    cache_dir_of,
    diffs,
    fetch_cached,
    run_or_fail,
)


def _origin_of(path):
    """origin(kind, payload) naming the intent file and entry of an object, read on demand."""
    found = {}

    def origin(kind, payload):
        if path is None:
            return None
        if "index" not in found:
            from ansible_collections.netoss.core.plugins.module_utils.intent_load import load_intent
            from ansible_collections.netoss.core.plugins.module_utils.intent_payloads import origins

            try:
                found["index"] = origins(load_intent(path))
            except Exception:  # the intent changed since it was loaded: no origin, the object still named
                found["index"] = {}
        from ansible_collections.netoss.core.plugins.module_utils.intent_payloads import identity

        return found["index"].get((kind, identity(kind, payload)))

    return origin


def _load(module, path, managed_tag, cache_dir):
    """The intent in ``path`` loaded and validated (the module fails naming every problem), or
    its payloads as kept from the last run for the same files (sot_plan_cache.intent_objects)."""
    from ansible_collections.netoss.core.plugins.module_utils.intent_load import load_intent
    from ansible_collections.netoss.core.plugins.module_utils.intent_payloads import build_netbox_objects, summary
    from ansible_collections.netoss.core.plugins.module_utils.intent_schema import IntentError
    from ansible_collections.netoss.core.plugins.module_utils.schema_files import require_schema_libraries
    from ansible_collections.netoss.core.plugins.module_utils.sot_plan_cache import intent_objects

    require_schema_libraries(module)

    def build(known_valid):
        intent = load_intent(path, known_valid)
        objects = build_netbox_objects(intent, managed_tag=managed_tag)
        return objects, summary(objects, intent.files, path), intent.valid

    try:
        objects, said, _kept = intent_objects(path, managed_tag, cache_dir, build)
    except IntentError as error:
        problems = [dict(file=e.file, where=e.where, message=e.message) for e in error.problems]
        module.fail_json(msg=str(error), problems=problems)
    return {"objects": objects, "intent": said}


def main():
    spec = dict(NETBOX_ARG_SPEC, **PLAN_ARG_SPEC)
    spec.update(objects={"type": "dict"}, path={"type": "path"}, chunk_size={"type": "int", "default": 500})
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True, required_one_of=[("path", "objects")])
    p = module.params
    loaded = {}
    if p["objects"] is None:
        loaded = _load(module, p["path"], p["managed_tag"], cache_dir_of(p))
        p["objects"] = loaded.pop("objects")
    if not 1 <= p["chunk_size"] <= 1000:
        module.fail_json(msg="chunk_size must be from 1 to 1000 objects, got %d" % p["chunk_size"])
    api, records, result, msg, managed = run_or_fail(module)
    out = dict(counts=result["counts"], changes=result["changes"], msg=msg, managed=managed, **loaded)
    out["read"] = result["read"]
    out["changed"] = bool(result["changes"])
    if module._diff:
        out["diff"] = diffs(result["changes"])
    if module.check_mode or not result["changes"]:
        module.exit_json(**out)
    try:
        origin = _origin_of(p["path"])
        done = apply(api, records, result, objects=p["objects"], chunk=p["chunk_size"], origin=origin, log=module.log)
    except ApplyError as exc:
        module.fail_json(
            msg="%s. %s" % (msg, exc),
            written=exc.result["written"],
            failed_objects=exc.result["failed"],
            requests=exc.result["requests"],
            **{k: v for k, v in out.items() if k not in ("msg", "changed")},
        )
    out.update(written=done["written"], requests=done["requests"])
    out["msg"] = "%s. Written in %d request(s) (%.1f s)." % (msg, done["requests"], done["seconds"])
    if cache_dir_of(p):  # what was just written folded into the cache: the next run reads only what changes after
        try:
            out["cache"] = fetch_cached(api, p["managed_tag"], cache_dir_of(p))[1]
        except Exception as exc:  # written all the same; the next run reads NetBox in full
            out["cache"] = "not brought up to date after the writes: %s" % exc
    module.exit_json(**out)


if __name__ == "__main__":
    main()
