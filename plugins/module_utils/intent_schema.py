# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Source of truth as code: the netoss intent format, and the model of a loaded intent.

The intent is a directory of YAML files (``*.yml``, ``*.yaml``). Each file maps a kind
(``devices``, ``prefixes``…) to a list of entries. :data:`KIND_SCHEMAS` holds the JSON Schema
of each kind's entries (docs/intent.md is generated from it); :class:`Intent` is a loaded
intent, its :class:`Entry` objects each knowing the file and index they were read from.

The intent goes through the modules beside this one, each of one concern:

- intent_load: ``load_intent`` reads the files, checks each against the schema and reports
  every problem at once, named by file and key;
- intent_checks: the consistency checks across entries (references, duplicates, addressing,
  cabling) that a schema cannot express;
- intent_payloads: the ``data`` payloads of the netbox.netbox modules built from a valid
  intent, in dependency order, and the identity of each object on both sides (for pruning).

Pure Python: stdlib, PyYAML and jsonschema only, so pytest, modules and the portal share it.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from ansible_collections.netoss.core.plugins.module_utils import config_values
from ansible_collections.netoss.core.plugins.module_utils.schema_files import ProblemsError
from ansible_collections.netoss.core.plugins.module_utils.schema_files import label as _label

# Kinds whose entries have a slug (their own, else made of the name or model). A tuple, not a
# set: the checks run in this order, so problems come in a stable order.
SLUGGED_KINDS = (
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

# ---------------------------------------------------------------------------------------------
# Schema: one per kind. Each property's `description` is appended to pattern and type errors.

# No text of the intent holds a control character (a newline in a name would reach NetBox,
# then a router's configuration): intent_load checks every string of every file (a
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


def _obj(required_keys=(), /, **properties):
    """An entry's schema: its ``properties`` (one may be named ``required``), no other key."""
    return {
        "type": "object",
        "required": list(required_keys),
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
# The model of a loaded intent


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
    # Digests of the entries checked valid (intent_load.entry_digest), for the next load.
    valid: set = field(default_factory=set)

    def items(self, kind):
        """The data of every entry of ``kind``."""
        return [entry.data for entry in self.entries[kind]]


def slugify(value):
    """NetBox-style slug: lowercase, runs of anything but [a-z0-9_] become a single dash."""
    return re.sub(r"[^a-z0-9_]+", "-", str(value).lower()).strip("-")


def slug_of(kind, data):
    """The slug of an entry of ``kind``: its own, else made of its name (a device type's model)."""
    if kind == "device_types":
        return data.get("slug") or slugify(data["model"])
    return data.get("slug") or slugify(data["name"])


def addresses_of(interface):
    """The interface's addresses, each as a mapping with at least ``address``."""
    return [a if isinstance(a, dict) else {"address": a} for a in interface.get("addresses", [])]


def normal_prefix(text):
    """A prefix in its normal form (host bits cleared), so one prefix has one spelling."""
    return str(ipaddress.ip_network(text, strict=False))
