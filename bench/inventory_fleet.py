"""A NetBox fleet for the inventory plugin's bench and integration test, loaded through the ORM.

``load(stack, count, interfaces, prefix)`` runs one ``netbox shell`` that adds ``count`` devices
with ``interfaces`` interfaces each, shaped unlike the demo network: several regions, sites (some
in a site group, some devices in a rack and a location), roles, platforms (each with a config
context holding its Ansible connection settings, as sot_sync writes them, plus a region's and a
tag's config context of other weights), tags, tenants, a custom field, statuses, serials, asset
tags, local context data, IPv4 and IPv6 primary addresses and a few devices without any. The
objects are named ``<prefix>-...`` so that two loads of different prefixes live side by side.

Devices and interfaces are created with bulk_create (about 72 s for 10,000 devices with 100,000
interfaces on this machine); afterwards the cached counts and the config context cache are
rebuilt as NetBox's own commands do. Nothing of it goes through the change log: it is the state
an operator's NetBox already has when the inventory first reads it.
"""

from __future__ import annotations

from netoss.embedded.stack.netbox import netbox_cmd

ORM_FLEET = r"""
import ipaddress, os
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from dcim.models import (Device, DeviceRole, DeviceType, Interface, Location, Manufacturer, Platform, Rack,
                         RackRole, Region, Site, SiteGroup)
from extras.models import ConfigContext, CustomField, Tag
from ipam.models import IPAddress
from tenancy.models import Tenant

count = int(os.environ["FLEET_COUNT"])
per = int(os.environ["FLEET_INTERFACES"])
p = os.environ["FLEET_PREFIX"]
v4 = ipaddress.ip_network(os.environ["FLEET_V4"])
v6 = ipaddress.ip_network(os.environ["FLEET_V6"])


def made(cls_, **fields):
    obj = cls_(**fields)
    obj.full_clean()
    obj.save()
    return obj


with transaction.atomic():
    regions = []
    for r in range(3):
        parent = regions[0] if r == 2 else None  # one nested region
        regions.append(made(Region, name=f"{p} region {r}", slug=f"{p}-region-{r}", parent=parent))
    group = made(SiteGroup, name=f"{p} group", slug=f"{p}-group")
    sites = [made(Site, name=f"{p} site {s}", slug=f"{p}-site-{s}", status="active", region=regions[s % 3],
                  group=group if s % 2 else None, facility=f"F{s}", time_zone="Europe/Paris" if s % 3 else "")
             for s in range(6)]
    loc = made(Location, name=f"{p} hall", slug=f"{p}-hall", site=sites[1], status="active")
    rrole = made(RackRole, name=f"{p} racks", slug=f"{p}-racks", color="aa1409")
    rack = made(Rack, name=f"{p}-rack-1", site=sites[1], location=loc, role=rrole, status="active")
    roles = [made(DeviceRole, name=f"{p} {n}", slug=f"{p}-{n}", color="ff0000")
             for n in ("core", "edge", "access", "oob")]
    maker = made(Manufacturer, name=f"{p} vendor", slug=f"{p}-vendor")
    dtypes = [made(DeviceType, manufacturer=maker, model=f"{p} box {t}", slug=f"{p}-box-{t}", u_height=0) for t in "ab"]
    platforms = [made(Platform, name=f"{p} os {n}", slug=f"{p}-os-{n}", manufacturer=maker) for n in "xyz"]
    tags = [made(Tag, name=f"{p}-tag-{t}", slug=f"{p}-tag-{t}", color="9e9e9e") for t in ("gold", "silver", "lab")]
    tenants = [made(Tenant, name=f"{p} customer {t}", slug=f"{p}-customer-{t}") for t in range(4)]
    cf = CustomField.objects.filter(name=f"{p}_contract").first()
    if cf is None:
        cf = made(CustomField, name=f"{p}_contract", type="text", label="Contract")
        cf.object_types.set([ContentType.objects.get_for_model(Device)])
    for i, plat in enumerate(platforms[:2]):
        cc = made(ConfigContext, name=f"{p}-platform-{plat.slug}", weight=1000,
                  data={"ansible_network_os": f"vendor.os{i}.os{i}",
                        "ansible_connection": "ansible.netcommon.network_cli"})
        cc.platforms.set([plat])
    cc = made(ConfigContext, name=f"{p}-region-ntp", weight=500,
              data={"ntp_servers": ["192.0.2.1"], "syslog": {"port": 514}})
    cc.regions.set([regions[0]])
    cc = made(ConfigContext, name=f"{p}-gold", weight=2000, data={"syslog": {"port": 1514}, "gold": True})
    cc.tags.set([tags[0]])

    devices = []
    for i in range(count):
        site = sites[i % len(sites)]
        in_rack = site == sites[1] and i % 4 == 1
        devices.append(Device(
            name=f"{p}-{i:05d}", site=site, role=roles[i % len(roles)], device_type=dtypes[i % 2],
            platform=platforms[i % 3] if i % 7 else None, tenant=tenants[i % 4] if i % 5 else None,
            status=("active", "planned", "offline")[i % 3] if i % 11 else "staged",
            serial=f"SN{i:06d}" if i % 2 else "", asset_tag=f"{p}-AT{i}" if i % 13 == 0 else None,
            location=loc if in_rack else None, rack=rack if in_rack else None,
            custom_field_data={f"{p}_contract": f"C-{i % 17}" if i % 3 == 0 else None},
            local_context_data={"local_note": i} if i % 29 == 0 else None,
        ))
    devices = Device.objects.bulk_create(devices, batch_size=2000)
    through = Device.tags.through
    dct = ContentType.objects.get_for_model(Device)
    links = []
    for i, d in enumerate(devices):
        for t, tag in enumerate(tags):
            if (i + t) % (t + 2) == 0:
                links.append(through(content_type=dct, object_id=d.id, tag=tag))
    through.objects.bulk_create(links, batch_size=5000)
    ifaces = []
    for d in devices:
        for k in range(per):
            ifaces.append(Interface(
                device=d, name="mgmt0" if k == 0 else f"ge-0/0/{k}", type="1000base-t" if k == 0 else "10gbase-x-sfpp",
                mgmt_only=k == 0, enabled=k != per - 1, mtu=9000 if k == 1 else None, description=f"port {k}",
                _site_id=d.site_id, _location_id=d.location_id, _rack_id=d.rack_id))
    ifaces = Interface.objects.bulk_create(ifaces, batch_size=5000)
    ict = ContentType.objects.get_for_model(Interface)
    ips, primary4, primary6 = [], [], []
    for i, d in enumerate(devices):
        if i % 23 == 22:
            continue  # no address at all: no ansible_host
        first = ifaces[i * per]
        ips.append(IPAddress(address=f"{v4[i + 1]}/{v4.prefixlen}", status="active", assigned_object_type=ict,
                             assigned_object_id=first.id, dns_name=f"{d.name}.example.net" if i % 2 else ""))
        primary4.append((len(ips) - 1, d.id))
        if per > 1 and i % 9 == 0:
            ips.append(IPAddress(address=f"{v6[i + 1]}/64", status="active", assigned_object_type=ict,
                                 assigned_object_id=ifaces[i * per + 1].id))
            primary6.append((len(ips) - 1, d.id))
    ips = IPAddress.objects.bulk_create(ips, batch_size=5000)
    with connection.cursor() as cur:
        for column, pairs in (("primary_ip4_id", primary4), ("primary_ip6_id", primary6)):
            cur.executemany(f"UPDATE dcim_device SET {column} = %s WHERE id = %s", [(ips[n].id, d) for n, d in pairs])
print(f"fleet: loaded {len(devices)} devices, {len(ifaces)} interfaces, {len(ips)} addresses ({p})")
"""


def load(
    stack,
    count: int,
    interfaces: int = 10,
    prefix: str = "fleet",
    v4: str = "198.18.128.0/17",
    v6: str = "2001:db8:96::/48",
) -> None:
    """Load the fleet into ``stack``'s NetBox; then refresh NetBox's cached counts and config
    context cache (what its own commands do after a bulk load)."""
    if not 1 <= interfaces <= 64 or count < 1 or count + 2 > 2 ** (32 - int(v4.split("/")[1])):
        raise ValueError(f"fleet: {count} devices with {interfaces} interfaces do not fit {v4}")
    env = {
        "FLEET_COUNT": str(count),
        "FLEET_INTERFACES": str(interfaces),
        "FLEET_PREFIX": prefix,
        "FLEET_V4": v4,
        "FLEET_V6": v6,
    }
    print(netbox_cmd(stack, "shell", "-c", ORM_FLEET, extra_env=env).strip().splitlines()[-1])
    netbox_cmd(stack, "calculate_cached_counts")
    netbox_cmd(stack, "rebuild_config_context_cache")


ORM_UNLOAD = r"""
import os
from dcim.models import (Device, DeviceRole, DeviceType, Location, Manufacturer, Platform, Rack, RackRole, Region,
                         Site, SiteGroup)
from extras.models import ConfigContext, CustomField, Tag
from ipam.models import IPAddress
from tenancy.models import Tenant

p = os.environ["FLEET_PREFIX"]
devices = Device.objects.filter(name__startswith=f"{p}-")
IPAddress.objects.filter(interface__device__in=devices).delete()
n = devices.count()
for d in devices.iterator():
    d.delete()
ConfigContext.objects.filter(name__startswith=f"{p}-").delete()
CustomField.objects.filter(name=f"{p}_contract").delete()
Rack.objects.filter(name__startswith=f"{p}-").delete()
for model in (DeviceType, Platform, Manufacturer, DeviceRole, Tenant, Tag, RackRole, Location, Site, SiteGroup):
    model.objects.filter(slug__startswith=f"{p}-").delete()
regions = Region.objects.filter(slug__startswith=f"{p}-")
regions.filter(parent__isnull=False).delete()
regions.delete()
print(f"fleet: removed {n} devices ({p})")
"""


def unload(stack, prefix: str) -> None:
    """Remove what ``load(stack, ..., prefix)`` added (through the ORM, outside the change log)."""
    print(netbox_cmd(stack, "shell", "-c", ORM_UNLOAD, extra_env={"FLEET_PREFIX": prefix}).strip().splitlines()[-1])
