"""Pure logic of the stack manager: ports, state resolution, supervisord config, secrets."""

from __future__ import annotations

import json
import stat

import pytest

from portal.stack import programs
from portal.stack.config import PORT_OFFSETS, Stack, StackError, new_secrets
from portal.stack.supervisor import Program, render


def test_ports_follow_the_base(tmp_path):
    s = Stack(state_dir=tmp_path, port_base=27000)
    assert s.port("netbox") == 27080
    assert s.port("postgres") == 27432
    assert s.netbox_url == "http://127.0.0.1:27080"
    assert len(set(PORT_OFFSETS.values())) == len(PORT_OFFSETS)


def test_from_env_reads_state_and_recorded_port_base(tmp_path, monkeypatch):
    monkeypatch.setenv("NETOSS_STATE", str(tmp_path))
    monkeypatch.delenv("NETOSS_PORT_BASE", raising=False)
    assert Stack.from_env().port_base == 17000
    Stack(state_dir=tmp_path, port_base=31000).record()
    assert Stack.from_env().port_base == 31000
    monkeypatch.setenv("NETOSS_PORT_BASE", "32000")
    assert Stack.from_env().port_base == 32000


@pytest.mark.parametrize("value", ["abc", "80", "65000"])
def test_from_env_rejects_bad_port_base(tmp_path, monkeypatch, value):
    monkeypatch.setenv("NETOSS_STATE", str(tmp_path))
    monkeypatch.setenv("NETOSS_PORT_BASE", value)
    with pytest.raises(StackError, match="NETOSS_PORT_BASE"):
        Stack.from_env()


def test_secrets_are_private_stable_and_random(tmp_path):
    s = Stack(state_dir=tmp_path)
    with pytest.raises(StackError, match="make up"):
        s.load_secrets()
    first = s.load_secrets(create=True)
    assert stat.S_IMODE(s.secrets_file.stat().st_mode) == 0o600
    assert s.load_secrets(create=True) == first
    assert json.loads(s.secrets_file.read_text()) == first
    assert s.netbox_token() == f"nbt_{first['netbox_token_key']}.{first['netbox_token_secret']}"
    assert len(first["netbox_token_key"]) == 12 and len(first["netbox_pepper"]) >= 50
    assert new_secrets()["admin_password"] != first["admin_password"]


def test_supervisor_config_has_every_program_with_logs(tmp_path):
    s = Stack(state_dir=tmp_path, port_base=27000)
    text = render(
        s,
        [
            Program(name="web", command=["/bin/echo", "a b", 'say "hi"'], port=1, environment={"A": "1"}),
            Program(name="db", command=["/bin/true"], user="postgres", autostart=False),
        ],
    )
    assert "[program:web]" in text and "[program:db]" in text
    assert 'command=/bin/echo "a b" "say \\"hi\\""' in text
    assert f"stdout_logfile={tmp_path}/logs/web.log" in text
    assert "user=postgres" in text and "autostart=false" in text
    assert 'environment=A="1"' in text
    assert "chmod=0700" in text  # the control socket is root's only


def test_stack_programs_listen_on_loopback_only(tmp_path, monkeypatch):
    monkeypatch.setattr("portal.stack.postgres.data_dir", lambda stack: tmp_path / "pg" / "data")
    monkeypatch.setattr("portal.stack.postgres.bindir", lambda: tmp_path)
    s = Stack(state_dir=tmp_path, port_base=27000)
    s.load_secrets(create=True)
    progs = {p.name: p for p in programs(s)}
    assert set(progs) == {
        "postgres", "redis", "netbox-web", "netbox-worker", "portal-web", "portal-worker",
        "fault-receiver", "fault-processor",
    }  # fmt: skip
    assert "127.0.0.1:27081" in progs["portal-web"].command
    assert "listen_addresses=127.0.0.1" in progs["postgres"].command
    assert progs["postgres"].user == "postgres"
    assert "127.0.0.1:27080" in progs["netbox-web"].command
    redis_conf = (tmp_path / "redis" / "redis.conf").read_text()
    assert "bind 127.0.0.1" in redis_conf and "requirepass" in redis_conf
    assert stat.S_IMODE((tmp_path / "redis" / "redis.conf").stat().st_mode) == 0o600
    # No secret on a command line (they are visible in `ps`).
    secrets = s.load_secrets().values()
    for p in progs.values():
        assert not any(sec in arg for sec in secrets if len(sec) > 8 for arg in p.command)


def test_operator_settings_join_the_portal_config_and_are_checked(tmp_path):
    import json

    from portal.stack import portal_app
    from portal.stack.config import StackError

    s = Stack(state_dir=tmp_path, port_base=27000)
    s.load_secrets(create=True)
    assert portal_app.local_settings(s) == {}
    settings = tmp_path / "portal" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(
        json.dumps({"FAULTS_WEBHOOK_URL": "http://127.0.0.1:9/hook", "FAULTS_TICKET_SEVERITY": "minor"})
    )
    assert portal_app.local_settings(s)["FAULTS_TICKET_SEVERITY"] == "minor"
    settings.write_text(json.dumps({"SECRET_KEY": "mine", "FAULTS_X": 1}))
    with pytest.raises(StackError, match="SECRET_KEY: only FAULTS_"):
        portal_app.local_settings(s)
    settings.write_text("{nope")
    with pytest.raises(StackError, match=r"settings\.json: not valid JSON"):
        portal_app.local_settings(s)


def test_the_code_stamp_changes_with_the_code_only(tmp_path):
    import os

    from portal.stack import code_stamp

    for folder, name in (("portal", "a.py"), ("plugins/modules", "m.py"), ("faults", "syslog.yml"), ("docs", "x.md")):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        (tmp_path / folder / name).write_text("x = 1\\n")
    first = code_stamp(tmp_path)
    assert code_stamp(tmp_path) == first
    (tmp_path / "docs" / "x.md").write_text("prose changes nothing\\n")
    assert code_stamp(tmp_path) == first
    module = tmp_path / "plugins" / "modules" / "m.py"
    module.write_text("x = 2\\n")
    st = module.stat()
    os.utime(module, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert code_stamp(tmp_path) != first
