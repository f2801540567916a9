"""netoss.core as a clean collection: action groups that match the modules' options, group
module_defaults that Ansible accepts, missing libraries reported as Ansible reports them, a
built tarball with the collection and nothing else, and sanity ignores that each say why."""

from __future__ import annotations

import importlib
import json
import os
import socket
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"
MODULES = sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py") if p.stem != "__init__")
# The options that make a module a member of a group: those of the doc fragments
# netoss.core.netbox and netoss.core.portal, which the modules take from NETBOX_ARG_SPEC and
# PORTAL_ARG_SPEC.
GROUP_OPTIONS = {"netbox": {"netbox_url", "netbox_token"}, "portal": {"portal_url", "portal_token"}}

needs_ansible = pytest.mark.skipif(not (VENV_BIN / "ansible-playbook").exists(), reason="no .venv with ansible")


def _env(tmp_path, **extra):
    """The environment of an Ansible run from the checkout: no NetBox or portal of the caller's."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("NETBOX_API", "NETBOX_TOKEN", "PORTAL_URL", "PORTAL_TOKEN") and not k.startswith("ANSIBLE_")
    }
    env.update(PATH=f"{VENV_BIN}:{os.environ.get('PATH', '')}", ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), **extra)
    return env


class _Spec(Exception):
    """Raised in place of AnsibleModule(): carries what the module gives it."""


def _module_arguments(name, monkeypatch):
    """(argument_spec, the other AnsibleModule arguments) of module ``name`` (its main() stops
    right there)."""
    from ansible.module_utils import basic

    def capture(self, argument_spec, **kwargs):
        raise _Spec(argument_spec, kwargs)

    monkeypatch.setattr(basic.AnsibleModule, "__init__", capture)
    module = importlib.import_module(f"ansible_collections.netoss.core.plugins.modules.{name}")
    with pytest.raises(_Spec) as spec:
        module.main()
    return spec.value.args


def _argument_spec(name, monkeypatch):
    return _module_arguments(name, monkeypatch)[0]


def _valid_arguments(name, monkeypatch, tmp_path):
    """Arguments that pass the module's argument validation (required options, one of each
    required_one_of, what required_by asks): placeholders of the right type, paths that do not
    exist. With them a module gets past validation, where an unsupported parameter would show."""
    spec, constraints = _module_arguments(name, monkeypatch)

    def value(option):
        kind, choices = spec[option].get("type", "str"), spec[option].get("choices")
        if choices:
            return choices[0]
        return {"path": str(tmp_path / f"absent-{option}"), "dict": {}, "list": [], "int": 0, "bool": False}.get(
            kind, "x"
        )

    args = {option: value(option) for option, opts in spec.items() if opts.get("required")}
    for group in constraints.get("required_one_of") or []:
        if not set(group) & set(args):
            args[group[0]] = value(group[0])
    for option, needed in (constraints.get("required_by") or {}).items():
        if option in args:
            for other in (needed,) if isinstance(needed, str) else needed:
                args.setdefault(other, value(other))
    return args


@pytest.fixture(scope="module")
def documented_options(tmp_path_factory):
    """{module: set of options} from each module's DOCUMENTATION, doc fragments included."""
    if not (VENV_BIN / "ansible-doc").exists():
        pytest.skip("no .venv with ansible")
    tmp = tmp_path_factory.mktemp("doc")
    proc = subprocess.run(
        [str(VENV_BIN / "ansible-doc"), "--json", "-t", "module", *(f"netoss.core.{m}" for m in MODULES)],
        cwd=REPO, env=_env(tmp), capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    docs = json.loads(proc.stdout)
    return {m: set(docs[f"netoss.core.{m}"]["doc"].get("options") or {}) for m in MODULES}


def test_action_groups_are_exactly_the_modules_that_take_the_groups_options(documented_options, monkeypatch):
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    groups = runtime["action_groups"]
    assert set(groups) == set(GROUP_OPTIONS)
    for group, options in GROUP_OPTIONS.items():
        by_spec = {m for m in MODULES if options <= set(_argument_spec(m, monkeypatch))}
        by_doc = {m for m in MODULES if options <= documented_options[m]}
        assert by_spec == by_doc, f"{group}: argument_spec and DOCUMENTATION disagree"
        # A module that takes only some of the group's options would take the others from
        # module_defaults as unsupported parameters.
        partial = {m for m in MODULES if options & documented_options[m] and not options <= documented_options[m]}
        assert not partial, f"{group}: {sorted(partial)} take only some of {sorted(options)}"
        assert sorted(groups[group]) == groups[group], f"{group}: keep the list sorted"
        assert set(groups[group]) == by_spec, (
            f"group {group}: runtime.yml lists {sorted(groups[group])}, the modules that take "
            f"{sorted(options)} are {sorted(by_spec)}"
        )


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@needs_ansible
def test_group_module_defaults_are_accepted_by_every_module_of_the_group(tmp_path, monkeypatch):
    """One play on localhost, in check mode, with module_defaults for both groups: every module
    of each group is called with arguments that pass its validation (it then stops at the closed
    ports the defaults name, or at a placeholder), and none may refuse the group's defaults as
    unsupported parameters; netbox_status and ticket show that the defaults reached them."""
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    members = sorted({m for group in runtime["action_groups"].values() for m in group})
    netbox, portal = f"http://127.0.0.1:{_closed_port()}", f"http://127.0.0.1:{_closed_port()}"
    tasks = [
        {
            "name": f"Call {m}",
            f"netoss.core.{m}": _valid_arguments(m, monkeypatch, tmp_path),
            "register": f"r_{m}",
            "ignore_errors": True,
        }
        for m in members
    ]
    tasks.append(
        {"name": "Ask the portal", "netoss.core.ticket": {"id": "TT-1"}, "register": "r_ticket", "ignore_errors": True}
    )
    tasks.append({"name": "Ask NetBox", "netoss.core.netbox_status": {}, "register": "r_netbox", "ignore_errors": True})
    asserts = [f"'Unsupported parameters' not in (r_{m}.msg | default(''))" for m in members]
    asserts += [f"'{netbox}' in r_netbox.msg", f"'{portal}' in r_ticket.msg"]
    tasks.append({"name": "Check", "ansible.builtin.assert": {"that": asserts}})
    play = [
        {
            "name": "Group module_defaults",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
            "module_defaults": {
                "group/netoss.core.netbox": {"netbox_url": netbox, "netbox_token": "nbt_x.y", "validate_certs": False},
                "group/netoss.core.portal": {"portal_url": portal, "portal_token": "nto_x_y"},
            },
            "tasks": tasks,
        }
    ]
    playbook = tmp_path / "defaults.yml"
    playbook.write_text(yaml.safe_dump(play, sort_keys=False))
    run = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-i", "localhost,", "--check", str(playbook)],
        cwd=REPO, env=_env(tmp_path), capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    assert "Unsupported parameters" not in run.stdout
    assert "All assertions passed" in run.stdout


# Each module that reads a file checked against a schema, with arguments that get it there.
SCHEMA_MODULES = {
    "sot_intent": {"path": "{tmp}/intent"},
    "config_compliance": {"policy": "{tmp}/policy", "devices": [{"name": "r1", "platform": "frr"}], "configs": {}},
    "config_remediate": {"policy": "{tmp}/policy", "device": "r1", "platform": "frr"},
    "service_order": {"step": "check", "catalog": "{tmp}/catalog.yml", "items": []},
}


@needs_ansible
def test_a_controller_without_jsonschema_gets_ansibles_missing_library_message(tmp_path):
    """jsonschema is not importable (a package of that name that refuses to load comes first on
    the module's path): each module fails with missing_required_lib's message, no traceback."""
    blocker = tmp_path / "blocker" / "jsonschema"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('jsonschema is blocked by the test', name='jsonschema')\n")
    tasks = []
    for name, args in SCHEMA_MODULES.items():
        args = json.loads(json.dumps(args).replace("{tmp}", str(tmp_path)))
        tasks.append({"name": name, f"netoss.core.{name}": args, "register": f"r_{name}", "ignore_errors": True})
    expected = "Failed to import the required Python library (jsonschema)"
    tasks.append(
        {
            "name": "Check",
            "ansible.builtin.assert": {
                "that": [f"r_{n} is failed and '{expected}' in r_{n}.msg" for n in SCHEMA_MODULES],
            },
        }
    )
    play = [{"hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": tasks}]
    play[0]["vars"] = {"ansible_python_interpreter": "{{ ansible_playbook_python }}"}
    playbook = tmp_path / "nolib.yml"
    playbook.write_text(yaml.safe_dump(play, sort_keys=False))
    pythonpath = os.pathsep.join([str(tmp_path / "blocker"), str(REPO), str(REPO / ".collections")])
    run = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-i", "localhost,", str(playbook)],
        cwd=REPO, env=_env(tmp_path, PYTHONPATH=pythonpath), capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    assert "All assertions passed" in run.stdout


# What the built collection holds at its top: the collection, its metadata and its docs.
SHIPPED_TOP = {
    "plugins",
    "roles",
    "playbooks",
    "meta",
    "docs",
    "README.md",
    "CHANGELOG.md",
    "MANIFEST.json",
    "FILES.json",
}


@needs_ansible
def test_the_built_tarball_holds_the_collection_and_nothing_else(tmp_path):
    run = subprocess.run(
        [str(VENV_BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path), str(REPO)],
        cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    (tarball,) = tmp_path.glob("netoss-core-*.tar.gz")
    with tarfile.open(tarball) as tar:
        names = [m.name for m in tar.getmembers()]
        manifest = json.load(tar.extractfile("MANIFEST.json"))
    assert (manifest["collection_info"]["namespace"], manifest["collection_info"]["name"]) == ("netoss", "core")
    for wanted in ("plugins/modules", "plugins/module_utils", "roles", "playbooks", "meta/runtime.yml", "README.md"):
        assert wanted in names, wanted
    top = {n.split("/")[0] for n in names}
    assert top <= SHIPPED_TOP, f"not the collection's: {sorted(top - SHIPPED_TOP)}"
    for private in ("inventory", "netoss", "tests", "bench", "scripts", "compliance", "services", "jobs", "faults"):
        assert not [n for n in names if n == private or n.startswith(private + "/")], private
    # No demo intent anywhere, whatever directory it would be under.
    assert not [n for n in names if "/intent/" in f"/{n}/"]
    # The product's docs (markdown) stay out; the collection's guide goes in.
    product_docs = [n for n in names if n.startswith("docs/") and n.endswith(".md")]
    assert not product_docs, f"the product's docs ship: {product_docs}"
    assert "docs/docsite/rst/guide_collection.rst" in names


def test_every_sanity_ignore_says_why_and_matches_our_ansible_core():
    from ansible.release import __version__

    ignores = sorted((REPO / "tests" / "sanity").glob("ignore-*.txt"))
    major_minor = ".".join(__version__.split(".")[:2])
    assert [p.name for p in ignores] == [f"ignore-{major_minor}.txt"]
    for number, line in enumerate(ignores[0].read_text().splitlines(), 1):
        entry, sep, reason = line.partition(" # ")
        assert sep and len(reason.split()) >= 5, f"line {number}: no reason given: {line!r}"
        path, _, test = entry.partition(" ")
        assert (REPO / path).is_file() and test, f"line {number}: {line!r}"
