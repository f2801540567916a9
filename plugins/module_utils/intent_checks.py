# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The intent's consistency checks: what a schema cannot say, across entries and files.

Names, slugs, ASNs, prefixes, addresses and device names are unique; every reference names an
entry of the intent; addresses are host addresses with a mask, each inside a prefix of the
intent, and ``primary_ip4`` is one of the device's; cables and circuits join existing, physical
interfaces, each cabled once. :func:`check_intent` runs them on an intent whose files are all
schema-valid (intent_load calls it) and returns every problem, each named by file and entry.
"""

from __future__ import annotations

import bisect
import ipaddress

from ansible_collections.netoss.core.plugins.module_utils import config_values
from ansible_collections.netoss.core.plugins.module_utils.intent_schema import (
    SLUGGED_KINDS,
    Entry,
    addresses_of,
    normal_prefix,
    slug_of,
)
from ansible_collections.netoss.core.plugins.module_utils.schema_files import Problem
from ansible_collections.netoss.core.plugins.module_utils.schema_files import label as _label


def check_intent(intent):
    """The problems of a schema-valid intent (an intent_schema.Intent): a list of Problem, [] when none."""
    return _Checker(intent).run()


def _parse_address(text):
    """ip_interface from "a.b.c.d/len"; ValueError with a readable reason otherwise."""
    if "/" not in text:
        raise ValueError("%r has no prefix length (e.g. %s/24)" % (text, text))
    address = ipaddress.ip_interface(text)
    net = address.network
    if net.prefixlen < net.max_prefixlen - 1:
        if address.ip == net.network_address:
            raise ValueError("%s is the network address of %s" % (address.ip, net))
        if address.version == 4 and address.ip == net.broadcast_address:
            raise ValueError("%s is the broadcast address of %s" % (address.ip, net))
    return address


_REFERENCE_LABEL = {
    "tenants": "tenant",
    "rirs": "RIR",
    "asns": "ASN",
    "custom_field_choice_sets": "custom field choice set",
    "manufacturers": "manufacturer",
    "platforms": "platform",
    "device_types": "device type",
    "device_roles": "device role",
    "sites": "site",
    "prefix_roles": "prefix role",
    "providers": "provider",
    "circuit_types": "circuit type",
}


class _Checker:
    """Semantic checks of a schema-valid intent; ``run()`` returns the problems found."""

    def __init__(self, intent):
        self.intent = intent
        self.problems = []
        # kind -> name, slug (or model, ASN) -> entry, for references.
        self.known = {kind: {} for kind in _REFERENCE_LABEL}
        for kind in self.known:
            for entry in intent.entries[kind]:
                if kind == "asns":
                    keys = [entry.data["asn"]]
                elif kind == "custom_field_choice_sets":
                    keys = [entry.data["name"]]
                else:
                    keys = [entry.data.get("model", entry.data.get("name")), slug_of(kind, entry.data)]
                for key in keys:
                    self.known[kind].setdefault(key, entry)

    def report(self, entry, message, where=""):
        self.problems.append(Problem(entry.file, entry.where + where, message))

    def unique(self, entries, what, key, owner=None):
        """Report entries whose ``key`` repeats an earlier one; ``owner`` is the enclosing entry."""
        seen = {}
        for entry in entries:
            where = entry.where if owner is None else "%s: %s" % (owner.where, entry.where)
            value = key(entry)
            if value in seen:
                self.problems.append(
                    Problem(entry.file, where, "duplicate %s %r (first at %s)" % (what, value, seen[value]))
                )
            else:
                seen[value] = "%s: %s" % (entry.file, where)

    def reference(self, entry, key, kind, value=None, where=""):
        value = entry.data.get(key) if value is None else value
        if value is not None and value not in self.known[kind]:
            names = sorted({str(_label(e.data)).strip(" '") for e in self.known[kind].values()})
            known = ", ".join(names[:10]) + (", …" if len(names) > 10 else "") if names else "none defined"
            self.report(
                entry,
                "%s: no %s %r in the intent (known: %s)" % (key, _REFERENCE_LABEL[kind], value, known),
                where,
            )

    def run(self):
        entries = self.intent.entries
        for kind in SLUGGED_KINDS:
            label = "model" if kind == "device_types" else "name"
            self.unique(entries[kind], label, lambda e, label=label: e.data[label])
            self.unique(entries[kind], "slug", lambda e, kind=kind: slug_of(kind, e.data))
        self.unique(entries["custom_field_choice_sets"], "name", lambda e: e.data["name"])
        self.unique(entries["custom_fields"], "name", lambda e: e.data["name"])
        self.unique(entries["asns"], "ASN", lambda e: e.data["asn"])
        self.unique(entries["devices"], "device name", lambda e: e.data["name"])

        for entry in entries["asns"]:
            self.reference(entry, "rir", "rirs")
            self.reference(entry, "tenant", "tenants")
        for entry in entries["custom_fields"]:
            if entry.data["type"] == "select" and "choice_set" not in entry.data:
                self.report(entry, "choice_set is required when type is select")
            if entry.data["type"] != "select" and "choice_set" in entry.data:
                self.report(entry, "choice_set is only allowed when type is select")
            self.reference(entry, "choice_set", "custom_field_choice_sets")
        for kind in ("platforms", "device_types"):
            for entry in entries[kind]:
                self.reference(entry, "manufacturer", "manufacturers")
        for entry in entries["sites"]:
            self.reference(entry, "tenant", "tenants")
        self.unique(entries["config_contexts"], "name", lambda e: e.data["name"])
        for entry in entries["config_contexts"]:
            for key, kind in (
                ("roles", "device_roles"),
                ("platforms", "platforms"),
                ("sites", "sites"),
                ("tenants", "tenants"),
            ):
                for i, value in enumerate(entry.data.get(key, [])):
                    self.reference(entry, key, kind, value=value, where="%s[%d]" % (key, i))
            if entry.data["name"].startswith("netoss-platform-"):
                self.report(entry, "names starting with netoss-platform- are reserved for the platforms' contexts")
            if "netoss" in entry.data["data"]:
                # What templates place in configuration lines: banner, users, syslog servers...
                try:
                    config_values.check_context(entry.data["data"]["netoss"], "data.netoss")
                except config_values.ConfigValueError as exc:
                    self.report(entry, str(exc))
        for entry in entries["aggregates"]:
            self.reference(entry, "rir", "rirs")
            self.reference(entry, "tenant", "tenants")
            try:
                ipaddress.ip_network(entry.data["prefix"])
            except ValueError as exc:
                self.report(entry, "invalid prefix: %s" % exc)
        self.unique(
            entries["aggregates"], "aggregate", lambda e: normal_prefix(e.data["prefix"]) if _valid(e) else id(e)
        )
        networks = self.check_prefixes(entries["prefixes"])
        self.check_devices(entries["devices"], networks)
        self.unique(entries["circuits"], "circuit ID", lambda e: e.data["cid"])
        for entry in entries["circuits"]:
            self.reference(entry, "provider", "providers")
            self.reference(entry, "type", "circuit_types")
            self.reference(entry, "tenant", "tenants")
        self.check_cables(entries["cables"], entries["devices"], entries["circuits"])
        return self.problems

    def check_prefixes(self, prefixes):
        networks = []
        for entry in prefixes:
            self.reference(entry, "site", "sites")
            self.reference(entry, "tenant", "tenants")
            self.reference(entry, "role", "prefix_roles")
            try:
                network = ipaddress.ip_network(entry.data["prefix"])
            except ValueError as exc:
                self.report(entry, "invalid prefix: %s" % exc)
                continue
            networks.append((network, entry))
        self.unique([e for _n, e in networks], "prefix", lambda e: str(ipaddress.ip_network(e.data["prefix"])))
        return [network for network, _entry in networks]

    def check_devices(self, devices, networks):
        first_use = {}  # ip -> where it is first assigned
        inside = _Coverage(networks)
        for entry in devices:
            data = entry.data
            for key, kind in (
                ("site", "sites"),
                ("role", "device_roles"),
                ("platform", "platforms"),
                ("device_type", "device_types"),
                ("tenant", "tenants"),
            ):
                self.reference(entry, key, kind)
            interfaces = [
                Entry("interfaces", iface, entry.file, i) for i, iface in enumerate(data.get("interfaces", []))
            ]
            self.unique(interfaces, "interface name", lambda e: e.data["name"], owner=entry)
            own = []
            for iface in interfaces:
                for i, item in enumerate(addresses_of(iface.data)):
                    where = ": %s: addresses[%d]" % (iface.where, i)
                    try:
                        address = _parse_address(item["address"])
                    except ValueError as exc:
                        self.report(entry, "invalid IP address: %s" % exc, where)
                        continue
                    own.append(address)
                    if not inside.covers(address.ip):
                        self.report(entry, "%s is not inside any prefix of the intent" % address, where)
                    location = "%s: %s%s" % (entry.file, entry.where, where)
                    if address.ip in first_use:
                        self.report(
                            entry,
                            "duplicate IP address %s (first at %s)" % (address.ip, first_use[address.ip]),
                            where,
                        )
                    else:
                        first_use[address.ip] = location
            primary = data.get("primary_ip4")
            if primary is not None:
                try:
                    address = _parse_address(primary)
                except ValueError as exc:
                    self.report(entry, "primary_ip4: invalid IP address: %s" % exc)
                    continue
                if address.version != 4:
                    self.report(entry, "primary_ip4: %s is not an IPv4 address" % address)
                elif address not in own:
                    mine = ", ".join(str(a) for a in own) or "none"
                    self.report(
                        entry,
                        "primary_ip4: %s is not an address of this device (its addresses: %s)" % (address, mine),
                    )

    def check_cables(self, cables, devices, circuits=()):
        """Cable ends and circuit ends: existing, physical interfaces, each cabled once."""
        interfaces = {}
        for entry in devices:  # the first of duplicate devices wins, as it does for references
            interfaces.setdefault(entry.data["name"], {i["name"]: i for i in entry.data.get("interfaces", [])})
        cabled = {}  # (device, interface) -> cable entry
        for entry in [*cables, *circuits]:
            ends = {}
            sides = ("a", "z") if "cid" in entry.data else ("a", "b")
            for side in sides:
                end = entry.data[side]
                device, _sep, name = end.partition(":")
                if device not in interfaces:
                    self.report(entry, "%s %r: no device %s" % (side, end, device))
                elif name not in interfaces[device]:
                    self.report(entry, "%s %r: no interface %s on device %s" % (side, end, name, device))
                elif interfaces[device][name]["type"] == "virtual":
                    self.report(entry, "%s %r: %s is a virtual interface, it cannot be cabled" % (side, end, name))
                else:
                    ends[side] = (device, name)
            if len(ends) == 2 and ends[sides[0]] == ends[sides[1]]:
                self.report(entry, "%s and %s are the same interface %r" % (*sides, entry.data["a"]))
                continue
            for side, end in ends.items():
                if end in cabled:
                    first = cabled[end]
                    self.report(
                        entry,
                        "%s %r: interface already cabled by %s: %s" % (side, entry.data[side], first.file, first.where),
                    )
                else:
                    cabled[end] = entry


class _Coverage:
    """The addresses a set of prefixes covers, as disjoint ranges: whether an address is inside
    any of them is a binary search, not a scan of every prefix (a fleet has thousands)."""

    def __init__(self, networks):
        ranges = []
        for version in (4, 6):
            spans = sorted(
                (int(n.network_address), int(n.broadcast_address)) for n in networks if n.version == version
            )
            merged = []
            for start, end in spans:
                if merged and start <= merged[-1][1] + 1:
                    merged[-1][1] = max(merged[-1][1], end)
                else:
                    merged.append([start, end])
            ranges.append(merged)
        self.ranges = dict(zip((4, 6), ranges, strict=True))
        self.starts = {v: [r[0] for r in rs] for v, rs in self.ranges.items()}

    def covers(self, ip):
        value, ranges = int(ip), self.ranges[ip.version]
        i = bisect.bisect_right(self.starts[ip.version], value) - 1
        return i >= 0 and ranges[i][0] <= value <= ranges[i][1]


def _valid(entry):
    try:
        ipaddress.ip_network(entry.data["prefix"])
    except ValueError:
        return False
    return True
