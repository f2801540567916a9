# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The sot_sync plan: what NetBox lacks, what differs and what must go, before any write.

Like a `terraform plan`: NetBox is read in bulk (one listing per kind), each payload of the
intent is compared with the object it describes, and only the objects that must change are
handed to the netbox.netbox modules. A run with nothing to do costs a few listings instead
of one module run per object, and check mode shows the exact changes (and works on an
empty NetBox, where the modules cannot resolve references to objects not created yet).

Only objects carrying the managed tag are compared and deleted: an object that exists
without the tag is planned as a create, and the netbox.netbox module adopts it (finds it,
updates it and tags it). Objects without the tag are never deleted.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.netoss.core.plugins.module_utils import sot_plan_cache as plan_cache
from ansible_collections.netoss.core.plugins.module_utils.intent_payloads import (
    MODULE_FOR_KIND,
    NETBOX_ENDPOINT_FOR_KIND,
    absent_payload,
    identity,
    netbox_identity,
)
from ansible_collections.netoss.core.plugins.module_utils.netbox_client import (
    BRANCH_HEADER,
    GraphqlError,
    NetboxError,
    api_from_params,
    graphql_list,
    read_lists,
)
from ansible_collections.netoss.core.plugins.module_utils.netbox_client import endpoint as netbox_endpoint

# Kinds NetBox cannot tag: read whole (they are few) and never deleted.
UNTAGGED_ENDPOINTS = {
    "tags": "extras.tags",
    "custom_field_choice_sets": "extras.custom_field_choice_sets",
    "custom_fields": "extras.custom_fields",
    "config_contexts": "extras.config_contexts",
    # Not taggable by netbox.netbox; NetBox deletes them with their circuit.
    "circuit_terminations": "circuits.circuit_terminations",
}

# The fields the plan reads of the big kinds (NetBox's REST ``fields=``): what normalize,
# the identities and the bulk apply use. NetBox then serialises no cable path, peer or
# counter it does not need: several times faster on interfaces and addresses.
PLAN_FIELDS = {
    "devices": "id,name,description,status,tenant,site,platform,device_type,role,primary_ip4,tags",
    "interfaces": "id,name,label,description,enabled,mgmt_only,mtu,type,device,tags,cable",
    "ip_addresses": "id,address,status,role,dns_name,description,tags,assigned_object,vrf",
    "cables": "id,status,label,description,tags,a_terminations,b_terminations",
    "prefixes": "id,prefix,status,is_pool,description,tenant,role,scope_type,scope,tags,vrf",
    "circuits": "id,cid,status,commit_rate,description,provider,type,tenant,tags",
    "circuit_terminations": "id,circuit,term_side,termination_type,termination,cable",
}

_MISSING = object()


def _ref(value, key="slug"):
    """A nested NetBox object as the intent names it (its slug, or name)."""
    if value is None:
        return None
    return value.get(key) if isinstance(value, dict) else value


def _choice(value):
    return value.get("value") if isinstance(value, dict) else value


def _end(terminations):
    obj = (terminations[0].get("object") or {}) if terminations else {}
    if obj.get("circuit"):
        return {"circuit": _ref(obj["circuit"], "cid"), "term_side": obj.get("term_side")}
    return {"device": (obj.get("device") or {}).get("name"), "name": obj.get("name")}


def normalize(kind, record):
    """A NetBox REST record of ``kind`` in the shape of the intent's payload for it."""
    r = dict(record)
    out = {
        k: r[k]
        for k in ("name", "slug", "model", "asn", "prefix", "address", "label", "description", "cid", "term_side")
        if k in r
    }
    for key in ("color", "is_private", "is_pool", "is_active", "required", "enabled", "mgmt_only", "mtu"):
        if key in r:
            out[key] = r[key]
    for key in ("u_height", "time_zone", "dns_name", "data", "object_types", "extra_choices", "commit_rate", "weight"):
        if key in r:
            out[key] = r[key]
    for key in ("status", "type"):
        if key in r:
            out[key] = _choice(r[key])
    for key in ("tenant", "rir", "manufacturer", "site", "platform", "device_type", "provider"):
        if key in r:
            out[key] = _ref(r[key])
    if "tags" in r and kind != "config_contexts":
        out["tags"] = sorted(_ref(t) for t in r["tags"] or [])
    if kind == "custom_fields":
        out["choice_set"] = _ref(r.get("choice_set"), "name")
    elif kind == "config_contexts":
        out["weight"] = r.get("weight")
        for key in ("roles", "platforms", "sites", "tenants"):
            out[key] = sorted(_ref(p) for p in r.get(key) or [])
    elif kind == "prefixes":
        out["scope_type"] = r.get("scope_type")
        out["scope"] = _ref(r.get("scope"))
        out["prefix_role"] = _ref(r.get("role"))
    elif kind == "devices":
        out["device_role"] = _ref(r.get("role"))
        primary = r.get("primary_ip4")
        out["primary_ip4"] = primary.get("address") if isinstance(primary, dict) else primary
    elif kind == "interfaces":
        out["device"] = _ref(r.get("device"), "name")
    elif kind == "ip_addresses":
        role = r.get("role")
        out["role"] = role.get("label") if isinstance(role, dict) else role
        assigned = r.get("assigned_object") or {}
        device = (assigned.get("device") or {}).get("name")
        out["assigned_object"] = {"device": device, "name": assigned.get("name")} if device else None
    elif kind == "circuits":
        out["circuit_type"] = _ref(r.get("type"))
    elif kind == "circuit_terminations":
        out["circuit"] = _ref(r.get("circuit"), "cid")
        out["site"] = _ref(r.get("termination")) if r.get("termination_type") == "dcim.site" else None
    elif kind == "cables":
        for side in ("a", "b"):
            terminations = r.get("%s_terminations" % side) or []
            out["termination_%s_type" % side] = terminations[0].get("object_type") if terminations else None
            out["termination_%s" % side] = _end(terminations)
    return out


def _same(key, wanted, actual):
    if key in ("tags", "roles", "platforms", "sites", "tenants", "object_types"):
        return sorted(wanted or []) == sorted(actual or [])
    if key == "extra_choices":
        return [list(c) for c in wanted or []] == [list(c) for c in actual or []]
    if key == "description" and wanted is None:
        return actual in ("", None)
    return wanted == actual


def differences(kind, payload, record):
    """{key: (NetBox's value, the intent's value)} for every payload key that differs."""
    current = normalize(kind, record)
    changed = {}
    for key, wanted in payload.items():
        actual = current.get(key, _MISSING)
        if actual is _MISSING or not _same(key, wanted, actual):
            changed[key] = (None if actual is _MISSING else actual, wanted)
    return changed


def label(kind, payload):
    """A short human name for an object of ``kind``: pe1, pe1:eth1, 198.19.0.0/31 on p1:eth1..."""
    key = identity(kind, payload)
    if kind == "interfaces":
        return "%s:%s" % key
    if kind == "ip_addresses":
        return "%s on %s:%s" % key if key[1] else key[0]
    if kind == "cables":
        return "%s:%s <> %s:%s" % key
    if kind == "circuit_terminations":
        return "circuit %s side %s" % key
    return str(key[0])


def plan(records_by_kind, objects):
    """Compare the intent's payloads (``objects``, from build_netbox_objects) with NetBox.

    ``records_by_kind`` maps each kind to the NetBox records read for it (tagged records for
    taggable kinds, all records for the others; ``devices`` also serves ``device_primary_ips``).
    Returns a dict with ``apply`` (kind -> payloads to create or update, in apply order),
    ``delete`` (kind -> absent-payloads, in delete order), ``changes`` (one entry per object
    with its action and changed fields) and ``counts``.
    """
    apply, delete, changes = {}, {}, []
    counts = {"create": 0, "update": 0, "delete": 0, "unchanged": 0}
    for kind in MODULE_FOR_KIND:
        source = "devices" if kind == "device_primary_ips" else kind
        existing = {netbox_identity(source, r): r for r in records_by_kind.get(source, [])}
        apply[kind] = []
        for payload in objects.get(kind, []):
            record = existing.get(identity(kind, payload))
            if record is None:
                action, fields = "create", {k: (None, v) for k, v in payload.items()}
            else:
                fields = differences(source, payload, record)
                action = "update" if fields else "unchanged"
            counts[action] += 1
            if action != "unchanged":
                apply[kind].append(payload)
                changes.append({"action": action, "kind": kind, "object": label(kind, payload), "fields": fields})
    for kind in reversed(list(MODULE_FOR_KIND)):
        if kind not in NETBOX_ENDPOINT_FOR_KIND:
            continue
        wanted = {identity(kind, p) for p in objects.get(kind, [])}
        stale = [r for r in records_by_kind.get(kind, []) if netbox_identity(kind, r) not in wanted]
        delete[kind] = sorted((absent_payload(kind, r) for r in stale), key=repr)
        for payload in delete[kind]:
            counts["delete"] += 1
            changes.append({"action": "delete", "kind": kind, "object": _stale_label(kind, payload), "fields": {}})
    return {"apply": apply, "delete": delete, "changes": changes, "counts": counts}


def _stale_label(kind, payload):
    try:
        return label(kind, payload)
    except (KeyError, TypeError):
        return str(payload)


def diffs(changes):
    """Ansible ``diff`` entries (before/after per object) for --diff output."""
    out = []
    for change in changes:
        head = "%s %s" % (change["kind"], change["object"])
        before = {k: old for k, (old, _new) in change["fields"].items() if old is not None}
        after = {k: new for k, (_old, new) in change["fields"].items()}
        if change["action"] == "delete":
            before, after = {"state": "present"}, {"state": "absent"}
        out.append(
            {
                "before_header": "%s (NetBox)" % head,
                "after_header": "%s (intent)" % head,
                "before": before,
                "after": after,
            }
        )
    return out


def fetch(api, managed_tag):
    """Read what the plan compares against: tagged objects of each taggable kind, all of the
    others (the lists read concurrently, netbox_client.read_lists)."""
    # NetBox answers 400 to a filter on a tag it does not have: then nothing is managed yet.
    tags = [dict(t) for t in netbox_endpoint(api, UNTAGGED_ENDPOINTS["tags"]).all()]
    tag_exists = any(t.get("slug") == managed_tag for t in tags)
    wanted = {kind: (endpoint, None) for kind, endpoint in UNTAGGED_ENDPOINTS.items() if kind != "tags"}
    if tag_exists:
        wanted.update({kind: (endpoint, {"tag": managed_tag}) for kind, endpoint in NETBOX_ENDPOINT_FOR_KIND.items()})
    for kind, fields in PLAN_FIELDS.items():
        if kind in wanted:
            endpoint, filters = wanted[kind]
            wanted[kind] = (endpoint, dict(filters or {}, fields=fields))
    # The biggest lists through GraphQL on main (it serialises only what is asked: several times
    # faster than REST), read while the REST lists are; in a branch, and when GraphQL cannot
    # answer, through REST.
    headers = getattr(getattr(api, "http_session", None), "headers", None)
    on_main = hasattr(headers, "get") and headers.get(BRANCH_HEADER) is None
    by_graphql = [kind for kind in GRAPHQL_SELECTIONS if tag_exists and on_main and kind in wanted]
    rest = {kind: spec for kind, spec in wanted.items() if kind not in by_graphql}
    # The pages of each REST list at once too (pynetbox's threading), not one after the other.
    threading, api.threading = getattr(api, "threading", False), True
    try:
        with ThreadPoolExecutor(max_workers=max(1, len(by_graphql))) as pool:
            reading = {kind: pool.submit(_graphql_records, api, kind, managed_tag) for kind in by_graphql}
            records = read_lists(api, rest)
            try:
                graphql = {kind: future.result() for kind, future in reading.items()}
            except GraphqlError:
                graphql = read_lists(api, {kind: wanted[kind] for kind in by_graphql})
    finally:
        api.threading = threading
    records.update(graphql)
    records["tags"] = tags
    for kind in NETBOX_ENDPOINT_FOR_KIND:
        records.setdefault(kind, [])
    return records


def fetch_ids(api, managed_tag, kind, ids):
    """The records of ``kind`` among ``ids``, read as :func:`fetch` reads them (the plan's
    fields; of a taggable kind only those with the managed tag), through REST by id."""
    tagged = kind in NETBOX_ENDPOINT_FOR_KIND
    endpoint = NETBOX_ENDPOINT_FOR_KIND[kind] if tagged else UNTAGGED_ENDPOINTS[kind]
    filters = {"fields": PLAN_FIELDS[kind]} if kind in PLAN_FIELDS else {}
    if tagged:
        tags = netbox_endpoint(api, UNTAGGED_ENDPOINTS["tags"]).filter(slug=managed_tag)
        if not list(tags):
            return []  # NetBox answers 400 to a filter on a tag it does not have: nothing is managed
        filters["tag"] = managed_tag
    out = []
    for n in range(0, len(ids), plan_cache.ID_CHUNK):
        chunk = list(ids[n : n + plan_cache.ID_CHUNK])
        out.extend(dict(r) for r in netbox_endpoint(api, endpoint).filter(id=chunk, **filters))
    return out


def fetch_cached(api, managed_tag, cache_dir, max_changes=2000):
    """:func:`fetch`'s records, from the records cached in ``cache_dir`` by the previous run
    brought up to date from NetBox's change log (sot_plan_cache); (records, what was done).
    Without ``cache_dir``, or in a NetBox branch, a full read."""
    if not cache_dir or not plan_cache.cacheable(api):
        return fetch(api, managed_tag), "full read (no cache)" if not cache_dir else "full read (a NetBox branch)"
    path = plan_cache.cache_path(
        cache_dir, api.base_url, managed_tag, {"fields": PLAN_FIELDS, "graphql": GRAPHQL_SELECTIONS}
    )
    state, records, what = plan_cache.refresh(
        api,
        plan_cache.load(path),
        lambda: fetch(api, managed_tag),
        lambda kind, ids: fetch_ids(api, managed_tag, kind, ids),
        max_changes,
    )
    if state is not None:
        try:
            plan_cache.save(path, state)
        except OSError as exc:  # the plan is still right: only the next run reads more
            what += " (not cached in %s: %s)" % (path, exc.strerror or exc)
    return records, what


# GraphQL selections of the biggest kinds, and the REST shape (what normalize and the
# identities read) each record is turned into.
GRAPHQL_SELECTIONS = {
    "interfaces": ("interface_list", "id name label description enabled mgmt_only mtu type device { name } "
                   "tags { slug } cable { id }"),
    "ip_addresses": ("ip_address_list", "id address status role dns_name description tags { slug } vrf { name } "
                     "tenant { slug } "
                     "assigned_object { __typename ... on InterfaceType { name device { name } } }"),
    "cables": ("cable_list", "id status label description tags { slug } terminations { cable_end termination { "
               "__typename ... on InterfaceType { name device { name } } "
               "... on CircuitTerminationType { term_side circuit { cid } } } }"),
}  # fmt: skip
_IP_ROLE_LABELS = {"vip": "VIP", "vrrp": "VRRP", "hsrp": "HSRP", "glbp": "GLBP", "carp": "CARP"}
_TERMINATION_TYPES = {"InterfaceType": "dcim.interface", "CircuitTerminationType": "circuits.circuittermination"}


def _graphql_records(api, kind, managed_tag):
    name, selection = GRAPHQL_SELECTIONS[kind]
    tag = json.dumps(managed_tag)  # a JSON string is a GraphQL string literal
    rows = graphql_list(api, name, selection, "tags: {slug: {exact: %s}}" % tag)
    return [_rest_shape(kind, row) for row in rows]


def _rest_shape(kind, row):
    """A GraphQL record of ``kind`` in the shape of its REST record (as far as the plan reads it)."""
    r = dict(row, id=int(row["id"]))
    if kind == "interfaces":
        r["cable"] = {"id": int(row["cable"]["id"])} if row.get("cable") else None
    elif kind == "ip_addresses":
        role = row.get("role") or None
        r["role"] = {"value": role, "label": _IP_ROLE_LABELS.get(role, role.capitalize())} if role else None
        assigned = row.get("assigned_object") or {}
        r["assigned_object"] = {"name": assigned.get("name"), "device": assigned.get("device")} if assigned else None
    elif kind == "cables":
        for side in ("A", "B"):
            ends = []
            for t in row.get("terminations") or []:
                if t.get("cable_end") != side:
                    continue
                obj = dict(t.get("termination") or {})
                typename = obj.pop("__typename", "")
                ends.append({"object_type": _TERMINATION_TYPES.get(typename, typename), "object": obj})
            r["%s_terminations" % side.lower()] = ends
        r.pop("terminations", None)
    return r


def managed_count(records_by_kind):
    """How many objects NetBox holds with the managed tag (the kinds a prune may delete)."""
    return sum(len(records_by_kind.get(kind, [])) for kind in NETBOX_ENDPOINT_FOR_KIND)


def prune_refusal(counts, managed, limit_percent, confirmed):
    """Why a plan must not run unconfirmed, or None when it may.

    A plan that deletes more than ``limit_percent`` of the objects netoss manages in NetBox
    (``managed``) is what applying the wrong intent looks like (another network's, an empty
    directory, a checkout of the wrong branch); it runs only when ``confirmed``.
    """
    deleted = counts.get("delete", 0)
    if confirmed or not deleted or not managed or deleted * 100 <= limit_percent * managed:
        return None
    return (
        "refusing to prune: the plan deletes %d of the %d objects netoss manages in NetBox (%d%%, more than "
        "the limit of %d%%). Is this the intent of this network? If the deletions are meant, confirm them "
        "(sot_sync_confirm_prune=true, or confirm_prune on the module) or raise the limit (sot_sync_prune_limit)."
        % (deleted, managed, deleted * 100 // managed, limit_percent)
    )


def run(api, objects, managed_tag, prune=True, prune_limit=50, confirm_prune=False, cache_dir=None):
    """Read NetBox and plan ``objects`` against it, as the sot_plan and sot_apply modules do.

    Returns (records, plan, summary, managed, refused): ``refused`` is None, or the reason the
    plan may not run with ``would_delete`` (by kind, 20 names at most) when it deletes more
    than ``prune_limit`` percent of the managed objects unconfirmed.
    """
    records, read = fetch_cached(api, managed_tag, cache_dir)
    result = plan(records, objects)
    result["read"] = read
    if not prune:
        result["changes"] = [c for c in result["changes"] if c["action"] != "delete"]
        result["delete"] = {kind: [] for kind in result["delete"]}
        result["counts"]["delete"] = 0
    c = result["counts"]
    summary = "Plan: %d to create, %d to update, %d to delete (%d unchanged)" % (
        c["create"],
        c["update"],
        c["delete"],
        c["unchanged"],
    )
    managed = managed_count(records)
    refusal = prune_refusal(c, managed, prune_limit, confirm_prune)
    refused = None
    if refusal:
        stale = {}
        for change in result["changes"]:
            if change["action"] == "delete":
                stale.setdefault(change["kind"], []).append(change["object"])
        refused = {
            "msg": "%s. %s" % (summary, refusal),
            "would_delete": {
                kind: names[:20] + (["... and %d more" % (len(names) - 20)] if len(names) > 20 else [])
                for kind, names in stale.items()
            },
        }
    return records, result, summary, managed, refused


# The options the sot_plan and sot_apply modules share (with NETBOX_ARG_SPEC).
PLAN_ARG_SPEC = dict(
    managed_tag={"type": "str", "default": "netoss-managed"},
    prune={"type": "bool", "default": True},
    prune_limit={"type": "int", "default": 50},
    confirm_prune={"type": "bool", "default": False},
    incremental={"type": "bool", "default": True},
    cache_dir={"type": "path", "default": "~/.cache/netoss/sot-plan"},
)


def cache_dir_of(params):
    """The plan cache's directory the module's ``params`` ask for, or None (incremental off)."""
    return params.get("cache_dir") if params.get("incremental") else None


def run_or_fail(module):
    """What the sot_plan and sot_apply modules do first: check prune_limit, read NetBox and plan
    ``module.params["objects"]``; the module fails on a bad limit, an unreachable NetBox or a
    refused prune. Returns (api, records, plan, summary, managed)."""
    p = module.params
    if not 0 <= p["prune_limit"] <= 100:
        module.fail_json(msg="prune_limit must be a percentage from 0 to 100, got %d" % p["prune_limit"])
    try:
        api = api_from_params(p)
        records, result, msg, managed, refused = run(
            api, p["objects"], p["managed_tag"], p["prune"], p["prune_limit"], p["confirm_prune"], cache_dir_of(p)
        )
    except NetboxError as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:  # pynetbox raises RequestError and friends
        module.fail_json(msg="reading NetBox at %s failed: %s" % (p.get("netbox_url") or "NETBOX_API", exc))
    if refused:
        module.fail_json(counts=result["counts"], managed=managed, **refused)
    return api, records, result, msg, managed
