"""inventory/netbox.yml (netoss.core.netbox, the default inventory) against the synced test stack."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration


def _run_inventory(nb_env, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [str(REPO / ".venv/bin/ansible-inventory"), "-i", "inventory/netbox.yml", *args],
        cwd=REPO,
        env=nb_env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc


def _inventory(nb_env, *args: str) -> str:
    return _run_inventory(nb_env, *args).stdout


def _plain(value):
    """ansible-inventory (core 2.19+) marks untrusted strings as {"__ansible_unsafe": ...}; unwrap them."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def test_graph_groups_routers_by_site_role_and_platform(nb_env, demo_synced):
    graph = _inventory(nb_env, "--graph")
    for group in (
        "sites_ams1",
        "sites_fra1",
        "device_roles_pe",
        "device_roles_p",
        "device_roles_ce",
        "platforms_frr",
    ):
        assert f"@{group}:" in graph, graph
    data = json.loads(_inventory(nb_env, "--list"))
    assert sorted(data["sites_ams1"]["hosts"]) == ["ce1", "ce3", "p1", "pe1"]
    assert sorted(data["device_roles_pe"]["hosts"]) == ["pe1", "pe2"]


def test_hostvars_come_from_netbox(nb_env, nb, demo_synced):
    data = _plain(json.loads(_inventory(nb_env, "--list")))
    hostvars = data["_meta"]["hostvars"]
    for device in nb.dcim.devices.all():
        hv = hostvars[device.name]
        assert hv["ansible_host"] == str(device.primary_ip4.address).split("/")[0]
        assert hv["ansible_network_os"] == "netoss.core.frr"
        assert hv["ansible_connection"] == "netoss.core.network_cli"
        assert "netoss-managed" in hv["nb_tags"]


def test_inventory_needs_no_reserved_names(nb_env, demo_synced):
    proc = _run_inventory(nb_env, "--list")
    assert "reserved name" not in proc.stderr, proc.stderr
