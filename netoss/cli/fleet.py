"""`netoss fleet generate`: a provider network of any size, as intent files, for scale tests and benchmarks.

N devices across M sites, in the roles the service catalog and the config contexts name (about
10% P, 25% PE, 65% CE), every device with 10 interfaces (management, loopback, eth1-eth8):

- the P routers of all sites form one ring (eth1 to the previous, eth2 to the next);
- each PE has two uplinks (eth1, eth2) to the P routers of its site (eth3-eth8 of the P);
- each CE is a customer's router, connected to a PE of its site (the PE's eth3-eth8) by an
  access circuit of the catalog's provider and type, tenant the customer (about one customer
  per ten CEs);
- addressing from one block (``--addressing``, default 10.0.0.0/8) cut into four: management
  (each device's primary IPv4), core links (/31), access links (/31, each recorded as a prefix
  of the PE-CE pool as service orders do) and loopbacks (/32; a CE's in its customer's space).

It builds on the starter intent (`netoss init`: what netoss needs in NetBox, the operator, its
AS, the roles and config contexts), so a generated network is valid for sot_sync, the
inventory and the service inventory, and shaped like an operator's, not like the demo's.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from pathlib import Path

import yaml

from netoss.cli.starter import SITE_NAME, StarterError, _dump, starter_files

INTERFACES = 10  # mgmt0, lo, eth1..eth8
PORTS = 8  # eth1..eth8
CES_PER_CUSTOMER = 10


class FleetError(StarterError):
    """A fleet that cannot be generated as asked; the message says why."""


@dataclass(frozen=True)
class SiteShape:
    """How many routers of each role a site of ``total`` devices has."""

    p: int
    pe: int
    ce: int

    @classmethod
    def of(cls, total: int) -> SiteShape:
        if total < 3:
            raise FleetError(f"a site needs at least 3 devices (a P, a PE and a CE), not {total}")
        p = max(1, total // 10)
        # Each PE takes two of the P routers' six downlinks (eth3-eth8).
        pe = min(3 * p, max(1, math.ceil(total * 0.25)))
        ce = total - p - pe
        while ce > (PORTS - 2) * pe:  # each PE serves at most six CEs
            pe, ce = pe + 1, ce - 1
            if pe > 3 * p:
                p, pe = p + 1, pe - 1
        return cls(p, pe, ce)


def site_sizes(devices: int, sites: int) -> list[int]:
    """``devices`` spread over ``sites`` as evenly as possible."""
    if sites < 1:
        raise FleetError(f"--sites {sites}: at least 1")
    if devices < 3 * sites:
        raise FleetError(f"--devices {devices}: at least 3 per site ({3 * sites} for {sites} sites)")
    base, extra = divmod(devices, sites)
    return [base + (1 if i < extra else 0) for i in range(sites)]


class _Pool:
    """Consecutive addresses or subnets of one block, with a clear error when it runs out."""

    def __init__(self, block: ipaddress.IPv4Network, what: str, step: int = 1):
        self.block, self.what, self.step = block, what, step
        self.next = int(block.network_address) + (0 if step > 1 else 1)  # subnets from the start, hosts after it

    def take(self) -> ipaddress.IPv4Address:
        address = ipaddress.IPv4Address(self.next)
        self.next += self.step
        if self.next - 1 > int(self.block.broadcast_address):
            raise FleetError(f"--addressing: the {self.what} block {self.block} is too small for this fleet")
        return address


def _blocks(addressing: str, devices: int) -> dict[str, ipaddress.IPv4Network]:
    try:
        block = ipaddress.ip_network(addressing, strict=True)
    except ValueError as exc:
        raise FleetError(f"--addressing {addressing!r}: {exc}") from None
    if block.version != 4 or block.prefixlen > 20:
        raise FleetError(f"--addressing {addressing}: an IPv4 block of /20 or shorter (it is cut into four)")
    quarters = list(block.subnets(prefixlen_diff=2))
    blocks = dict(zip(("management", "core", "access", "loopbacks"), quarters, strict=True))
    if blocks["management"].num_addresses - 2 < devices:
        raise FleetError(f"--addressing {addressing}: its management quarter {blocks['management']} holds fewer "
                         f"than {devices} devices")  # fmt: skip
    return blocks


def generate(
    *,
    devices: int,
    sites: int,
    catalog: dict,
    netoss_file: Path,
    operator: str = "Fleet Carrier",
    asn: int = 4200000000,
    site_stem: str = "pop",
    addressing: str = "10.0.0.0/8",
    collector: str | None = None,
) -> dict[str, str]:
    """The fleet's intent files, by name (the starter's, with sites, customers, devices,
    cables and circuits added)."""
    sizes = site_sizes(devices, sites)
    if not SITE_NAME.match(f"{site_stem}{sites:03d}") or not site_stem[:1].isalpha():
        raise FleetError(f"--site-stem {site_stem!r}: letters, digits, . _ - (starting with a letter)")
    blocks = _blocks(addressing, devices)
    mgmt = blocks["management"]
    first_site = f"{site_stem}001"
    files = starter_files(
        netoss_file,
        catalog,
        operator=operator,
        asn=asn,
        site=first_site,
        management=str(mgmt),
        collector=collector or f"{next(mgmt.hosts())}:514",
    )
    services = [s for s in (catalog or {}).get("services") or [] if s.get("provider") and s.get("circuit_type")]
    if not services:
        raise FleetError("the service catalog names no provider and circuit type for access circuits")
    provider, circuit_type = services[0]["provider"], services[0]["circuit_type"]
    link_pool = (services[0].get("link_pool") or {}).get("role")
    space_role = next(
        (
            (c.get("within") or {}).get("role")
            for s in services
            for c in s.get("characteristics") or []
            if isinstance(c.get("within"), dict) and c["within"].get("role")
        ),
        None,
    )

    mgmt_pool = _Pool(mgmt, "management")
    core_pool = _Pool(blocks["core"], "core links", step=2)
    access_pool = _Pool(blocks["access"], "access links", step=2)
    loop = blocks["loopbacks"]
    infra_loops, customer_space = list(loop.subnets(prefixlen_diff=1))
    loop_pool = _Pool(infra_loops, "loopbacks")

    site_names = [f"{site_stem}{i + 1:03d}" for i in range(sites)]
    shapes = [SiteShape.of(n) for n in sizes]
    total_ce = sum(s.ce for s in shapes)
    customers = max(1, math.ceil(total_ce / CES_PER_CUSTOMER))
    customer_names = [f"Customer {i + 1:05d}" for i in range(customers)]
    # Each customer's space: an equal slice of the customer half of the loopback block.
    bits = max(0, int(math.log2(customer_space.num_addresses // customers)))
    slice_len = max(customer_space.prefixlen + 1, 32 - bits)
    if slice_len > 28:
        raise FleetError(f"--addressing {addressing}: too small for {customers} customers' space")
    spaces = customer_space.subnets(new_prefix=slice_len)
    customer_space_of = {name: next(spaces) for name in customer_names}
    customer_pools = {name: _Pool(net, f"{name}'s space") for name, net in customer_space_of.items()}

    out_devices, cables, circuits, link_prefixes = [], [], [], []

    def device(name, site, role, tenant=None):
        address = mgmt_pool.take()
        d = {"name": name, "site": site, "role": role, "platform": "frr", "device_type": "frr-router"}
        if tenant:
            d["tenant"] = tenant
        d["primary_ip4"] = f"{address}/{mgmt.prefixlen}"
        lo_address = customer_pools[tenant].take() if tenant else loop_pool.take()
        kind = "1000base-t" if role == "ce" else "10gbase-x-sfpp"
        d["interfaces"] = [
            {"name": "mgmt0", "type": "1000base-t", "mgmt_only": True, "addresses": [d["primary_ip4"]]},
            {"name": "lo", "type": "virtual", "addresses": [{"address": f"{lo_address}/32", "role": "loopback"}]},
            *({"name": f"eth{i}", "type": kind} for i in range(1, PORTS + 1)),
        ]
        out_devices.append(d)
        return d

    def iface(d, port):
        return d["interfaces"][1 + port]  # eth<port>

    def link(pool, a, a_port, b, b_port):
        net = pool.take()
        iface(a, a_port)["addresses"] = [f"{net}/31"]
        iface(b, b_port)["addresses"] = [f"{net + 1}/31"]
        iface(a, a_port)["description"] = f"{b['name']}:eth{b_port}"
        iface(b, b_port)["description"] = f"{a['name']}:eth{a_port}"
        return net

    ps_all = []
    customer_at = 0
    for site, shape in zip(site_names, shapes, strict=True):
        ps = [device(f"{site}-p{i + 1:02d}", site, "p") for i in range(shape.p)]
        pes = [device(f"{site}-pe{i + 1:02d}", site, "pe") for i in range(shape.pe)]
        ps_all.extend(ps)
        downlinks = {p["name"]: 3 for p in ps}  # the next free port: eth3..eth8
        uplink = 0
        for pe in pes:
            for port in (1, 2):
                p = ps[uplink % len(ps)]
                uplink += 1
                link(core_pool, pe, port, p, downlinks[p["name"]])
                cables.append({"a": f"{pe['name']}:eth{port}", "b": f"{p['name']}:eth{downlinks[p['name']]}"})
                downlinks[p["name"]] += 1
        access_ports = {pe["name"]: 3 for pe in pes}
        for i in range(shape.ce):
            tenant = customer_names[customer_at % customers]
            customer_at += 1
            ce = device(f"{site}-ce{i + 1:03d}", site, "ce", tenant=tenant)
            pe = pes[i % len(pes)]
            port = access_ports[pe["name"]]
            access_ports[pe["name"]] += 1
            net = link(access_pool, pe, port, ce, 1)
            link_prefixes.append({"prefix": f"{net}/31", "description": f"{ce['name']} access link"})
            cid = f"{ce['name'].upper()}-1"
            circuits.append({
                "cid": cid, "provider": provider, "type": circuit_type, "tenant": tenant,
                "commit_rate": 1000000, "description": f"{tenant}, {site}",
                "a": f"{pe['name']}:eth{port}", "z": f"{ce['name']}:eth1",
            })  # fmt: skip
    # The P ring, across sites: eth1 to the previous P, eth2 to the next.
    if len(ps_all) > 1:
        pairs = list(zip(ps_all, ps_all[1:] + ps_all[:1], strict=True))
        for a, b in pairs[: len(ps_all) if len(ps_all) > 2 else 1]:
            link(core_pool, a, 2, b, 1)
            cables.append({"a": f"{a['name']}:eth2", "b": f"{b['name']}:eth1"})

    if sites > 1:
        files["11-sites.yml"] = _dump(
            "The other sites of the fleet (the first is in 10-dcim.yml).",
            [("", {"sites": [{"name": s, "tenant": operator} for s in site_names[1:]]})],
        )
    files["02-customers.yml"] = _dump(
        f"The fleet's {customers} customers: the tenants of their routers and access circuits.",
        [("", {"tenants": [{"name": c, "description": "Customer"} for c in customer_names]})],
    )
    prefixes = [
        {"prefix": str(blocks["core"]), "description": "Core links (/31)", "tenant": operator},
        {"prefix": str(blocks["access"]), "description": "Access links (/31)", "tenant": operator, "is_pool": True,
         **({"role": link_pool} if link_pool else {})},
        *({**p, "tenant": operator} for p in link_prefixes),
        {"prefix": str(infra_loops), "description": "Loopbacks", "tenant": operator},
        {"prefix": str(customer_space), "description": "Customer space", "tenant": operator, "status": "container",
         **({"role": space_role} if space_role else {})},
        *({"prefix": str(net), "description": f"{name}'s space", "tenant": name}
          for name, net in customer_space_of.items()),
    ]  # fmt: skip
    files["25-fleet-addressing.yml"] = _dump(
        f"The fleet's addressing, from {addressing}: core links, access links (each /31 a prefix, as\n"
        "service orders record theirs), loopbacks and each customer's space.",
        [("", {"prefixes": prefixes})],
    )
    files["30-devices.yml"] = _dump(
        f"{devices} devices across {sites} sites, each with 10 interfaces.", [("", {"devices": out_devices})]
    )
    files["40-cables.yml"] = _dump("Core links: the P ring and the PE uplinks.", [("", {"cables": cables})])
    files["46-access.yml"] = _dump("Access circuits: each CE to a PE of its site.", [("", {"circuits": circuits})])
    return files


def write(target: Path, files: dict[str, str], validate) -> list[Path]:
    """The fleet's files into the new directory ``target`` (netoss init's rules: validated first,
    nothing written when they do not validate)."""
    from netoss.cli.starter import write_starter

    return write_starter(target, files, validate)


def counts(files: dict[str, str]) -> dict[str, int]:
    """How many devices, interfaces, cables and circuits the files hold (for the summary)."""
    devices = yaml.safe_load(files["30-devices.yml"])["devices"]
    return {
        "devices": len(devices),
        "interfaces": sum(len(d["interfaces"]) for d in devices),
        "cables": len(yaml.safe_load(files["40-cables.yml"])["cables"]),
        "circuits": len(yaml.safe_load(files["46-access.yml"])["circuits"]),
    }
