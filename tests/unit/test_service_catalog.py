"""The service catalog as code: the shipped one loads, a bad one names the file and key, and an
order item's characteristics are checked (types, ranges, AS numbers, prefixes) before anything
is touched."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.netoss.core.plugins.module_utils.service_catalog import (
    CatalogError,
    asn_problem,
    check_values,
    load_catalog,
)

REPO = Path(__file__).resolve().parents[2]
GOOD = {
    "customer": "Initech",
    "pe": "pe1",
    "pe_interface": "eth4",
    "ce": "ce3",
    "ce_interface": "eth1",
    "customer_asn": 64510,
    "prefixes": ["203.0.113.32/28"],
}


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(REPO / "services" / "catalog.yml")


def test_the_shipped_catalog_loads(catalog):
    assert sorted(catalog) == ["dia-ebgp", "static-access"]
    dia = catalog["dia-ebgp"]
    # No address in the catalog: the pools are NetBox prefixes of a role.
    assert dia.link_pool_role == "pe-ce-links" and dia.circuit_type == "IP transit"
    assert dia.characteristic("prefixes").within_role == "customer-space"
    assert (dia.routing, dia.announce) == ("ebgp", "default+aggregates")
    assert (catalog["static-access"].routing, catalog["static-access"].announce) == ("static", None)
    assert dia.characteristic("pe_interface").device == "pe"
    assert dia.characteristic("max_prefix").default == 100


def test_a_good_item_gets_its_defaults(catalog):
    clean, problems = check_values(catalog["dia-ebgp"], dict(GOOD, customer_asn="AS64510"), provider_asns={64500})
    assert problems == []
    assert clean["customer_asn"] == 64510 and clean["max_prefix"] == 100 and clean["bandwidth"] == 100000


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"customer_asn": 64500}, "customer_asn: 64500 is the provider's own AS number"),
        ({"customer_asn": 23456}, "customer_asn: 23456 is AS_TRANS (RFC 6793)"),
        ({"customer_asn": 0}, "customer_asn: 0 is reserved (RFC 7607)"),
        ({"customer_asn": 4294967296}, "customer_asn: 4294967296 is not an AS number"),
        ({"customer_asn": "sixty"}, "customer_asn: must be an AS number (an integer)"),
        (
            {"prefixes": ["203.0.113.33/28"]},
            "prefixes: '203.0.113.33/28' is not a prefix (203.0.113.33/28 has host bits set)",
        ),
        ({"prefixes": ["203.0.113.32/28", "203.0.113.40/29"]}, "prefixes: 203.0.113.32/28 and 203.0.113.40/29 overlap"),
        ({"prefixes": []}, "prefixes: required"),
        ({"max_prefix": 0}, "max_prefix: must be at least 1"),
        ({"bandwidth": "fast"}, "bandwidth: must be an integer"),
        ({"pe": ""}, "pe: required"),
        ({"colour": "blue"}, "colour: dia-ebgp has no characteristic 'colour'"),
    ],
)
def test_a_bad_item_is_refused_naming_the_characteristic(catalog, change, problem):
    _clean, problems = check_values(catalog["dia-ebgp"], dict(GOOD, **change), provider_asns={64500})
    assert any(p.startswith(problem) for p in problems), problems


def test_asn_rules():
    assert asn_problem(64512) is None and asn_problem(4200000000) is None
    assert asn_problem(65535) == "65535 is reserved (RFC 7300)"
    assert asn_problem(True) == "must be an AS number (an integer)"


# A service x, then its characteristics.
S = "services:\n  - {name: x, label: X, description: d, circuit_type: t, link_pool: {role: links}, provider: p,"
S += " routing: static, characteristics: ["
# A service y with eBGP: its `link_pool` and `announce`, then its characteristics.
Y = "services:\n  - {name: y, label: Y, description: d, circuit_type: t, provider: p, routing: ebgp,"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("services: []\n", "services: [] should be non-empty"),
        (S + "{name: a, type: colour}]}\n",
         "services[0] 'x': characteristics[0] 'a': type: 'colour' is not one of"),
        (S + "{name: i, type: interface, device: pe}]}\n",
         "services[0] 'x': characteristics[0] 'i': device: an interface names an earlier device characteristic"),
        (S + "{name: n, type: integer, minimum: 5, default: 1}]}\n",
         "services[0] 'x': characteristics[0] 'n': default: must be at least 5"),
        (S + "{name: p, type: prefixes, within: nope}]}\n",
         "services[0] 'x': characteristics[0] 'p': within: 'nope' is not of type 'object' (a NetBox prefix role"),
        (S + "{name: p, type: prefixes, within: 192.0.2.0/24}]}\n",
         "within: '192.0.2.0/24' is not of type 'object' (a NetBox prefix role, {role: <slug>}: each prefix"),
        (Y + " link_pool: 192.0.2.0/24, characteristics: [{name: a, type: asn}]}\n",
         "services[0] 'y': link_pool: '192.0.2.0/24' is not of type 'object' (a NetBox prefix role, {role: <slug>}:"
         " the PE-CE /31s come from the prefixes of that role (the catalog names no address))"),
        (Y + " link_pool: {role: l}, characteristics: [{name: n, type: integer}]}\n",
         "services[0] 'y': routing: ebgp needs a characteristic of type asn"),
        (Y + " link_pool: {role: l}, announce: everything, characteristics: [{name: a, type: asn}]}\n",
         "services[0] 'y': announce: 'everything' is not one of ['default', 'default+aggregates']"),
        (S + "{name: n, type: integer}], announce: default}\n",
         "services[0] 'x': announce: only an ebgp service announces routes"),
    ],
)  # fmt: skip
def test_a_bad_catalog_names_the_file_and_key(tmp_path, text, problem):
    path = tmp_path / "catalog.yml"
    path.write_text(text)
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    assert any(problem in str(p) and str(p).startswith(str(path)) for p in info.value.problems), info.value.problems
