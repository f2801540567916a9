"""`netoss fleet generate`: a valid provider network of any size and shape, for scale tests."""

from __future__ import annotations

import ipaddress
from collections import Counter
from pathlib import Path

import pytest
import yaml

from ansible_collections.netoss.core.plugins.module_utils.intent_checks import _Coverage
from ansible_collections.netoss.core.plugins.module_utils.intent_load import load_intent
from ansible_collections.netoss.core.plugins.module_utils.intent_payloads import build_netbox_objects
from ansible_collections.netoss.core.plugins.module_utils.intent_schema import slugify
from netoss.cli import fleet

REPO = Path(__file__).resolve().parents[2]
NETOSS_FILE = REPO / "inventory" / "intent" / "00-netoss.yml"
CATALOG = yaml.safe_load((REPO / "services" / "catalog.yml").read_text())


def _fleet(tmp_path, **kw):
    files = fleet.generate(catalog=CATALOG, netoss_file=NETOSS_FILE, **kw)
    fleet.write(tmp_path / "fleet", files, load_intent)
    return files, build_netbox_objects(load_intent(tmp_path / "fleet"))


@pytest.mark.parametrize(
    ("devices", "sites", "addressing", "stem"),
    [(200, 10, "10.0.0.0/8", "pop"), (37, 4, "172.20.0.0/16", "dc"), (3, 1, "100.64.0.0/20", "x")],
)
def test_a_fleet_is_a_valid_intent_of_the_size_and_names_asked(tmp_path, devices, sites, addressing, stem):
    files, objects = _fleet(tmp_path, devices=devices, sites=sites, addressing=addressing, site_stem=stem)
    assert len(objects["devices"]) == devices
    assert len(objects["sites"]) == sites
    assert {s["name"] for s in objects["sites"]} == {f"{stem}{i:03d}" for i in range(1, sites + 1)}
    assert len(objects["interfaces"]) == 10 * devices
    block = ipaddress.ip_network(addressing)
    assert all(ipaddress.ip_interface(a["address"]).ip in block for a in objects["ip_addresses"])
    roles = Counter(d["device_role"] for d in objects["devices"])
    assert set(roles) == {"p", "pe", "ce"}
    # Every CE is a customer's, on an access circuit of the catalog's provider, to a PE of its site.
    site_of = {d["name"]: d["site"] for d in objects["devices"]}
    ces = [d for d in objects["devices"] if d["device_role"] == "ce"]
    assert all(d.get("tenant") for d in ces)
    assert len(objects["circuits"]) == len(ces)
    access = yaml.safe_load(files["46-access.yml"])["circuits"]
    for circuit in access:
        pe, ce = circuit["a"].split(":")[0], circuit["z"].split(":")[0]
        assert site_of[pe] == site_of[ce]
    assert {c["provider"] for c in objects["circuits"]} == {slugify(CATALOG["services"][0]["provider"])}


def test_the_shape_stays_within_the_ports_of_each_router():
    for total in (3, 4, 5, 9, 10, 11, 20, 33, 100, 1000, 10_000):
        shape = fleet.SiteShape.of(total)
        assert shape.p + shape.pe + shape.ce == total
        assert 2 * shape.pe <= 6 * shape.p, total  # P downlinks eth3-eth8
        assert shape.ce <= 6 * shape.pe, total  # PE access ports eth3-eth8
        assert min(shape.p, shape.pe, shape.ce) >= 1


@pytest.mark.parametrize(
    ("kw", "says"),
    [
        ({"devices": 5, "sites": 3}, "at least 3 per site"),
        ({"devices": 50000, "sites": 3, "addressing": "172.16.0.0/16"}, "holds fewer than 50000 devices"),
        ({"devices": 30, "sites": 3, "addressing": "10.0.0.0/24"}, "/20 or shorter"),
        ({"devices": 30, "sites": 3, "addressing": "10.0.0.1/16"}, "host bits set"),
        ({"devices": 30, "sites": 3, "site_stem": "-bad stem"}, "--site-stem"),
    ],
)
def test_a_fleet_that_cannot_be_made_is_refused_with_the_reason(kw, says):
    with pytest.raises(fleet.FleetError, match=says):
        fleet.generate(catalog=CATALOG, netoss_file=NETOSS_FILE, **kw)


def test_the_prefix_coverage_answers_like_a_scan_of_every_prefix():
    texts = ("10.0.0.0/8", "10.1.0.0/16", "192.0.2.0/31", "192.0.2.4/30", "2001:db8::/32")
    nets = [ipaddress.ip_network(n) for n in texts]
    coverage = _Coverage(nets)
    for text in ("10.0.0.0", "10.255.255.255", "11.0.0.0", "192.0.2.1", "192.0.2.2", "192.0.2.7", "192.0.2.8",
                 "9.255.255.255", "2001:db8::1", "2001:db9::"):  # fmt: skip
        ip = ipaddress.ip_address(text)
        assert coverage.covers(ip) == any(ip in n for n in nets), text
