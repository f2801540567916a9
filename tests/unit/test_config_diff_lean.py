"""config_diff loads FRR text without the driver's per-line substitutions when none of them can
change a line (a compliance run's remediation spends 40% of hier_config's time on them): the
prefilter never lets a line through that a substitution would change, and the trees, the
remediation and the dumps are the same as with the driver's own substitutions."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from ansible_collections.netoss.core.plugins.module_utils import config_diff

GOLDEN = Path(__file__).parent / "test_data" / "render" / "golden" / "frr"
LINES = ["interface eth1", " description uplink", " ip address 10.0.0.0/31", "router bgp 65000",
         " neighbor 10.0.0.1 remote-as 65001", " address-family ipv4 unicast", "  neighbor 10.0.0.1 activate",
         " exit-address-family", "exit", "end", "!", " ! comment", "frr version 8.4.4", "frr  version 9",
         "Building configuration...", "Current configuration:", "Building\tconfiguration", "  end", "end ",
         "exit-vrf", "log syslog informational", " exit", "hostname r1", "exit-address-family",
         "  exit-address-family", "\texit-address-family", "endless", "!x", "line vty"]  # fmt: skip


def substituted(line: str) -> bool:
    """Would a per-line substitution of the FRR driver change this line (as hier_config normalizes it)?"""
    normalized = " " * (len(line) - len(line.lstrip())) + " ".join(line.split())
    return any(re.sub(rule.search, rule.replace, normalized) != normalized
               for rule in config_diff.driver("frr").rules.per_line_sub)  # fmt: skip


def texts():
    rng = random.Random("lean")  # noqa: S311 - seeded test data
    for path in sorted(GOLDEN.glob("*.cfg")):
        yield path.read_text()
    for _ in range(400):
        yield "\n".join(rng.choice(LINES) for _ in range(rng.randint(1, 12))) + rng.choice(["", "\n", "\r\nend"])


@pytest.mark.parametrize("text", list(texts()))
def test_the_lean_driver_only_when_no_substitution_applies_and_the_same_tree(text):
    lean = config_diff._driver_for(text, "frr") is not config_diff.driver("frr")
    if lean:
        assert not any(substituted(line) for line in text.splitlines())
    from hier_config import get_hconfig

    def dump(load):
        try:
            return list(load().dump_simple())
        except Exception as exc:  # a repeated line: hier_config refuses it either way
            return (type(exc), str(exc))

    full = dump(lambda: get_hconfig(config_diff.driver("frr"), text))
    assert dump(lambda: config_diff.parse(text, "frr")) == full


def test_the_lean_driver_is_taken_for_parsed_configuration_lines():
    text = "interface eth1\n description uplink\nrouter bgp 65000\n neighbor 10.0.0.1 remote-as 65001\n"
    assert config_diff._driver_for(text, "frr") is not config_diff.driver("frr")
    assert config_diff._driver_for(text + "!\n", "frr") is config_diff.driver("frr")
    assert config_diff._driver_for(text, "eos") is config_diff.driver("eos")


def test_remediation_is_the_same_with_either_driver(monkeypatch):
    rng = random.Random("remediation")  # noqa: S311 - seeded test data
    pairs = []
    for _ in range(150):
        a = "\n".join(rng.sample(LINES[:8] + LINES[20:23], rng.randint(1, 8)))
        b = "\n".join(rng.sample(LINES[:8] + LINES[20:23], rng.randint(1, 8)))
        pairs.append((a, b))
    lean = [config_diff.remediation(a, b, "frr") for a, b in pairs]
    monkeypatch.setattr(config_diff, "_driver_for", lambda text, platform: config_diff.driver(platform))
    assert [config_diff.remediation(a, b, "frr") for a, b in pairs] == lean
