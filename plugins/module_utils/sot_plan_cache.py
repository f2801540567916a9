# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the sot_sync plan read of NetBox, kept between runs and brought up to date from NetBox's
change log, so that a run reads only what changed since the previous one instead of every
managed object (at 1,000 devices a full read is 20,000 objects and about 10 s of NetBox's time).

The records are kept in a file of the controller's account (``cache_dir``, 0600), one per NetBox
URL and managed tag. A run asks NetBox for its newest change: the same as when the records were
read means they are current. Otherwise the change log since then says which objects changed:

- created or updated objects are read again, by id, with the plan's fields and tag filter (an
  object that lost the managed tag is no longer found, and leaves the records);
- a deletion, or an update of what other objects name this one by (name, slug, cid, address,
  prefix, model), changes what other records show of it: everything is read again, as is
  when the log does not reach back to the records (pruned, or a restored NetBox), when it
  holds more than ``max_changes`` entries, or when the newest change cannot be read.

Nothing is cached in a NetBox branch (each plan there starts from a fresh branch)."""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import importlib
import os
from email.utils import parsedate_to_datetime

from ansible_collections.netoss.core.plugins.module_utils import private_cache
from ansible_collections.netoss.core.plugins.module_utils.netbox_client import BRANCH_HEADER, auth_header

CACHE_VERSION = 1
ID_CHUNK = 200  # ids per request (well under NetBox's URL limits)
# A NetBox request's changes are logged when made and seen when its transaction commits, up to
# a long bulk request later: the changes logged this long before a read are looked at again.
OVERLAP = 600

# NetBox's model (ObjectChange.changed_object_type) of each kind the plan reads.
MODEL_OF_KIND = {
    "tags": "extras.tag",
    "custom_field_choice_sets": "extras.customfieldchoiceset",
    "custom_fields": "extras.customfield",
    "config_contexts": "extras.configcontext",
    "tenants": "tenancy.tenant",
    "rirs": "ipam.rir",
    "asns": "ipam.asn",
    "manufacturers": "dcim.manufacturer",
    "platforms": "dcim.platform",
    "device_types": "dcim.devicetype",
    "device_roles": "dcim.devicerole",
    "sites": "dcim.site",
    "prefix_roles": "ipam.role",
    "aggregates": "ipam.aggregate",
    "prefixes": "ipam.prefix",
    "devices": "dcim.device",
    "interfaces": "dcim.interface",
    "ip_addresses": "ipam.ipaddress",
    "providers": "circuits.provider",
    "circuit_types": "circuits.circuittype",
    "circuits": "circuits.circuit",
    "circuit_terminations": "circuits.circuittermination",
    "cables": "dcim.cable",
}
KIND_OF_MODEL = {model: kind for kind, model in MODEL_OF_KIND.items()}
# What another object's record shows of the object it refers to (a nested name, slug...).
NAMED_BY = ("name", "slug", "cid", "address", "prefix", "model", "asn", "term_side")

_CHANGE_FIELDS = "id,time,action,changed_object_type,changed_object_id,prechange_data,postchange_data"


class ChangeLog:
    """NetBox's change log through the API session ``api`` (pynetbox) uses."""

    def __init__(self, api):
        self.api = api
        self.url = api.base_url.rstrip("/") + "/core/object-changes/"
        self.headers = {"Accept": "application/json"}
        if getattr(api, "token", None):
            self.headers["Authorization"] = auth_header(api.token)
        self.server_time = None  # NetBox's clock at the last answer (its Date header)

    def _get(self, params):
        resp = self.api.http_session.get(self.url, params=params, headers=self.headers, timeout=60)
        if resp.status_code != 200:
            return None
        date = (getattr(resp, "headers", None) or {}).get("Date")
        if date:
            with contextlib.suppress(TypeError, ValueError):
                self.server_time = parsedate_to_datetime(date).timestamp()
        try:
            body = resp.json()
        except ValueError:
            return None
        return body if isinstance(body, dict) and isinstance(body.get("results"), list) else None

    def _all(self, params):
        out, offset = [], 0
        while True:
            body = self._get([*params, ("limit", 1000), ("offset", offset)])
            if body is None:
                return None
            out.extend(body["results"])
            if not body.get("next") or not body["results"]:
                return out
            offset += len(body["results"])

    def newest(self):
        """(id, time) of NetBox's newest change; () when there is none; None when unreadable."""
        try:
            body = self._get([("ordering", "-id"), ("limit", 1), ("fields", "id,time")])
        except Exception:  # the connection: then the records are read in full, which says why
            return None
        if body is None:
            return None
        results = body["results"]
        return (results[0]["id"], results[0]["time"]) if results else ()

    def holds(self, mark):
        """Whether the log still holds the change ``mark`` (id, time) as it was (not pruned,
        not another NetBox restored over it)."""
        body = self._get([("id", mark[0]), ("limit", 1), ("fields", "id,time")])
        return body is not None and [(r["id"], r["time"]) for r in body["results"]] == [tuple(mark)]

    def recent_ids(self, since):
        """The ids of the changes logged at or after ``since`` (a POSIX time), or None."""
        stamp = datetime.datetime.fromtimestamp(since, datetime.timezone.utc).isoformat()
        found = self._all([("time_after", stamp), ("ordering", "id"), ("fields", "id")])
        return None if found is None else [r["id"] for r in found]

    def entries(self, ids):
        """The change log entries ``ids``, oldest first, or None."""
        out = []
        for n in range(0, len(ids), ID_CHUNK):
            found = self._all(
                [("ordering", "id"), ("fields", _CHANGE_FIELDS), *(("id", i) for i in ids[n : n + ID_CHUNK])]
            )
            if found is None:
                return None
            out.extend(found)
        return sorted(out, key=lambda c: c["id"])


def cacheable(api) -> bool:
    """Whether the records of ``api`` may be cached: NetBox's main, not a branch."""
    headers = getattr(getattr(api, "http_session", None), "headers", None)
    return hasattr(headers, "get") and headers.get(BRANCH_HEADER) is None


def cache_path(cache_dir, url, managed_tag, signature):
    """The cache file of NetBox ``url``'s records under ``managed_tag``, read as ``signature``
    (the plan's fields) says: another NetBox, tag or way of reading is another file."""
    return private_cache.path(
        cache_dir, "sot-plan", {"url": url, "tag": managed_tag, "v": CACHE_VERSION, "read": signature}
    )


def load(path):
    """The cached state in ``path`` (see :func:`refresh`), or None (none, or not usable)."""
    state = private_cache.read(path, CACHE_VERSION)
    keys = {"mark", "read_at", "seen", "records"}
    if not isinstance(state, dict) or set(state) != keys or not isinstance(state["records"], dict):
        return None
    return dict(state, mark=tuple(state["mark"]))


def save(path, state):
    """Write the state (plain data), readable by its owner only."""
    private_cache.write(path, CACHE_VERSION, dict(state, mark=list(state["mark"])))


# What NetBox adds to every nested object and the plan never reads: left out of the records
# kept (a third of their size, and seven times faster to load).
_NOT_KEPT = frozenset(("url", "display_url", "display"))


def lean(value):
    """``value`` (records, or a record) without the keys of :data:`_NOT_KEPT`, at any depth."""
    if isinstance(value, dict):
        return {k: lean(v) for k, v in value.items() if k not in _NOT_KEPT}
    if isinstance(value, list):
        return [lean(v) for v in value]
    return value


def what_changed(changes):
    """From change log entries: ({kind: ids to read again}, why everything must be read again
    or None)."""
    again = {}
    for c in changes:
        model, action = c.get("changed_object_type"), c.get("action")
        action = action.get("value") if isinstance(action, dict) else action
        if action == "delete":
            return again, "%s %s was deleted" % (model, c.get("changed_object_id"))
        if action == "update":
            before, after = c.get("prechange_data") or {}, c.get("postchange_data") or {}
            for key in NAMED_BY:
                if before.get(key) != after.get(key):
                    return again, "%s %s changed its %s" % (model, c.get("changed_object_id"), key)
        kind = KIND_OF_MODEL.get(model)
        if kind is not None:
            again.setdefault(kind, set()).add(c.get("changed_object_id"))
    return again, None


def refresh(api, cached, read_all, read_ids, max_changes=2000):
    """The records of ``api``'s NetBox, from ``cached`` or None, brought up to date; returns
    (state to cache or None, records, what was done). ``read_all()`` reads every record (by
    kind); ``read_ids(kind, ids)`` the records of ``kind`` among ``ids`` (those still managed).

    A state is {"mark": the newest change (id, time) when read, "read_at": NetBox's clock then,
    "seen": the ids of the changes logged since ``read_at - OVERLAP`` that the records hold,
    "records"}. The changes logged since the last ``read_at - OVERLAP`` that it has not seen
    are what changed: a change whose transaction committed after the read, though logged
    before it, is among them."""
    log = ChangeLog(api)
    mark = log.newest()
    if mark is None:
        return None, read_all(), "full read (NetBox's change log cannot be read)"
    if not mark:  # nothing logged: objects written around the API (an ORM load) would not show
        return None, read_all(), "full read (NetBox's change log is empty)"
    read_at = log.server_time
    if cached is None or read_at is None:
        return _full(log, mark, read_at, read_all, "full read (nothing cached)")
    if not log.holds(cached["mark"]):
        return _full(
            log, mark, read_at, read_all, "full read (the change log no longer holds the cached records' change)"
        )
    recent = log.recent_ids(cached["read_at"] - OVERLAP)
    if recent is None:
        return _full(log, mark, read_at, read_all, "full read (the change log cannot be read)")
    seen = set(cached["seen"])
    new = [i for i in recent if i not in seen]
    records = cached["records"]
    state = {"mark": mark, "read_at": read_at, "seen": recent, "records": records}
    if not new:
        return state, records, "incremental: NetBox unchanged"
    if len(new) > max_changes:
        return _full(log, mark, read_at, read_all, "full read (more than %d changes)" % max_changes)
    changes = log.entries(new)
    if changes is None:
        return _full(log, mark, read_at, read_all, "full read (the change log cannot be read)")
    again, why = what_changed(changes)
    if why:
        return _full(log, mark, read_at, read_all, "full read (%s)" % why)
    count = 0
    for kind, ids in again.items():
        ids = {i for i in ids if i is not None}
        found = {r["id"]: lean(r) for r in read_ids(kind, sorted(ids))}
        kept = []
        for r in records.get(kind, []):
            if r["id"] not in ids:
                kept.append(r)
            elif r["id"] in found:
                kept.append(found.pop(r["id"]))
            # else: no longer managed (the tag taken off): it leaves the records
        records[kind] = kept + list(found.values())
        count += len(ids)
    return state, records, "incremental: %d changes, %d objects read again" % (len(changes), count)


def _full(log, mark, read_at, read_all, what):
    """Everything read, with what the cache needs to take up from here (None: not cacheable)."""
    recent = log.recent_ids(read_at - OVERLAP) if read_at is not None else None
    records = lean(read_all())  # after listing the changes it holds: a change listed is in the records
    if recent is None:
        return None, records, what
    return {"mark": mark, "read_at": read_at, "seen": recent, "records": records}, records, what


# -- the intent's payloads, kept for the same files ---------------------------------------------

# The code that turns intent files into payloads: another version of it is another key.
_INTENT_CODE = ("intent_load", "intent_schema", "intent_checks", "intent_payloads", "schema_files")
INTENT_VERSION = 2


def _code_signature():
    digest = hashlib.sha256()
    for name in _INTENT_CODE:
        module = importlib.import_module("ansible_collections.netoss.core.plugins.module_utils." + name)
        loader = getattr(module, "__loader__", None)
        source = loader.get_source(module.__name__) if hasattr(loader, "get_source") else None
        if source is None:
            return None  # cannot tell this code from another: nothing is kept
        digest.update(source.encode())
    return digest.hexdigest()


def intent_objects(path, managed_tag, cache_dir, build):
    """``build(known_valid)``'s (objects, summary) for the intent in ``path``, or what it gave the
    last time for the same files (names and contents), managed tag and code: a valid intent's
    payloads are a function of these, and loading and validating 1,000 devices takes seconds.

    When a file changed, ``build`` is given the digests of the entries the same code found valid
    the last time (intent_load.load_intent's ``known_valid``), so that only the edited entries are
    checked against the schema. ``build`` returns (objects, summary, digests of the valid
    entries) and raises for an invalid intent, which is never kept.
    Returns (objects, summary, kept: bool)."""
    from ansible_collections.netoss.core.plugins.module_utils.schema_files import yaml_files

    code = _code_signature() if cache_dir else None
    files = yaml_files(path) if code else None
    if not files:
        objects, summary, _valid = build(frozenset())
        return objects, summary, False
    digest = hashlib.sha256(("%s\0%s\0" % (code, managed_tag)).encode())
    for f in files:
        digest.update(("%s\0" % f.name).encode())
        digest.update(hashlib.sha256(f.read_bytes()).digest())
    digest = digest.hexdigest()
    where = private_cache.path(cache_dir, "intent", {"path": os.path.realpath(path)})
    kept = private_cache.read(where, INTENT_VERSION)
    if not isinstance(kept, dict):
        kept = {}
    if kept.get("digest") == digest:
        return kept["objects"], kept["summary"], True
    known = kept.get("valid") if kept.get("code") == code else None
    objects, summary, valid = build(known if isinstance(known, frozenset) else frozenset())
    state = {"digest": digest, "code": code, "objects": objects, "summary": summary, "valid": frozenset(valid)}
    with contextlib.suppress(OSError):  # not kept: the next run loads it again
        private_cache.write(where, INTENT_VERSION, state)
    return objects, summary, False
