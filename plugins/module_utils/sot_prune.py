# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which NetBox objects sot_sync owns but the intent no longer has.

sot_sync only ever deletes objects carrying the managed tag (netoss-managed): objects
created by hand in NetBox, or by other tools, are never touched.
"""

from __future__ import annotations

from ansible_collections.netoss.core.plugins.module_utils.intent import (
    MODULE_FOR_KIND,
    NETBOX_ENDPOINT_FOR_KIND,
    absent_payload,
    identity,
    netbox_identity,
)


def wanted_identities(objects: dict[str, list[dict]]) -> dict[str, set]:
    """Identity keys of every object of the intent, by kind."""
    return {kind: {identity(kind, payload) for payload in payloads} for kind, payloads in objects.items()}


def stale_objects(records_by_kind: dict[str, list[dict]], objects: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """The absent-payloads of tagged NetBox records that are not in the intent.

    ``records_by_kind`` holds the NetBox API records (dicts) carrying the managed tag.
    The result lists kinds in reverse dependency order (cables before interfaces before
    devices...), which is the order deletions must run in.
    """
    wanted = wanted_identities(objects)
    result: dict[str, list[dict]] = {}
    for kind in reversed(list(MODULE_FOR_KIND)):
        if kind not in NETBOX_ENDPOINT_FOR_KIND:
            continue
        keep = wanted.get(kind, set())
        stale = [absent_payload(kind, r) for r in records_by_kind.get(kind, []) if netbox_identity(kind, r) not in keep]
        result[kind] = sorted(stale, key=repr)
    return result


def fetch_tagged(api, managed_tag: str) -> dict[str, list[dict]]:
    """Every object of each prunable kind that carries the managed tag, as plain dicts."""
    records: dict[str, list[dict]] = {}
    for kind, endpoint in NETBOX_ENDPOINT_FOR_KIND.items():
        app, name = endpoint.split(".")
        ep = getattr(getattr(api, app), name)
        records[kind] = [dict(r) for r in ep.filter(tag=managed_tag)]
    return records
