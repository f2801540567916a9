# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Applying a sot_sync plan through NetBox's bulk endpoints: a list per kind, in chunks.

The plan (sot_plan.plan) says what to create, update and delete; this writes it with one
request per chunk of up to ``chunk`` objects of a kind (POST to create, PATCH to update,
DELETE to delete), in the order the netbox.netbox modules would apply them one by one, so
1,000 devices with their interfaces, addresses and cables cost a few hundred requests instead
of tens of thousands of module runs.

References (a device's site, an interface's device, a cable's ends) are resolved to NetBox IDs
from the records the plan read and the objects created before them. An object the plan sees
as new may exist in NetBox without the managed tag: like the netbox.netbox modules, the apply
adopts it (looks it up by its identity, updates it and tags it) instead of creating a twin.

NetBox writes each request in one transaction: a chunk is written whole or not at all. When
a chunk fails, its objects are written one by one, so the ones NetBox accepts are written and
each refusal is named (kind, object, and the intent file and entry when ``origin`` is given);
the apply then stops before the next kind, and reports what was written and what was not. The
objects not written are still in the intent: a rerun plans and writes them.
"""

from __future__ import annotations

import ipaddress
import time

from ansible_collections.netoss.core.plugins.module_utils.intent_payloads import (
    MODULE_FOR_KIND,
    NETBOX_ENDPOINT_FOR_KIND,
    absent_payload,
    identity,
    netbox_identity,
)
from ansible_collections.netoss.core.plugins.module_utils.intent_schema import slugify
from ansible_collections.netoss.core.plugins.module_utils.netbox_client import endpoint as netbox_endpoint
from ansible_collections.netoss.core.plugins.module_utils.sot_plan import UNTAGGED_ENDPOINTS, label

try:
    from pynetbox import RequestError
    from requests import RequestException

    _WRITE_ERRORS = (RequestError, RequestException)
except ImportError:  # the module reports the missing library before any write
    _WRITE_ERRORS = (OSError,)

CHUNK = 500

ENDPOINT_FOR_KIND = dict(NETBOX_ENDPOINT_FOR_KIND, **UNTAGGED_ENDPOINTS)
ENDPOINT_FOR_KIND["device_primary_ips"] = "dcim.devices"

# Where each reference of a payload points: payload key -> (kind it names, REST field).
_REFS = {
    "tenant": ("tenants", "tenant"),
    "rir": ("rirs", "rir"),
    "manufacturer": ("manufacturers", "manufacturer"),
    "platform": ("platforms", "platform"),
    "device_type": ("device_types", "device_type"),
    "device_role": ("device_roles", "role"),
    "site": ("sites", "site"),
    "prefix_role": ("prefix_roles", "role"),
    "provider": ("providers", "provider"),
    "circuit_type": ("circuit_types", "type"),
    "choice_set": ("custom_field_choice_sets", "choice_set"),
}
_LISTS = {"roles": "device_roles", "platforms": "platforms", "sites": "sites", "tenants": "tenants"}


class ApplyError(Exception):
    """The apply stopped: ``result`` says what was written and what was not."""

    def __init__(self, message, result):
        super().__init__(message)
        self.result = result


def _ip(text):
    return str(ipaddress.ip_interface(text))


class _Ids:
    """NetBox IDs by kind and identity, from the records read and the objects written."""

    def __init__(self, records_by_kind):
        self.by_kind = {}
        self.primary = {}  # (address, device) -> IP address id
        self.cable_of = {}  # (device, interface) or ("circuit <cid>", side) -> cable id
        self.new = set()  # (kind, identity) of the objects this apply created
        for kind, records in records_by_kind.items():
            source = "devices" if kind == "device_primary_ips" else kind
            for record in records:
                self.add(source, record)

    def add(self, kind, record, key=None):
        """Index a NetBox ``record`` of ``kind`` (its identity from the record, or ``key``)."""
        key = netbox_identity(kind, record) if key is None else key
        self.by_kind.setdefault(kind, {})[key] = record["id"]
        if kind == "providers":  # the intent names a provider by the slug of its name
            self.by_kind[kind][(record.get("slug") or slugify(record["name"]),)] = record["id"]
        if kind == "ip_addresses" and key[1]:
            self.primary[(key[0], key[1])] = record["id"]
        if kind in ("interfaces", "circuit_terminations") and record.get("cable"):
            cable = record["cable"]
            end = key if kind == "interfaces" else ("circuit %s" % key[0], key[1])
            self.cable_of[end] = cable["id"] if isinstance(cable, dict) else cable

    def get(self, kind, key):
        return self.by_kind.get(kind, {}).get(key)

    def ref(self, kind, value):
        """The id of the ``kind`` object a payload names by ``value`` (slug, name)."""
        found = self.get(kind, (value,))
        if found is None and kind == "providers":
            found = self.get(kind, (slugify(value),))
        if found is None:
            raise LookupError("%s %r is not in NetBox" % (kind[:-1].replace("_", " "), value))
        return found


def rest_body(kind, payload, ids):
    """The NetBox REST body of a build_netbox_objects ``payload`` of ``kind``, references as IDs."""
    body = {}
    for key, value in payload.items():
        if key in _REFS:
            target, field = _REFS[key]
            body[field] = ids.ref(target, value) if value is not None else None
        elif key == "tags":
            body["tags"] = [ids.ref("tags", slug) for slug in value]
        elif key in _LISTS and kind == "config_contexts":
            body[key] = [ids.ref(_LISTS[key], v) for v in value]
        else:
            body[key] = value
    if kind == "prefixes" and payload.get("scope_type") == "dcim.site":
        body["scope_id"] = ids.ref("sites", payload["scope"])
        del body["scope"]
    elif kind == "interfaces":
        body["device"] = ids.ref("devices", payload["device"])
    elif kind == "ip_addresses":
        assigned = payload.get("assigned_object")
        body.pop("assigned_object", None)
        if assigned:
            body["assigned_object_type"] = "dcim.interface"
            body["assigned_object_id"] = _interface_id(ids, assigned)
        if payload.get("role"):
            body["role"] = payload["role"].lower()
    elif kind == "device_primary_ips":
        address = _ip(payload["primary_ip4"])
        found = ids.primary.get((address, payload["name"]))
        if found is None:
            raise LookupError("device %s has no IP address %s in NetBox" % (payload["name"], address))
        body = {"primary_ip4": found}
    elif kind == "providers":
        body["slug"] = slugify(payload["name"])
    elif kind == "circuit_terminations":
        body = {
            "circuit": ids.ref("circuits", payload["circuit"]),
            "term_side": payload["term_side"],
            "termination_type": "dcim.site",
            "termination_id": ids.ref("sites", payload["site"]),
        }
    elif kind == "cables":
        for side, rest in (("a", "a_terminations"), ("b", "b_terminations")):
            end = payload["termination_%s" % side]
            object_type = payload["termination_%s_type" % side]
            body.pop("termination_%s" % side)
            body.pop("termination_%s_type" % side)
            if "circuit" in end:
                object_id = ids.get("circuit_terminations", (end["circuit"], end["term_side"]))
                if object_id is None:
                    raise LookupError("circuit %s has no termination %s in NetBox" % (end["circuit"], end["term_side"]))
            else:
                object_id = _interface_id(ids, end)
            body[rest] = [{"object_type": object_type, "object_id": object_id}]
    return body


def _interface_id(ids, end):
    found = ids.get("interfaces", (end["device"], end["name"]))
    if found is None:
        raise LookupError("interface %s:%s is not in NetBox" % (end["device"], end["name"]))
    return found


# -------------------------------------------------------------------------------------------
# Adoption: objects that exist without the managed tag


def _identity_filters(kind, payloads, ids):
    """Filters that find the existing objects with the identities of ``payloads``, in chunks of
    values (each a dict of filters), or [] when none of them can exist yet."""
    values = []
    if kind in ("tags", "tenants", "rirs", "manufacturers", "platforms", "device_types", "device_roles", "sites",
                "prefix_roles", "circuit_types"):  # fmt: skip
        values = [("slug", identity(kind, p)[0]) for p in payloads]
    elif kind == "providers":
        values = [("slug", slugify(p["name"])) for p in payloads]
    elif kind in ("devices", "custom_fields", "custom_field_choice_sets", "config_contexts"):
        values = [("name", p["name"]) for p in payloads]
    elif kind == "asns":
        values = [("asn", p["asn"]) for p in payloads]
    elif kind in ("prefixes", "aggregates"):
        values = [("prefix", p["prefix"]) for p in payloads]
    elif kind == "circuits":
        values = [("cid", p["cid"]) for p in payloads]
    elif kind == "interfaces":
        # Only a device that existed before this apply can have interfaces already.
        values = [
            ("device_id", ids.get("devices", (p["device"],))) for p in payloads if _old(ids, "devices", (p["device"],))
        ]
    elif kind == "ip_addresses":
        # An address is found by its interface too: only one that existed before this apply can hold it.
        values = [
            ("address", p["address"])
            for p in payloads
            if p.get("assigned_object")
            and _old(ids, "interfaces", (p["assigned_object"]["device"], p["assigned_object"]["name"]))
        ]
    if not values:
        return []
    field = values[0][0]
    unique = sorted({v for _f, v in values}, key=str)
    return [{field: unique[i : i + 100]} for i in range(0, len(unique), 100)]


def _old(ids, kind, key):
    return ids.get(kind, key) is not None and (kind, key) not in ids.new


def adopt(api, kind, creates, ids):
    """Split ``creates`` into (to create, [(id, payload)] to update): the ones NetBox already has
    without the managed tag are updated (and so tagged) instead of created again."""
    if kind == "cables":
        return _adopt_cables(api, creates, ids)
    if kind in UNTAGGED_ENDPOINTS or not creates:  # read whole by the plan: what exists is known
        return creates, []
    found = {}
    for filters in _identity_filters(kind, creates, ids):
        for record in netbox_endpoint(api, ENDPOINT_FOR_KIND[kind]).filter(**filters):
            record = dict(record)
            found[netbox_identity(kind, record)] = record
    new, existing = [], []
    for payload in creates:
        record = found.get(identity(kind, payload))
        if record is None:
            new.append(payload)
        else:
            ids.add(kind, record)
            existing.append((record["id"], payload))
    return new, existing


def _adopt_cables(api, creates, ids):
    """A planned cable whose end already holds a cable without the managed tag: that cable is
    updated when it joins the same ends (and so adopted); otherwise the end is taken and NetBox
    refuses the new cable, which the apply reports."""
    new, existing = [], []
    for payload in creates:
        key = identity("cables", payload)
        cable_id = ids.cable_of.get(key[:2]) or ids.cable_of.get(key[2:])
        if cable_id is None:
            new.append(payload)
            continue
        found = netbox_endpoint(api, "dcim.cables").get(cable_id)
        if found is None:  # deleted as stale by this apply
            new.append(payload)
        elif netbox_identity("cables", dict(found)) in (key, key[2:] + key[:2]):
            existing.append((cable_id, payload))
        else:
            new.append(payload)
    return new, existing


# -------------------------------------------------------------------------------------------
# Writing


def _chunks(items, size):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _refusal(exc):
    """What NetBox said when it refused a write (pynetbox's RequestError carries its JSON)."""
    error = getattr(exc, "error", None) or str(exc)
    return str(error)[:500]


class _Writer:
    def __init__(self, api, ids, chunk, origin, log):
        self.api, self.ids, self.chunk, self.origin, self.log = api, ids, chunk, origin, log
        self.written = {"create": {}, "update": {}, "delete": {}}
        self.failed = []  # {kind, action, object, origin, error}
        self.requests = 0

    def _count(self, action, kind, n):
        self.written[action][kind] = self.written[action].get(kind, 0) + n

    def _fail(self, kind, action, payload, error):
        entry = {"kind": kind, "action": action, "object": _label(kind, payload), "error": error}
        where = self.origin(kind, payload) if self.origin else None
        if where:
            entry["origin"] = where
        self.failed.append(entry)

    def create(self, kind, payloads):
        found = netbox_endpoint(self.api, ENDPOINT_FOR_KIND[kind])
        for chunk in _chunks(payloads, self.chunk):
            bodies, kept = [], []
            for payload in chunk:
                try:
                    bodies.append(rest_body(kind, payload, self.ids))
                    kept.append(payload)
                except LookupError as exc:
                    self._fail(kind, "create", payload, str(exc))
            if not bodies:
                continue
            try:
                self.requests += 1
                created = found.create(bodies)
            except _WRITE_ERRORS as exc:
                self._one_by_one(kind, "create", kept, bodies, exc)
                continue
            for record, payload in zip(created, kept, strict=True):
                self._created(kind, dict(record), payload)
            self._count("create", kind, len(created))

    def update(self, kind, pairs):
        found = netbox_endpoint(self.api, ENDPOINT_FOR_KIND[kind])
        for chunk in _chunks(pairs, self.chunk):
            bodies, kept = [], []
            for record_id, payload in chunk:
                try:
                    bodies.append(dict(rest_body(kind, payload, self.ids), id=record_id))
                    kept.append(payload)
                except LookupError as exc:
                    self._fail(kind, "update", payload, str(exc))
            if not bodies:
                continue
            try:
                self.requests += 1
                found.update(bodies)
            except _WRITE_ERRORS as exc:
                self._one_by_one(kind, "update", kept, bodies, exc)
                continue
            if kind != "device_primary_ips":  # an update may move an object: index it where it is now
                for body, payload in zip(bodies, kept, strict=True):
                    self.ids.add(kind, body, identity(kind, payload))
            self._count("update", kind, len(bodies))

    def delete(self, kind, pairs):
        found = netbox_endpoint(self.api, ENDPOINT_FOR_KIND[kind])
        for chunk in _chunks(pairs, self.chunk):
            try:
                self.requests += 1
                found.delete([record_id for record_id, _payload in chunk])
            except _WRITE_ERRORS as exc:
                for record_id, payload in chunk:
                    try:
                        self.requests += 1
                        found.delete([record_id])
                        self._count("delete", kind, 1)
                    except _WRITE_ERRORS as one:
                        self._fail(kind, "delete", payload, _refusal(one) or _refusal(exc))
                continue
            self._count("delete", kind, len(chunk))

    def _created(self, kind, record, payload):
        """Index what NetBox created under the identity of the payload it was made from."""
        key = identity(kind, payload)
        self.ids.add(kind, record, key)
        self.ids.new.add((kind, key))

    def _one_by_one(self, kind, action, payloads, bodies, exc):
        """A chunk NetBox refused: each object alone, so the good ones are written and each
        refusal is named."""
        self.log("%s of %d %s refused (%s): writing them one by one" % (action, len(bodies), kind, _refusal(exc)))
        found = netbox_endpoint(self.api, ENDPOINT_FOR_KIND[kind])
        for payload, body in zip(payloads, bodies, strict=True):
            try:
                self.requests += 1
                if action == "create":
                    self._created(kind, dict(found.create(body)), payload)
                else:
                    found.update([body])
                self._count(action, kind, 1)
            except _WRITE_ERRORS as one:
                self._fail(kind, action, payload, _refusal(one))


def _label(kind, payload):
    try:
        return label(kind, payload)
    except (KeyError, TypeError, ValueError):
        return str(payload)[:200]


# The order of the writes: the modules' order, but a config context after the roles, platforms,
# sites and tenants it selects by ID.
APPLY_ORDER = [k for k in MODULE_FOR_KIND if k != "config_contexts"]
APPLY_ORDER.insert(APPLY_ORDER.index("sites") + 1, "config_contexts")

# The deletes that must come before the creates of a kind, as the role does: a re-cabled
# interface must be free before its new cable is made.
_DELETE_BEFORE = {"cables": ["cables"]}


def apply(api, records_by_kind, the_plan, objects=None, chunk=CHUNK, origin=None, log=lambda msg: None):
    """Write ``the_plan`` (sot_plan.plan of ``records_by_kind`` and ``objects``) to NetBox through ``api``.

    Returns {written: {create|update|delete: {kind: n}}, failed: [...], requests, seconds}.
    Raises ApplyError (its ``result`` the same dict) when anything was refused: the writes of
    the kind that failed are done, the kinds after it are not.
    """
    t0 = time.monotonic()
    ids = _Ids(records_by_kind)
    writer = _Writer(api, ids, max(1, int(chunk)), origin, log)
    stale = _stale(records_by_kind, the_plan)
    deleted_first = set()
    cleared = set()  # devices whose primary IP was moved away (set again from the intent)

    def stop_if_failed(after):
        if writer.failed:
            result = _result(writer, t0)
            raise ApplyError(
                "NetBox refused %d object(s) while applying %s; nothing after %s was written (a rerun plans "
                "what is missing):\n%s" % (len(writer.failed), after, after, _failures(writer.failed)),
                result,
            )

    for kind in APPLY_ORDER:
        for first in _DELETE_BEFORE.get(kind, []):
            if stale.get(first):
                writer.delete(first, stale[first])
                deleted_first.add(first)
        payloads = the_plan["apply"].get(kind) or []
        if not payloads and not (kind == "device_primary_ips" and cleared):
            continue
        source = "devices" if kind == "device_primary_ips" else kind
        creates, updates = [], []
        for payload in payloads:
            record_id = ids.get(source, identity(kind, payload))
            (updates.append((record_id, payload)) if record_id is not None else creates.append(payload))
        if kind == "device_primary_ips":  # the devices exist by now: each is an update
            named = {p["name"] for p in payloads}
            payloads = payloads + [p for p in (objects or {}).get(kind, []) if p["name"] in cleared - named]
            creates, updates = [], [(ids.get("devices", (p["name"],)), p) for p in payloads]
        else:
            if kind == "ip_addresses" and stale.get(kind):
                creates, moved = _moves(creates, stale)
                updates += moved
                cleared.update(_free_primaries(writer, records_by_kind, moved))
            creates, adopted = adopt(api, kind, creates, ids)
            updates += adopted
        log("%s: %d to create, %d to update" % (kind, len(creates), len(updates)))
        writer.update(kind, updates)
        writer.create(kind, creates)
        stop_if_failed(kind)
    for kind in reversed(list(MODULE_FOR_KIND)):
        if kind in stale and kind not in deleted_first and stale[kind]:
            log("%s: %d to delete" % (kind, len(stale[kind])))
            writer.delete(kind, stale[kind])
    stop_if_failed("the deletions")
    return _result(writer, t0)


def _moves(creates, stale):
    """An address the intent puts on another interface is moved (updated), not deleted from
    the old interface and created on the new one: NetBox refuses a second copy of an address
    (ENFORCE_GLOBAL_UNIQUE), and the object keeps its history. Returns (creates left, moves);
    the moved records leave ``stale``."""
    by_address = {}
    for record_id, absent in stale["ip_addresses"]:
        by_address.setdefault(_ip(absent["address"]), []).append((record_id, absent))
    left, moves = [], []
    for payload in creates:
        candidates = by_address.get(_ip(payload["address"]))
        if candidates:
            record_id, absent = candidates.pop()
            stale["ip_addresses"].remove((record_id, absent))
            moves.append((record_id, payload))
        else:
            left.append(payload)
    return left, moves


def _free_primaries(writer, records_by_kind, moved):
    """NetBox refuses to move an address that is a device's primary IP: clear it on those
    devices first. Returns their names (their primary IP is set again from the intent)."""
    moving = {record_id for record_id, _payload in moved}
    devices = []
    for device in records_by_kind.get("devices", []):
        primary = device.get("primary_ip4")
        if (primary.get("id") if isinstance(primary, dict) else primary) in moving:
            devices.append((device["id"], {"name": device["name"], "primary_ip4": None}))
    if devices:
        found = netbox_endpoint(writer.api, "dcim.devices")
        for chunk in _chunks(devices, writer.chunk):
            writer.requests += 1
            found.update([{"id": device_id, "primary_ip4": None} for device_id, _p in chunk])
    return {payload["name"] for _id, payload in devices}


def _stale(records_by_kind, the_plan):
    """kind -> [(id, absent payload)] of the plan's deletions, from the records it read."""
    out = {}
    for kind, absents in (the_plan.get("delete") or {}).items():
        if not absents:
            continue
        wanted = {repr(p) for p in absents}
        out[kind] = [
            (r["id"], absent_payload(kind, r))
            for r in records_by_kind.get(kind, [])
            if repr(absent_payload(kind, r)) in wanted
        ]
    return out


def _result(writer, t0):
    return {
        "written": writer.written,
        "failed": writer.failed,
        "requests": writer.requests,
        "seconds": round(time.monotonic() - t0, 3),
    }


def _failures(failed):
    lines = []
    for f in failed[:50]:
        where = " (%s)" % f["origin"] if f.get("origin") else ""
        lines.append("  %s %s %s%s: %s" % (f["action"], f["kind"], f["object"], where, f["error"]))
    if len(failed) > 50:
        lines.append("  ... and %d more" % (len(failed) - 50))
    return "\n".join(lines)
