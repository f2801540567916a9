# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure logic of the inventory plugin netoss.core.netbox: NetBox records in, hosts out.

The plugin (plugins/inventory/netbox.py) reads NetBox (netbox_inventory_read) and hands the
records to the functions here:

- ``Settings.from_options``: the plugin's options, checked, with clear errors;
- ``device_fields`` / ``interface_fields`` / ``ip_fields``: what to ask NetBox for (REST ``fields=``);
- ``build_hosts``: each device record becomes a ``Host`` (name, variables, groups) exactly as
  netbox.netbox.nb_inventory names them (``sites_<slug>``, ``device_roles_<slug>``... and the
  variables it sets), so the plugin is a drop-in for it;
- ``site_structure``: the site, region, site group and location groups nb_inventory nests;
- ``fold_changes``: NetBox's change log since the last read, folded into what to re-read and drop,
  or the reason a full read is needed.

Nothing here talks to NetBox or to Ansible, so it is unit-tested on plain dicts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from ipaddress import ip_interface

# group_by choices: the name nb_inventory gives the grouping (plurals on / off) and the host
# variable it sets from the same extractor.
_PLURAL = {
    "site": "sites",
    "tenant": "tenants",
    "rack": "racks",
    "tag": "tags",
    "role": "device_roles",
    "platform": "platforms",
    "device_type": "device_types",
    "manufacturer": "manufacturers",
}
_PLAIN_GROUP_BY = (
    "location",
    "rack_role",
    "region",
    "site_group",
    "cluster",
    "cluster_type",
    "cluster_group",
    "is_virtual",
    "status",
    "time_zone",
    "utc_offset",
    "facility",
    "services",
)
# Change-log object types that change no host by themselves being changed, but that the
# inventory draws on as a whole (names, slugs, trees, config context rules, custom fields): a
# change to one of them needs a full read. Changes of any other type than these and the three
# re-read one by one (devices, interfaces, IP addresses) cannot change the inventory.
FULL_READ_TYPES = frozenset(
    {
        "dcim.site",
        "dcim.region",
        "dcim.sitegroup",
        "dcim.location",
        "dcim.rack",
        "dcim.rackrole",
        "dcim.devicerole",
        "dcim.platform",
        "dcim.devicetype",
        "dcim.manufacturer",
        "dcim.virtualchassis",
        "tenancy.tenant",
        "tenancy.tenantgroup",
        "extras.tag",
        "extras.configcontext",
        "extras.configcontextprofile",
        "extras.customfield",
        "extras.customfieldchoiceset",
        "virtualization.cluster",
        "virtualization.clustertype",
        "virtualization.clustergroup",
        "ipam.service",
        "ipam.vrf",
        "ipam.vlan",
    }
)
DEVICE, INTERFACE, IPADDRESS = "dcim.device", "dcim.interface", "ipam.ipaddress"

# The interface and address fields read by default: those NetBox serialises cheaply (tags,
# custom fields, tagged VLANs and address counts cost it several times more per interface:
# add them with interface_fields / ip_fields when a playbook needs them).
DEFAULT_INTERFACE_FIELDS = (
    "id",
    "name",
    "label",
    "type",
    "enabled",
    "mtu",
    "mac_address",
    "description",
    "mgmt_only",
    "mode",
    "untagged_vlan",
    "lag",
    "parent",
    "vrf",
)
DEFAULT_IP_FIELDS = ("id", "address", "family", "status", "role", "dns_name", "vrf", "tenant", "description")


class InventoryError(Exception):
    """A setting or a NetBox answer the inventory cannot use; the message says which and why."""


@dataclass
class Settings:
    """The plugin options the logic depends on (names and meaning as nb_inventory's)."""

    group_by: list[str] = field(default_factory=list)
    plurals: bool = True
    group_names_raw: bool = False
    config_context: bool = False
    flatten_config_context: bool = False
    flatten_custom_fields: bool = False
    flatten_local_context_data: bool = False
    interfaces: bool = False
    services: bool = False
    racks: bool = True
    dns_name: bool = False
    ansible_host_dns_name: bool = False
    oob_ip_as_primary_ip: bool = False
    hostname_field: str | None = None
    rename_variables: list[tuple[re.Pattern, str]] = field(default_factory=list)
    fetch_all: bool = True
    query_filters: list[tuple[str, str]] = field(default_factory=list)
    device_query_filters: list[tuple[str, str]] = field(default_factory=list)
    prefer_ipv4: bool = False
    device_fields: list[str] = field(default_factory=list)
    interface_fields: list[str] = field(default_factory=lambda: list(DEFAULT_INTERFACE_FIELDS))
    ip_fields: list[str] = field(default_factory=lambda: list(DEFAULT_IP_FIELDS))

    @classmethod
    def from_options(cls, options: dict) -> Settings:
        """Settings from the plugin's options (a dict of option name to value); InventoryError
        names the option that is wrong."""
        s = cls()
        for name in (
            "plurals",
            "group_names_raw",
            "config_context",
            "flatten_config_context",
            "flatten_custom_fields",
            "flatten_local_context_data",
            "interfaces",
            "services",
            "racks",
            "dns_name",
            "ansible_host_dns_name",
            "oob_ip_as_primary_ip",
            "fetch_all",
            "prefer_ipv4",
        ):
            if options.get(name) is not None:
                setattr(s, name, bool(options[name]))
        s.hostname_field = options.get("hostname_field") or None
        s.group_by = list(options.get("group_by") or [])
        valid = set(valid_group_by(s))
        for g in s.group_by:
            if g not in valid:
                raise InventoryError(
                    f"group_by {g!r} is not valid with plurals={s.plurals} and racks={s.racks}: choose from "
                    + ", ".join(sorted(valid))
                )
        s.rename_variables = []
        for i, item in enumerate(options.get("rename_variables") or []):
            if not isinstance(item, dict) or "pattern" not in item or "repl" not in item:
                raise InventoryError(f"rename_variables[{i}]: expected a dict with 'pattern' and 'repl', got {item!r}")
            try:
                s.rename_variables.append((re.compile(item["pattern"]), item["repl"]))
            except re.error as exc:
                raise InventoryError(
                    f"rename_variables[{i}]: pattern {item['pattern']!r} is not a regex: {exc}"
                ) from None
        s.query_filters = _filters("query_filters", options.get("query_filters"))
        s.device_query_filters = _filters("device_query_filters", options.get("device_query_filters"))
        for name in ("device_fields", "interface_fields", "ip_fields"):
            value = options.get(name)
            if value is None:
                continue
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise InventoryError(f"{name}: expected a list of NetBox field names, got {value!r}")
            setattr(s, name, list(value))
        return s

    @property
    def needs_ips(self) -> bool:
        """Whether IP addresses are read (interfaces carry them; nb_inventory's dns_name reads them)."""
        return self.interfaces

    def cache_identity(self) -> dict:
        """What a cached read depends on: a cache written under other settings is not reused."""
        return {
            "fields": device_fields(self),
            "interfaces": interface_fields(self) if self.interfaces else None,
            "ips": ip_fields(self) if self.needs_ips else None,
            "services": self.services,
            "racks": self.racks,
            "filters": [list(f) for f in self.query_filters + self.device_query_filters],
            "fetch_all": self.fetch_all,
            "prefer_ipv4": self.prefer_ipv4,
        }


def _filters(name: str, value) -> list[tuple[str, str]]:
    """nb_inventory's query filters: a list of one-key dicts ({"role": "core"})."""
    out = []
    for i, item in enumerate(value or []):
        if not isinstance(item, dict) or len(item) != 1:
            raise InventoryError(f"{name}[{i}]: expected a dict of one NetBox filter and its value, got {item!r}")
        ((k, v),) = item.items()
        if isinstance(v, bool):
            v = str(v).lower()
        out.append((str(k), str(v)))
    return out


def valid_group_by(settings: Settings) -> list[str]:
    """The group_by choices under these plurals/racks settings (as nb_inventory's)."""
    names = [_PLURAL[k] if settings.plurals else k for k in _PLURAL]
    plain = list(_PLAIN_GROUP_BY)
    if not settings.racks:
        names.remove("racks" if settings.plurals else "rack")
        plain.remove("rack_role")
    if not settings.services:
        plain.remove("services")
    return names + plain


def device_fields(settings: Settings) -> list[str]:
    """The device fields to read (REST ``fields=``): what the host variables and groups need,
    and the user's ``device_fields``."""
    fields = [
        "id",
        "name",
        "status",
        "site",
        "role",
        "platform",
        "tenant",
        "tags",
        "device_type",
        "serial",
        "asset_tag",
        "primary_ip4",
        "primary_ip6",
        "oob_ip",
        "cluster",
        "custom_fields",
        "local_context_data",
        "virtual_chassis",
    ]
    if settings.racks:
        fields += ["rack", "location"]
    if settings.config_context:
        fields.append("config_context")
    return list(dict.fromkeys(fields + settings.device_fields))


def interface_fields(settings: Settings) -> list[str]:
    return list(dict.fromkeys(["id", "device", *settings.interface_fields]))


def ip_fields(settings: Settings) -> list[str]:
    return list(dict.fromkeys(["id", "assigned_object_type", "assigned_object_id", *settings.ip_fields]))


@dataclass
class Lookups:
    """The small tables the host variables draw on, by id: each a dict of id -> record."""

    sites: dict = field(default_factory=dict)
    regions: dict = field(default_factory=dict)
    site_groups: dict = field(default_factory=dict)
    locations: dict = field(default_factory=dict)
    racks: dict = field(default_factory=dict)
    clusters: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {k: list(getattr(self, k).values()) for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: dict) -> Lookups:
        return cls(**{k: {r["id"]: r for r in data.get(k) or []} for k in cls.__dataclass_fields__})


@dataclass
class Host:
    name: str
    vars: dict
    groups: list[str]
    record: dict


def _id(ref) -> int | None:
    return ref.get("id") if isinstance(ref, dict) else None


def _ip(ref) -> str | None:
    """The address without its prefix length. NetBox gives it normalised (``198.51.100.7/24``,
    ``2001:db8::7/64``): splitting is what ``ip_interface(...).ip`` gives, 20 times faster."""
    if isinstance(ref, dict) and ref.get("address"):
        address = ref["address"]
        return address.split("/", 1)[0] if "/" in address else str(ip_interface(address).ip)
    return None


def primary_ip(device: dict, prefer_ipv4: bool = False):
    """NetBox's Device.primary_ip: the IPv6 primary unless PREFER_IPV4 (NetBox's setting), else
    the IPv4 one. Computed here: asking NetBox for ``primary_ip`` costs it a query per device."""
    if "primary_ip" in device:
        return device["primary_ip"]
    ip4, ip6 = device.get("primary_ip4"), device.get("primary_ip6")
    if prefer_ipv4 and ip4:
        return ip4
    return ip6 or ip4


def _chain(start: int | None, table: dict, attr: str = "parent") -> list[str]:
    """Slugs from ``start`` up its parents (nb_inventory's _objects_array_following_parents)."""
    out, seen = [], set()
    while start is not None and start in table and start not in seen:
        seen.add(start)
        out.append(table[start]["slug"])
        start = _id(table[start].get(attr))
    return out


def _time_zone(site: dict) -> str | None:
    return (site.get("time_zone") or "").replace("/", "_", 2) or None


def _utc_offset(time_zone: str | None) -> str | None:
    if not time_zone:
        return None
    try:
        import datetime
        from zoneinfo import ZoneInfo

        hours = round(datetime.datetime.now(ZoneInfo(time_zone)).utcoffset().total_seconds() / 3600)
    except Exception:  # an unknown zone gives no group, as in nb_inventory
        return None
    return str(hours).replace("-", "minus_") if hours < 0 else f"plus_{hours}"


class HostBuilder:
    """Device records to Hosts under one Settings and Lookups (the per-run state is here)."""

    def __init__(self, settings: Settings, lookups: Lookups):
        self.s = settings
        self.lk = lookups
        self.renames = settings.rename_variables
        self._renamed: dict = {}  # variable name -> its name after rename_variables

    def _key(self, group_by: str) -> str:
        return _PLURAL[group_by] if self.s.plurals and group_by in _PLURAL else group_by

    def _wrap(self, value):
        return [value] if self.s.plurals else value

    def _rename(self, key: str) -> str:
        done = self._renamed.get(key)
        if done is None:
            done = self._renamed[key] = next((p.sub(r, key) for p, r in self.renames if p.match(key)), key)
        return done

    def extractors(self, device: dict, interfaces, services) -> list[tuple[str, object]]:
        """(attribute, value) in nb_inventory's order; None values are left out by the caller."""
        s, lk, wrap = self.s, self.lk, self._wrap
        site_id = _id(device.get("site"))
        site = lk.sites.get(site_id) or {}
        out: list[tuple[str, object]] = [
            ("disk", device.get("disk")),
            ("memory", device.get("memory")),
            ("vcpus", device.get("vcpus")),
            ("status", device.get("status")),
        ]
        cc = device.get("config_context")
        if s.config_context or cc is not None:
            out.append(("config_context", None if cc is None else (cc if s.flatten_config_context else wrap(cc))))
        lcd = device.get("local_context_data")
        out.append(("local_context_data", lcd if s.flatten_local_context_data else wrap(lcd)))
        cf = device.get("custom_fields")
        out.append(("custom_fields", None if cf is None else {k: v for k, v in cf.items() if v is not None}))
        out.append(("regions", _chain(_id(site.get("region")), lk.regions) if site_id is not None else []))
        cluster = device.get("cluster")
        cl = lk.clusters.get(_id(cluster)) or {}
        out += [
            ("cluster", cluster.get("name") if isinstance(cluster, dict) else None),
            ("cluster_group", (cl.get("group") or {}).get("slug") if cl else None),
            ("cluster_type", (cl.get("type") or {}).get("slug") if cl else None),
            ("cluster_device", device.get("device")),
            ("is_virtual", False),
            ("serial", device.get("serial")),
            ("asset_tag", device.get("asset_tag")),
            (
                "time_zone",
                (site.get("time_zone") or "").replace("/", "_", 2) or None if "time_zone" in s.group_by else None,
            ),
            ("utc_offset", _utc_offset(site.get("time_zone")) if "utc_offset" in s.group_by else None),
            ("facility", site.get("facility") if "facility" in s.group_by else None),
            (self._key("site"), wrap(site["slug"]) if site else None),
            (self._key("tenant"), wrap(device["tenant"]["slug"]) if device.get("tenant") else None),
            ("tags", [t["slug"] if isinstance(t, dict) else t for t in device.get("tags") or []]),
            (self._key("role"), wrap(device["role"]["slug"]) if device.get("role") else None),
            (self._key("platform"), wrap(device["platform"]["slug"]) if device.get("platform") else None),
            (self._key("device_type"), wrap(device["device_type"]["slug"]) if device.get("device_type") else None),
            (
                self._key("manufacturer"),
                wrap(device["device_type"]["manufacturer"]["slug"])
                if (device.get("device_type") or {}).get("manufacturer")
                else None,
            ),
            ("site_groups", _chain(_id(site.get("group")), lk.site_groups) if site_id is not None else []),
        ]
        if s.racks:
            rack = lk.racks.get(_id(device.get("rack"))) or {}
            out += [
                (self._key("rack"), wrap(device["rack"]["name"]) if device.get("rack") else None),
                ("rack_role", (rack.get("role") or {}).get("slug") if rack else None),
                ("locations", _chain(_id(device.get("location")), lk.locations)),
            ]
        if s.services:
            out.append(("services", services if services is not None else None))
        if s.interfaces:
            out.append(("interfaces", interfaces))
        if s.interfaces or s.dns_name or s.ansible_host_dns_name:
            out.append(("dns_name", (primary_ip(device, s.prefer_ipv4) or {}).get("dns_name") or None))
        return out

    def hostname(self, device: dict) -> str:
        if self.s.hostname_field:
            return (device.get("custom_fields") or {}).get(self.s.hostname_field)
        return device.get("name") or f"netbox-device-{device['id']}"

    def host(self, device: dict, interfaces=None, services=None) -> Host:
        """One device record (and its interfaces, services) as a Host."""
        s = self.s
        hv: dict = {}
        rename = self._rename if self.renames else (lambda k: k)

        def put(key, value):
            hv[rename(key)] = value

        pip = primary_ip(device, s.prefer_ipv4)
        primary = _ip(pip)
        if primary:
            put("ansible_host", primary)
        if s.ansible_host_dns_name:
            dns = (pip or {}).get("dns_name")
            if dns:
                put("ansible_host", dns)
        for key in ("primary_ip4", "primary_ip6", "oob_ip"):
            value = _ip(device.get(key))
            if value:
                put(key, value)
                if key == "oob_ip" and s.oob_ip_as_primary_ip:
                    put("ansible_host", value)
        extracted = self.extractors(device, interfaces, services)
        flatten = {
            "config_context": s.flatten_config_context,
            "custom_fields": s.flatten_custom_fields,
            "local_context_data": s.flatten_local_context_data,
        }
        for attribute, value in extracted:
            if value is None:
                continue
            if isinstance(value, dict) and flatten.get(attribute):
                for k, v in value.items():
                    put(k, v)
            else:
                put(attribute, value)
        return Host(self.hostname(device), hv, self.groups(extracted), device)

    def groups(self, extracted: list[tuple[str, object]]) -> list[str]:
        """The group_by groups of a host (the site, region and location groups excepted: see
        site_structure and site_group_of)."""
        values = dict(extracted)
        values["tag" if not self.s.plurals else "tags"] = values.get("tags")
        values["region"] = values.get("regions")
        values["site_group"] = values.get("site_groups")
        values["location"] = values.get("locations")
        skip = {"region", self._key("site"), "location", "site_group", "sites", "site"}
        out = []
        for grouping in self.s.group_by:
            if grouping in skip:
                continue
            found = values.get(grouping)
            if not found:
                continue
            for value in found if isinstance(found, list) else [found]:
                name = group_name(grouping, value, self.s.group_names_raw)
                if name:
                    out.append(name)
        return out


def group_name(grouping: str, value, raw: bool = False) -> str | None:
    """nb_inventory's generate_group_name."""
    if isinstance(value, bool):
        return grouping if value else None
    if grouping == "services":
        value, grouping = value["name"], "service"
    if grouping == "status":
        value = value["value"]
    return str(value) if raw else f"{grouping}_{value}"


@dataclass
class SiteStructure:
    """The groups nb_inventory makes for sites, regions, site groups and locations, and where
    each host goes (its location's group, else its site's)."""

    groups: list[str] = field(default_factory=list)
    children: list[tuple[str, str]] = field(default_factory=list)  # (parent, child)
    site_group: dict = field(default_factory=dict)  # site id -> group name
    location_group: dict = field(default_factory=dict)  # location id -> group name

    def group_of(self, device: dict) -> str | None:
        loc, site = _id(device.get("location")), _id(device.get("site"))
        if self.location_group and loc is not None:
            return self.location_group.get(loc)
        if self.site_group and site is not None:
            return self.site_group.get(site)
        return None


def site_structure(settings: Settings, lookups: Lookups) -> SiteStructure:
    st = SiteStructure()
    gb = settings.group_by
    site_key = _PLURAL["site"] if settings.plurals else "site"
    raw = settings.group_names_raw
    if not (site_key in gb or "location" in gb or "region" in gb):
        return st
    for site_id, site in lookups.sites.items():
        st.site_group[site_id] = name = group_name(site_key, site["slug"], raw)
        st.groups.append(name)

    def nested(kind, table):
        names = {i: group_name(kind, r["slug"], raw) for i, r in table.items()}
        st.groups.extend(names.values())
        for i, r in table.items():
            parent = _id(r.get("parent"))
            if parent is not None and parent in names:
                st.children.append((names[parent], names[i]))
        return names

    if "location" in gb:
        st.location_group = nested("location", lookups.locations)
        for i, loc in lookups.locations.items():
            if _id(loc.get("parent")) is None and _id(loc.get("site")) in st.site_group:
                st.children.append((st.site_group[_id(loc["site"])], st.location_group[i]))
    for kind, table, attr in (("region", lookups.regions, "region"), ("site_group", lookups.site_groups, "group")):
        if kind not in gb:
            continue
        names = nested(kind, table)
        for site_id, site in lookups.sites.items():
            ref = _id(site.get(attr))
            if ref is not None and ref in names:
                st.children.append((names[ref], st.site_group[site_id]))
    return st


def attach_interfaces(interfaces: list[dict], ips_by_interface: dict) -> list[dict]:
    """A device's interfaces as nb_inventory gives them: each with its ``ip_addresses``."""
    out = []
    for itf in interfaces:
        item = dict(itf)
        item["ip_addresses"] = [dict(ip) for ip in ips_by_interface.get(itf["id"], ())]
        out.append(item)
    return out


def strip_ip(ip: dict) -> dict:
    """An IP address record as it sits under an interface (its assignment is the interface)."""
    return {k: v for k, v in ip.items() if k not in ("assigned_object_type", "assigned_object_id", "assigned_object")}


@dataclass
class Refresh:
    """What a change log since the last read asks for."""

    full: str | None = None  # the reason a full read is needed, else None
    devices: set = field(default_factory=set)  # device ids to re-read
    interfaces_of: set = field(default_factory=set)  # device ids whose interfaces and IPs to re-read
    drop_devices: set = field(default_factory=set)
    last_id: int = 0
    changes: int = 0


def _snapshots(change: dict) -> list[dict]:
    """The object's data before and after the change (NetBox's prechange/postchange_data; a
    foreign key is the related object's id)."""
    return [d for d in (change.get("prechange_data"), change.get("postchange_data")) if isinstance(d, dict)]


def fold_changes(changes: list[dict], last_id: int, index: dict, settings: Settings, max_changes: int) -> Refresh:
    """Fold NetBox change-log entries (id, action, changed_object_type, changed_object_id,
    prechange_data, postchange_data; oldest first) into a Refresh.

    ``index`` maps what the cache knows: ``interface_device`` (interface id -> device id),
    ``ip_device`` (IP id -> the device its interface is on) and ``primary`` (IP id -> ids of the
    devices whose primary or OOB IP it is).
    """
    r = Refresh(last_id=last_id)
    itf_device = index.get("interface_device", {})
    ip_device, primary = index.get("ip_device", {}), index.get("primary", {})
    for ch in changes:
        r.last_id = max(r.last_id, ch["id"])
        r.changes += 1
        kind = ch.get("changed_object_type")
        oid = ch.get("changed_object_id")
        action = ch.get("action")
        action = action.get("value") if isinstance(action, dict) else action
        if kind in FULL_READ_TYPES:
            r.full = r.full or f"a {kind} changed (change {ch['id']})"
        elif kind == DEVICE:
            if action == "delete":
                r.drop_devices.add(oid)
                r.devices.discard(oid)
            else:
                r.devices.add(oid)
                r.drop_devices.discard(oid)
        elif kind == INTERFACE and settings.interfaces:
            # The device it was on and the device it is on (an interface can move).
            owners = {itf_device.get(oid)} | {d.get("device") for d in _snapshots(ch)}
            r.interfaces_of.update(o for o in owners if o is not None)
        elif kind == IPADDRESS:
            # Its address or DNS name shows in the host of each device it is the primary IP of.
            r.devices.update(primary.get(oid, ()))
            if settings.needs_ips:
                # The device it was on, and the device of the interface it is on now.
                owners = {ip_device.get(oid)} | {itf_device.get(d.get("assigned_object_id")) for d in _snapshots(ch)}
                r.interfaces_of.update(o for o in owners if o is not None)
    if r.changes > max_changes:
        r.full = r.full or f"{r.changes} changes since the last read (more than cache_max_changes={max_changes})"
    r.interfaces_of -= r.drop_devices
    return r
