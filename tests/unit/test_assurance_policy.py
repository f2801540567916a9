"""The assurance policy (thresholds as code) and snmp_exporter's modules: loading, every
problem named with its file and key, and what they render into (checked by Prometheus' own
promtool and snmp_exporter's --dry-run when they are installed)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from netoss.domain.assurance import policy, snmp

REPO = Path(__file__).resolve().parents[2]


def _write(tmp_path: Path, **files: str) -> Path:
    for name, text in files.items():
        (tmp_path / f"{name}.yml").write_text(text)
    return tmp_path


def test_the_checkout_policy_loads_and_renders_rules_promtool_accepts(tmp_path):
    loaded = policy.load(REPO / "assurance")
    assert {t.name for t in loaded.thresholds} >= {"sla-loss", "sla-latency", "interface-congested"}
    rules = policy.rules(loaded)
    alerts = {r["alert"]: r for r in rules["groups"][1]["rules"]}
    loss = alerts["sla-loss"]
    assert loss["labels"]["alarm_type"] == "qualityOfServiceAlarm"
    assert loss["labels"]["netoss_condition"] == "sla-loss"
    # group_left: the alert keeps the probe's labels (device, interface, customer), which the webhook needs.
    assert 'on(service) group_left() netoss_service_objective{objective="loss_ratio"}' in loss["expr"]
    assert "[1m]" in loss["expr"] and loss["for"] == "20s"
    # Debian's prometheus package (scripts/bootstrap.sh installs it) checks them as Prometheus will.
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(rules, sort_keys=False, width=1000))
    out = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


def test_a_number_bound_and_roles_render_into_the_expression(tmp_path):
    path = _write(
        tmp_path,
        t="""
thresholds:
  - {name: core-busy, measure: interface_utilisation, above: 0.75, for: 10m, severity: minor, roles: [p, core-x]}
  - {name: few-routes, measure: bgp_prefixes_received, below: 1, for: 2m}
""",
    )
    rules = {r["alert"]: r for r in policy.rules(policy.load(path))["groups"][1]["rules"]}
    busy = rules["core-busy"]
    assert busy["expr"].endswith("> 0.75")
    assert 'netoss_device_info{role=~"p|core\\-x"}' in busy["expr"]
    assert busy["labels"]["severity"] == "minor" and busy["labels"]["probable_cause"] == "congestion"
    assert rules["few-routes"]["expr"].endswith("< 1")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("thresholds:\n  - {name: x, measure: nope, above: 1, for: 1m}\n", "measure: 'nope' is not one of"),
        ("thresholds:\n  - {name: x, measure: service_loss, for: 1m}\n", "is not valid under any of the given schemas"),
        ("thresholds:\n  - {name: x, measure: interface_errors, above: objective, for: 1m}\n", "has no objective"),
        ("thresholds:\n  - {name: x, measure: interface_errors, above: 1, for: soon}\n", "for: 'soon' does not match"),
        (
            "thresholds:\n  - {name: x, measure: interface_errors, above: 1, for: 1m, window: 1m}\n",
            "not taken over a window",
        ),
        ("thresholds:\n  - {name: X Y, measure: interface_errors, above: 1, for: 1m}\n", "name: 'X Y' does not match"),
        ("thresholds:\n  - {name: x, measure: service_loss, above: 1, for: 1m, window: 5s}\n", "fewer than 2 probes"),
        ("polling:\n  snmp: {default: [interfaces, everything]}\n", "'everything' is not one of"),
        ("polling:\n  scrape_interval: 30\n", "scrape_interval: 30 is not of type 'string'"),
        ("treshold: []\n", "unknown top-level key 'treshold'"),
    ],
)
def test_every_problem_names_its_file_and_key(tmp_path, text, problem):
    path = _write(tmp_path, bad=text)
    with pytest.raises(policy.PolicyError) as err:
        policy.load(path)
    assert problem in str(err.value), str(err.value)
    assert "bad.yml" in str(err.value)


def test_duplicates_across_files_and_a_second_polling_section_are_refused(tmp_path):
    t = "thresholds:\n  - {name: same, measure: interface_errors, above: 1, for: 1m}\n"
    path = _write(tmp_path, a=t + "polling: {scrape_interval: 10s}\n", b=t + "polling: {scrape_interval: 20s}\n")
    with pytest.raises(policy.PolicyError) as err:
        policy.load(path)
    assert "duplicate threshold 'same'" in str(err.value)
    assert "a second polling section" in str(err.value)


def test_a_missing_policy_is_named(tmp_path):
    with pytest.raises(policy.PolicyError, match="no such file or directory"):
        policy.load(tmp_path / "nowhere")


def test_snmp_modules_per_platform_with_the_community(tmp_path):
    config = snmp.config({"frr": ["interfaces", "bgp_routes"]}, ["interfaces", "system"], "s3cret")
    assert set(config) == {"netoss-default", "netoss-frr"}
    default = config["netoss-default"]
    assert default["auth"] == {"community": "s3cret"} and default["version"] == 2
    assert default["get"] == ["1.3.6.1.2.1.1.3.0"]
    octets = next(m for m in default["metrics"] if m["name"] == "ifHCInOctets")
    assert octets["lookups"][0]["labelname"] == "interface" and octets["type"] == "counter"
    assert any(m["name"] == "bgp4PathAttrBest" for m in config["netoss-frr"]["metrics"])
    with pytest.raises(snmp.SnmpConfigError, match="unknown SNMP group 'x'"):
        snmp.module(["x"], "c")
    with pytest.raises(snmp.SnmpConfigError, match="no SNMP community"):
        snmp.module(["interfaces"], "")
    path = tmp_path / "snmp.yml"
    path.write_text(yaml.safe_dump(config))
    out = subprocess.run(
        ["prometheus-snmp-exporter", f"--config.file={path}", "--dry-run"], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
