# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The service catalog, as code: what customers can order, and what an order must say.

``services/catalog.yml`` lists the services (Dedicated Internet Access with eBGP, static-routed
access) with their characteristics, each typed, how each routes (``routing``: eBGP or static),
what the PE announces to the customer over eBGP (``announce``: a default route, or a default
route and the provider's aggregates), and the NetBox prefix roles its addresses come from: the
PE-CE /31s from the prefixes of the ``link_pool`` role, the customer's prefixes inside those of a
``prefixes`` characteristic's ``within`` role. The catalog holds no address: the pools are
NetBox's. :func:`load_catalog` checks the file against
:data:`SCHEMA` and reports every problem with its file and key. :func:`check_values` checks the
characteristics of one order item without touching anything: types, ranges, AS numbers and
prefixes, and customer, device and interface names against the strict patterns of
:mod:`config_values` (they reach routers' configurations: a newline in a customer's name would
add lines to a PE's); what needs NetBox (does the device exist, is the interface free, does a prefix
overlap another customer's) is checked by the order's plan, which reads NetBox once.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from ansible_collections.netoss.core.plugins.module_utils import config_values
from ansible_collections.netoss.core.plugins.module_utils.schema_files import (
    Problem,
    ProblemsError,
    display,
    read_yaml,
    schema_problems,
    where,
)

TYPES = ("tenant", "device", "interface", "integer", "asn", "prefixes")
NAME = r"^[a-z][a-z0-9_-]{0,62}$"
ROUTING = ("ebgp", "static")
# What the PE announces to the customer's router over eBGP.
ANNOUNCE = ("default", "default+aggregates")


def _role_ref(what):
    """A NetBox prefix role, named by its slug: ``{role: pe-ce-links}``."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["role"],
        "properties": {"role": {"type": "string", "pattern": r"^[a-z0-9_]+(-[a-z0-9_]+)*$"}},
        "description": "a NetBox prefix role, {role: <slug>}: %s (the catalog names no address)" % what,
    }


_CHARACTERISTIC = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "type"],
    "properties": {
        "name": {"type": "string", "pattern": NAME},
        "type": {"enum": list(TYPES)},
        "label": {"type": "string"},
        "required": {"type": "boolean"},
        "default": {},
        "minimum": {"type": "integer"},
        "maximum": {"type": "integer"},
        "role": {"type": "string", "description": "device: the NetBox role slug it must have"},
        "device": {"type": "string", "pattern": NAME, "description": "interface: the device characteristic"},
        "within": _role_ref("each prefix ordered lies inside a prefix of that role"),
    },
}

# A service's objectives (service assurance, docs/assurance.md): what its measurements from the
# PE are held to; thresholds with `objective` bounds (assurance/*.yml) alarm when they are not met.
_OBJECTIVES = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {
        "latency_ms": {"type": "number", "exclusiveMinimum": 0, "description": "round trip, milliseconds"},
        "jitter_ms": {"type": "number", "exclusiveMinimum": 0, "description": "round-trip variation, milliseconds"},
        "loss_percent": {"type": "number", "minimum": 0, "maximum": 100},
        "availability_percent": {"type": "number", "minimum": 0, "maximum": 100},
    },
}

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["services"],
    "properties": {
        "objectives": dict(_OBJECTIVES, description="every service's objectives unless it gives its own"),
        "services": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": [
                    "name",
                    "label",
                    "description",
                    "characteristics",
                    "circuit_type",
                    "link_pool",
                    "provider",
                    "routing",
                ],
                "properties": {
                    "name": {"type": "string", "pattern": NAME},
                    "label": {"type": "string", "minLength": 1},
                    "description": {"type": "string", "minLength": 1},
                    "circuit_type": {"type": "string", "minLength": 1},
                    "link_pool": _role_ref("the PE-CE /31s come from the prefixes of that role"),
                    "routing": {"enum": list(ROUTING), "description": "eBGP with the customer's router, or static"},
                    "announce": {
                        "enum": list(ANNOUNCE),
                        "description": "eBGP: what the PE announces to the customer (default: a default route)",
                    },
                    "provider": {"type": "string", "minLength": 1, "description": "the circuits' provider in NetBox"},
                    "asn_rir": {"type": "string", "minLength": 1, "description": "the RIR of new customers' ASNs"},
                    "characteristics": {"type": "array", "minItems": 1, "items": _CHARACTERISTIC},
                    "objectives": _OBJECTIVES,
                },
            },
        },
    },
}

# AS numbers no customer can have (RFC 7607, 6793, 7300, 1930).
RESERVED_ASNS = {0: "reserved (RFC 7607)", 23456: "AS_TRANS (RFC 6793)", 65535: "reserved (RFC 7300)"}
RESERVED_ASNS[4294967295] = "reserved (RFC 7300)"


class CatalogError(ProblemsError):
    """The catalog is invalid; ``problems`` lists everything wrong with it."""

    what = "service catalog"


@dataclass(frozen=True)
class Characteristic:
    name: str
    type: str
    label: str = ""
    required: bool = False
    default: object = None
    minimum: int | None = None
    maximum: int | None = None
    role: str | None = None
    device: str | None = None
    within: dict | None = None

    @property
    def within_role(self):
        """The NetBox prefix role the ordered prefixes must lie in (None: anywhere)."""
        return (self.within or {}).get("role")


@dataclass
class Service:
    name: str
    label: str
    description: str
    characteristics: list = field(default_factory=list)
    circuit_type: str | None = None
    link_pool: dict | None = None
    provider: str | None = None
    asn_rir: str | None = None
    routing: str = "ebgp"
    announce: str | None = None
    objectives: dict = field(default_factory=dict)  # its own, else the catalog's (load_catalog)

    @property
    def link_pool_role(self):
        """The NetBox prefix role whose prefixes the PE-CE /31s come from."""
        return (self.link_pool or {}).get("role")

    def characteristic(self, name):
        return next((c for c in self.characteristics if c.name == name), None)


def load_catalog(path):
    """The services of the catalog file ``path``, by name; CatalogError lists every problem.
    Under the name ``None`` (not a catalog service: a circuit made without a service order) is
    nothing; :func:`default_objectives` gives what such a circuit is held to."""
    name = display(path)
    problems = []
    doc = read_yaml(path, name, problems)
    if doc is not None:
        problems.extend(schema_problems(doc, name, SCHEMA, expected="a mapping with services"))
    if problems:
        raise CatalogError(problems)
    services = {}
    default_objectives = dict(doc.get("objectives") or {})
    for i, s in enumerate(doc["services"]):
        at = where(doc, ["services", i])
        if s["name"] in services:
            problems.append(Problem(name, at, "duplicate service %r" % s["name"]))
            continue
        chars, seen = [], set()
        for j, c in enumerate(s["characteristics"]):
            cat = "%s: characteristics[%d] '%s'" % (at, j, c["name"])
            if c["name"] in seen:
                problems.append(Problem(name, cat, "duplicate characteristic"))
            seen.add(c["name"])
            problems.extend(Problem(name, cat, p) for p in _characteristic_problems(c, s["characteristics"][:j]))
            chars.append(Characteristic(**c))
        problems.extend(Problem(name, at, p) for p in _routing_problems(s))
        services[s["name"]] = Service(
            s["name"],
            s["label"],
            s["description"],
            chars,
            s.get("circuit_type"),
            s.get("link_pool"),
            s.get("provider"),
            s.get("asn_rir"),
            s["routing"],
            s.get("announce", "default") if s["routing"] == "ebgp" else None,
            dict(s.get("objectives") or default_objectives),
        )
    if problems:
        raise CatalogError(problems)
    return services


def default_objectives(path):
    """The catalog's own objectives (every service's unless it gives its own), checked."""
    load_catalog(path)
    doc = read_yaml(path, display(path), [])
    return dict(doc.get("objectives") or {})


def _routing_problems(s):
    """eBGP needs the customer's AS number; only eBGP announces anything to the customer."""
    out = []
    types = [c["type"] for c in s["characteristics"]]
    if s["routing"] == "ebgp" and "asn" not in types:
        out.append("routing: ebgp needs a characteristic of type asn (the customer's AS number)")
    if s["routing"] == "static" and "announce" in s:
        out.append("announce: only an ebgp service announces routes (a static customer router has a default route)")
    return out


def _characteristic_problems(c, earlier):
    kind, out = c["type"], []
    allowed = {
        "integer": {"minimum", "maximum", "default"},
        "device": {"role"},
        "interface": {"device"},
        "prefixes": {"within"},
    }.get(kind, set())
    for key in ("minimum", "maximum", "role", "device", "within"):
        if key in c and key not in allowed:
            out.append("%s: does not apply to a %s characteristic" % (key, kind))
    if kind == "interface":
        devices = [e["name"] for e in earlier if e["type"] == "device"]
        if c.get("device") not in devices:
            out.append("device: an interface names an earlier device characteristic (here: %s)" % (devices or "none"))
    if kind == "integer" and "default" in c:
        problem = _integer_problem(Characteristic(**c), c["default"])
        if problem:
            out.append("default: %s" % problem)
    return out


def _integer_problem(c, value):
    if isinstance(value, bool) or not isinstance(value, int):
        return "must be an integer"
    if c.minimum is not None and value < c.minimum:
        return "must be at least %d" % c.minimum
    if c.maximum is not None and value > c.maximum:
        return "must be at most %d" % c.maximum
    return None


def asn_problem(value, provider_asns=()):
    """Why ``value`` cannot be a customer's AS number (None when it can)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return "must be an AS number (an integer)"
    if not 0 <= value <= 4294967295:
        return "%d is not an AS number (1 to 4294967294)" % value
    if value in RESERVED_ASNS:
        return "%d is %s" % (value, RESERVED_ASNS[value])
    if value in provider_asns:
        return "%d is the provider's own AS number" % value
    return None


def _prefixes(c, value):
    """(networks, problem) for a prefixes value: a list of IPv4 prefixes (or one string). Whether
    they lie in a prefix of the ``within`` role is NetBox's to say (the order's check)."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(v, str) for v in items):
        return None, "must be a list of IPv4 prefixes (address/length)"
    networks = []
    for text in items:
        try:
            network = ipaddress.ip_network(text.strip(), strict=True)
        except ValueError as exc:
            return None, "%s is not a prefix (%s)" % (
                config_values.excerpt(text),
                config_values.excerpt(str(exc).replace("'", ""), 80).strip("'"),
            )
        if network.version != 4:
            return None, "%s: only IPv4 prefixes" % network
        networks.append(network)
    for i, a in enumerate(networks):
        for b in networks[i + 1 :]:
            if a.overlaps(b):
                return None, "%s and %s overlap" % (a, b)
    return networks, None


# Which pattern of config_values each kind of name must match.
_NAME_KINDS = {"tenant": "tenant", "device": "hostname", "interface": "interface"}


def _name(c, value):
    """(value, problem) of a tenant, device or interface name: it reaches device configurations."""
    try:
        kind = _NAME_KINDS[c.type]
        if kind == "tenant":
            config_values.text(value, c.name, "tenant")
        else:
            config_values.name(value, c.name, kind)
    except config_values.ConfigValueError as exc:
        return value, str(exc).split(": ", 1)[1]
    return value, None


def check_values(service, values, provider_asns=()):
    """(clean values, problems) of one order item's characteristics for ``service``.

    ``values`` maps characteristic names to values (TMF641 ``serviceCharacteristic``). Unknown
    names, missing required values and ill-typed values are problems, each naming the
    characteristic; defaults fill what is absent. Nothing is read or written.
    """
    problems, clean = [], {}
    if not isinstance(values, dict):
        return {}, ["serviceCharacteristic: expected name/value pairs"]
    known = {c.name for c in service.characteristics}
    for name in sorted(set(values) - known):
        problems.append(
            "%s: %s has no characteristic %s (it has: %s)"
            % (
                config_values.excerpt(name).strip("'"),
                service.name,
                config_values.excerpt(name),
                ", ".join(sorted(known)),
            )
        )
    for c in service.characteristics:
        value = values.get(c.name, c.default)
        if value is None or value == "" or value == []:
            if c.required:
                problems.append("%s: required" % c.name)
            continue
        problem = None
        if c.type == "integer":
            problem = _integer_problem(c, value)
        elif c.type == "asn":
            if isinstance(value, str) and value.upper().startswith("AS"):
                value = value[2:]
            try:
                value = int(value) if isinstance(value, str) else value
            except ValueError:
                problem = "must be an AS number (an integer)"
            problem = problem or asn_problem(value, provider_asns)
        elif c.type == "prefixes":
            networks, problem = _prefixes(c, value)
            value = [str(n) for n in networks] if networks else value
        elif not isinstance(value, str) or not value.strip(" ") or len(value) > 100:
            problem = "must be a name (1 to 100 characters)"
        else:
            value, problem = _name(c, value.strip(" "))
        if problem:
            problems.append("%s: %s" % (c.name, problem))
        else:
            clean[c.name] = value
    return clean, problems
