# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Values that reach a device's configuration: one strict pattern per kind of value.

Templates place values in CLI lines (``neighbor X description <value>``). A value with a
newline would add lines of its own to the configuration pushed to a router; a ``?`` asks the
CLI for help, ``!`` and ``#`` start comments, ``^`` ends an IOS banner, a line ``EOF`` ends an
EOS banner, ``|`` pipes in vtysh. So every value is checked against the pattern of its kind
here, at each boundary: the service order check and the intent check (what people type), the
structured data built from NetBox (what may have been written there by hand), and the render
step, which refuses structured data that does not fit (:func:`check_data`).

The patterns are the same on every platform (FRR, EOS, IOS): printable ASCII, no character
that any of those CLIs treats specially, bounded lengths. Errors name the value's place and
quote at most a short excerpt of it.
"""

from __future__ import annotations

import ipaddress
import re

EXCERPT = 40


class ConfigValueError(ValueError):
    """A value cannot be placed in a device configuration; the message names where it is."""


def excerpt(value, limit=EXCERPT):
    """A short, printable quotation of ``value`` for error messages (never the whole of a long one)."""
    text = value if isinstance(value, str) else repr(value)
    short = text[:limit]
    return repr(short) + ("... (%d characters)" % len(text) if len(text) > limit else "")


# Free text (descriptions, customer names): letters, digits, space and . , : ; / ( ) @ & + = ' _ -
TEXT_CHARS = r"A-Za-z0-9 .,:;/()@&+='_-"
_TEXT = re.compile(r"[%s]*" % TEXT_CHARS)

# kind -> (compiled pattern, what it allows: said in errors)
PATTERNS = {
    # A device's name as a configuration's hostname (and a file name: <device>.cfg): NetBox's
    # names of network gear, up to its 64 characters.
    "hostname": (
        re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"),
        "a letter or digit then up to 63 of letters, digits, _ . -",
    ),
    "interface": (
        re.compile(r"[A-Za-z][A-Za-z0-9/._:-]{0,63}"),
        "a letter then up to 63 of letters, digits, / . _ : -",
    ),
    "circuit": (
        re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}"),
        "a letter or digit then up to 99 of letters, digits, . _ : / -",
    ),
    "policy": (
        re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}"),
        "a letter or digit then up to 127 of letters, digits, _ . -",
    ),
    "slug": (re.compile(r"[a-z0-9_-]{1,100}"), "lowercase letters, digits, _ and -"),
    "user": (
        re.compile(r"[A-Za-z_][A-Za-z0-9._-]{0,31}"),
        "a letter or _ then up to 31 of letters, digits, . _ -",
    ),
    "secret_hash": (re.compile(r"[A-Za-z0-9./$=+_-]{1,512}"), "a password hash: letters, digits and . / $ = + _ -"),
    "host": (
        re.compile(r"(?=.{1,253}\Z)[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9-]{1,63})*"),
        "an IP address or a DNS name",
    ),
}

# Free-text kinds: (maximum length, what it is)
TEXT_LIMITS = {"description": 240, "tenant": 100}

LOG_LEVELS = (
    "emergencies",
    "alerts",
    "critical",
    "errors",
    "warnings",
    "notifications",
    "informational",
    "debugging",
)

BANNER_MAX_LINES = 40
BANNER_MAX_LINE = 200


def _fail(where, value, why):
    raise ConfigValueError("%s: %s %s" % (where, excerpt(value), why))


def text(value, where, kind="description"):
    """``value`` if it is free text of ``kind`` (description, tenant) fit for one CLI line."""
    limit = TEXT_LIMITS[kind]
    if not isinstance(value, str):
        _fail(where, value, "is not text")
    if not value:
        _fail(where, value, "is empty")
    if "\n" in value or "\r" in value:
        _fail(where, value, "contains a line break: it would add lines to the device configuration")
    if len(value) > limit:
        _fail(where, value, "is longer than %d characters" % limit)
    bad = sorted(set(_TEXT.sub("", value)))
    if bad:
        _fail(
            where,
            value,
            "contains %s: allowed are letters, digits, space and . , : ; / ( ) @ & + = ' _ -"
            % ", ".join(char_name(c) for c in bad[:5]),
        )
    if value != value.strip() or "  " in value:
        _fail(where, value, "has leading, trailing or repeated spaces")
    return value


def char_name(char):
    """How an error names a character that is not allowed."""
    if char in "\r\n":
        return "a line break"
    if char == "\t":
        return "a tab"
    if ord(char) < 32 or ord(char) == 127:
        return "a control character (0x%02x)" % ord(char)
    if ord(char) > 126:
        return "a non-ASCII character (U+%04X)" % ord(char)
    return repr(char)


def name(value, where, kind):
    """``value`` if it matches the pattern of ``kind`` (hostname, interface, circuit...)."""
    pattern, allowed = PATTERNS[kind]
    if not isinstance(value, str):
        _fail(where, value, "is not text")
    if "\n" in value or "\r" in value:
        _fail(where, value, "contains a line break: it would add lines to the device configuration")
    if not pattern.fullmatch(value):
        _fail(where, value, "is not %s" % allowed)
    return value


def integer(value, where, minimum, maximum):
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        _fail(where, value, "is not an integer from %d to %d" % (minimum, maximum))
    return value


def asn(value, where):
    return integer(value, where, 1, 4294967294)


def address(value, where, kind="interface"):
    """An IP address (``kind`` ip), an address with its length (interface) or a prefix (network), as text."""
    parse = {"ip": ipaddress.ip_address, "interface": ipaddress.ip_interface, "network": ipaddress.ip_network}[kind]
    if not isinstance(value, str) or len(value) > 50:
        _fail(where, value, "is not an IP %s" % kind)
    try:
        parsed = parse(value)
    except ValueError:
        _fail(
            where, value, "is not an IP %s" % {"ip": "address", "interface": "address with its length"}.get(kind, kind)
        )
    if str(parsed) != value:
        _fail(where, value, "is not in canonical form (%s)" % parsed)
    return value


def ospf_area(value, where):
    if isinstance(value, str):
        try:
            if str(ipaddress.IPv4Address(value)) == value:
                return value
        except ValueError:
            pass
        _fail(where, value, "is not an OSPF area (a number or a dotted quad)")
    return integer(value, where, 0, 4294967295)


def log_level(value, where):
    if value not in LOG_LEVELS:
        _fail(where, value, "is not a syslog level (%s)" % ", ".join(LOG_LEVELS))
    return value


def host(value, where):
    if isinstance(value, str):
        try:
            ipaddress.ip_address(value)
            return value
        except ValueError:
            pass
    return name(value, where, "host")


def banner(value, where):
    """A login banner: up to 40 lines of printable ASCII, none of which ends the banner early."""
    if not isinstance(value, str):
        _fail(where, value, "is not text")
    lines = value.strip().split("\n")
    if len(lines) > BANNER_MAX_LINES:
        _fail(where, value, "has more than %d lines" % BANNER_MAX_LINES)
    for n, line in enumerate(lines, 1):
        at = "%s line %d" % (where, n)
        if len(line) > BANNER_MAX_LINE:
            _fail(at, line, "is longer than %d characters" % BANNER_MAX_LINE)
        bad = sorted({c for c in line if not 32 <= ord(c) <= 126 or c == "^"})
        if bad:
            _fail(at, line, "contains %s" % ", ".join(char_name(c) for c in bad[:5]))
        if line.strip().upper() == "EOF":
            _fail(at, line, "is a line EOF, which ends a banner on EOS")
    return value


def check_context(context, where="netoss"):
    """The ``netoss`` key of a config context: the values templates place in lines (banner,
    users, syslog servers, SNMP, OSPF area, BGP settings); ``where`` names it in errors."""
    _get(context, where)
    if context.get("banner"):
        banner(context["banner"], where + ".banner")
    for i, user in enumerate(_each(context.get("users"), where + ".users")):
        at = "%s.users[%d]" % (where, i)
        _get(user, at)
        name(user.get("name"), at + ".name", "user")
        _opt(user, "privilege", integer, at, 0, 15)
        _opt(user, "role", name, at, "policy")
    syslog = _get(context.get("syslog") or {}, where + ".syslog")
    if "level" in syslog:
        log_level(syslog["level"], where + ".syslog.level")
    for i, server in enumerate(_each(syslog.get("servers"), where + ".syslog.servers")):
        at = "%s.syslog.servers[%d]" % (where, i)
        _get(server, at)
        host(server.get("host"), at + ".host")
        _opt(server, "port", integer, at, 1, 65535)
    snmp = _get(context.get("snmp") or {}, where + ".snmp")
    if not isinstance(snmp.get("enabled", False), bool):
        _fail(where + ".snmp.enabled", snmp["enabled"], "is not true or false")
    ospf = _get(context.get("ospf") or {}, where + ".ospf")
    if ospf.get("area") is not None:
        ospf_area(ospf["area"], where + ".ospf.area")
    bgp = _get(context.get("bgp") or {}, where + ".bgp")
    if bgp.get("policy") not in (None, "customer"):
        _fail(where + ".bgp.policy", bgp["policy"], "is not customer")
    _any_text(context, where)
    return context


# -- the structured data of a device (device_data.build), as the templates read it -----------


def _each(items, where):
    if items is None:
        return []
    if not isinstance(items, list):
        _fail(where, items, "is not a list")
    return items


def _get(obj, where):
    if not isinstance(obj, dict):
        _fail(where, obj, "is not a mapping")
    return obj


def _opt(obj, key, check, where, *args):
    value = obj.get(key)
    if value is not None and value != "":
        check(value, "%s.%s" % (where, key), *args)


def check_data(data, user_secrets=None):
    """Refuse structured data with a value that does not fit its place in a configuration.

    Every value the templates place in a line is checked against the pattern of its kind;
    raises :class:`ConfigValueError` naming the first one that does not fit (e.g.
    ``bgp.neighbors[198.19.128.1].description``). Any other text in ``data`` must at least be
    one line of printable text. Returns ``data``.
    """
    _get(data, "data")
    name(data.get("hostname"), "hostname", "hostname")
    for key in ("platform", "role", "site"):
        _opt(data, key, name, "data", "slug")
    if data.get("banner"):
        banner(data["banner"], "banner")
    for i, user in enumerate(_each(data.get("users"), "users")):
        at = "users[%d]" % i
        _get(user, at)
        name(user.get("name"), at + ".name", "user")
        _opt(user, "privilege", integer, at, 0, 15)
        _opt(user, "role", name, at, "policy")
    for user, secret in (user_secrets or {}).items():
        name(user, "user_secrets", "user")
        pattern, allowed = PATTERNS["secret_hash"]
        if not isinstance(secret, str) or not pattern.fullmatch(secret):
            # Never quoted: it is a secret.
            raise ConfigValueError("user_secrets[%s]: the value given is not %s" % (user, allowed))
    logging = _get(data.get("logging") or {}, "logging")
    _opt(logging, "level", log_level, "logging")
    for i, server in enumerate(_each(logging.get("servers"), "logging.servers")):
        at = "logging.servers[%d]" % i
        _get(server, at)
        host(server.get("host"), at + ".host")
        _opt(server, "port", integer, at, 1, 65535)
    if data.get("management"):
        management = _get(data["management"], "management")
        _opt(management, "interface", name, "management", "interface")
        _opt(management, "address", address, "management")
    _opt(data, "router_id", address, "data", "ip")
    for i, intf in enumerate(_each(data.get("interfaces"), "interfaces")):
        _get(intf, "interfaces[%d]" % i)
        fits = isinstance(intf.get("name"), str) and PATTERNS["interface"][0].fullmatch(intf["name"])
        at = "interfaces[%s]" % (intf["name"] if fits else i)
        name(intf.get("name"), at + ".name", "interface")
        _opt(intf, "description", text, at)
        _opt(intf, "mtu", integer, at, 68, 65535)
        for j, item in enumerate(_each(intf.get("addresses"), at + ".addresses")):
            address(item, "%s.addresses[%d]" % (at, j))
        if intf.get("ospf"):
            ospf = _get(intf["ospf"], at + ".ospf")
            ospf_area(ospf.get("area"), at + ".ospf.area")
            if ospf.get("network") not in (None, "point-to-point", "broadcast"):
                _fail(at + ".ospf.network", ospf["network"], "is not point-to-point or broadcast")
        if intf.get("peer"):
            peer = _get(intf["peer"], at + ".peer")
            name(peer.get("device"), at + ".peer.device", "hostname")
            name(peer.get("interface"), at + ".peer.interface", "interface")
        _opt(intf, "circuit", name, at, "circuit")
    if data.get("ospf"):
        ospf = _get(data["ospf"], "ospf")
        _opt(ospf, "router_id", address, "ospf", "ip")
        ospf_area(ospf.get("area"), "ospf.area")
    if data.get("bgp"):
        _check_bgp(_get(data["bgp"], "bgp"))
    for i, plist in enumerate(_each(data.get("prefix_lists"), "prefix_lists")):
        at = "prefix_lists[%d]" % i
        name(_get(plist, at).get("name"), at + ".name", "policy")
        for j, entry in enumerate(_each(plist.get("entries"), at + ".entries")):
            _entry(_get(entry, "%s.entries[%d]" % (at, j)), "%s.entries[%d]" % (at, j), prefix=True)
    for i, rmap in enumerate(_each(data.get("route_maps"), "route_maps")):
        at = "route_maps[%d]" % i
        name(_get(rmap, at).get("name"), at + ".name", "policy")
        for j, entry in enumerate(_each(rmap.get("entries"), at + ".entries")):
            e_at = "%s.entries[%d]" % (at, j)
            _entry(_get(entry, e_at), e_at, prefix=False)
            _opt(entry, "match_prefix_list", name, e_at, "policy")
    for i, route in enumerate(_each(data.get("static_routes"), "static_routes")):
        at = "static_routes[%d]" % i
        _get(route, at)
        address(route.get("prefix"), at + ".prefix", "network")
        if route.get("next_hop") != "blackhole":
            address(route.get("next_hop"), at + ".next_hop", "ip")
        _opt(route, "description", text, at)
    _any_text(data, "data")
    return data


def _check_bgp(bgp):
    asn(bgp.get("asn"), "bgp.asn")
    _opt(bgp, "router_id", address, "bgp", "ip")
    for i, peer in enumerate(_each(bgp.get("neighbors"), "bgp.neighbors")):
        _get(peer, "bgp.neighbors[%d]" % i)
        address(peer.get("address"), "bgp.neighbors[%d].address" % i, "ip")
        at = "bgp.neighbors[%s]" % peer["address"]
        asn(peer.get("remote_as"), at + ".remote_as")
        _opt(peer, "description", text, at)
        _opt(peer, "update_source", name, at, "interface")
        _opt(peer, "route_map_in", name, at, "policy")
        _opt(peer, "route_map_out", name, at, "policy")
        _opt(peer, "max_prefix", integer, at, 1, 4294967295)
    for i, network in enumerate(_each(bgp.get("networks"), "bgp.networks")):
        address(network, "bgp.networks[%d]" % i, "network")


def _entry(entry, where, prefix):
    integer(entry.get("seq"), where + ".seq", 1, 65535)
    if entry.get("action") not in ("permit", "deny"):
        _fail(where + ".action", entry.get("action"), "is not permit or deny")
    if prefix:
        address(entry.get("prefix"), where + ".prefix", "network")
        _opt(entry, "le", integer, where, 0, 128)


def _any_text(value, where):
    """Every string anywhere in ``value``: one line of printable text of bounded length."""
    if isinstance(value, str):
        allowed_newline = where.endswith(".banner")  # checked line by line by banner()
        if len(value) > 1000 and not allowed_newline:
            _fail(where, value, "is longer than 1000 characters")
        bad = [c for c in value if (ord(c) < 32 and not (allowed_newline and c == "\n")) or ord(c) == 127]
        if bad:
            _fail(where, value, "contains %s" % char_name(bad[0]))
    elif isinstance(value, dict):
        for key, item in value.items():
            _any_text(key, where + " key")
            _any_text(item, "%s.%s" % (where, key))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _any_text(item, "%s[%d]" % (where, i))
