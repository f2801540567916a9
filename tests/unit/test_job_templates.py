"""Job templates as code: the shipped ones load; bad files and bad launch values are refused
with messages that name the file, key or parameter."""

from __future__ import annotations

from pathlib import Path

import pytest

from netoss.domain.jobs.job_templates import TemplateError, load_templates, netbox_filter, validate_launch

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def templates():
    return load_templates(REPO / "jobs", REPO)


def test_the_standard_templates_load(templates):
    assert sorted(templates) == [
        "backup",
        "compliance",
        "config-push",
        "gitops-apply",
        "gitops-plan",
        "health-check",
        "remediate",
        "service-order",
        "sot-sync",
    ]
    # GitOps: netoss's own actions, not playbooks; an apply changes devices, a plan never does.
    from netoss.domain import wiring
    from netoss.domain.jobs import actions

    wiring.connect()
    for name in ("gitops-apply", "gitops-plan"):
        assert templates[name].playbook is None and actions.get(templates[name].action)
    assert templates["gitops-apply"].changes_devices and templates["gitops-apply"].check_mode == "never"
    assert not templates["gitops-plan"].changes_devices and templates["gitops-plan"].check_mode == "always"
    push = templates["config-push"]
    assert push.playbook == "playbooks/config_push.yml" and push.limit == {"parameter": "devices"}
    assert push.allowed("engineer") and push.allowed("admin") and not push.allowed("operator")
    assert templates["backup"].allowed("operator") and not templates["backup"].allowed("viewer")
    assert templates["health-check"].check_mode == "always"
    # What changes devices: locks them, and is a probable cause of alarms soon after.
    assert templates["config-push"].changes_devices
    assert not templates["health-check"].changes_devices  # check mode always
    assert not templates["backup"].changes_devices and not templates["sot-sync"].changes_devices
    assert not templates["compliance"].changes_devices and templates["remediate"].changes_devices
    # remediate: operators see the commands (check mode); engineers apply them.
    remediate = templates["remediate"]
    assert remediate.allowed("operator") and not remediate.may_apply("operator")
    assert remediate.may_apply("engineer") and remediate.may_apply("admin") and not remediate.may_apply("viewer")
    assert templates["config-push"].may_apply("engineer")  # no apply_roles: all its roles


def _write(tmp_path, text, name="t.yml"):
    d = tmp_path / "jobs"
    d.mkdir(exist_ok=True)
    (d / name).write_text(text)
    return d


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("name: x\n", "jobs/t.yml: (top): 'description' is a required property"),
        (
            "name: Bad Name\ndescription: d\nplaybook: playbooks/sot_sync.yml\nroles: [viewer]\n",
            "jobs/t.yml: name: 'Bad Name' does not match",
        ),
        (
            "name: ok\ndescription: d\nplaybook: playbooks/nope.yml\nroles: [viewer]\n",
            "jobs/t.yml: playbook: no file playbooks/nope.yml in the repository",
        ),
        (
            "name: ok\ndescription: d\nplaybook: playbooks/sot_sync.yml\nroles: [root]\n",
            "jobs/t.yml: roles[0]: 'root' is not one of",
        ),
        (
            "name: ok\ndescription: d\nplaybook: playbooks/sot_sync.yml\nroles: [viewer]\n"
            "parameters:\n  - {name: p, type: choice}\n",
            "parameters[0] 'p': a choice parameter needs choices or choices_from",
        ),
        (
            "name: ok\ndescription: d\nplaybook: playbooks/sot_sync.yml\nroles: [viewer]\n"
            "parameters:\n  - {name: p, type: secret, default: hunter2}\n",
            "a secret parameter cannot have a default",
        ),
        (
            "name: ok\ndescription: d\nplaybook: playbooks/sot_sync.yml\nroles: [viewer]\n"
            "parameters:\n  - {name: p, type: string, pattern: '['}\n",
            "pattern is not a valid regular expression",
        ),
        (
            "name: ok\ndescription: d\nplaybook: playbooks/sot_sync.yml\nroles: [viewer]\nlimit: {parameter: devs}\n",
            "limit.parameter: no parameter 'devs'",
        ),
        (
            "name: ok\ndescription: d\nplaybook: playbooks/sot_sync.yml\nroles: [viewer]\n"
            "parameters:\n  - {name: d, type: multichoice,"
            " choices_from: {netbox: dcim.devices, filter: {site: '{s}'}}}\n",
            "choices_from filter uses {s}, which is not an earlier parameter",
        ),
        (
            "name: ok\ndescription: d\nplaybook: playbooks/sot_sync.yml\nroles: [viewer]\n"
            "parameters:\n  - {name: n, type: integer, minimum: 1, default: 0}\n",
            "default: must be at least 1",
        ),
        (
            "name: ok\ndescription: d\nplaybook: playbooks/sot_sync.yml\nroles: [operator]\napply_roles: [engineer]\n",
            "jobs/t.yml: apply_roles: engineer not in roles",
        ),
        (
            "name: ok\ndescription: d\nplaybook: playbooks/sot_sync.yml\nroles: [operator]\ncheck_mode: never\n"
            "apply_roles: [operator]\n",
            "apply_roles: only for a template whose check_mode is allowed",
        ),
        ("name: [unclosed\n", "jobs/t.yml: not valid YAML"),
    ],
)
def test_bad_templates_are_refused_with_the_file_and_key(tmp_path, text, problem):
    with pytest.raises(TemplateError) as err:
        load_templates(_write(tmp_path, text), REPO)
    assert any(problem in p for p in err.value.problems), err.value.problems


def test_duplicate_names_across_files(tmp_path):
    body = "name: same\ndescription: d\nplaybook: playbooks/sot_sync.yml\nroles: [viewer]\n"
    d = _write(tmp_path, body, "a.yml")
    _write(tmp_path, body, "b.yml")
    with pytest.raises(TemplateError, match=r"jobs/b.yml: name: template 'same' is also in jobs/a.yml"):
        load_templates(d, REPO)


def test_loaded_templates_are_kept_until_a_file_changes(tmp_path):
    import os

    body = "name: {n}\ndescription: d\nplaybook: playbooks/sot_sync.yml\nroles: [viewer]\n"
    d = _write(tmp_path, body.format(n="first"), "a.yml")
    first = load_templates(d, REPO)
    assert load_templates(d, REPO)["first"] is first["first"]  # the same objects: not read again
    path = d / "a.yml"
    path.write_text(body.format(n="second"))
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # a clock coarser than the edit
    assert sorted(load_templates(d, REPO)) == ["second"]
    _write(tmp_path, body.format(n="third"), "b.yml")  # a new file
    assert sorted(load_templates(d, REPO)) == ["second", "third"]
    (d / "b.yml").write_text("name: [broken\n")  # a broken edit is reported, each time, not hidden
    for _ in range(2):
        with pytest.raises(TemplateError, match=r"jobs/b\.yml: not valid YAML"):
            load_templates(d, REPO)
    (d / "b.yml").unlink()
    assert sorted(load_templates(d, REPO)) == ["second"]


@pytest.fixture
def rich(tmp_path):
    text = """
name: rich
description: every type
playbook: playbooks/sot_sync.yml
roles: [operator]
parameters:
  - {name: ticket, type: string, pattern: "CHG[0-9]{6}", required: true}
  - {name: count, type: integer, minimum: 1, maximum: 10, default: 3}
  - {name: dry, type: boolean}
  - {name: color, type: choice, choices: [red, blue]}
  - {name: site, type: choice, choices_from: {netbox: dcim.sites, value: slug}}
  - {name: devices, type: multichoice, choices_from: {netbox: dcim.devices, filter: {site: "{site}"}}}
  - {name: password, type: secret, min_length: 8}
"""
    return load_templates(_write(tmp_path, text), REPO)["rich"]


def _resolver(param, values):
    if param.name == "site":
        return ["ams1", "fra1"]
    return {"ams1": ["p1", "pe1", "ce1"], "fra1": ["p2", "pe2", "ce2"]}.get(values.get("site"), [])


def test_a_good_launch(rich):
    clean, problems = validate_launch(
        rich,
        {"ticket": "CHG000123", "site": "ams1", "devices": ["pe1", "p1"], "dry": True, "password": "s3cret-pass"},
        _resolver,
    )
    assert problems == []
    assert clean == {
        "ticket": "CHG000123",
        "count": 3,
        "dry": True,
        "site": "ams1",
        "devices": ["pe1", "p1"],
        "password": "s3cret-pass",
    }


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({}, "ticket: is required"),
        ({"ticket": "CHG1"}, "ticket: 'CHG1' does not match CHG[0-9]{6}"),
        ({"ticket": "CHG000001", "count": 11}, "count: must be at most 10"),
        ({"ticket": "CHG000001", "count": "3"}, "count: must be an integer"),
        ({"ticket": "CHG000001", "count": True}, "count: must be an integer"),
        ({"ticket": "CHG000001", "dry": "yes"}, "dry: must be true or false"),
        ({"ticket": "CHG000001", "color": "green"}, "color: 'green' is not one of: red, blue"),
        ({"ticket": "CHG000001", "site": "ams1", "devices": ["p2"]}, "devices: 'p2' is not one of: p1, pe1, ce1"),
        ({"ticket": "CHG000001", "devices": "p1"}, "devices: must be a list"),
        ({"ticket": "CHG000001", "nope": 1}, "nope: no such parameter in template 'rich'"),
        ({"ticket": "CHG000001", "password": "short"}, "password: must be at least 8 characters"),
        ({"ticket": "{{ lookup('pipe', 'id') }}"}, "ticket: must not contain template syntax"),
        ({"ticket": "CHG000001", "password": "{% raw %}x{% endraw %}"}, "password: must not contain template syntax"),
    ],
)
def test_bad_launch_values_name_the_parameter(rich, values, problem):
    _clean, problems = validate_launch(rich, values, _resolver)
    assert any(problem in p for p in problems), problems


def test_a_secret_value_is_never_echoed(rich):
    _clean, problems = validate_launch(rich, {"ticket": "CHG000001", "password": "{{ x }}-and-long"}, _resolver)
    assert problems and all("and-long" not in p for p in problems)


def test_dependent_choices_filter(rich):
    devices = rich.parameter("devices")
    assert netbox_filter(devices, {"site": "fra1"}) == {"site": "fra1"}
    assert netbox_filter(devices, {}) == {}  # no site chosen: every device
