# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What netoss writes back to NetBox about devices: journal entries and custom fields.

Bulk calls (one request for many devices), so recording a backup of 1,000 devices costs a
few requests, not a few thousand.
"""

from __future__ import annotations

KINDS = ("info", "success", "warning", "danger")
MAX_COMMENT = 20000


class RecordError(ValueError):
    """NetBox refused or could not find what was to be recorded."""


def device_ids(api, names):
    """{name: id} for the devices named; RecordError names the ones NetBox does not have."""
    names = sorted(set(names))
    found = {}
    for start in range(0, len(names), 100):
        for device in api.dcim.devices.filter(name=names[start : start + 100]):
            found[device.name] = device.id
    missing = [n for n in names if n not in found]
    if missing:
        raise RecordError("no device named %s in NetBox" % ", ".join(missing))
    return found


def journal(api, entries):
    """Create one NetBox journal entry per {device or device_id, kind, comments}, all in one
    request; returns the ids created. ``device`` is a device's name (the names are looked up
    together), ``device_id`` its id. The one writer of NetBox journal entries: the modules
    and netoss (ticket events, through its NetBox client) both call it."""
    if not entries:
        return []
    names = [e["device"] for e in entries if e.get("device_id") is None]
    ids = device_ids(api, names) if names else {}
    payload = []
    for e in entries:
        if e.get("kind", "info") not in KINDS:
            raise RecordError("journal kind %r is not one of %s" % (e["kind"], ", ".join(KINDS)))
        comments = e["comments"]
        if len(comments) > MAX_COMMENT:
            comments = comments[:MAX_COMMENT] + "\n… (cut at %d characters)" % MAX_COMMENT
        payload.append(
            {
                "assigned_object_type": "dcim.device",
                "assigned_object_id": int(e["device_id"]) if e.get("device_id") is not None else ids[e["device"]],
                "kind": e.get("kind", "info"),
                "comments": comments,
            }
        )
    created = api.extras.journal_entries.create(payload)
    return [c.id for c in created]


def set_custom_fields(api, values):
    """PATCH ``{device name: {custom field: value}}`` in one bulk request."""
    if not values:
        return
    ids = device_ids(api, list(values))
    api.dcim.devices.update([{"id": ids[name], "custom_fields": fields} for name, fields in values.items()])
