"""The inventory plugin netoss.core.netbox's logic (plugins/module_utils/netbox_inventory*.py):
NetBox records -> hosts, variables and groups as nb_inventory names them; the change log folded
into what to read again; the cache file. The records are shaped as NetBox 4.7's REST API returns
them with ``fields=`` (tests/integration/test_inventory_plugin.py checks the whole against
nb_inventory on a real NetBox)."""

from __future__ import annotations

import gc
import json
import os
import stat
import threading
from pathlib import Path

import pytest

from ansible_collections.netoss.core.plugins.module_utils.netbox_inventory import (
    HostBuilder,
    InventoryError,
    Lookups,
    Settings,
    attach_interfaces,
    device_fields,
    fold_changes,
    site_structure,
    strip_ip,
)
from ansible_collections.netoss.core.plugins.module_utils.netbox_inventory_read import (
    Reader,
    State,
    cache_file,
    load_cache,
    parse_headers,
    read,
    save_cache,
)

# The options of inventory/netbox.yml.
PROJECT = {
    "group_by": ["sites", "device_roles", "platforms"],
    "config_context": True,
    "flatten_config_context": True,
    "flatten_custom_fields": True,
    "rename_variables": [{"pattern": "^(tags|serial)$", "repl": "nb_\\1"}],
    "fetch_all": True,
    "services": False,
    "interfaces": False,
}


def ref(id_, slug, **extra):
    return {"id": id_, "url": f"http://nb/api/x/{id_}/", "display": slug.upper(), "slug": slug, **extra}


LOOKUPS = Lookups(
    sites={
        1: {"id": 1, "slug": "osl2", "region": {"id": 11}, "group": None, "time_zone": "Europe/Oslo", "facility": "F"},
        2: {"id": 2, "slug": "trd1", "region": None, "group": {"id": 21}, "time_zone": None, "facility": ""},
    },
    regions={10: {"id": 10, "slug": "nordics", "parent": None}, 11: {"id": 11, "slug": "norway", "parent": {"id": 10}}},
    site_groups={21: {"id": 21, "slug": "metro", "parent": None}},
    locations={31: {"id": 31, "slug": "hall-b", "parent": None, "site": {"id": 1}}},
    racks={41: {"id": 41, "name": "r41", "role": {"id": 5, "slug": "network"}, "group": None}},
)


def device(**over):
    d = {
        "id": 7,
        "name": "agg-osl2-03",
        "status": {"value": "active", "label": "Active"},
        "site": ref(1, "osl2"),
        "role": ref(3, "aggregation"),
        "platform": ref(4, "junos"),
        "tenant": None,
        "tags": [ref(8, "gold"), ref(9, "ring-a")],
        "device_type": ref(5, "mx204", manufacturer=ref(6, "juniper")),
        "serial": "SN1",
        "asset_tag": None,
        "primary_ip4": {"id": 70, "address": "192.0.2.7/24", "dns_name": "agg.example.net"},
        "primary_ip6": None,
        "oob_ip": None,
        "cluster": None,
        "custom_fields": {"contract": "C-1", "unset": None},
        "local_context_data": None,
        "virtual_chassis": None,
        "rack": {"id": 41, "name": "r41"},
        "location": {"id": 31},
        "config_context": {"ansible_network_os": "junipernetworks.junos.junos", "ntp": ["192.0.2.1"]},
    }
    d.update(over)
    return d


def host_of(options, record=None, lookups=LOOKUPS, **kw):
    s = Settings.from_options(options)
    return HostBuilder(s, lookups).host(record or device(), **kw)


def test_project_settings_give_nb_inventory_names_and_variables():
    h = host_of(PROJECT)
    assert h.name == "agg-osl2-03"
    assert h.groups == ["device_roles_aggregation", "platforms_junos"]  # the site's group: site_structure
    assert h.vars == {
        "ansible_host": "192.0.2.7",
        "primary_ip4": "192.0.2.7",
        "status": {"value": "active", "label": "Active"},
        "ansible_network_os": "junipernetworks.junos.junos",
        "ntp": ["192.0.2.1"],
        "local_context_data": [None],
        "contract": "C-1",
        "regions": ["norway", "nordics"],
        "is_virtual": False,
        "nb_serial": "SN1",
        "sites": ["osl2"],
        "nb_tags": ["gold", "ring-a"],
        "device_roles": ["aggregation"],
        "platforms": ["junos"],
        "device_types": ["mx204"],
        "manufacturers": ["juniper"],
        "site_groups": [],
        "racks": ["r41"],
        "rack_role": "network",
        "locations": ["hall-b"],
    }


def test_config_context_unflattened_and_absent():
    h = host_of({**PROJECT, "flatten_config_context": False, "flatten_custom_fields": False})
    assert h.vars["config_context"] == [device()["config_context"]]
    assert h.vars["custom_fields"] == {"contract": "C-1"}
    record = device()
    del record["config_context"]  # not read: config_context false
    h = host_of({**PROJECT, "config_context": False}, record)
    assert "config_context" not in h.vars and "ansible_network_os" not in h.vars


def test_plurals_off_and_raw_group_names():
    opts = {"group_by": ["site", "role", "tag", "status", "is_virtual", "manufacturer"], "plurals": False}
    h = host_of(opts)
    assert h.vars["site"] == "osl2" and h.vars["role"] == "aggregation" and h.vars["tags"] == ["gold", "ring-a"]
    assert h.groups == ["role_aggregation", "tag_gold", "tag_ring-a", "status_active", "manufacturer_juniper"]
    assert host_of({**opts, "group_names_raw": True}).groups == ["aggregation", "gold", "ring-a", "active", "juniper"]


@pytest.mark.parametrize(
    ("options", "record", "expected"),
    [
        ({}, {"primary_ip6": {"id": 71, "address": "2001:db8::7/64"}}, "2001:db8::7"),  # NetBox prefers IPv6
        ({"prefer_ipv4": True}, {"primary_ip6": {"id": 71, "address": "2001:db8::7/64"}}, "192.0.2.7"),
        ({"ansible_host_dns_name": True}, {}, "agg.example.net"),
        ({"oob_ip_as_primary_ip": True}, {"oob_ip": {"id": 72, "address": "198.51.100.7/24"}}, "198.51.100.7"),
        ({}, {"primary_ip4": None}, None),
    ],
)
def test_ansible_host(options, record, expected):
    h = host_of({**PROJECT, **options}, device(**record))
    assert h.vars.get("ansible_host") == expected


def test_tenant_tags_and_rack_groups():
    h = host_of(
        {"group_by": ["tenants", "tags", "racks", "rack_role", "device_types"]},
        device(tenant=ref(12, "acme")),
    )
    assert h.groups == [
        "tenants_acme",
        "tags_gold",
        "tags_ring-a",
        "racks_r41",
        "rack_role_network",
        "device_types_mx204",
    ]
    assert h.vars["tenants"] == ["acme"]


def test_racks_off_leaves_rack_variables_out():
    h = host_of({**PROJECT, "racks": False})
    assert not {"racks", "rack_role", "locations"} & set(h.vars)
    with pytest.raises(InventoryError, match="group_by 'racks' is not valid"):
        Settings.from_options({"racks": False, "group_by": ["racks"]})


def test_interfaces_carry_their_addresses_without_the_assignment():
    ip = {"id": 90, "address": "192.0.2.7/24", "assigned_object_type": "dcim.interface", "assigned_object_id": 50}
    itfs = attach_interfaces([{"id": 50, "name": "xe-0/0/0", "device": {"id": 7}}], {50: [strip_ip(ip)]})
    h = host_of({**PROJECT, "interfaces": True}, interfaces=itfs)
    assert h.vars["interfaces"] == [
        {"id": 50, "name": "xe-0/0/0", "device": {"id": 7}, "ip_addresses": [{"id": 90, "address": "192.0.2.7/24"}]}
    ]
    assert h.vars["dns_name"] == "agg.example.net"  # nb_inventory sets it when interfaces are read


def test_site_structure_nests_regions_site_groups_and_locations():
    s = Settings.from_options({"group_by": ["sites", "region", "site_group", "location"]})
    st = site_structure(s, LOOKUPS)
    assert set(st.groups) == {
        "sites_osl2",
        "sites_trd1",
        "location_hall-b",
        "region_nordics",
        "region_norway",
        "site_group_metro",
    }
    assert set(st.children) == {
        ("region_nordics", "region_norway"),
        ("region_norway", "sites_osl2"),
        ("site_group_metro", "sites_trd1"),
        ("sites_osl2", "location_hall-b"),
    }
    assert st.group_of(device()) == "location_hall-b"
    assert st.group_of(device(location=None, site=ref(2, "trd1"))) == "sites_trd1"
    assert site_structure(Settings.from_options({"group_by": ["platforms"]}), LOOKUPS).groups == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"group_by": ["sitez"]}, "group_by 'sitez' is not valid"),
        ({"group_by": ["site"]}, "group_by 'site' is not valid with plurals=True"),
        ({"rename_variables": [{"pattern": "("}]}, r"rename_variables\[0\]: expected a dict with 'pattern' and 'repl'"),
        ({"rename_variables": [{"pattern": "(", "repl": "x"}]}, r"rename_variables\[0\]: pattern '\(' is not a regex"),
        ({"query_filters": [{"role": "a", "site": "b"}]}, r"query_filters\[0\]: expected a dict of one NetBox filter"),
        ({"device_fields": "name"}, "device_fields: expected a list of NetBox field names"),
    ],
)
def test_bad_settings_are_named(options, message):
    with pytest.raises(InventoryError, match=message):
        Settings.from_options(options)


def test_fields_read_are_only_those_needed():
    fields = device_fields(Settings.from_options(PROJECT))
    assert "config_context" in fields and "primary_ip" not in fields  # primary_ip costs NetBox a query per device
    assert "config_context" not in device_fields(Settings.from_options({**PROJECT, "config_context": False}))
    assert "airflow" in device_fields(Settings.from_options({**PROJECT, "device_fields": ["airflow"]}))


def change(id_, kind, oid, action="update", pre=None, post=None):
    return {
        "id": id_,
        "time": f"t{id_}",
        "action": {"value": action, "label": action.title()},
        "changed_object_type": kind,
        "changed_object_id": oid,
        "prechange_data": pre,
        "postchange_data": post,
    }


INDEX = {"interface_device": {50: 7, 51: 8}, "ip_device": {90: 7}, "primary": {90: {7}}}
WITH_ITF = Settings.from_options({**PROJECT, "interfaces": True})


def test_fold_create_update_delete():
    r = fold_changes(
        [
            change(11, "dcim.device", 7),
            change(12, "dcim.device", 30, "create"),
            change(13, "dcim.device", 8, "delete"),
            change(14, "extras.journalentry", 1, "create"),  # changes no host
        ],
        10,
        INDEX,
        WITH_ITF,
        500,
    )
    assert r.full is None
    assert r.devices == {7, 30} and r.drop_devices == {8} and r.last_id == 14 and r.changes == 4


def test_fold_interface_and_address_changes_reach_their_devices():
    r = fold_changes(
        [
            change(11, "dcim.interface", 50),  # known interface of device 7
            change(12, "dcim.interface", 60, "create", post={"device": 9}),  # a new one, of device 9
            change(13, "dcim.interface", 51, "delete", pre={"device": 8}),
            change(14, "ipam.ipaddress", 91, "create", post={"assigned_object_id": 51}),
        ],
        10,
        INDEX,
        WITH_ITF,
        500,
    )
    assert r.interfaces_of == {7, 8, 9} and r.devices == set()


def test_fold_primary_address_change_reads_its_device_again():
    r = fold_changes([change(11, "ipam.ipaddress", 90, post={"assigned_object_id": 50})], 10, INDEX, WITH_ITF, 500)
    assert r.devices == {7} and r.interfaces_of == {7}
    no_itf = Settings.from_options(PROJECT)
    r = fold_changes([change(11, "ipam.ipaddress", 90), change(12, "dcim.interface", 50)], 10, INDEX, no_itf, 500)
    assert r.devices == {7} and r.interfaces_of == set()


def test_fold_deleted_device_is_not_read_again():
    r = fold_changes(
        [change(11, "dcim.interface", 50, "delete", pre={"device": 7}), change(12, "dcim.device", 7, "delete")],
        10,
        INDEX,
        WITH_ITF,
        500,
    )
    assert r.drop_devices == {7} and r.devices == set() and r.interfaces_of == set()


@pytest.mark.parametrize(
    "kind", ["dcim.site", "dcim.platform", "extras.configcontext", "extras.tag", "dcim.devicerole"]
)
def test_fold_a_change_the_log_cannot_pin_gives_a_full_read(kind):
    r = fold_changes([change(11, "dcim.device", 7), change(12, kind, 3)], 10, INDEX, WITH_ITF, 500)
    assert r.full == f"a {kind} changed (change 12)"


def test_fold_too_many_changes_gives_a_full_read():
    changes = [change(11 + i, "dcim.device", i) for i in range(6)]
    assert (
        "6 changes since the last read (more than cache_max_changes=5)"
        in fold_changes(changes, 10, INDEX, WITH_ITF, 5).full
    )
    assert fold_changes(changes, 10, INDEX, WITH_ITF, 6).full is None


def state():
    st = State(devices={7: device()}, lookups=LOOKUPS, last_change=12, last_change_time="t12")
    st.set_interfaces([{"id": 50, "name": "xe-0/0/0", "device": {"id": 7}}])
    st.set_ips(
        [{"id": 90, "address": "192.0.2.7/24", "assigned_object_type": "dcim.interface", "assigned_object_id": 50}]
    )
    return st


def test_state_index_places_interfaces_and_addresses_on_devices():
    assert state().index() == {"interface_device": {50: 7}, "ip_device": {90: 7}, "primary": {70: {7}}}


def test_cache_round_trip_owner_only_and_no_token(tmp_path):
    s = Settings.from_options(PROJECT)
    path = cache_file(str(tmp_path / "cache"), "http://nb", s)
    save_cache(path, "http://nb", state())
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "cache").st_mode) == 0o700
    back = load_cache(path, "http://nb")
    assert back.to_json() == state().to_json()
    data = Path(path).read_bytes()
    assert b"nbt_" not in data and b"Authorization" not in data
    assert load_cache(path, "http://other") is None  # another NetBox's cache is not used
    os.chmod(path, 0o644)
    assert load_cache(path, "http://nb") is None  # a file others could have written is not read
    os.chmod(path, 0o600)
    # Other settings (what is read) name another file.
    assert cache_file(str(tmp_path), "http://nb", Settings.from_options({**PROJECT, "interfaces": True})) != path
    with open(path, "w") as f:
        json.dump({"version": 0}, f)
    assert load_cache(path, "http://nb") is None  # not a cache of this format: read NetBox again


class _ChangeLog:
    """A NetBox whose change log holds the cache's newest change and nothing after it; notes
    whether the collector ran while it was asked."""

    url = "http://nb"

    def __init__(self, last_id, last_time, fail=False):
        self.last, self.fail, self.collecting = (last_id, last_time), fail, []

    def get(self, path, params):
        self.collecting.append(gc.isenabled())
        if self.fail:
            raise OSError("NetBox went away")
        assert path == "/api/core/object-changes/"
        return {"count": 1, "next": None, "results": [{"id": self.last[0], "time": self.last[1]}]}


def test_refresh_runs_with_the_collector_paused_and_leaves_it_as_it_was(tmp_path):
    s = Settings.from_options(PROJECT)
    cached = state()
    cached.last_change, cached.last_change_time = 41, "2026-12-06T00:00:00Z"
    save_cache(cache_file(str(tmp_path), "http://nb", s), "http://nb", cached)
    netbox = _ChangeLog(41, "2026-12-06T00:00:00Z")
    st, what = read(netbox, s, cache_dir=str(tmp_path))
    assert what == "incremental: 0 changes" and st.to_json() == cached.to_json()
    assert netbox.collecting == [False] and gc.isenabled()
    with pytest.raises(OSError, match="went away"):
        read(_ChangeLog(41, "x", fail=True), s, cache_dir=str(tmp_path))
    assert gc.isenabled()
    gc.disable()
    try:
        read(_ChangeLog(41, "2026-12-06T00:00:00Z"), s, cache_dir=str(tmp_path))
        assert not gc.isenabled()  # a caller's own pause is not undone
    finally:
        gc.enable()


def test_headers_from_a_dict_or_json_text():
    assert parse_headers('{"X-NetBox-Branch": "abc123"}') == {"X-NetBox-Branch": "abc123"}
    assert parse_headers({"Cookie": 1}) == {"Cookie": "1"}
    assert parse_headers(None) == {}
    with pytest.raises(InventoryError, match="headers: 'X: y' is not a JSON object"):
        parse_headers("X: y")


class _NetBox(Reader):
    """NetBox's REST API as far as the inventory reads it, in memory: devices, interfaces, IP
    addresses on interfaces, and a change log of what the test changes. ``together``: set when
    a device read and an interface read were in flight at once."""

    def __init__(self, devices=3, interfaces=2):
        super().__init__("http://nb", "nbt_k.s")
        self.devices, self.interfaces, self.ips, self.log = {}, {}, {}, []
        self.together, self._asking_itfs = threading.Event(), threading.Event()
        self.watch = False  # a device read by id waits (2 s at most) for an interface read
        for _n in range(devices):
            self.create(interfaces)

    def _change(self, action, kind, oid, pre=None, post=None):
        n = len(self.log) + 1
        self.log.append(
            {"id": n, "time": f"t{n:05}", "action": {"value": action}, "changed_object_type": kind,
             "changed_object_id": oid, "prechange_data": pre, "postchange_data": post}
        )  # fmt: skip

    def create(self, interfaces=1):
        dev = 1 + max(self.devices, default=0)
        self.devices[dev] = {"id": dev, "name": f"r{dev}", "serial": "", "primary_ip4": None}
        self._change("create", "dcim.device", dev)
        for _ in range(interfaces):
            self.add_interface(dev)
        return dev

    def add_interface(self, dev):
        itf = 1 + max(self.interfaces, default=100)
        self.interfaces[itf] = {"id": itf, "name": f"e{itf}", "device": {"id": dev}}
        self._change("create", "dcim.interface", itf, post={"device": dev})
        ip = 1 + max(self.ips, default=500)
        self.ips[ip] = {"id": ip, "address": f"198.18.{ip // 250}.{ip % 250}/31",
                        "assigned_object_type": "dcim.interface", "assigned_object_id": itf}  # fmt: skip
        self._change("create", "ipam.ipaddress", ip, post={"assigned_object_id": itf})

    def update(self, dev, **fields):
        self.devices[dev].update(fields)
        self._change("update", "dcim.device", dev)

    def delete(self, dev):
        for itf in [i for i, r in self.interfaces.items() if r["device"]["id"] == dev]:
            for ip in [i for i, r in self.ips.items() if r["assigned_object_id"] == itf]:
                del self.ips[ip]
                self._change("delete", "ipam.ipaddress", ip, pre={"assigned_object_id": itf})
            del self.interfaces[itf]
            self._change("delete", "dcim.interface", itf, pre={"device": dev})
        del self.devices[dev]
        self._change("delete", "dcim.device", dev)

    def get(self, path, params):
        q: dict = {}
        for k, v in params:
            q.setdefault(k, []).append(v)
        itf_device = {i: r["device"]["id"] for i, r in self.interfaces.items()}
        if path == "/api/core/object-changes/":
            if q.get("ordering") == ["-id"]:
                found = self.log[::-1]
            else:
                found = [c for c in self.log if c["id"] >= int(q["id__gte"][0])]
        elif path == "/api/dcim/devices/":
            if "id" in q and self.watch and self._asking_itfs.wait(2):  # asked for interfaces meanwhile?
                self.together.set()
            found = [r for i, r in self.devices.items() if "id" not in q or i in q["id"]]
        elif path == "/api/dcim/interfaces/":
            if "device_id" in q:
                self._asking_itfs.set()
            found = [r for r in self.interfaces.values() if "device_id" not in q or r["device"]["id"] in q["device_id"]]
        elif path == "/api/ipam/ip-addresses/":
            found = [
                r for r in self.ips.values()
                if "device_id" not in q or itf_device.get(r["assigned_object_id"]) in q["device_id"]
            ]  # fmt: skip
        else:
            found = []  # sites, regions...: none
        offset, limit = int(q.get("offset", [0])[0]), int(q.get("limit", [1000])[0])
        page = found[offset : offset + limit]
        nxt = "more" if offset + limit < len(found) else None
        return {"count": len(found), "next": nxt, "results": [dict(r) for r in page]}


WITH_INTERFACES = {**PROJECT, "interfaces": True}


def _files(cache_dir):
    return sorted(p.name.rsplit(".", 1)[1] for p in Path(cache_dir).iterdir())


def test_a_refresh_keeps_the_big_cache_and_writes_what_changed_beside_it(tmp_path):
    """Each refresh writes only what it changed (a small journal beside the cache of everything,
    which is written again on a full read or once the journal has grown); the state read back is
    the one a full read of NetBox gives."""
    s, cache = Settings.from_options(WITH_INTERFACES), str(tmp_path / "cache")
    netbox = _NetBox(devices=40)  # 200 records: a journal of up to 20
    _st, what = read(netbox, s, cache)
    assert what == "full read (no cache)" and _files(cache) == ["cache"]
    base = next(Path(cache).iterdir())
    written = base.stat().st_mtime_ns, base.stat().st_ino

    netbox.update(1, serial="S1")
    netbox.delete(2)
    new = netbox.create(interfaces=2)
    netbox.add_interface(3)
    st, what = read(netbox, s, cache)
    assert what.startswith("incremental: ") and _files(cache) == ["cache", "journal"]
    assert (base.stat().st_mtime_ns, base.stat().st_ino) == written  # the big file is not written again
    full, _ = read(netbox, s, None)
    assert st.to_json() == full.to_json()
    assert len(st.interfaces[new]) == 2 and len(st.interfaces[3]) == 3 and 2 not in st.devices

    netbox.update(new, serial="S2")
    netbox.update(4, primary_ip4={"id": 999})
    st, what = read(netbox, s, cache)
    assert what.startswith("incremental: ") and (base.stat().st_mtime_ns, base.stat().st_ino) == written
    full, _ = read(netbox, s, None)
    assert st.to_json() == full.to_json()
    back = load_cache(str(base), "http://nb")  # the cache and its journal, read again
    assert back.to_json() == full.to_json()
    st, what = read(netbox, s, cache)
    assert what == "incremental: 0 changes" and st.to_json() == full.to_json()

    # A full read writes everything again and drops the journal.
    netbox.log.clear()  # the change log no longer reaches back
    netbox.update(1, serial="S3")
    st, what = read(netbox, s, cache)
    assert what.startswith("full read: the change log no longer holds") and _files(cache) == ["cache"]
    assert base.stat().st_ino != written[1] and load_cache(str(base), "http://nb").to_json() == st.to_json()


def test_a_journal_grown_past_its_share_is_folded_into_the_cache(tmp_path, monkeypatch):
    from ansible_collections.netoss.core.plugins.module_utils import netbox_inventory_read

    s, cache = Settings.from_options(WITH_INTERFACES), str(tmp_path / "cache")
    netbox = _NetBox(devices=10, interfaces=1)
    read(netbox, s, cache)
    monkeypatch.setattr(netbox_inventory_read, "JOURNAL_SHARE", 0.2)  # of the cache's records: 30 -> 6
    netbox.update(1, serial="a")
    read(netbox, s, cache)
    assert _files(cache) == ["cache", "journal"]
    for dev in (2, 3, 4, 5, 6, 7):
        netbox.update(dev, serial="b")
    st, what = read(netbox, s, cache)
    assert what.startswith("incremental: ") and _files(cache) == ["cache"]  # 7 devices: folded in
    assert load_cache(next(Path(cache).iterdir()).as_posix(), "http://nb").to_json() == st.to_json()


def test_a_journal_of_another_cache_is_not_applied(tmp_path):
    """Two runs at once: one wrote the cache again (a full read) while the other journaled a
    refresh of the cache before: that journal is not applied to the new cache."""
    s, cache = Settings.from_options(WITH_INTERFACES), str(tmp_path / "cache")
    netbox = _NetBox(devices=3)
    read(netbox, s, cache)
    base = next(Path(cache).iterdir())
    before = base.read_bytes()
    netbox.update(1, serial="journaled")
    read(netbox, s, cache)
    journal = base.with_suffix(".journal").read_bytes()
    netbox.update(1, serial="newer")
    _full, _ = read(netbox, s, cache, use_cache=False)  # writes the cache again
    assert base.read_bytes() != before
    base.with_suffix(".journal").write_bytes(journal)
    os.chmod(base.with_suffix(".journal"), 0o600)
    assert load_cache(str(base), "http://nb").devices[1]["serial"] == "newer"


def test_a_refresh_reads_devices_and_the_interfaces_of_new_ones_at_once(tmp_path):
    s, cache = Settings.from_options(WITH_INTERFACES), str(tmp_path / "cache")
    netbox = _NetBox(devices=2)
    read(netbox, s, cache)
    netbox.create(interfaces=1)
    netbox.watch = True
    st, what = read(netbox, s, cache)
    assert what.startswith("incremental: ") and len(st.devices) == 3
    assert netbox.together.is_set()  # one round trip to NetBox, not three


def test_a_journal_that_breaks_halfway_leaves_the_cache_alone_as_it_was(tmp_path):
    """A damaged journal whose first delta applies and whose second does not: the state is the
    cache's as written, not the cache with half the journal in it."""
    from ansible_collections.netoss.core.plugins.module_utils import private_cache
    from ansible_collections.netoss.core.plugins.module_utils.netbox_inventory_read import journal_file

    s, cache = Settings.from_options(WITH_INTERFACES), str(tmp_path / "cache")
    netbox = _NetBox(devices=40)
    read(netbox, s, cache)
    base = str(next(Path(cache).iterdir()))
    alone = load_cache(base, "http://nb").to_json()
    netbox.update(1, serial="journaled")
    read(netbox, s, cache)
    journal = private_cache.read(journal_file(base), 2)
    # Its second delta drops device 2, then fails on interfaces that are not a mapping.
    bad = {"last_change": 99, "last_change_time": "t", "drop": [2], "devices": {}, "interfaces": 5, "ips": {}}
    journal["deltas"].append(bad)
    private_cache.write(journal_file(base), 2, journal)
    back = load_cache(base, "http://nb")
    assert back.to_json() == alone and back.devices[1]["serial"] == "" and 2 in back.devices
