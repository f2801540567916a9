# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Source of truth as code: the netoss intent model.

The intent is a directory of YAML files (``*.yml``, ``*.yaml``). Each file maps a kind
(``devices``, ``prefixes``…) to a list of entries. :func:`load_intent` checks every file against
a JSON Schema, merges the kinds, then runs the semantic checks (references, addressing, cabling)
and reports every problem at once. :func:`build_netbox_objects` turns a valid intent into the
``data`` payloads of the netbox.netbox modules, in dependency order.

Pure Python: stdlib, PyYAML and jsonschema only, so pytest, modules and the portal share it.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from ansible_collections.netoss.core.plugins.module_utils import config_values
from ansible_collections.netoss.core.plugins.module_utils.schema_files import (
    Problem,
    ProblemsError,
    schema_problems,
    yaml_files,
)
from ansible_collections.netoss.core.plugins.module_utils.schema_files import display as _display
from ansible_collections.netoss.core.plugins.module_utils.schema_files import label as _label
from ansible_collections.netoss.core.plugins.module_utils.schema_files import read_yaml as _read_yaml

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

# A tuple, not a set: the checks run in this order, so problems come in a stable order.
_SLUGGED_KINDS = (
    "tags",
    "tenants",
    "rirs",
    "manufacturers",
    "platforms",
    "device_types",
    "device_roles",
    "sites",
    "prefix_roles",
    "providers",
    "circuit_types",
)
_NAMED_KINDS = {
    "custom_field_choice_sets",
    "custom_fields",
    "config_contexts",
    "devices",
    "device_primary_ips",
}

# ---------------------------------------------------------------------------------------------
# Schema: one per kind. Each property's `description` is appended to pattern and type errors.

# No text of the intent holds a control character (a newline in a name would reach NetBox,
# then a router's configuration): _control_problems() checks every string of every file (a
# pattern's `$` also matches before a final newline). Values that templates place in lines
# have strict patterns too, and config contexts' `netoss` key is checked by config_values.
_STR = {"type": "string", "minLength": 1}
_DESC = {"type": "string", "maxLength": 200}
# Text that reaches a device's configuration (interface descriptions, customers' names).
_CONFIG_TEXT = {
    "type": "string",
    "pattern": r"^[%s]*$" % config_values.TEXT_CHARS,
    "maxLength": 200,
    "description": "it reaches device configurations: letters, digits, space and . , : ; / ( ) @ & + = ' _ -",
}
_TENANT_NAME = dict(_CONFIG_TEXT, minLength=1, maxLength=100)
_BOOL = {"type": "boolean"}
_SLUG = {
    "type": "string",
    "pattern": r"^[a-z0-9_]+(-[a-z0-9_]+)*$",
    "description": "lowercase letters, digits, _ and single dashes",
}
_COLOR = {"type": "string", "pattern": r"^[0-9a-fA-F]{6}$", "description": "6 hex digits; quote it in YAML"}
_ASN = {"type": "integer", "minimum": 1, "maximum": 4294967295}


def _ref(what):
    return dict(_STR, description="name or slug of a %s of the intent" % what)


_IP_STATUS = {"enum": ["active", "reserved", "deprecated", "dhcp", "slaac"]}


def _obj(required=(), /, **properties):
    return {
        "type": "object",
        "required": list(required),
        "additionalProperties": False,
        "properties": properties,
    }


def _list(items, min_items=0):
    return {"type": "array", "items": items, "minItems": min_items}


_ADDRESS = {
    # An address is "198.18.0.11/24" or a mapping; properties/required only apply to mappings.
    "type": ["string", "object"],
    "required": ["address"],
    "additionalProperties": False,
    "properties": {
        "address": _STR,
        "role": {"enum": ["loopback", "secondary", "anycast", "vip"]},
        "status": _IP_STATUS,
        "dns_name": _STR,
        "description": _DESC,
    },
    "description": "an address with its mask, e.g. 198.18.0.11/24, or a mapping with `address`",
}

_INTERFACE = _obj(
    ["name", "type"],
    name={
        "type": "string",
        "pattern": r"^[A-Za-z][A-Za-z0-9./_-]{0,63}$",
        "description": "a letter then up to 63 of letters, digits, . / _ -, as the vendor names it "
        "(eth1, GigabitEthernet0/0/0/12); the lab builds only devices whose management and cabled "
        "interfaces are Linux names: at most 15 characters, no /",
    },
    type={"enum": ["virtual", "1000base-t", "10gbase-x-sfpp", "25gbase-x-sfp28", "100gbase-x-qsfp28", "other"]},
    description=_CONFIG_TEXT,
    enabled=_BOOL,
    mtu={"type": "integer", "minimum": 68, "maximum": 65535},
    mgmt_only=_BOOL,
    addresses=_list(_ADDRESS),
)

KIND_SCHEMAS = {
    "tags": _obj(["name"], name=_STR, slug=_SLUG, color=_COLOR, description=_DESC),
    "tenants": _obj(["name"], name=_TENANT_NAME, slug=_SLUG, description=_DESC),
    "rirs": _obj(["name"], name=_STR, slug=_SLUG, is_private=_BOOL, description=_DESC),
    "asns": _obj(["asn", "rir"], asn=_ASN, rir=_ref("RIR"), tenant=_ref("tenant"), description=_DESC),
    "custom_field_choice_sets": _obj(
        ["name", "extra_choices"],
        name=_STR,
        description=_DESC,
        extra_choices=_list(
            {"type": "array", "items": _STR, "minItems": 2, "maxItems": 2, "description": "[value, label]"},
            min_items=1,
        ),
    ),
    "custom_fields": _obj(
        ["name", "type", "object_types"],
        name={
            "type": "string",
            "pattern": r"^[a-z][a-z0-9_]*$",
            "description": "lowercase letters, digits and _",
        },
        label=_STR,
        type={"enum": ["text", "longtext", "integer", "boolean", "date", "datetime", "url", "json", "select"]},
        object_types=_list(
            {
                "type": "string",
                "pattern": r"^[a-z_]+\.[a-z_]+$",
                "description": "app.model, e.g. dcim.device",
            },
            min_items=1,
        ),
        choice_set=_ref("custom field choice set"),
        description=_DESC,
        required=_BOOL,
    ),
    "manufacturers": _obj(["name"], name=_STR, slug=_SLUG, description=_DESC),
    "platforms": _obj(
        ["name"],
        name=_STR,
        slug=_SLUG,
        manufacturer=_ref("manufacturer"),
        description=_DESC,
        ansible_network_os=dict(_STR, description="FQCN of the Ansible network OS, e.g. netoss.core.frr"),
        ansible_connection=dict(_STR, description="e.g. netoss.core.network_cli"),
    ),
    "device_types": _obj(
        ["model", "manufacturer"],
        model=_STR,
        slug=_SLUG,
        manufacturer=_ref("manufacturer"),
        u_height={"type": "number", "minimum": 0},
        description=_DESC,
    ),
    "device_roles": _obj(["name"], name=_STR, slug=_SLUG, color=_COLOR, description=_DESC),
    "sites": _obj(
        ["name"],
        name=_STR,
        slug=_SLUG,
        status={"enum": ["planned", "staging", "active", "decommissioning", "retired"]},
        tenant=_ref("tenant"),
        description=_DESC,
        time_zone={"type": "string", "pattern": r"^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*$"},
    ),
    "prefix_roles": _obj(
        ["name"],
        name=_STR,
        slug=_SLUG,
        weight={"type": "integer", "minimum": 0, "maximum": 32767},
        description=dict(_DESC, description="what the prefixes of the role are for"),
    ),
    "aggregates": _obj(
        ["prefix", "rir"],
        prefix=dict(_STR, description="the provider's own address space, e.g. from its RIR"),
        rir=_ref("RIR"),
        tenant=_ref("tenant"),
        description=_DESC,
    ),
    "prefixes": _obj(
        ["prefix"],
        prefix=_STR,
        status={"enum": ["active", "container", "reserved", "deprecated"]},
        site=_ref("site"),
        tenant=_ref("tenant"),
        role=_ref("prefix role"),
        is_pool=_BOOL,
        description=_DESC,
    ),
    "devices": _obj(
        ["name", "site", "role", "platform", "device_type"],
        name={
            "type": "string",
            "pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
            "description": "a letter or digit then up to 63 of letters, digits, . _ - (NetBox's limit is 64), "
            "e.g. an FQDN: safe in file names and configuration lines; the lab gives its routers "
            "namespace names of their own",
        },
        site=_ref("site"),
        role=_ref("device role"),
        platform=_ref("platform"),
        device_type=_ref("device type"),
        tenant=_ref("tenant"),
        status={"enum": ["offline", "active", "planned", "staged", "failed", "inventory", "decommissioning"]},
        description=_DESC,
        primary_ip4=dict(_STR, description="one of the device's addresses, with its mask"),
        interfaces=_list(_INTERFACE),
    ),
    "config_contexts": _obj(
        ["name", "data"],
        name=_STR,
        description=_DESC,
        weight={"type": "integer", "minimum": 0, "maximum": 32767},
        roles=_list(_ref("device role")),
        platforms=_list(_ref("platform")),
        sites=_list(_ref("site")),
        tenants=_list(_ref("tenant")),
        data={"type": "object", "description": "the context data devices receive (merged by weight)"},
    ),
    "providers": _obj(["name"], name=_STR, description=_DESC),
    "circuit_types": _obj(["name"], name=_STR, slug=_SLUG, color=_COLOR, description=_DESC),
    "circuits": _obj(
        ["cid", "provider", "type", "a", "z"],
        cid={"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$", "description": "the circuit ID"},
        provider=_ref("provider"),
        type=_ref("circuit type"),
        tenant=_ref("tenant"),
        status={"enum": ["planned", "provisioning", "active", "offline", "deprovisioning", "decommissioned"]},
        commit_rate={"type": "integer", "minimum": 0, "description": "committed rate in kbps"},
        description=_DESC,
        a={
            "type": "string",
            "pattern": r"^[^:\s]+:[^:\s]+$",
            "description": "device:interface at the A end (the provider side), cabled to termination A",
        },
        z={
            "type": "string",
            "pattern": r"^[^:\s]+:[^:\s]+$",
            "description": "device:interface at the Z end (the customer side), cabled to termination Z",
        },
    ),
    "cables": _obj(
        ["a", "b"],
        a={"type": "string", "pattern": r"^[^:\s]+:[^:\s]+$", "description": "device:interface"},
        b={"type": "string", "pattern": r"^[^:\s]+:[^:\s]+$", "description": "device:interface"},
        label=_STR,
        description=_DESC,
        status={"enum": ["connected", "planned", "decommissioning"]},
    ),
}


KINDS = tuple(KIND_SCHEMAS)

FILE_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {kind: {"type": ["array", "null"], "items": schema} for kind, schema in KIND_SCHEMAS.items()},
}

# ---------------------------------------------------------------------------------------------
# Data model


class IntentError(ProblemsError):
    """The intent is invalid; ``problems`` lists everything wrong with it."""

    what = "intent"


@dataclass
class Entry:
    """One entry of a kind, with the file and the index it was read from."""

    kind: str
    data: dict
    file: str
    index: int

    @property
    def where(self):
        """Location of the entry in its file, e.g. ``devices[2] 'pe1'``."""
        return "%s[%d]%s" % (self.kind, self.index, _label(self.data))


@dataclass
class Intent:
    """A loaded, valid intent: the entries of every kind, merged across files in file order."""

    files: list = field(default_factory=list)
    entries: dict = field(default_factory=lambda: {kind: [] for kind in KINDS})

    def items(self, kind):
        """The data of every entry of ``kind``."""
        return [entry.data for entry in self.entries[kind]]


def slugify(value):
    """NetBox-style slug: lowercase, runs of anything but [a-z0-9_] become a single dash."""
    return re.sub(r"[^a-z0-9_]+", "-", str(value).lower()).strip("-")


# ---------------------------------------------------------------------------------------------
# Loading


def _schema_problems(doc, name):
    problems = schema_problems(doc, name, FILE_SCHEMA, expected="a mapping of kind: list of entries")
    if isinstance(doc, dict):
        problems = problems + _control_problems(doc, name)
    return [Problem(p.file, p.where, _shorter(p.message)) for p in problems]


def _shorter(message):
    """A schema message that quotes no more than a short excerpt of the value."""
    if len(message) > 400:  # the list of allowed kinds fits whole
        message = message[:120] + " [...] " + message[-170:]
    return message


def _control_problems(doc, name):
    """Every string of the file with a control character (a banner may have line breaks)."""
    problems = []

    def walk(value, path, where):
        if isinstance(value, str):
            banner = len(path) >= 2 and path[-2:] == ["netoss", "banner"]
            bad = [c for c in value if (ord(c) < 32 and not (banner and c == "\n")) or ord(c) == 127]
            if bad:
                problems.append(
                    Problem(
                        name,
                        where,
                        "%s: %s contains %s"
                        % (path[-1], config_values.excerpt(value), config_values.char_name(bad[0])),
                    )
                )
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(key, [*path, "key"], where)
                walk(item, [*path, key], where)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                at = "%s[%d]%s" % (path[-1], i, _label(item))
                at = "%s: %s" % (where, at) if where else at
                walk(item, [*path, i], at)

    for kind, items in doc.items():
        walk(items, [kind], "")
    return problems


def load_intent(path):
    """Load and validate the intent in ``path`` (a directory of *.yml/*.yaml files, or one file).

    Files are read in name order. Every file is checked against the schema of its kinds; when
    all files are well-formed the semantic checks run (references, duplicates, addressing,
    cabling). Returns an :class:`Intent`; raises :class:`IntentError` listing every problem.
    """
    files = yaml_files(path)
    if files is None:
        raise IntentError([Problem(_display(path), "", "no such file or directory")])
    if not files:
        raise IntentError([Problem(_display(path), "", "no intent files (*.yml, *.yaml) in this directory")])

    intent, problems = Intent(), []
    for file in files:
        name = _display(file)
        intent.files.append(name)
        doc = _read_yaml(file, name, problems)
        if doc is None:
            continue
        file_problems = _schema_problems(doc, name)
        problems.extend(file_problems)
        if not file_problems:
            for kind, items in doc.items():
                intent.entries[kind].extend(Entry(kind, item, name, i) for i, item in enumerate(items or []))
    if problems:
        raise IntentError(problems)
    problems = _Checker(intent).run()
    if problems:
        raise IntentError(problems)
    return intent


# ---------------------------------------------------------------------------------------------
# Semantic checks


def _addresses(interface):
    """The interface's addresses, each as a mapping with at least ``address``."""
    return [a if isinstance(a, dict) else {"address": a} for a in interface.get("addresses", [])]


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


def _slug_of(kind, data):
    if kind == "device_types":
        return data.get("slug") or slugify(data["model"])
    return data.get("slug") or slugify(data["name"])


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
                    keys = [entry.data.get("model", entry.data.get("name")), _slug_of(kind, entry.data)]
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
        for kind in _SLUGGED_KINDS:
            label = "model" if kind == "device_types" else "name"
            self.unique(entries[kind], label, lambda e, label=label: e.data[label])
            self.unique(entries[kind], "slug", lambda e, kind=kind: _slug_of(kind, e.data))
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
        self.unique(entries["aggregates"], "aggregate", lambda e: _net(e.data["prefix"]) if _valid(e) else id(e))
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
                for i, item in enumerate(_addresses(iface.data)):
                    where = ": %s: addresses[%d]" % (iface.where, i)
                    try:
                        address = _parse_address(item["address"])
                    except ValueError as exc:
                        self.report(entry, "invalid IP address: %s" % exc, where)
                        continue
                    own.append(address)
                    if not any(address.ip in network for network in networks):
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


# ---------------------------------------------------------------------------------------------
# NetBox payloads


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
        return _slug_of(kind, _lookup(intent, kind, reference))

    for data in intent.items("tags"):
        tag = {"name": data["name"], "slug": _slug_of("tags", data)}
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
            payload = {"name": data["name"], "slug": _slug_of(kind, data)}
            payload.update(_copy(data, "is_private", "description"))
            out[kind].append(dict(payload, tags=tags))
    for data in intent.items("asns"):
        payload = {"asn": data["asn"], "rir": slug("rirs", data["rir"])}
        if "tenant" in data:
            payload["tenant"] = slug("tenants", data["tenant"])
        out["asns"].append(dict(payload, **_copy(data, "description"), tags=tags))

    for data in intent.items("platforms"):
        payload = {"name": data["name"], "slug": _slug_of("platforms", data)}
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
            "slug": _slug_of("device_types", data),
            "manufacturer": slug("manufacturers", data["manufacturer"]),
            "u_height": data.get("u_height", 0),
        }
        out["device_types"].append(dict(payload, **_copy(data, "description"), tags=tags))
    for data in intent.items("device_roles"):
        payload = {"name": data["name"], "slug": _slug_of("device_roles", data)}
        if "color" in data:
            payload["color"] = data["color"].lower()
        out["device_roles"].append(dict(payload, **_copy(data, "description"), tags=tags))
    for data in intent.items("sites"):
        payload = {
            "name": data["name"],
            "slug": _slug_of("sites", data),
            "status": data.get("status", "active"),
        }
        if "tenant" in data:
            payload["tenant"] = slug("tenants", data["tenant"])
        out["sites"].append(dict(payload, **_copy(data, "time_zone", "description"), tags=tags))
    for data in intent.items("prefix_roles"):
        payload = {"name": data["name"], "slug": _slug_of("prefix_roles", data)}
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
            for address in _addresses(iface):
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
                payload["slug"] = _slug_of(kind, data)
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
        if reference in (data.get("model", data.get("name")), _slug_of(kind, data)):
            return data
    raise KeyError("%s: no %r in the intent" % (kind, reference))


# ---------------------------------------------------------------------------------------------
# Identity of objects, on both sides, for pruning


def _net(text):
    return str(ipaddress.ip_network(text, strict=False))


def _valid(entry):
    try:
        ipaddress.ip_network(entry.data["prefix"])
    except ValueError:
        return False
    return True


def _ip(text):
    return str(ipaddress.ip_interface(text))


def identity(kind, payload):
    """Hashable key of the object a ``build_netbox_objects`` payload of ``kind`` describes.

    It is the field(s) the netbox.netbox module finds the object by, so the same object read
    back from NetBox (:func:`netbox_identity`) has the same key.
    """
    if kind in _SLUGGED_KINDS:
        return (payload.get("slug") or slugify(payload.get("name") or payload["model"]),)
    if kind in _NAMED_KINDS:
        return (payload["name"],)
    if kind == "asns":
        return (int(payload["asn"]),)
    if kind in ("prefixes", "aggregates"):
        return (_net(payload["prefix"]),)
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
    if kind in _SLUGGED_KINDS:
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
