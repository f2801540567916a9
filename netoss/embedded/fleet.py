"""`netoss fleet load`: an intent written into the stack's NetBox through its ORM, in bulk, for benchmarks.

sot_sync is how an intent reaches NetBox; this is how a benchmark fills NetBox with 10,000
devices in a minute or two instead, as an operator's existing NetBox would hold them: one
``netbox shell`` in NetBox's own virtualenv builds every object of the intent's payloads
(intent_payloads.build_netbox_objects, the same payloads sot_sync applies, with the managed
tag) with ``bulk_create``, in one transaction, with the denormalised fields NetBox's own
``save()`` would set (interfaces' site, circuit terminations' site, cable terminations'
device and site, circuits' A and Z ends, each end's cable). The cable paths (what an
interface's far end is, through circuits) are left to NetBox's ``trace_paths`` when asked
(``trace_paths=True``, `--trace-paths`): it takes minutes at fleet size. Nothing is recorded
in NetBox's change log (a load is not a change), and a sot_sync of the same intent afterwards
has nothing to do: the tests hold it to that.

It refuses a NetBox that already has devices: a load adds a whole network, it never merges.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from netoss.embedded.stack import Stack, StackError
from netoss.embedded.stack.netbox import netbox_cmd

ORM_SCRIPT = r"""
import json, os, sys
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from core.models import ObjectType
from circuits.models import Circuit, CircuitTermination, CircuitType, Provider
from dcim.models import (Cable, CableTermination, Device, DeviceRole, DeviceType, Interface, Manufacturer,
                         Platform, Site)
from extras.models import ConfigContext, CustomField, CustomFieldChoiceSet, Tag, TaggedItem
from ipam.models import ASN, RIR, Aggregate, IPAddress, Prefix, Role
from tenancy.models import Tenant

objects = json.load(open(os.environ["FLEET_PAYLOADS"]))
if Device.objects.exists():
    sys.exit("fleet load: this NetBox already has devices; a load fills an empty NetBox (use sot_sync to merge)")

def pick(payload, *keys):
    return {k: payload[k] for k in keys if k in payload}

tagged = []  # (object, tag slugs)
by = {}      # kind -> identity -> object

def index(kind, key, obj, payload):
    by.setdefault(kind, {})[key] = obj
    if payload.get("tags"):
        tagged.append((obj, payload["tags"]))

def tags_of(slugs):
    return [by["tags"][s] for s in slugs]

with transaction.atomic():
    for p in objects["tags"]:
        t = Tag(**pick(p, "name", "slug", "color", "description")); t.save(); by.setdefault("tags", {})[p["slug"]] = t
    for p in objects["custom_field_choice_sets"]:
        c = CustomFieldChoiceSet(**pick(p, "name", "description"), extra_choices=p["extra_choices"]); c.save()
        by.setdefault("choice_sets", {})[p["name"]] = c
    for p in objects["custom_fields"]:
        cf = CustomField(**pick(p, "name", "label", "type", "description", "required"))
        if p.get("choice_set"):
            cf.choice_set = by["choice_sets"][p["choice_set"]]
        cf.save()
        cf.object_types.set([ObjectType.objects.get_by_natural_key(*o.split(".")) for o in p["object_types"]])
    simple = (("tenants", Tenant), ("rirs", RIR), ("manufacturers", Manufacturer))
    for kind, model in simple:
        rows = [model(**pick(p, "name", "slug", "description", "is_private")) for p in objects[kind]]
        for obj, p in zip(model.objects.bulk_create(rows), objects[kind]):
            index(kind, p["slug"], obj, p)
    for p in objects["asns"]:
        a = ASN(asn=p["asn"], rir=by["rirs"][p["rir"]], tenant=by["tenants"].get(p.get("tenant")),
                description=p.get("description", "")); a.save(); index("asns", p["asn"], a, p)
    for p in objects["platforms"]:
        o = Platform(**pick(p, "name", "slug", "description"),
                     manufacturer=by["manufacturers"].get(p.get("manufacturer")))
        o.save(); index("platforms", p["slug"], o, p)
    for p in objects["device_types"]:
        o = DeviceType(**pick(p, "model", "slug", "u_height", "description"),
                       manufacturer=by["manufacturers"][p["manufacturer"]])
        o.save(); index("device_types", p["slug"], o, p)
    for p in objects["device_roles"]:
        o = DeviceRole(**pick(p, "name", "slug", "color", "description")); o.save()
        index("device_roles", p["slug"], o, p)
    for p in objects["sites"]:
        o = Site(**pick(p, "name", "slug", "status", "time_zone", "description"),
                 tenant=by["tenants"].get(p.get("tenant")))
        o.save(); index("sites", p["slug"], o, p)
    for p in objects["config_contexts"]:
        c = ConfigContext(**pick(p, "name", "weight", "is_active", "data", "description")); c.save()
        for key, kind in (("roles", "device_roles"), ("platforms", "platforms"), ("sites", "sites"),
                          ("tenants", "tenants")):
            if p.get(key):
                getattr(c, key).set([by[kind][s] for s in p[key]])
    for p in objects["prefix_roles"]:
        o = Role(**pick(p, "name", "slug", "weight", "description")); o.save(); index("prefix_roles", p["slug"], o, p)
    for p in objects["aggregates"]:
        o = Aggregate(prefix=p["prefix"], rir=by["rirs"][p["rir"]], tenant=by["tenants"].get(p.get("tenant")),
                      description=p.get("description", "")); o.save(); index("aggregates", p["prefix"], o, p)
    site_type = ContentType.objects.get_for_model(Site)
    rows = []
    for p in objects["prefixes"]:
        o = Prefix(**pick(p, "prefix", "status", "is_pool", "description"), tenant=by["tenants"].get(p.get("tenant")),
                   role=by["prefix_roles"].get(p.get("prefix_role")))
        if p.get("scope"):
            o.scope_type, o.scope_id = site_type, by["sites"][p["scope"]].id
            o.cache_related_objects()
        rows.append(o)
    for obj, p in zip(Prefix.objects.bulk_create(rows), objects["prefixes"]):
        index("prefixes", p["prefix"], obj, p)
    rows = [Device(**pick(p, "name", "status", "description"), device_type=by["device_types"][p["device_type"]],
                   role=by["device_roles"][p["device_role"]], site=by["sites"][p["site"]],
                   platform=by["platforms"][p["platform"]], tenant=by["tenants"].get(p.get("tenant")))
            for p in objects["devices"]]
    for obj, p in zip(Device.objects.bulk_create(rows, batch_size=2000), objects["devices"]):
        index("devices", p["name"], obj, p)
    rows = []
    for p in objects["interfaces"]:
        d = by["devices"][p["device"]]
        rows.append(Interface(device=d, **pick(p, "name", "type", "enabled", "mgmt_only", "mtu", "description"),
                              _site_id=d.site_id, _location_id=d.location_id, _rack_id=d.rack_id))
    for obj, p in zip(Interface.objects.bulk_create(rows, batch_size=5000), objects["interfaces"]):
        index("interfaces", (p["device"], p["name"]), obj, p)
    iface_type = ContentType.objects.get_for_model(Interface)
    rows = []
    for p in objects["ip_addresses"]:
        a = p.get("assigned_object") or {}
        o = IPAddress(**pick(p, "address", "status", "dns_name", "description"),
                      role=(p.get("role") or "").lower() if p.get("role") else "")
        if a:
            o.assigned_object_type, o.assigned_object_id = iface_type, by["interfaces"][(a["device"], a["name"])].id
        rows.append(o)
    for obj, p in zip(IPAddress.objects.bulk_create(rows, batch_size=5000), objects["ip_addresses"]):
        by.setdefault("ips", {})[str(p["address"])] = obj
        index("ip_addresses", p["address"], obj, p)
    primaries = []
    for p in objects["device_primary_ips"]:
        d = by["devices"][p["name"]]
        d.primary_ip4 = by["ips"][p["primary_ip4"]]
        primaries.append(d)
    Device.objects.bulk_update(primaries, ["primary_ip4"], batch_size=2000)
    for p in objects["providers"]:
        from django.utils.text import slugify
        o = Provider(name=p["name"], slug=slugify(p["name"]), description=p.get("description", "")); o.save()
        index("providers", p["name"], o, p)
    for p in objects["circuit_types"]:
        o = CircuitType(**pick(p, "name", "slug", "color", "description")); o.save()
        index("circuit_types", p["slug"], o, p)
    providers_by_slug = {o.slug: o for o in by.get("providers", {}).values()}
    rows = [Circuit(**pick(p, "cid", "status", "commit_rate", "description"),
                    provider=providers_by_slug.get(p["provider"]) or by["providers"][p["provider"]],
                    type=by["circuit_types"][p["circuit_type"]], tenant=by["tenants"].get(p.get("tenant")))
            for p in objects["circuits"]]
    for obj, p in zip(Circuit.objects.bulk_create(rows, batch_size=2000), objects["circuits"]):
        index("circuits", p["cid"], obj, p)
    rows = []
    for p in objects["circuit_terminations"]:
        s = by["sites"][p["site"]]
        rows.append(CircuitTermination(circuit=by["circuits"][p["circuit"]], term_side=p["term_side"],
                                       termination_type=site_type, termination_id=s.id, _site=s,
                                       _region_id=s.region_id, _site_group_id=s.group_id))
    terms = {}
    for obj, p in zip(CircuitTermination.objects.bulk_create(rows, batch_size=2000), objects["circuit_terminations"]):
        terms[(p["circuit"], p["term_side"])] = obj
        setattr(by["circuits"][p["circuit"]], "termination_%s" % p["term_side"].lower(), obj)
    Circuit.objects.bulk_update(list(by.get("circuits", {}).values()), ["termination_a", "termination_z"],
                                batch_size=2000)
    term_type = ContentType.objects.get_for_model(CircuitTermination)
    cables = Cable.objects.bulk_create([Cable(**pick(p, "status", "label", "description")) for p in objects["cables"]],
                                       batch_size=2000)
    ends, ifaces, cterms = [], [], []
    for cable, p in zip(cables, objects["cables"]):
        if p.get("tags"):
            tagged.append((cable, p["tags"]))
        for side, end in (("A", p["termination_a"]), ("B", p["termination_b"])):
            if "circuit" in end:
                t = terms[(end["circuit"], end["term_side"])]
                ends.append(CableTermination(cable=cable, cable_end=side, termination_type=term_type,
                                             termination_id=t.id, _site_id=t._site_id, _location_id=t._location_id))
                t.cable, t.cable_end = cable, side
                cterms.append(t)
            else:
                i = by["interfaces"][(end["device"], end["name"])]
                d = by["devices"][end["device"]]
                ends.append(CableTermination(cable=cable, cable_end=side, termination_type=iface_type,
                                             termination_id=i.id, _device=d, _rack_id=d.rack_id,
                                             _location_id=d.location_id, _site_id=d.site_id))
                i.cable, i.cable_end = cable, side
                ifaces.append(i)
    CableTermination.objects.bulk_create(ends, batch_size=5000)
    Interface.objects.bulk_update(ifaces, ["cable", "cable_end"], batch_size=5000)
    CircuitTermination.objects.bulk_update(cterms, ["cable", "cable_end"], batch_size=2000)
    items = []
    for obj, slugs in tagged:
        ct = ContentType.objects.get_for_model(obj)
        items.extend(TaggedItem(tag=t, content_type=ct, object_id=obj.pk) for t in tags_of(slugs))
    TaggedItem.objects.bulk_create(items, batch_size=10000)
    # The load in NetBox's change log, which the ORM leaves untouched: one entry, logged as the
    # deletion of a device type that never was (id 2**62), because readers that keep NetBox's
    # records from one run to the next (the sot_sync plan's cache, the inventory plugin's) read
    # everything again after a deletion.
    from core.models import ObjectChange
    import uuid
    first = next(iter(by["device_types"].values()))
    ObjectChange.objects.create(
        user_name="netoss fleet load", request_id=uuid.uuid4(), action="delete",
        changed_object_type=ContentType.objects.get_for_model(first), changed_object_id=2**62,
        object_repr="netoss fleet load: %d devices written through the ORM" % len(objects["devices"]),
        prechange_data={"name": "netoss fleet load"}, postchange_data=None,
    )
print(json.dumps({k: len(v) for k, v in objects.items() if v}))
"""


class FleetLoadError(StackError):
    """The intent could not be loaded into NetBox; the message says why."""


def payloads(intent_dir: Path, managed_tag: str = "netoss-managed") -> dict:
    """The intent's NetBox payloads (validated like sot_sync's), as sot_sync would apply them."""
    from ansible_collections.netoss.core.plugins.module_utils.intent_load import load_intent
    from ansible_collections.netoss.core.plugins.module_utils.intent_payloads import build_netbox_objects
    from ansible_collections.netoss.core.plugins.module_utils.intent_schema import IntentError

    try:
        return build_netbox_objects(load_intent(str(intent_dir)), managed_tag=managed_tag)
    except IntentError as exc:
        raise FleetLoadError(str(exc)) from None


def load(stack: Stack, intent_dir: Path, log=print, trace_paths: bool = False) -> dict:
    """Write the intent in ``intent_dir`` into the stack's (empty) NetBox; returns the counts by kind
    and the seconds each step took."""
    t0 = time.monotonic()
    objects = payloads(intent_dir)
    seconds = {"validate": time.monotonic() - t0}
    with tempfile.TemporaryDirectory(prefix="netoss-fleet-") as tmp:
        path = Path(tmp) / "payloads.json"
        path.write_text(json.dumps(objects))
        os.chmod(tmp, 0o755)  # noqa: S103 (NetBox's account reads it; it holds no secret)
        os.chmod(path, 0o644)
        t1 = time.monotonic()
        log(f"loading {len(objects['devices'])} devices into NetBox through its ORM")
        out = netbox_cmd(stack, "shell", "-c", ORM_SCRIPT, what="fleet load", extra_env={"FLEET_PAYLOADS": str(path)})
        seconds["orm"] = time.monotonic() - t1
    if trace_paths:
        t2 = time.monotonic()
        log("tracing the cable paths (netbox trace_paths)")
        netbox_cmd(stack, "trace_paths", "--no-input", what="netbox trace_paths")
        seconds["trace_paths"] = time.monotonic() - t2
    try:
        counts = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise FleetLoadError(f"fleet load: NetBox's shell did not report what it wrote: {out[-500:]}") from None
    return {"counts": counts, "seconds": seconds}
