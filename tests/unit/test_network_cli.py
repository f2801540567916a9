"""netoss.core.network_cli: ansible.netcommon's network_cli whose SSH client refuses unknown hosts.

These build the real connection objects (no network): what the controller hands to the
persistent connection, what the SSH sub-connection then applies, and netcommon's own host key
policy run on them. The refusal against a real router is in tests/integration/test_config.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible_collections.ansible.netcommon.plugins.connection import libssh as netcommon_libssh
from ansible_collections.ansible.netcommon.plugins.connection import network_cli as netcommon_cli

from ansible_collections.netoss.core.plugins.connection import network_cli

REPO = Path(__file__).resolve().parents[2]

# Run in a fresh interpreter: Ansible's plugin loader must own the ansible_collections package,
# which the other unit tests import as a plain package. It sets a connection up for a task as
# the controller does (hostvars as var_options), builds the persistent process's connection from
# what the controller handed over, and runs netcommon's paramiko host key policy on it as
# paramiko does for a host with no key in known_hosts (TEST-NET-1: nothing is contacted).
_SCENARIO = r"""
import json, sys
import paramiko
from ansible.playbook.play_context import PlayContext
from ansible.plugins.loader import connection_loader, init_plugin_loader

init_plugin_loader([sys.argv[1]])
from ansible_collections.ansible.netcommon.plugins.connection.network_cli import _ParamikoHostKeyPolicy

name, hostvars = sys.argv[2], json.loads(sys.argv[3])


def connection():
    pc = PlayContext()
    pc.remote_addr = "192.0.2.7"
    pc.network_os = "netoss.core.frr"
    return connection_loader.get(name, pc, "/dev/null")


controller = connection()
controller.set_options(var_options={"ansible_network_os": "netoss.core.frr", **hostvars})
handed = controller.get_options()
persistent = connection()
persistent.set_options(direct=handed)
persistent.ssh_type_conn.force_persistence = persistent.force_persistence  # as network_cli's _connect
client = paramiko.SSHClient()
key = paramiko.Ed25519Key(data=bytes.fromhex("0000000b7373682d6564323535313900000020") + bytes(range(32)))
try:
    _ParamikoHostKeyPolicy(persistent.ssh_type_conn).missing_host_key(client, "192.0.2.7", key)
    refused = None
except Exception as exc:
    refused = str(exc)
print(json.dumps({
    "configured": controller.get_option("host_key_auto_add"),
    "handed": {k: v for k, v in handed.items() if isinstance(v, (bool, int, str, type(None)))},
    "ssh_client": persistent.ssh_type_conn.get_option("host_key_auto_add"),
    "added": list(client.get_host_keys().keys()),
    "refused": refused,
}))
"""


def _scenario(name, env=None, **hostvars):
    hostvars.setdefault("ansible_network_cli_ssh_type", "paramiko")
    proc = subprocess.run(
        [sys.executable, "-c", _SCENARIO, str(REPO / ".collections"), name, json.dumps(hostvars)],
        cwd=REPO,  # ansible.cfg: [paramiko_connection] host_key_auto_add = false
        env={**os.environ, "ANSIBLE_LOCAL_TEMP": os.environ.get("TMPDIR", "/tmp"), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(autouse=True)
def _no_auto_add_from_outside(monkeypatch):
    monkeypatch.delenv("ANSIBLE_HOST_KEY_AUTO_ADD", raising=False)


def test_netcommon_network_cli_trusts_an_unknown_host_whatever_is_configured():
    """Why the plugin exists: with host_key_auto_add false configured (ansible.cfg), netcommon
    hands paramiko's default (true) to the persistent connection, which then adds the key.
    When this fails, netcommon has fixed it and the plugin can go."""
    run = _scenario("ansible.netcommon.network_cli")
    assert run["configured"] is False
    assert run["handed"]["host_key_auto_add"] is True
    assert run["refused"] is None and run["added"] == ["192.0.2.7"]


def test_the_plugin_hands_its_host_key_options_to_the_ssh_client():
    run = _scenario("netoss.core.network_cli")
    assert run["handed"]["host_key_auto_add"] is False and run["handed"]["host_key_checking"] is True
    assert run["ssh_client"] is False
    assert run["added"] == []
    assert network_cli.unknown_host_refusal(run["refused"])[0] == "192.0.2.7"


def test_other_options_are_handed_over_as_netcommon_does():
    """Only host_key_auto_add changes: look_for_keys (off with a password and no key file) and
    the rest are what netcommon hands over."""
    theirs = _scenario("ansible.netcommon.network_cli", ansible_password="pw")["handed"]
    ours = _scenario("netoss.core.network_cli", ansible_password="pw")["handed"]
    assert ours["look_for_keys"] is False
    assert {k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k)} == {"host_key_auto_add"}


def test_trust_on_first_use_stays_an_explicit_choice():
    run = _scenario("netoss.core.network_cli", env={"ANSIBLE_HOST_KEY_AUTO_ADD": "true"})
    assert run["handed"]["host_key_auto_add"] is True
    assert run["refused"] is None and run["added"] == ["192.0.2.7"]


def test_documentation_keeps_every_netcommon_option():
    """The plugin's options are netcommon's network_cli options with its own host key ones: an
    option netcommon adds in a new release must be added here, or get_option fails on it."""
    ours = yaml.safe_load(network_cli.DOCUMENTATION)
    theirs = yaml.safe_load(netcommon_cli.DOCUMENTATION)
    assert set(ours["options"]) == set(theirs["options"])
    assert ours["extends_documentation_fragment"] == theirs["extends_documentation_fragment"]
    assert ours["options"]["host_key_auto_add"]["default"] is False
    for name, option in theirs["options"].items():
        if name not in network_cli.HOST_KEY_OPTIONS:
            assert ours["options"][name] == option, name


@pytest.mark.parametrize(
    ("message", "host", "key_type"),
    [
        (netcommon_cli.AUTHENTICITY_ERR_MSG % ("198.18.0.13", "ssh-ed25519", "3a" * 16), "198.18.0.13", "ssh-ed25519"),
        (
            netcommon_cli.AUTHENTICITY_ERR_MSG % ("[198.18.0.13]:2222", "ssh-rsa", "ab" * 16),
            "[198.18.0.13]:2222",
            "ssh-rsa",
        ),
        (
            netcommon_libssh.AUTHENTICITY_MSG.rsplit("\n", 2)[0]
            % ("r1.example.net", "Host is unknown: unknown server", "ssh-ed25519", "SHA256:Zm9vYmFy."),
            "r1.example.net",
            "ssh-ed25519",
        ),
    ],
)
def test_netcommons_unknown_host_refusals_are_recognised(message, host, key_type):
    assert network_cli.unknown_host_refusal(message)[:2] == (host, key_type)


@pytest.mark.parametrize(
    "message",
    [
        "host key mismatch for 198.18.0.13",
        "Failed to authenticate: Authentication failed.",
        "[Errno None] Unable to connect to port 22 on 198.18.100.99",
        "timed out",
    ],
)
def test_other_connection_failures_are_left_alone(message):
    assert network_cli.unknown_host_refusal(message) is None


def test_the_message_names_the_host_and_how_to_pin_its_key():
    text = network_cli.unknown_host_message("198.18.0.13", "ssh-ed25519", "3a" * 16, "/home/ops/.ssh/known_hosts")
    assert text.startswith("198.18.0.13 is not a known SSH host: /home/ops/.ssh/known_hosts has no key for it")
    assert "MD5:" + ":".join(["3a"] * 16) in text
    assert "netoss lab trust" in text and "`ssh-keyscan -t ssh-ed25519 198.18.0.13`" in text
    assert "host_key_auto_add" not in text
    on_port = network_cli.unknown_host_message("[198.18.0.13]:2222", "ssh-rsa", "SHA256:abc", "/k")
    assert "`ssh-keyscan -p 2222 -t ssh-rsa 198.18.0.13`" in on_port and "SHA256:abc" in on_port


@pytest.mark.parametrize(
    ("connection", "stopped"),
    [("ansible.netcommon.network_cli", True), ("network_cli", True), ("netoss.core.network_cli", False)],
)
def test_the_roles_stop_a_device_whose_connection_trusts_unknown_hosts(tmp_path, connection, stopped):
    """The preflight role (included by every netoss role that connects) stops a device whose
    connection would trust an unknown host, before anything connects (TEST-NET-1 address)."""
    inventory = tmp_path / "hosts.yml"
    hostvars = {
        "ansible_host": "192.0.2.7",
        "ansible_connection": connection,
        "ansible_network_os": "netoss.core.frr",
        "ansible_user": "ops",
        "primary_ip4": "192.0.2.7",
    }
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {"r1": hostvars}}}))
    play = tmp_path / "play.yml"
    play.write_text(
        yaml.safe_dump(
            [{"name": "Preflight", "hosts": "all", "gather_facts": False, "roles": ["netoss.core.preflight"]}]
        )
    )
    proc = subprocess.run(
        [str(REPO / ".venv" / "bin" / "ansible-playbook"), "-i", str(inventory), str(play)],
        cwd=REPO,
        env={**os.environ, "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"), "HOME": str(tmp_path), "ANSIBLE_NOCOLOR": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if stopped:
        assert proc.returncode != 0
        assert f"r1: ansible_connection is {connection}, which trusts an SSH host" in proc.stdout, proc.stdout[-2000:]
        assert "netoss.core.network_cli" in proc.stdout
    else:
        assert proc.returncode == 0, proc.stdout[-2000:]
