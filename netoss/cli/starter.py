"""`netoss init`: a starter intent for a new network, minimal and valid.

It writes what netoss itself needs in NetBox (``00-netoss.yml``, the same file as the demo's:
tags, custom fields, platforms), the operator and its AS number, one site, the roles the
service catalog and the config contexts name, the management prefix, the config contexts the
templates read (syslog collector, OSPF area, route reflectors, customer edge), and an empty
device list with a commented example. Every value given is checked first; the files are
written to a temporary directory, validated as an intent (the same checks sot_sync runs), and
only then moved into place, so a refused `init` leaves nothing behind. User values are dumped
as YAML data, never placed into text as templates.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import tempfile
from pathlib import Path

import yaml

SITE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$")
OPERATOR_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 &.,()'_-]{0,99}$")
PRIVATE_ASNS = ((64512, 65534), (4200000000, 4294967294))
DOCUMENTATION_ASNS = ((64496, 64511), (65536, 65551))


class StarterError(ValueError):
    """A value `netoss init` cannot use, or a directory it must not write to; the message says which."""


def _in(asn: int, ranges) -> bool:
    return any(low <= asn <= high for low, high in ranges)


def operator_rir(asn: int, rir: str | None) -> dict:
    """The RIR entry of the operator's AS number: the reserved range it is in, else ``rir``."""
    if _in(asn, PRIVATE_ASNS):
        return {"name": rir or "RFC 6996", "is_private": True, "description": "Private-use AS numbers"}
    if _in(asn, DOCUMENTATION_ASNS):
        return {"name": rir or "RFC 5398", "is_private": True, "description": "AS numbers reserved for documentation"}
    if not rir:
        raise StarterError(f"--asn {asn} is a public AS number: name the RIR it comes from with --rir (e.g. RIPE NCC)")
    return {"name": rir, "description": "The operator's regional Internet registry"}


def check_values(operator: str, asn: int, site: str, management: str, collector: str, rir: str | None = None) -> tuple:
    """The values, checked and normalised: (management network, collector host, collector port);
    StarterError names every wrong one at once."""
    problems = []
    if rir is not None and not OPERATOR_NAME.match(rir):
        problems.append(f"--rir {rir!r}: a name of letters, digits, spaces and & . , ( ) ' _ -")
    elif not rir and 1 <= asn <= 4294967294 and not _in(asn, PRIVATE_ASNS) and not _in(asn, DOCUMENTATION_ASNS):
        problems.append(f"--asn {asn} is a public AS number: name the RIR it comes from with --rir (e.g. RIPE NCC)")
    if not OPERATOR_NAME.match(operator or ""):
        problems.append(f"--operator {operator!r}: a name of letters, digits, spaces and & . , ( ) ' _ -")
    if not 1 <= asn <= 4294967294 or asn in (23456, 65535):
        problems.append(f"--asn {asn}: an AS number from 1 to 4294967294 (not 23456 or 65535)")
    if not SITE_NAME.match(site or ""):
        problems.append(f"--site {site!r}: a name of letters, digits, spaces and . _ -")
    net = None
    try:
        net = ipaddress.ip_network(management, strict=True)
        if net.version != 4 or net.prefixlen > 29:
            problems.append(f"--management {management}: an IPv4 prefix of /29 or shorter")
    except ValueError as exc:
        problems.append(f"--management {management!r}: {exc}")
    host, _sep, port = (collector or "").rpartition(":")
    try:
        ipaddress.ip_address(host)
        port_number = int(port)
        if not 1 <= port_number <= 65535:
            raise ValueError
    except ValueError:
        problems.append(f"--collector {collector!r}: an IPv4 address and a UDP port, e.g. 192.0.2.10:514")
        port_number = 0
    if problems:
        raise StarterError("\n".join(problems))
    return net, host, port_number


class _Dumper(yaml.SafeDumper):
    """Lists indented under their key, as yamllint and the demo's files have them."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


def _dump(comment: str, sections: list[tuple[str, dict]]) -> str:
    """``comment`` lines, then each (comment, {kind: entries}) as YAML data."""
    out = ["---"] + [f"# {line}".rstrip() for line in comment.strip().splitlines()]
    for note, data in sections:
        out.append("")
        out.extend(f"# {line}".rstrip() for line in note.strip().splitlines() if note)
        out.append(yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100).rstrip())
    return "\n".join(out) + "\n"


def _catalog_needs(catalog: dict) -> tuple[list[str], list[str], list[str], list[str]]:
    """Device roles, providers, circuit types and RIRs the service catalog names."""
    roles, providers, types, rirs = set(), set(), set(), set()
    for service in (catalog or {}).get("services") or []:
        for c in service.get("characteristics") or []:
            if c.get("type") == "device" and c.get("role"):
                roles.add(c["role"])
        for key, found in (("provider", providers), ("circuit_type", types), ("asn_rir", rirs)):
            if service.get(key):
                found.add(service[key])
    return sorted(roles), sorted(providers), sorted(types), sorted(rirs)


def _catalog_prefix_roles(catalog: dict) -> dict[str, str]:
    """The NetBox prefix roles the service catalog takes addresses from: {slug: what for}."""
    out = {}
    for service in (catalog or {}).get("services") or []:
        pool = (service.get("link_pool") or {}).get("role") if isinstance(service.get("link_pool"), dict) else None
        if pool:
            out.setdefault(pool, "Pools of the links between PE and customer routers (service orders take theirs here)")
        for c in service.get("characteristics") or []:
            within = c.get("within") if isinstance(c.get("within"), dict) else {}
            if within.get("role"):
                out.setdefault(within["role"], "The space customers' prefixes are assigned from")
    return dict(sorted(out.items()))


def starter_files(
    netoss_file: Path,
    catalog: dict,
    *,
    operator: str,
    asn: int,
    site: str,
    management: str,
    collector: str,
    rir: str | None = None,
) -> dict[str, str]:
    """The starter intent's files, by name."""
    net, host, port = check_values(operator, asn, site, management, collector, rir)
    roles, providers, circuit_types, catalog_rirs = _catalog_needs(catalog)
    own_rir = operator_rir(asn, rir)
    rirs = [own_rir] + [
        {"name": r, "description": "The service catalog's RIR for customer AS numbers"}
        for r in catalog_rirs
        if r != own_rir["name"]
    ]
    role_names = sorted({"p", *roles})
    files = {"00-netoss.yml": netoss_file.read_text()}
    files["01-organization.yml"] = _dump(
        "The operator and its AS number. Customers (tenants) are added by service orders, or here.",
        [
            ("", {"tenants": [{"name": operator, "description": "The operator running this network"}]}),
            ("", {"rirs": rirs}),
            ("The provider AS: routers of the operator's sites run BGP in it.", {
                "asns": [{"asn": asn, "rir": own_rir["name"], "tenant": operator, "description": "Provider backbone"}]
            }),
        ],
    )  # fmt: skip
    files["10-dcim.yml"] = _dump(
        "Device roles and sites. The roles are the ones the service catalog (services/catalog.yml) and\n"
        "the config contexts (50-config.yml) name: rename them in all three places, or add your own.",
        [
            ("", {"device_roles": [{"name": r.upper() if len(r) <= 3 else r, "slug": r} for r in role_names]}),
            ("A site's tenant (the operator) gives its routers the provider AS.", {
                "sites": [{"name": site, "tenant": operator}]
            }),
        ],
    )  # fmt: skip
    prefix_roles = _catalog_prefix_roles(catalog)
    files["20-ipam.yml"] = _dump(
        "IPAM: every address of the intent must fall inside one of these prefixes. Add your\n"
        "loopbacks (/32s, each with role loopback on a virtual interface named lo...), your links\n"
        "(/31s or /30s), and, for service orders, a prefix of each role below (`role: <slug>`).",
        [
            *(
                [("The prefix roles the service catalog takes addresses from: give one to your pool of\n"
                  "PE-CE links, the other to the space your customers' prefixes come from.", {
                    "prefix_roles": [{"name": r, "slug": r, "description": why} for r, why in prefix_roles.items()]
                })] if prefix_roles else []
            ),
            ("The management prefix: each device's primary_ip4 is in it. In the lab, its first\n"
             "address is the management bridge (the syslog collector's address in the lab).", {
                "prefixes": [{"prefix": str(net), "description": "Management", "tenant": operator}]
            }),
        ],
    )  # fmt: skip
    files["30-devices.yml"] = _dump(
        "Devices, their interfaces and addresses, and the cables between them. A device the lab\n"
        "builds has platform frr and a primary_ip4 on one of its interfaces; a router of another\n"
        "platform (eos, ios) is configured over SSH at its primary_ip4. An example:\n"
        "\n"
        "devices:\n"
        "  - name: core-1\n"
        f"    site: {site}\n"
        "    role: p\n"
        "    platform: frr\n"
        "    device_type: frr-router\n"
        f"    primary_ip4: {next(net.hosts()) + 1}/{net.prefixlen}\n"
        "    interfaces:\n"
        "      - {name: eth0, type: 1000base-t, mgmt_only: true, addresses: [<the primary_ip4>]}\n"
        "      - {name: lo, type: virtual, addresses: [{address: <loopback>/32, role: loopback}]}\n"
        "      - {name: eth1, type: 10gbase-x-sfpp, addresses: [<link address>/31]}\n"
        "cables:\n"
        "  - {a: core-1:eth1, b: core-2:eth1}\n"
        "\n"
        "docs/intent.md lists every key; `ansible-playbook playbooks/sot_sync.yml --check` checks them.",
        [("", {"devices": []}), ("", {"cables": []})],
    )
    files["50-config.yml"] = _dump(
        "Config contexts: what the templates read beyond DCIM and IPAM (docs/config.md lists the\n"
        "keys). Devices receive the merge of every context that matches them, under `netoss`.",
        [
            (
                "Every device: logs (interface events too: fault management raises alarms from them)\n"
                "to netoss's syslog collector, a login banner, the local users.",
                {
                    "config_contexts": [
                        {
                            "name": "netoss-defaults",
                            "weight": 100,
                            "description": "Every device: logging to the collector, login banner, local users",
                            "data": {
                                "netoss": {
                                    "syslog": {
                                        "level": "informational",
                                        "interface_events": True,
                                        "servers": [{"host": host, "port": port}],
                                    },
                                    "snmp": {"enabled": True},
                                    "banner": f"Authorised access only. This device is managed by {operator}.",
                                    "users": [{"name": "netops", "privilege": 15, "role": "network-admin"}],
                                }
                            },
                        },
                        {
                            "name": "netoss-core",
                            "weight": 200,
                            "description": "Provider routers run OSPF in the backbone area",
                            "roles": [r for r in role_names if r != "ce"],
                            "data": {"netoss": {"ospf": {"area": "0.0.0.0"}}},  # noqa: S104 (an OSPF area)
                        },
                        {
                            "name": "netoss-route-reflectors",
                            "weight": 300,
                            "description": "Core routers reflect iBGP routes to the edge",
                            "roles": ["p"],
                            "data": {"netoss": {"bgp": {"route_reflector": True}}},
                        },
                    ]
                    + (
                        [
                            {
                                "name": "netoss-customer-edge",
                                "weight": 300,
                                "description": "Customer routers announce only their customer's prefixes",
                                "roles": ["ce"],
                                "data": {"netoss": {"bgp": {"policy": "customer"}}},
                            }
                        ]
                        if "ce" in role_names
                        else []
                    )
                },
            )
        ],
    )
    if providers or circuit_types:
        files["45-circuits.yml"] = _dump(
            "What service orders (services/catalog.yml) record a customer's access circuit as.",
            [
                ("", {"providers": [{"name": p} for p in providers]}),
                ("", {"circuit_types": [{"name": t} for t in circuit_types]}),
            ],
        )
    return files


def write_starter(target: Path, files: dict[str, str], validate) -> list[Path]:
    """Write ``files`` into the new directory ``target``, after ``validate(tmpdir)`` passed on them.

    Refuses a directory that exists and is not empty (nothing of the user's is overwritten).
    """
    target = Path(target)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise StarterError(f"{target} exists and is not an empty directory: choose a new one")
    parent = target.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".netoss-init-", dir=parent))
    try:
        for name, text in files.items():
            (tmp / name).write_text(text)
        validate(tmp)
        os.chmod(tmp, 0o755)  # noqa: S103 (the stack's account reads the intent: its jobs apply it)
        if target.exists():
            target.rmdir()
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return sorted(target.iterdir())
