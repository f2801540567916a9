# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inventory plugin netoss.core.netbox: a fast drop-in for the common netbox.netbox.nb_inventory uses."""

from __future__ import annotations

DOCUMENTATION = r"""
name: netbox
short_description: NetBox devices as hosts, fast, cached and refreshed from NetBox's change log
description:
  - Reads the devices of NetBox as Ansible hosts, named and grouped as C(netbox.netbox.nb_inventory)
    names and groups them (C(sites_<slug>), C(device_roles_<slug>), C(platforms_<slug>), C(tags_<slug>),
    C(tenants_<slug>)... from I(group_by)), with the variables nb_inventory sets (C(ansible_host) from the
    primary IP, C(primary_ip4), C(status), C(sites), C(device_roles), C(platforms), C(tags), the config
    context and custom fields, flattened or not, C(interfaces) when asked). An inventory file written for
    nb_inventory works by changing its C(plugin) line.
  - It asks NetBox only for the fields it needs (REST C(fields=)), reads the pages of each list
    concurrently, and keeps a cache that it refreshes from NetBox's change log
    (C(/api/core/object-changes/)) - only the devices, interfaces and addresses changed since the last read
    are read again. A change the change log cannot pin to devices (a site, role, platform, tag, config
    context, custom field... changed) gives a full read.
  - "Deliberate differences from nb_inventory: virtual machines are not read (devices only); with
    I(config_context=false) the config context is neither read nor set (nb_inventory 3.23 sends
    C(exclude=config_context), which NetBox 4 ignores, so it sets it anyway); interfaces and their
    addresses carry the fields of I(interface_fields) and I(ip_fields), not every field; query filters are
    passed to NetBox as they are (NetBox checks them), not checked against its API schema first;
    I(virtual_chassis_name), I(site_data), I(prefixes), I(virtual_disks) and I(vm_query_filters) are not
    supported. C(compose), C(groups) and C(keyed_groups) see the device's record as read (the fields of
    I(device_fields)) and the host's variables."
author: netoss contributors (!UNKNOWN)
extends_documentation_fragment:
  - constructed
options:
  plugin:
    description: Marks this file as a source for this plugin.
    required: true
    choices: ['netoss.core.netbox']
    type: str
  api_endpoint:
    description: NetBox's URL.
    required: true
    type: str
    env:
      - name: NETBOX_API
  token:
    description:
      - NetBox API token. A v2 token (C(nbt_...)) is sent as C(Bearer), another as C(Token); a dict with
        C(type) and C(value) chooses the scheme.
      - It is never written to the cache.
    type: raw
    env:
      - name: NETBOX_TOKEN
      - name: NETBOX_API_KEY
  validate_certs:
    description: Check NetBox's TLS certificate.
    type: bool
    default: true
  timeout:
    description: Seconds to wait for each NetBox request.
    type: int
    default: 60
  headers:
    description:
      - Extra HTTP headers sent to NetBox, a dict or its JSON text (as nb_inventory's).
      - With NetBox Branching's C(X-NetBox-Branch) header (what C(netoss gitops) sets to read a branch) every
        run is a full read and nothing is cached (a branch's changes are not in main's change log).
    type: raw
    default: {}
    env:
      - name: NETBOX_HEADERS
  group_by:
    description:
      - Groups to make, named as nb_inventory names them (C(sites_ams1) for C(sites); the value alone
        with I(group_names_raw)).
      - Sites, regions, site groups and locations nest as in nb_inventory.
    type: list
    elements: str
    default: []
    choices: [sites, site, location, tenants, tenant, racks, rack, rack_role, tags, tag, device_roles, role,
              device_types, device_type, manufacturers, manufacturer, platforms, platform, region, site_group,
              cluster, cluster_type, cluster_group, is_virtual, services, status, time_zone, utc_offset,
              facility]
  group_names_raw:
    description: Group names without the I(group_by) prefix.
    type: bool
    default: false
  plurals:
    description: Plural group and variable names (C(sites), C(device_roles)...), values in one-element lists.
    type: bool
    default: true
  config_context:
    description: Read each device's config context (rendered by NetBox) and set it as host variables.
    type: bool
    default: false
  flatten_config_context:
    description: The config context's keys as host variables, instead of one C(config_context) variable.
    type: bool
    default: false
  flatten_custom_fields:
    description: The custom fields (those with a value) as host variables, instead of C(custom_fields).
    type: bool
    default: false
  flatten_local_context_data:
    description: The local context data's keys as host variables, instead of C(local_context_data).
    type: bool
    default: false
  rename_variables:
    description:
      - Rename host variables before they are set; the first matching entry wins (C(re.sub)).
    type: list
    elements: dict
    default: []
  interfaces:
    description: Set C(interfaces), the device's interfaces each with its C(ip_addresses).
    type: bool
    default: false
  interface_fields:
    description:
      - The interface fields read and set when I(interfaces=true) (C(id) and C(device) always).
      - The default leaves out those NetBox serialises slowly (C(tags), C(custom_fields), C(tagged_vlans),
        C(count_ipaddresses)...); name them here when a playbook needs them.
    type: list
    elements: str
    default: [id, name, label, type, enabled, mtu, mac_address, description, mgmt_only, mode, untagged_vlan, lag,
              parent, vrf]
  ip_fields:
    description: The IP address fields read and set under each interface's C(ip_addresses).
    type: list
    elements: str
    default: [id, address, family, status, role, dns_name, vrf, tenant, description]
  device_fields:
    description:
      - More device fields to read, for C(compose), C(groups) and C(keyed_groups) (the plugin reads those its
        variables need, namely id, name, status, site, role, platform, tenant, tags, device_type, serial, asset_tag,
        primary_ip4, primary_ip6, oob_ip, cluster, custom_fields, local_context_data,
        virtual_chassis, rack, location, and config_context when asked).
    type: list
    elements: str
    default: []
  services:
    description: Set C(services), the device's services (as NetBox returns them).
    type: bool
    default: false
  racks:
    description: Read racks and set C(racks), C(rack_role) and C(locations).
    type: bool
    default: true
  dns_name:
    description: Set C(dns_name), the DNS name of the primary IP.
    type: bool
    default: false
  ansible_host_dns_name:
    description: C(ansible_host) is the primary IP's DNS name, when it has one.
    type: bool
    default: false
  oob_ip_as_primary_ip:
    description: C(ansible_host) is the out-of-band IP, when the device has one.
    type: bool
    default: false
  prefer_ipv4:
    description:
      - C(ansible_host) is the primary IPv4 address when the device has both; say C(true) when NetBox's
        C(PREFER_IPV4) setting is on (NetBox does not publish it). The default, as NetBox's, prefers IPv6.
    type: bool
    default: false
  hostname_field:
    description: The custom field whose value names the host, instead of the device's name.
    type: str
  fetch_all:
    description:
      - Read every interface and service at once (true), or only those of the devices the query filters
        select (false, by batches of device ids).
    type: bool
    default: true
  query_filters:
    description:
      - "NetBox filters for the devices, each a dict of one filter and its value (C(role: core)); several values
        of one filter select any of them. Templated."
    type: list
    elements: raw
    default: []
  device_query_filters:
    description: More device filters (as I(query_filters)).
    type: list
    elements: raw
    default: []
  incremental:
    description:
      - Keep what was read in I(cache_dir) and refresh it from NetBox's change log on the next run (not
        named C(cache), the option of Ansible's own cache plugins, which this plugin does not use).
    type: bool
    default: true
    env:
      - name: NETOSS_INVENTORY_CACHE
  cache_dir:
    description:
      - Where the cache files are written (a directory of mode 0700, files of mode 0600, one per NetBox URL
        and settings, with a small journal beside each of what the refreshes since changed). They hold what
        NetBox answered, never the token.
    type: path
    default: ~/.cache/netoss/inventory
    env:
      - name: NETOSS_INVENTORY_CACHE_DIR
  cache_max_changes:
    description: More changes than this since the last read give a full read instead of an incremental one.
    type: int
    default: 500
  workers:
    description:
      - Requests to NetBox in flight at once, across all the lists read (pages of one list, and lists
        read side by side). A request that times out or loses its connection is tried again (3 attempts).
    type: int
    default: 4
  page_size:
    description: Objects per page (NetBox caps pages at 1000).
    type: int
    default: 1000
"""

EXAMPLES = r"""
# inventory/netbox.yml: NetBox's URL and token come from NETBOX_API and NETBOX_TOKEN.
plugin: netoss.core.netbox
group_by: [sites, device_roles, platforms, tags]
config_context: true
flatten_config_context: true
flatten_custom_fields: true
rename_variables:
  - pattern: "^(tags|serial)$"
    repl: "nb_\\1"

---
# Only the core routers of two sites, with their interfaces; a group per status.
plugin: netoss.core.netbox
query_filters:
  - role: core
  - site: par1
  - site: lon2
interfaces: true
keyed_groups:
  - prefix: status
    key: status.value
compose:
  ansible_network_os: platform.slug
"""

import os
import time

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable

from ansible_collections.netoss.core.plugins.module_utils.netbox_inventory import (
    HostBuilder,
    InventoryError,
    Settings,
    attach_interfaces,
    site_structure,
    strip_ip,
)
from ansible_collections.netoss.core.plugins.module_utils.netbox_inventory_read import (
    BRANCH_HEADER,
    Reader,
    parse_headers,
    read,
)


class InventoryModule(BaseInventoryPlugin, Constructable):
    NAME = "netoss.core.netbox"

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith((".yml", ".yaml"))

    def _templated(self, name):
        value = self.get_option(name)
        if value and self.templar is not None:
            value = self.templar.template(value)
        return value

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path)
        self._read_config_data(path)
        t0 = time.monotonic()
        options = {
            name: self.get_option(name)
            for name in (
                "group_by",
                "group_names_raw",
                "plurals",
                "config_context",
                "flatten_config_context",
                "flatten_custom_fields",
                "flatten_local_context_data",
                "rename_variables",
                "interfaces",
                "interface_fields",
                "ip_fields",
                "device_fields",
                "services",
                "racks",
                "dns_name",
                "ansible_host_dns_name",
                "oob_ip_as_primary_ip",
                "hostname_field",
                "fetch_all",
                "prefer_ipv4",
            )
        }
        options["query_filters"] = self._templated("query_filters")
        options["device_query_filters"] = self._templated("device_query_filters")
        try:
            settings = Settings.from_options(options)
            headers = parse_headers(self.get_option("headers"))
            reader = Reader(
                self.get_option("api_endpoint"),
                self._templated("token"),
                validate_certs=self.get_option("validate_certs"),
                timeout=self.get_option("timeout"),
                headers=headers,
                workers=self.get_option("workers"),
                page_size=self.get_option("page_size"),
            )
            cached = self.get_option("incremental") and not any(h.lower() == BRANCH_HEADER.lower() for h in headers)
            cache_dir = os.path.expanduser(self.get_option("cache_dir")) if cached else None
            state, what = read(reader, settings, cache_dir, self.get_option("cache_max_changes"), use_cache=cache)
        except InventoryError as exc:
            raise AnsibleParserError(f"netoss.core.netbox ({path}): {exc}") from None
        t1 = time.monotonic()
        self.display.v(
            f"netoss.core.netbox: {what}: {len(state.devices)} devices in {t1 - t0:.2f} s ({reader.requests} requests)"
        )
        self._populate(settings, state)
        self.display.v(f"netoss.core.netbox: inventory built in {time.monotonic() - t1:.2f} s")

    def _populate(self, settings, state):
        inv = self.inventory
        builder = HostBuilder(settings, state.lookups)
        structure = site_structure(settings, state.lookups)
        for group in structure.groups:
            inv.add_group(group)
        for parent, child in structure.children:
            inv.add_child(parent, child)
        strict = self.get_option("strict")
        compose, groups, keyed = self.get_option("compose"), self.get_option("groups"), self.get_option("keyed_groups")
        # A virtual chassis is one host, its master: the members' interfaces are the master's.
        master = {}
        for dev in state.devices.values():
            vc = dev.get("virtual_chassis")
            m = (vc.get("master") or {}).get("id") if isinstance(vc, dict) else None
            if m is not None:
                master[dev["id"]] = m
        interfaces_of = state.interfaces
        if master and settings.interfaces:
            interfaces_of = {}
            for dev, items in state.interfaces.items():
                interfaces_of.setdefault(master.get(dev, dev), []).extend(items)
        ips = {itf: [strip_ip(ip) for ip in items] for itf, items in state.ips.items()} if settings.interfaces else {}
        for dev in state.devices.values():
            if master.get(dev["id"], dev["id"]) != dev["id"]:
                continue
            interfaces = attach_interfaces(interfaces_of.get(dev["id"], []), ips) if settings.interfaces else None
            services = state.services.get(dev["id"], []) if settings.services else None
            host = builder.host(dev, interfaces, services)
            if not host.name:
                raise AnsibleParserError(f"netoss.core.netbox: device {dev.get('id')} has no name to use as host name")
            inv.add_host(host.name)
            for key, value in host.vars.items():
                inv.set_variable(host.name, key, value)
            if compose or groups or keyed:
                variables = dict(host.vars)
                variables.update(dev)
                variables["is_virtual"] = False
                self._set_composite_vars(compose, variables, host.name, strict=strict)
                self._add_host_to_composed_groups(groups, variables, host.name, strict=strict)
                self._add_host_to_keyed_groups(keyed, variables, host.name, strict=strict)
            for group in host.groups:
                inv.add_group(group)
                inv.add_host(host.name, group=group)
            site_group = structure.group_of(dev)
            if site_group:
                inv.add_host(host.name, group=site_group)
