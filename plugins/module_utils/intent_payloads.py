# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The NetBox payloads of a valid intent, and the identity of each object on both sides.

:func:`build_netbox_objects` turns an intent (intent_load.load_intent) into the ``data``
payloads of the netbox.netbox modules, in the order of :data:`MODULE_FOR_KIND`.
:func:`identity` and :func:`netbox_identity` give the same key to a payload and to the NetBox
record it describes, and :func:`absent_payload` the data that deletes a record: sot_plan
compares and prunes with them.
"""

from __future__ import annotations

import functools
import ipaddress

from ansible_collections.netoss.core.plugins.module_utils.intent_schema import (
    SLUGGED_KINDS,
    addresses_of,
    normal_prefix,
    slug_of,
    slugify,
)

MANAGED_TAG = "netoss-managed"

# kind -> netbox.netbox module, in the order the payloads must be applied.
MODULE_FOR_KIND = {
    "tags": "netbox.netbox.netbox_tag",
    "custom_field_choice_sets": "netbox.netbox.netbox_custom_field_choice_set",
    "custom_fields": "netbox.netbox.netbox_custom_field",
    "tenants": "netbox.netbox.netbox_tenant",
    "rirs": "netbox.netbox.netbox_rir",
    "asns": "netbox.netbox.netbox_asn",
    "manufacturers": "netbox.netbox.netbox_manufacturer",
    "platforms": "netbox.netbox.netbox_platform",
    "config_contexts": "netbox.netbox.netbox_config_context",
    "device_types": "netbox.netbox.netbox_device_type",
    "device_roles": "netbox.netbox.netbox_device_role",
    "sites": "netbox.netbox.netbox_site",
    "prefix_roles": "netbox.netbox.netbox_ipam_role",
    "aggregates": "netbox.netbox.netbox_aggregate",
    "prefixes": "netbox.netbox.netbox_prefix",
    "devices": "netbox.netbox.netbox_device",
    "interfaces": "netbox.netbox.netbox_device_interface",
    "ip_addresses": "netbox.netbox.netbox_ip_address",
    "device_primary_ips": "netbox.netbox.netbox_device",
    "providers": "netbox.netbox.netbox_provider",
    "circuit_types": "netbox.netbox.netbox_circuit_type",
    "circuits": "netbox.netbox.netbox_circuit",
    "circuit_terminations": "netbox.netbox.netbox_circuit_termination",
    "cables": "netbox.netbox.netbox_cable",
}

# Kinds that carry the managed tag, and so can be pruned, with their pynetbox endpoint, in
# dependency order (delete in reverse). Tags, custom fields and choice sets have no tags in
# NetBox; a config context's `tags` select the objects it applies to, so it is not tagged either.
NETBOX_ENDPOINT_FOR_KIND = {
    "tenants": "tenancy.tenants",
    "rirs": "ipam.rirs",
    "asns": "ipam.asns",
    "manufacturers": "dcim.manufacturers",
    "platforms": "dcim.platforms",
    "device_types": "dcim.device_types",
    "device_roles": "dcim.device_roles",
    "sites": "dcim.sites",
    "prefix_roles": "ipam.roles",
    "aggregates": "ipam.aggregates",
    "prefixes": "ipam.prefixes",
    "devices": "dcim.devices",
    "interfaces": "dcim.interfaces",
    "ip_addresses": "ipam.ip_addresses",
    "providers": "circuits.providers",
    "circuit_types": "circuits.circuit_types",
    "circuits": "circuits.circuits",
    "cables": "dcim.cables",
}

_NAMED_KINDS = {
    "custom_field_choice_sets",
    "custom_fields",
    "config_contexts",
    "devices",
    "device_primary_ips",
}


def _copy(source, *keys):
    return {key: source[key] for key in keys if key in source}


def build_netbox_objects(intent, managed_tag=MANAGED_TAG):
    """The ``data`` payloads of the netbox.netbox modules for a valid ``intent``.

    Returns ``{kind: [payload, …]}`` for every kind of :data:`MODULE_FOR_KIND`, in that order
    (apply them in order). References are given as the slug (or name, for devices and choice
    sets) that the netbox.netbox modules look objects up by. Every taggable object carries the
    managed tag, which is added to ``tags`` when the intent does not define it.
    """
    out = {kind: [] for kind in MODULE_FOR_KIND}

    def slug(kind, reference):
        return slug_of(kind, _lookup(intent, kind, reference))

    for data in intent.items("tags"):
        tag = {"name": data["name"], "slug": slug_of("tags", data)}
        if "color" in data:
            tag["color"] = data["color"].lower()
        out["tags"].append(dict(tag, **_copy(data, "description")))
    managed = next((t for t in out["tags"] if managed_tag in (t["name"], t["slug"])), None)
    if managed is None:
        managed = {
            "name": managed_tag,
            "slug": slugify(managed_tag),
            "color": "2196f3",
            "description": "Managed by netoss from the intent in git; pruned when removed from it",
        }
        out["tags"].insert(0, managed)
    tags = [managed["slug"]]

    for data in intent.items("custom_field_choice_sets"):
        choices = [list(choice) for choice in data["extra_choices"]]
        out["custom_field_choice_sets"].append(dict(_copy(data, "name", "description"), extra_choices=choices))
    for data in intent.items("custom_fields"):
        payload = _copy(data, "name", "label", "type")
        payload["object_types"] = list(data["object_types"])
        payload.update(_copy(data, "choice_set", "description"))
        payload["required"] = data.get("required", False)
        out["custom_fields"].append(payload)

    for kind in ("tenants", "rirs", "manufacturers"):
        for data in intent.items(kind):
            payload = {"name": data["name"], "slug": slug_of(kind, data)}
            payload.update(_copy(data, "is_private", "description"))
            out[kind].append(dict(payload, tags=tags))
    for data in intent.items("asns"):
        payload = {"asn": data["asn"], "rir": slug("rirs", data["rir"])}
        if "tenant" in data:
            payload["tenant"] = slug("tenants", data["tenant"])
        out["asns"].append(dict(payload, **_copy(data, "description"), tags=tags))

    for data in intent.items("platforms"):
        payload = {"name": data["name"], "slug": slug_of("platforms", data)}
        if "manufacturer" in data:
            payload["manufacturer"] = slug("manufacturers", data["manufacturer"])
        out["platforms"].append(dict(payload, **_copy(data, "description"), tags=tags))
        ansible = _copy(data, "ansible_network_os", "ansible_connection")
        if ansible:
            # nb_inventory exposes config context data as host vars (flatten_config_context).
            out["config_contexts"].append(
                {
                    "name": "netoss-platform-%s" % payload["slug"],
                    "description": "Ansible connection settings for platform %s (netoss intent)" % data["name"],
                    "is_active": True,
                    "platforms": [payload["slug"]],
                    "data": ansible,
                }
            )
    for data in intent.items("device_types"):
        payload = {
            "model": data["model"],
            "slug": slug_of("device_types", data),
            "manufacturer": slug("manufacturers", data["manufacturer"]),
            "u_height": data.get("u_height", 0),
        }
        out["device_types"].append(dict(payload, **_copy(data, "description"), tags=tags))
    for data in intent.items("device_roles"):
        payload = {"name": data["name"], "slug": slug_of("device_roles", data)}
        if "color" in data:
            payload["color"] = data["color"].lower()
        out["device_roles"].append(dict(payload, **_copy(data, "description"), tags=tags))
    for data in intent.items("sites"):
        payload = {
            "name": data["name"],
            "slug": slug_of("sites", data),
            "status": data.get("status", "active"),
        }
        if "tenant" in data:
            payload["tenant"] = slug("tenants", data["tenant"])
        out["sites"].append(dict(payload, **_copy(data, "time_zone", "description"), tags=tags))
    for data in intent.items("prefix_roles"):
        payload = {"name": data["name"], "slug": slug_of("prefix_roles", data)}
        out["prefix_roles"].append(dict(payload, **_copy(data, "weight", "description"), tags=tags))
    for data in intent.items("aggregates"):
        payload = {"prefix": str(ipaddress.ip_network(data["prefix"])), "rir": slug("rirs", data["rir"])}
        if "tenant" in data:
            payload["tenant"] = slug("tenants", data["tenant"])
        out["aggregates"].append(dict(payload, **_copy(data, "description"), tags=tags))
    for data in intent.items("prefixes"):
        payload = {
            "prefix": str(ipaddress.ip_network(data["prefix"])),
            "status": data.get("status", "active"),
        }
        if "site" in data:
            # `site` is deprecated in netbox_prefix since NetBox 4.2 replaced it with a scope.
            payload.update(scope_type="dcim.site", scope=slug("sites", data["site"]))
        if "tenant" in data:
            payload["tenant"] = slug("tenants", data["tenant"])
        if "role" in data:
            payload["prefix_role"] = slug("prefix_roles", data["role"])
        out["prefixes"].append(dict(payload, **_copy(data, "is_pool", "description"), tags=tags))

    for data in intent.items("devices"):
        payload = {
            "name": data["name"],
            "device_type": slug("device_types", data["device_type"]),
            "device_role": slug("device_roles", data["role"]),
            "site": slug("sites", data["site"]),
            "platform": slug("platforms", data["platform"]),
        }
        if "tenant" in data:
            payload["tenant"] = slug("tenants", data["tenant"])
        payload["status"] = data.get("status", "active")
        out["devices"].append(dict(payload, **_copy(data, "description"), tags=tags))
        for iface in data.get("interfaces", []):
            payload = {
                "device": data["name"],
                "name": iface["name"],
                "type": iface["type"],
                "enabled": iface.get("enabled", True),
                "mgmt_only": iface.get("mgmt_only", False),
            }
            out["interfaces"].append(dict(payload, **_copy(iface, "mtu", "description"), tags=tags))
            for address in addresses_of(iface):
                payload = {
                    "address": str(ipaddress.ip_interface(address["address"])),
                    "assigned_object": {"device": data["name"], "name": iface["name"]},
                    "status": address.get("status", "active"),
                }
                if "role" in address:
                    # The module's choices are the labels ("Loopback", "VIP"…), not the values.
                    payload["role"] = "VIP" if address["role"] == "vip" else address["role"].capitalize()
                out["ip_addresses"].append(dict(payload, **_copy(address, "dns_name", "description"), tags=tags))
        if "primary_ip4" in data:
            primary = str(ipaddress.ip_interface(data["primary_ip4"]))
            out["device_primary_ips"].append({"name": data["name"], "primary_ip4": primary})

    for data in intent.items("config_contexts"):
        payload = {"name": data["name"], "weight": data.get("weight", 1000), "is_active": True, "data": data["data"]}
        for key, kind in (
            ("roles", "device_roles"),
            ("platforms", "platforms"),
            ("sites", "sites"),
            ("tenants", "tenants"),
        ):
            if key in data:
                payload[key] = [slug(kind, value) for value in data[key]]
        out["config_contexts"].append(dict(payload, **_copy(data, "description")))

    for kind in ("providers", "circuit_types"):
        for data in intent.items(kind):
            payload = {"name": data["name"]}
            if kind == "circuit_types":  # netbox_provider makes the slug from the name itself
                payload["slug"] = slug_of(kind, data)
            if "color" in data:
                payload["color"] = data["color"].lower()
            out[kind].append(dict(payload, **_copy(data, "description"), tags=tags))
    circuit_cables = []
    sites = {d["name"]: d["site"] for d in intent.items("devices")}
    for data in intent.items("circuits"):
        payload = {
            "cid": data["cid"],
            "provider": slug("providers", data["provider"]),
            "circuit_type": slug("circuit_types", data["type"]),
            "status": data.get("status", "active"),
        }
        if "tenant" in data:
            payload["tenant"] = slug("tenants", data["tenant"])
        out["circuits"].append(dict(payload, **_copy(data, "commit_rate", "description"), tags=tags))
        # Each end is a termination at its device's site, cabled to the device's interface.
        # netbox_circuit_termination cannot tag: terminations go with their circuit. It takes
        # the site by ID only: the sot_sync role looks the slug up when it applies the payload.
        for side in ("a", "z"):
            device, _sep, name = data[side].partition(":")
            out["circuit_terminations"].append(
                {"circuit": data["cid"], "term_side": side.upper(), "site": slug("sites", sites[device])}
            )
            circuit_cables.append(
                {
                    "termination_a_type": "dcim.interface",
                    "termination_a": {"device": device, "name": name},
                    "termination_b_type": "circuits.circuittermination",
                    "termination_b": {"circuit": data["cid"], "term_side": side.upper()},
                    "status": "connected",
                    "tags": tags,
                }
            )

    for data in intent.items("cables"):
        payload = {}
        for side in ("a", "b"):
            device, _sep, name = data[side].partition(":")
            payload["termination_%s_type" % side] = "dcim.interface"
            payload["termination_%s" % side] = {"device": device, "name": name}
        payload["status"] = data.get("status", "connected")
        out["cables"].append(dict(payload, **_copy(data, "label", "description"), tags=tags))
    out["cables"].extend(circuit_cables)
    return out


def _lookup(intent, kind, reference):
    """The data of the ``kind`` entry that ``reference`` (its name, model or slug) names."""
    for data in intent.items(kind):
        if reference in (data.get("model", data.get("name")), slug_of(kind, data)):
            return data
    raise KeyError("%s: no %r in the intent" % (kind, reference))


# ---------------------------------------------------------------------------------------------
# Identity of objects, on both sides, for pruning


@functools.lru_cache(maxsize=1 << 17)
def _ip(text):
    """``text`` as an address with its length, written as ipaddress writes it (each address
    is compared on both sides of a plan: memoised, it is parsed once)."""
    return str(ipaddress.ip_interface(text))


def identity(kind, payload):
    """Hashable key of the object a ``build_netbox_objects`` payload of ``kind`` describes.

    It is the field(s) the netbox.netbox module finds the object by, so the same object read
    back from NetBox (:func:`netbox_identity`) has the same key.
    """
    if kind in SLUGGED_KINDS:
        return (payload.get("slug") or slugify(payload.get("name") or payload["model"]),)
    if kind in _NAMED_KINDS:
        return (payload["name"],)
    if kind == "asns":
        return (int(payload["asn"]),)
    if kind in ("prefixes", "aggregates"):
        return (normal_prefix(payload["prefix"]),)
    if kind == "interfaces":
        return (payload["device"], payload["name"])
    if kind == "ip_addresses":
        assigned = payload.get("assigned_object") or {}
        return (_ip(payload["address"]), assigned.get("device"), assigned.get("name"))
    if kind == "cables":
        return _cable_end(payload["termination_a"]) + _cable_end(payload["termination_b"])
    if kind == "circuits":
        return (payload["cid"],)
    if kind == "circuit_terminations":
        circuit = payload["circuit"]
        return (circuit.get("cid") if isinstance(circuit, dict) else circuit, payload["term_side"])
    raise ValueError("unknown kind %r" % kind)


def _cable_end(end):
    """(device, interface) of an interface end; ("circuit <cid>", side) of a circuit termination."""
    if "circuit" in end:
        circuit = end["circuit"]
        return ("circuit %s" % (circuit.get("cid") if isinstance(circuit, dict) else circuit), end["term_side"])
    return (end.get("device") if not isinstance(end.get("device"), dict) else end["device"]["name"], end["name"])


def _termination(terminations):
    """(device name, component name), or ("circuit <cid>", side), of the first termination of a cable side."""
    obj = (terminations[0].get("object") or {}) if terminations else {}
    if obj.get("circuit"):
        return _cable_end(obj)
    return (obj.get("device") or {}).get("name"), obj.get("name")


def netbox_identity(kind, record):
    """Same key as :func:`identity`, from a NetBox 4.7 REST API record of ``kind``."""
    if kind == "ip_addresses":
        assigned = record.get("assigned_object") or {}
        device = (assigned.get("device") or {}).get("name")
        return (_ip(record["address"]), device, assigned.get("name") if device else None)
    if kind == "interfaces":
        return (record["device"]["name"], record["name"])
    if kind == "cables":
        return _termination(record["a_terminations"]) + _termination(record["b_terminations"])
    return identity(kind, record)


def absent_payload(kind, record):
    """Minimal ``data`` for the netbox.netbox module of ``kind`` to find and delete ``record``
    (a NetBox REST API record) with ``state: absent``."""
    if kind == "device_types":
        return {"model": record["model"], "slug": record["slug"]}
    if kind in SLUGGED_KINDS:
        return {"name": record["name"], "slug": record["slug"]}
    if kind in _NAMED_KINDS:
        return {"name": record["name"]}
    if kind == "asns":
        return {"asn": record["asn"]}
    if kind == "aggregates":
        return {"prefix": record["prefix"], "rir": _slug_ref(record.get("rir"))}
    if kind in ("prefixes", "ip_addresses"):
        key = "prefix" if kind == "prefixes" else "address"
        payload = {key: record[key]}
        if record.get("vrf"):
            payload["vrf"] = record["vrf"]["name"]
        if kind == "ip_addresses":
            _address, device, name = netbox_identity(kind, record)
            if device:
                payload["assigned_object"] = {"device": device, "name": name}
        return payload
    if kind == "interfaces":
        return {"device": record["device"]["name"], "name": record["name"]}
    if kind == "cables":
        payload = {}
        for side in ("a", "b"):
            terminations = record["%s_terminations" % side]
            first, second = _termination(terminations)
            payload["termination_%s_type" % side] = terminations[0]["object_type"]
            if first and first.startswith("circuit "):
                payload["termination_%s" % side] = {"circuit": first[len("circuit ") :], "term_side": second}
            else:
                payload["termination_%s" % side] = {"device": first, "name": second}
        return payload
    if kind == "circuits":
        return {"cid": record["cid"], "provider": _slug_ref(record.get("provider"))}
    if kind == "circuit_terminations":
        return {"circuit": record["circuit"]["cid"], "term_side": record["term_side"]}
    raise ValueError("unknown kind %r" % kind)


def _slug_ref(value):
    return value.get("slug") if isinstance(value, dict) else value


def origins(intent):
    """{(kind, identity): "file: entry"} for every payload build_netbox_objects makes of ``intent``:
    where in the intent an object NetBox refused comes from."""
    out = {}

    def at(kind, key, entry, extra=""):
        out.setdefault((kind, key), "%s: %s%s" % (entry.file, entry.where, extra))

    for kind in MODULE_FOR_KIND:
        if kind in ("interfaces", "ip_addresses", "device_primary_ips", "circuit_terminations"):
            continue
        for entry in intent.entries.get(kind, []):
            data = entry.data
            if kind == "cables":
                ends = [data[side].partition(":") for side in ("a", "b")]
                at(kind, (ends[0][0], ends[0][2], ends[1][0], ends[1][2]), entry)
                continue
            try:
                at(kind, identity(kind, data), entry)
            except (KeyError, ValueError):
                continue
            if kind == "platforms":
                at("config_contexts", ("netoss-platform-%s" % slug_of("platforms", data),), entry)
            elif kind == "devices":
                at("device_primary_ips", (data["name"],), entry, ": primary_ip4")
                for i, iface in enumerate(data.get("interfaces", [])):
                    where = ": interfaces[%d] '%s'" % (i, iface["name"])
                    at("interfaces", (data["name"], iface["name"]), entry, where)
                    for j, address in enumerate(addresses_of(iface)):
                        key = (_ip(address["address"]), data["name"], iface["name"])
                        at("ip_addresses", key, entry, "%s: addresses[%d]" % (where, j))
            elif kind == "circuits":
                for side in ("a", "z"):
                    at("circuit_terminations", (data["cid"], side.upper()), entry, ": %s" % side)
                    device, _sep, name = data[side].partition(":")
                    key = (device, name, "circuit %s" % data["cid"], side.upper())
                    at("cables", key, entry, ": %s" % side)
    return out


SUMMARY_KINDS = ("sites", "devices", "interfaces", "ip_addresses", "prefixes", "cables")


def summary(objects, files, path):
    """One line on a loaded intent: "intent OK (5 files in DIR): 2 sites, 6 devices, ..."."""
    counts = ", ".join("%d %s" % (len(objects.get(kind, [])), kind) for kind in SUMMARY_KINDS)
    return "intent OK (%d files in %s): %s" % (len(files), path, counts)
