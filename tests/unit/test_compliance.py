"""Compliance as code: the policy loader (errors that name the file and key), the engine on the
lab's real FRR configuration, drift of every rule kind, exceptions, unknown syntax, the fleet
run on a process pool, and remediation on a fake router (all or nothing)."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import textwrap
from pathlib import Path

import pytest
import yaml
from test_config_push import FakeRouter

from ansible_collections.netoss.core.plugins.module_utils import compliance, config_push
from ansible_collections.netoss.core.plugins.module_utils.compliance_policy import PolicyError, load_policy

REPO = Path(__file__).resolve().parents[2]
POLICY = REPO / "compliance"
DATA = Path(__file__).parent / "test_data"
RUNNING = (DATA / "render" / "pe1-running.cfg").read_text()  # read from the lab's pe1 after a push
INTENDED = (DATA / "render" / "golden" / "frr" / "pe1.cfg").read_text()
TODAY = dt.date(2026, 11, 26)


@pytest.fixture(scope="module")
def policy():
    return load_policy(POLICY)


def _add(text, line):
    """``text`` with ``line`` added before its final ``end``."""
    head, _end = text.rstrip().rsplit("\n", 1)
    return head + "\n" + line + "\nend\n"


def _check(policy, actual=RUNNING, intended=INTENDED, name="pe1", tags=()):
    return compliance.check_device(policy, name, "frr", actual, intended, tags, today=TODAY)


def _rule(result, feature, rule):
    return next(r for r in result.rules if (r.feature, r.rule) == (feature, rule))


def _bad(result):
    return {(r.feature, r.rule) for r in result.rules if r.status == "non-compliant"}


# --- the policy ------------------------------------------------------------------------------


def test_the_demo_policy_loads_with_per_platform_overrides(policy):
    assert [f.name for f in policy.features] == [
        "logging",
        "aaa",
        "banner",
        "services",
        "interfaces",
        "routing-policy",
        "ospf",
        "bgp",
    ]
    frr = {r.id: r for r in policy.rules_for("frr")}
    # FRR's rule of the same name replaced the default one (and got its remediation).
    assert frr["aaa/no-plaintext-password"].remediation == ("no password",)
    assert "aaa/no-plaintext-enable-password" in frr
    assert not [r for r in frr.values() if r.feature == "banner"]  # FRR keeps no banner
    ios = {r.id: r for r in policy.rules_for("ios")}
    assert ios["aaa/no-plaintext-password"].remediation is None  # the default rule
    assert ios["banner/motd"].kind == "section" and ios["aaa/no-telnet"].within == "line vty"


def test_the_remediate_template_offers_the_policy_features(policy):
    template = yaml.safe_load((REPO / "jobs" / "remediate.yml").read_text())
    choices = next(p["choices"] for p in template["parameters"] if p["name"] == "features")
    assert choices == [f.name for f in policy.features]


def _write(tmp_path, files):
    root = tmp_path / "policy"
    root.mkdir()
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text))
    return root


def _problems(tmp_path, files):
    with pytest.raises(PolicyError) as info:
        load_policy(_write(tmp_path, files))
    return [str(p) for p in info.value.problems]


X = "features:\n  - name: x\n    rules:\n      frr:\n        - "  # a feature x, then its first FRR rule
GOOD_FEATURE = """
features:
  - name: logging
    rules:
      default:
        - name: syslog
          required: [log syslog]
"""


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"a.yml": X.replace("name: x", "name: logging") + "name: x\n          requird: [a]\n"},
            "a.yml: features[0] 'logging': rules: frr[0] 'x': unknown key 'requird' (did you mean 'required'?",
        ),
        (
            {"a.yml": X + "{name: r, forbidden: ['(a'], match: regex}\n"},
            "a.yml: features[0] 'x': rules: frr[0] 'r': forbidden: invalid regex '(a'",
        ),
        (
            {"a.yml": "features:\n  - name: x\n    rules:\n      junos:\n        - {name: r, required: [a]}\n"},
            "a.yml: features[0] 'x': rules: junos: unknown platform 'junos' (netoss parses: frr, eos, ios; or default)",
        ),
        (
            {"a.yml": X + "{name: r, required: [a], forbidden: [b]}\n"},
            "a.yml: features[0] 'x': rules: frr[0] 'r': a rule has exactly one of section, required, forbidden, "
            "custom (found: required, forbidden)",
        ),
        (
            {"a.yml": GOOD_FEATURE, "b.yml": GOOD_FEATURE},
            "b.yml: features[0] 'logging': duplicate feature 'logging' (first at",
        ),
        (
            {
                "a.yml": GOOD_FEATURE
                + "exceptions:\n  - {feature: nope, devices: [pe1], reason: why, expires: 2027-01-01}\n"
            },
            "a.yml: exceptions[0] 'nope': feature: no feature 'nope' in the policy",
        ),
        (
            {
                "a.yml": GOOD_FEATURE
                + "exceptions:\n  - {feature: logging, devices: [pe1], reason: why, expires: soon}\n"
            },
            "a.yml: exceptions[0] 'logging': expires: 'soon' is not a date (YYYY-MM-DD)",
        ),
        (
            {"a.yml": GOOD_FEATURE + "exceptions:\n  - {feature: logging, reason: why, expires: 2027-01-01}\n"},
            "a.yml: exceptions[0] 'logging': ",
        ),
        (
            {"a.yml": X + "{name: r, custom: 'checks/none.py:f'}\n"},
            "a.yml: features[0] 'x': rules: frr[0] 'r': custom: no file",
        ),
        (
            {
                "a.yml": X + "{name: r, custom: 'c.py:missing'}\n",
                "c.py": "def other(config, intended, device):\n    return None\n",
            },
            "a.yml: features[0] 'x': rules: frr[0] 'r': custom: c.py has no function 'missing'",
        ),
        (
            {"a.yml": X + "{name: r, disabled: true}\n"},
            "a.yml: features[0] 'x': rules: frr: disabled: no default rule 'r'",
        ),
        (
            {"a.yml": X + "{name: r, section: [a], within: b}\n"},
            "a.yml: features[0] 'x': rules: frr[0] 'r': within: does not apply to a section rule",
        ),
        ({"a.yml": "features: [\n"}, "a.yml: line 2: YAML syntax error"),
    ],
)
def test_a_malformed_policy_names_the_file_and_the_key(tmp_path, files, expected):
    problems = _problems(tmp_path, files)
    assert any(expected in p and p.split(": ")[0].endswith(expected.split(": ")[0]) for p in problems), problems


def test_every_problem_is_reported_at_once(tmp_path):
    problems = _problems(
        tmp_path,
        {
            "a.yml": X.replace("    rules", "    severity: huge\n    rules") + "{name: R, required: [a]}\n",
        },
    )
    assert len(problems) == 2, problems
    assert "severity: 'huge' is not one of" in problems[0] and "name: 'R' does not match" in problems[1]


# --- the engine --------------------------------------------------------------------------------


def test_the_lab_router_after_a_push_is_compliant(policy):
    result = _check(policy)
    assert result.status == "compliant", [r.as_dict() for r in result.rules if r.status != "compliant"]
    assert set(result.features().values()) == {"compliant"}
    assert "banner" not in result.features()  # no FRR rule


def test_the_drift_scenario_logging_removed_and_a_plaintext_password_added(policy):
    drifted = RUNNING.replace("log syslog\n", "").replace("log commands\n", "log commands\npassword s3cret\n")
    result = _check(policy, actual=drifted)
    assert result.status == "non-compliant"
    assert _bad(result) == {("logging", "syslog"), ("aaa", "no-plaintext-password")}
    assert {f for f, s in result.features().items() if s != "compliant"} == {"logging", "aaa"}
    syslog = _rule(result, "logging", "syslog")
    assert (syslog.missing, syslog.extra, syslog.remediation) == ("log syslog", "", ["log syslog"])
    assert "+log syslog" in syslog.diff
    password = _rule(result, "aaa", "no-plaintext-password")
    assert (password.missing, password.extra, password.remediation) == ("", "password s3cret", ["no password"])


def test_a_changed_interface_gives_its_missing_and_extra_lines_with_the_section(policy):
    drifted = RUNNING.replace(" description p1:eth2\n", " description temporary\n")
    rule = _rule(_check(policy, actual=drifted), "interfaces", "interfaces")
    assert rule.status == "non-compliant"
    assert rule.missing == "interface eth1\n description p1:eth2"
    assert rule.extra == "interface eth1\n description temporary"
    assert rule.remediation == ["interface eth1", " description p1:eth2", " exit"]
    assert "- description temporary" in rule.diff and "+ description p1:eth2" in rule.diff


def test_an_extra_bgp_neighbour_is_negated_in_its_section(policy):
    drifted = RUNNING.replace(
        " neighbor 198.19.255.2 remote-as 64500\n",
        " neighbor 198.19.255.2 remote-as 64500\n neighbor 198.19.99.1 remote-as 65099\n",
    )
    result = _check(policy, actual=drifted)
    assert _bad(result) == {("bgp", "bgp"), ("bgp", "neighbor-descriptions")}
    bgp = _rule(result, "bgp", "bgp")
    assert bgp.extra == "router bgp 64500\n neighbor 198.19.99.1 remote-as 65099"
    assert bgp.remediation[:2] == ["router bgp 64500", " no neighbor 198.19.99.1 remote-as 65099"]
    custom = _rule(result, "bgp", "neighbor-descriptions")
    assert custom.missing == "router bgp 64500\n neighbor 198.19.99.1 description <who it is>"
    assert custom.remediation == [] and "fixed by hand" in custom.message


def test_an_ordered_section_in_another_order_is_not_compliant(policy):
    two = "ip prefix-list PL-ACME-CORP-IN seq 5 permit 203.0.113.0/28 le 32\n"
    other = "ip prefix-list PL-ACME-CORP-IN seq 10 permit 203.0.113.128/28 le 32\n"
    intended = INTENDED.replace(two, two + other)
    actual = RUNNING.replace(two, other + two)
    rule = _rule(_check(policy, actual=actual, intended=intended), "routing-policy", "prefix-lists")
    assert rule.status == "non-compliant" and rule.message == "the lines are all there, in another order"
    unordered = _check(policy, actual=actual, intended=intended)
    assert _rule(unordered, "interfaces", "interfaces").status == "compliant"


def test_a_required_line_within_a_section(policy):
    drifted = RUNNING.replace(" bgp log-neighbor-changes\n", "")
    rule = _rule(_check(policy, actual=drifted), "bgp", "log-neighbor-changes")
    assert rule.missing == "router bgp 64500\n bgp log-neighbor-changes"
    assert rule.remediation == ["router bgp 64500", " bgp log-neighbor-changes", " exit"]
    # A device without the section has nothing to check (a CE runs no OSPF).
    no_ospf = re.sub(r"(?ms)^router ospf\n.*?^exit\n", "", RUNNING)
    assert "router ospf" not in no_ospf
    rule = _rule(_check(policy, actual=no_ospf), "ospf", "log-adjacency-changes")
    assert rule.status == "compliant" and "no 'router ospf' section" in rule.message


def test_a_secret_removed_from_the_backup_is_never_sent(tmp_path):
    root = _write(
        tmp_path,
        {"p.yml": X.replace("name: x", "name: aaa") + "{name: k, forbidden: ['^password '], match: regex}\n"},
    )
    result = compliance.check_device(load_policy(root), "pe1", "frr", _add(RUNNING, "password <removed>"), INTENDED)
    rule = result.rules[0]
    assert rule.status == "non-compliant" and rule.extra == "password <removed>"
    assert rule.remediation == [] and "give rule aaa/k a 'remediation'" in rule.message


def test_exceptions_exempt_by_device_or_tag_until_they_expire(tmp_path):
    shutil.copytree(POLICY, tmp_path / "policy")
    (tmp_path / "policy" / "exceptions.yml").write_text(
        "exceptions:\n"
        "  - {feature: logging, devices: [pe1], reason: New collector (CHG-1), expires: 2026-12-31}\n"
        "  - {feature: aaa, rules: [no-plaintext-password], tags: [lab], reason: Lab only, expires: 2026-01-31}\n"
    )
    policy = load_policy(tmp_path / "policy")
    drifted = _add(RUNNING.replace("log syslog\n", ""), "password s3cret")
    result = compliance.check_device(policy, "pe1", "frr", drifted, INTENDED, ["lab"], today=TODAY)
    logging = _rule(result, "logging", "syslog")
    assert logging.status == "exempt" and "CHG-1" in logging.message and "until 2026-12-31" in logging.message
    assert result.features()["logging"] == "exempt"
    # The tag exception expired: it no longer applies, and the run says so.
    assert _rule(result, "aaa", "no-plaintext-password").status == "non-compliant"
    summary = compliance.summarize([result], policy, today=TODAY)
    assert len(summary["expired_exceptions"]) == 1 and "expired on 2026-01-31" in summary["expired_exceptions"][0]
    assert summary["pairs"]["exempt"] == 1 and summary["pairs"]["non-compliant"] == 1
    # Another device is not covered by the device exception.
    other = compliance.check_device(policy, "pe2", "frr", drifted, INTENDED, [], today=TODAY)
    assert _rule(other, "logging", "syslog").status == "non-compliant"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('{"interfaces": {"eth1": {}}}', "looks like JSON"),
        ("interfaces {\n  ge-0/0/0 {\n    unit 0;\n  }\n}\nsystem {\n host-name r1;\n}\n", "brace-structured"),
        ("set system host-name r1\nset interfaces ge-0/0/0 unit 0\n", "'set' commands"),
        ("", "empty"),
    ],
)
def test_a_config_in_unknown_syntax_is_an_error_of_that_device(policy, text, says):
    result = compliance.check_device(policy, "x1", "frr", text, INTENDED)
    assert result.status == "error" and says in result.error and result.rules == []


def test_an_unknown_platform_is_an_error_of_that_device(policy):
    result = compliance.check_device(policy, "x1", "junos", RUNNING)
    assert result.status == "error" and "no configuration parser for platform 'junos'" in result.error


def test_section_rules_without_an_intended_configuration_say_so(policy):
    result = compliance.check_device(policy, "pe1", "frr", RUNNING, None)
    errors = {r.rule: r.message for r in result.rules if r.status == "error"}
    assert errors["interfaces"] == "no intended configuration: render it first"
    assert result.status == "error" and _rule(result, "logging", "commands").status == "compliant"


def test_a_broken_custom_check_is_an_error_of_its_rule_only(tmp_path):
    root = _write(
        tmp_path,
        {
            "p.yml": "features:\n  - name: bgp\n    rules:\n      frr:\n"
            "        - {name: boom, custom: 'c.py:boom'}\n        - {name: log, required: [log syslog]}\n",
            "c.py": "def boom(config, intended, device):\n    return {'missing': 1, 'surprise': 2}\n",
        },
    )
    result = compliance.check_device(load_policy(root), "pe1", "frr", RUNNING, INTENDED)
    assert _rule(result, "bgp", "boom").status == "error" and "TypeError" in _rule(result, "bgp", "boom").message
    assert _rule(result, "bgp", "log").status == "compliant"


def test_a_fleet_on_a_process_pool_gives_the_same_results_in_order(policy, tmp_path):
    actual, intended = tmp_path / "actual", tmp_path / "intended"
    actual.mkdir()
    intended.mkdir()
    devices = []
    for i in range(30):
        name = f"r{i:02d}"
        text = RUNNING.replace("log syslog\n", "") if i % 7 == 0 else RUNNING
        if i == 5:
            text = '{"json": true}'
        if i != 9:  # r09 has no backup
            (actual / (name + ".cfg")).write_text(text)
        (intended / (name + ".cfg")).write_text(INTENDED)
        devices.append(compliance.Device(name, "frr"))
    one = compliance.check_fleet(policy, devices, str(actual), str(intended), workers=1, today=TODAY)
    two = compliance.check_fleet(policy, devices, str(actual), str(intended), workers=2, today=TODAY, chunk=4)
    assert [r.as_dict() for r in one] == [r.as_dict() for r in two]
    status = {r.device: r.status for r in two}
    assert {d for d, s in status.items() if s == "non-compliant"} == {"r00", "r07", "r14", "r21", "r28"}
    assert {d for d, s in status.items() if s == "error"} == {"r05", "r09"}
    assert "no backup r09.cfg" in next(r.error for r in two if r.device == "r09")
    summary = compliance.summarize(two)
    assert summary["by_status"] == {"compliant": 23, "non-compliant": 5, "exempt": 0, "error": 2}
    assert summary["percent"] == round(100 * (28 * 7 - 5) / (28 * 7), 2)
    json.dumps([r.as_dict() for r in two])  # the run is JSON


# --- remediation on a router ---------------------------------------------------------------------


def test_remediation_plan_follows_the_policy_order_and_filters_features(policy):
    drifted = _add(RUNNING.replace("log syslog\n", ""), "password s3cret")
    result = _check(policy, actual=drifted)
    assert compliance.remediation_plan(result) == (["log syslog", "no password"], [])
    assert compliance.remediation_plan(result, ["aaa"]) == (["no password"], [])


def test_remediate_shows_in_check_mode_then_fixes_the_router(policy):
    router = FakeRouter(_add(RUNNING.replace("log syslog\n", ""), "password s3cret"))
    shown = config_push.remediate(router, policy, "pe1", "frr", INTENDED, check_mode=True)
    assert shown["commands"] == ["log syslog", "no password"] and router.sent == [] and shown["changed"]
    done = config_push.remediate(router, policy, "pe1", "frr", INTENDED)
    assert router.sent == [["log syslog", "no password"]]
    assert done["before"]["logging"] == "non-compliant" and set(done["after"].values()) == {"compliant"}
    again = config_push.remediate(router, policy, "pe1", "frr", INTENDED)
    assert again["commands"] == [] and not again["changed"]


def test_remediate_rolls_back_when_the_router_refuses_a_line(policy):
    before = _add(RUNNING.replace("log syslog\n", ""), "password s3cret")
    router = FakeRouter(before, refuse="no password")
    with pytest.raises(config_push.PushError) as info:
        config_push.remediate(router, policy, "pe1", "frr", INTENDED)
    assert "the device refused the remediation" in str(info.value) and info.value.rolled_back


def test_remediate_rolls_back_when_a_remediated_rule_is_still_not_compliant(policy):
    router = FakeRouter(RUNNING.replace("log syslog\n", ""), ignore="log syslog")
    with pytest.raises(config_push.PushError) as info:
        config_push.remediate(router, policy, "pe1", "frr", INTENDED)
    assert "still not compliant after the push: logging/syslog" in str(info.value)
    assert info.value.rolled_back and "log syslog" not in router.running.splitlines()


def test_the_intended_syslog_level_is_compliant(policy):
    # Without interface events FRR renders, and shows, the level: "log syslog informational".
    intended = INTENDED.replace("log syslog\n", "log syslog informational\n")
    actual = RUNNING.replace("log syslog\n", "log syslog informational\n")
    assert _check(policy, actual=actual, intended=intended).status == "compliant"
    rule = _rule(_check(policy, actual=RUNNING, intended=intended), "logging", "syslog")
    assert rule.status == "non-compliant" and rule.remediation == ["log syslog informational"]


@pytest.mark.parametrize(
    ("pattern", "quick"),
    [("^password ", True), ("^password(?!\\S)", False), ("(?<=enable )password", False), ("^log file \\S+$", True)],
)
def test_forbidden_regexes_are_found_with_or_without_the_quick_search(tmp_path, pattern, quick):
    root = _write(
        tmp_path,
        {"p.yml": X.replace("name: x", "name: aaa") + f"{{name: k, forbidden: ['{pattern}'], match: regex}}\n"},
    )
    policy = load_policy(root)
    assert (policy.rules_for("frr")[0].multiline is not None) is quick
    lines = {
        "^password ": "password s3cret",
        "^password(?!\\S)": "password",
        "(?<=enable )password": "enable password x",
    }
    line = lines.get(pattern, "log file /var/log/frr.log")
    found = compliance.check_device(policy, "pe1", "frr", _add(RUNNING, line), INTENDED).rules[0]
    assert found.status == "non-compliant" and found.extra == line
    clean = compliance.check_device(policy, "pe1", "frr", RUNNING, INTENDED).rules[0]
    assert clean.status == "compliant"


def test_the_collector_is_the_one_of_the_config_context_not_a_literal(policy):
    """EOS and IOS log to the syslog servers NetBox's config context names (here not the demo's)."""
    intended = "hostname osl-cr-01\nlogging trap informational\nlogging host 10.77.0.9 5514\n"
    good = compliance.check_device(policy, "osl-cr-01", "eos", intended, intended, (), today=TODAY)
    assert _rule(good, "logging", "collector").status == "compliant"
    elsewhere = intended.replace("10.77.0.9", "10.77.0.10")
    bad = compliance.check_device(policy, "osl-cr-01", "eos", elsewhere, intended, (), today=TODAY)
    rule = _rule(bad, "logging", "collector")
    assert rule.status == "non-compliant" and "10.77.0.9" in rule.missing and "10.77.0.10" in (rule.extra or "")


def test_the_shipped_policy_holds_no_address_of_any_network():
    """The policy is every network's: addresses come from NetBox (the intended configuration)."""
    text = "\n".join(p.read_text() for p in sorted(POLICY.rglob("*")) if p.is_file())
    assert not re.findall(r"\b\d{1,3}(?:\\?\.\d{1,3}){3}\b", text)
