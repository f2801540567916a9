"""netoss.core.netbox against netbox.netbox.nb_inventory on the same real NetBox: the synced demo
plus a fleet of 200 more devices loaded through NetBox's ORM (bench/inventory_fleet.py: other
regions, sites, a site group, a rack in a location, roles, platforms with their config contexts,
tags, tenants, a custom field, IPv4 and IPv6 primary addresses, devices without any), shaped
unlike the demo. The outputs of `ansible-inventory --list` must be equal (hosts, groups, and the
variables both set), and a refresh from the change log must see a create, an update and a
delete. The fleet is removed at the end of the module.

Deliberate differences (also in the plugin's documentation), taken out before comparing:
- INTERFACE_FIELDS: the plugin's interfaces carry the fields of `interface_fields` and
  `ip_fields`, nb_inventory's every field NetBox has: nb_inventory's are cut down to the plugin's.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

import inventory_fleet  # noqa: E402
from bench_inventory import compare, parse_list  # noqa: E402

pytestmark = pytest.mark.integration

PREFIX = "invit"
PROJECT = yaml.safe_load((REPO / "inventory" / "netbox.yml").read_text())
# Every grouping both plugins know on this NetBox, and interfaces.
WIDE = {
    **PROJECT,
    "group_by": [
        "sites",
        "device_roles",
        "platforms",
        "tags",
        "tenants",
        "status",
        "region",
        "site_group",
        "location",
        "racks",
        "rack_role",
        "device_types",
        "manufacturers",
    ],
    "interfaces": True,
    "dns_name": True,
}


@pytest.fixture(scope="module")
def fleet(stack, demo_synced):
    inventory_fleet.load(stack, 200, 4, PREFIX)
    yield PREFIX
    inventory_fleet.unload(stack, PREFIX)


def _write(tmp_path: Path, name: str, plugin: str, options: dict) -> Path:
    path = tmp_path / f"{name}.yml"
    path.write_text(yaml.safe_dump({**options, "plugin": plugin}, sort_keys=False))
    return path


def _list(nb_env, source: Path, cache: Path) -> tuple[dict, str]:
    proc = subprocess.run(
        [str(REPO / ".venv/bin/ansible-inventory"), "-i", str(source), "--list", "-v"],
        cwd=REPO,
        env={**nb_env, "NETOSS_INVENTORY_CACHE_DIR": str(cache)},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return parse_list(proc.stdout), proc.stdout + proc.stderr


def _both(nb_env, tmp_path, options, cache) -> tuple[dict, dict, str]:
    ours, log = _list(nb_env, _write(tmp_path, "ours", "netoss.core.netbox", options), cache)
    theirs, _ = _list(nb_env, _write(tmp_path, "theirs", "netbox.netbox.nb_inventory", options), cache)
    return theirs, ours, log


@pytest.mark.parametrize("options", [PROJECT, WIDE], ids=["inventory-netbox-yml", "wide-with-interfaces"])
def test_output_equals_nb_inventory(nb_env, fleet, tmp_path, options):
    theirs, ours, log = _both(nb_env, tmp_path, options, tmp_path / "cache")
    hosts = ours["_meta"]["hostvars"]
    assert len([h for h in hosts if h.startswith(f"{PREFIX}-")]) == 200
    assert len(hosts) > 200  # and the demo's
    assert compare(theirs, ours) == []
    assert "full read (no cache)" in log
    # What it is for: the fleet's platform config context gives the connection settings.
    with_platform = [h for h, v in hosts.items() if v.get("platforms") == [f"{PREFIX}-os-x"]]
    assert with_platform and all(hosts[h]["ansible_network_os"] == "vendor.os0.os0" for h in with_platform)
    if options is WIDE:
        assert ours[f"tags_{PREFIX}-tag-gold"]["hosts"] and ours[f"region_{PREFIX}-region-0"]["children"]
        some = next(v for h, v in hosts.items() if h.startswith(f"{PREFIX}-") and v.get("ansible_host"))
        assert some["interfaces"] and any(i["ip_addresses"] for i in some["interfaces"])


def test_refresh_from_the_change_log_sees_create_update_delete(nb_env, nb, fleet, tmp_path):
    cache = tmp_path / "cache"
    first, log = _list(nb_env, _write(tmp_path, "ours", "netoss.core.netbox", WIDE), cache)
    assert "full read" in log
    victims = sorted(h for h in first["_meta"]["hostvars"] if h.startswith(f"{PREFIX}-"))
    updated, deleted, model = (nb.dcim.devices.get(name=n) for n in victims[:3])
    updated.serial = "REFRESHED-1"
    updated.status = "offline"
    updated.save()
    nb.dcim.interfaces.create(device=updated.id, name="ge-9/9/9", type="1000base-t", description="added")
    deleted.delete()
    created = nb.dcim.devices.create(
        name=f"{PREFIX}-created",
        site=model.site.id,
        role=model.role.id,
        device_type=model.device_type.id,
        platform=model.platform.id if model.platform else None,
        status="active",
        tags=[{"slug": f"{PREFIX}-tag-lab"}],
    )
    itf = nb.dcim.interfaces.create(device=created.id, name="mgmt0", type="1000base-t")
    ip = nb.ipam.ip_addresses.create(
        address="198.18.127.201/32", assigned_object_type="dcim.interface", assigned_object_id=itf.id
    )
    created.primary_ip4 = ip.id
    created.save()
    try:
        t0 = time.monotonic()
        theirs, ours, log = _both(nb_env, tmp_path, WIDE, cache)
        print(f"refresh and nb_inventory: {time.monotonic() - t0:.1f} s\n{log[-600:]}")
        assert "incremental:" in log and "full read" not in log, log[-2000:]
        hosts = ours["_meta"]["hostvars"]
        assert deleted.name not in hosts
        assert hosts[updated.name]["nb_serial"] == "REFRESHED-1"
        assert updated.name in ours["status_offline"]["hosts"]
        assert "ge-9/9/9" in [i["name"] for i in hosts[updated.name]["interfaces"]]
        assert hosts[f"{PREFIX}-created"]["ansible_host"] == "198.18.127.201"
        assert f"{PREFIX}-created" in ours[f"tags_{PREFIX}-tag-lab"]["hosts"]
        assert compare(theirs, ours) == []
    finally:
        created.delete()  # and its interface and address with it


def test_a_change_the_log_cannot_pin_gives_a_full_read(nb_env, nb, fleet, tmp_path):
    cache = tmp_path / "cache"
    source = _write(tmp_path, "ours", "netoss.core.netbox", PROJECT)
    _list(nb_env, source, cache)
    platform = nb.dcim.platforms.get(slug=f"{PREFIX}-os-y")
    platform.description = "edited by the inventory test"
    platform.save()
    _, log = _list(nb_env, source, cache)
    assert "full read: a dcim.platform changed" in log, log[-2000:]
    _, log = _list(nb_env, source, cache)
    assert "incremental: 0 changes" in log, log[-2000:]


def test_a_bad_token_is_a_clear_error(nb_env, tmp_path):
    source = _write(tmp_path, "ours", "netoss.core.netbox", PROJECT)
    proc = subprocess.run(
        [str(REPO / ".venv/bin/ansible-inventory"), "-i", str(source), "--list"],
        cwd=REPO,
        env={**nb_env, "NETBOX_TOKEN": "nbt_wrong.token", "NETOSS_INVENTORY_CACHE_DIR": str(tmp_path / "c")},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert "refused the request for /api/" in proc.stderr and "check the token" in proc.stderr, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["_meta"]["hostvars"] == {}
