"""`netoss init`: a minimal, valid intent for a network netoss has never seen."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from ansible_collections.netoss.core.plugins.module_utils.intent_load import load_intent
from ansible_collections.netoss.core.plugins.module_utils.intent_payloads import build_netbox_objects
from netoss.cli.starter import StarterError, starter_files, write_starter

REPO = Path(__file__).resolve().parents[2]
NETOSS_FILE = REPO / "inventory" / "intent" / "00-netoss.yml"
CATALOG = yaml.safe_load((REPO / "services" / "catalog.yml").read_text())
VALUES = dict(operator="Nordic Fibre AS", asn=65010, site="osl1", management="10.40.0.0/24", collector="10.40.0.1:5514")


def _write(tmp_path, **values):
    files = starter_files(NETOSS_FILE, CATALOG, **{**VALUES, **values})
    return write_starter(tmp_path / "intent", files, load_intent)


def test_the_starter_is_a_valid_intent_with_what_netoss_needs(tmp_path):
    written = _write(tmp_path)
    assert {p.name for p in written} >= {"00-netoss.yml", "01-organization.yml", "50-config.yml", "30-devices.yml"}
    objects = build_netbox_objects(load_intent(tmp_path / "intent"))
    # netoss's own model: the same file as the demo's, so the two never drift apart.
    assert (tmp_path / "intent" / "00-netoss.yml").read_text() == NETOSS_FILE.read_text()
    assert {t["name"] for t in objects["tags"]} >= {"netoss-managed", "netoss-ordered"}
    assert {"netoss_last_backup", "netoss_compliance_status", "netoss_service"} <= {
        f["name"] for f in objects["custom_fields"]
    }
    assert {p["slug"] for p in objects["platforms"]} >= {"frr"}
    # The user's values, and nothing of the demo's.
    assert [t["name"] for t in objects["tenants"]] == ["Nordic Fibre AS"]
    assert [a["asn"] for a in objects["asns"]] == [65010]
    assert [s["name"] for s in objects["sites"]] == ["osl1"]
    assert [p["prefix"] for p in objects["prefixes"]] == ["10.40.0.0/24"]
    defaults = next(c for c in objects["config_contexts"] if c["name"] == "netoss-defaults")
    assert defaults["data"]["netoss"]["syslog"]["servers"] == [{"host": "10.40.0.1", "port": 5514}]
    text = "".join(p.read_text() for p in written if p.name != "00-netoss.yml")
    for demo in ("198.18.0.", "198.19.", "203.0.113.", "ams1", "fra1", "Acme", "Globex", "pe1", "Demo Carrier"):
        assert demo not in text, demo
    # The catalog's roles exist for its orders to find devices by, and addresses in.
    assert {r["slug"] for r in objects["device_roles"]} >= {"pe", "ce"}
    assert {r["slug"] for r in objects["prefix_roles"]} == {"pe-ce-links", "customer-space"}
    assert oct((tmp_path / "intent").stat().st_mode & 0o777) == "0o755"
    assert subprocess.run([str(REPO / ".venv/bin/yamllint"), "-s", str(tmp_path / "intent")]).returncode == 0


@pytest.mark.parametrize(
    "values, says",
    [
        ({"asn": 3320}, "--asn 3320 is a public AS number: name the RIR"),
        ({"asn": 0}, "--asn 0: an AS number"),
        ({"site": "osl/1"}, "--site 'osl/1'"),
        ({"operator": "{{ lookup('pipe', 'id') }}"}, "--operator"),
        ({"management": "10.40.0.1/24"}, "--management '10.40.0.1/24': 10.40.0.1/24 has host bits set"),
        ({"management": "10.40.0.0/30"}, "an IPv4 prefix of /29 or shorter"),
        ({"collector": "10.40.0.1"}, "--collector '10.40.0.1': an IPv4 address and a UDP port"),
        ({"collector": "10.40.0.1:70000"}, "--collector"),
    ],
)
def test_a_bad_value_is_named_and_nothing_is_written(tmp_path, values, says):
    with pytest.raises(StarterError) as err:
        _write(tmp_path, **values)
    assert says in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_every_bad_value_is_named_at_once():
    with pytest.raises(StarterError) as err:
        starter_files(NETOSS_FILE, CATALOG, **{**VALUES, "asn": 0, "site": "", "collector": "x"})
    assert len(str(err.value).splitlines()) == 3


def test_a_public_asn_takes_its_rir(tmp_path):
    _write(tmp_path, asn=3320, rir="RIPE NCC")
    objects = build_netbox_objects(load_intent(tmp_path / "intent"))
    assert objects["asns"][0]["asn"] == 3320
    assert "RIPE NCC" in [r["name"] for r in objects["rirs"]]


def test_an_existing_directory_with_files_is_never_overwritten(tmp_path):
    mine = tmp_path / "intent"
    mine.mkdir()
    (mine / "devices.yml").write_text("devices: []\n")
    with pytest.raises(StarterError, match="exists and is not an empty directory"):
        _write(tmp_path)
    assert [p.name for p in mine.iterdir()] == ["devices.yml"]
    assert [p.name for p in tmp_path.iterdir()] == ["intent"]  # no temporary directory left


def test_a_starter_that_does_not_validate_leaves_nothing(tmp_path):
    files = starter_files(NETOSS_FILE, CATALOG, **VALUES)
    files["30-devices.yml"] += "  - name: broken\n"

    def refuse(path):
        raise StarterError("refused")

    with pytest.raises(StarterError):
        write_starter(tmp_path / "intent", files, refuse)
    assert list(tmp_path.iterdir()) == []
