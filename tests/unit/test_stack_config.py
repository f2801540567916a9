"""Pure logic of the stack manager: ports, state resolution, supervisord config, secrets."""

from __future__ import annotations

import json
import os
import stat

import pytest

from netoss.embedded.stack import programs
from netoss.embedded.stack.config import PORT_OFFSETS, Stack, StackError, new_secrets
from netoss.embedded.stack.supervisor import Program, render


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
    monkeypatch.setattr("netoss.embedded.stack.postgres.data_dir", lambda stack: tmp_path / "pg" / "data")
    monkeypatch.setattr("netoss.embedded.stack.postgres.bindir", lambda: tmp_path)
    s = Stack(state_dir=tmp_path, port_base=27000)
    s.load_secrets(create=True)
    progs = {p.name: p for p in programs(s)}
    assert set(progs) == {
        "postgres", "redis", "netbox-web", "netbox-worker", "portal-web", "lab-helper", "portal-worker",
        "fault-receiver", "fault-processor", "prometheus", "alertmanager", "snmp-exporter", "assurance",
    }  # fmt: skip
    assert "127.0.0.1:27081" in progs["portal-web"].command
    for name, port in (("prometheus", 27090), ("alertmanager", 27093), ("snmp-exporter", 27116)):
        assert f"--web.listen-address=127.0.0.1:{port}" in progs[name].command, name
        assert any(a.startswith("--web.config.file=") for a in progs[name].command), name  # basic authentication
    assert "--cluster.listen-address=" in progs["alertmanager"].command  # no gossip port
    assert progs["assurance"].environment["NETOSS_ASSURANCE_LISTEN"] == "127.0.0.1:27117"
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

    from netoss.embedded.stack import portal_app
    from netoss.embedded.stack.config import StackError

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

    from netoss.embedded.stack import code_stamp

    for folder, name in (
        ("netoss/domain/faults", "pipeline.py"),
        ("plugins/modules", "m.py"),
        ("faults", "syslog.yml"),
        ("docs", "x.md"),
    ):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        (tmp_path / folder / name).write_text("x = 1\\n")
    first = code_stamp(tmp_path)
    assert code_stamp(tmp_path) == first
    (tmp_path / "docs" / "x.md").write_text("prose changes nothing\\n")
    assert code_stamp(tmp_path) == first
    for changed in ("plugins/modules/m.py", "netoss/domain/faults/pipeline.py"):
        module = tmp_path / changed
        module.write_text("x = 2\\n")
        st = module.stat()
        os.utime(module, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
        assert code_stamp(tmp_path) != first, changed  # the product's own code too (git pull && make up)
        first = code_stamp(tmp_path)


# --- least privilege (issue 13: 12, 14) ------------------------------------------------------


def test_older_secrets_gain_the_machine_tokens(tmp_path):
    from netoss.embedded.stack.config import MACHINE_USERS

    s = Stack(state_dir=tmp_path)
    old = {k: v for k, v in new_secrets().items() if not any(r in k for r in ("reader", "web_", "writer", "faults"))}
    s.state_dir.mkdir(exist_ok=True)
    s.secrets_file.write_text(json.dumps(old))
    with pytest.raises(StackError, match="make up"):
        s.netbox_writer_token()
    values = s.load_secrets(create=True)
    tokens = {s.netbox_token(), s.netbox_reader_token(), s.netbox_faults_token(), s.netbox_writer_token()}
    tokens.add(s.netbox_web_token())
    assert len(tokens) == 5 and all(t.startswith("nbt_") for t in tokens)
    assert {k: values[k] for k in old} == old  # nothing that existed changed
    assert set(MACHINE_USERS) == {"reader", "web", "faults", "writer"}


def test_each_daemon_gets_only_its_own_credentials(tmp_path, monkeypatch):
    monkeypatch.setattr("netoss.embedded.stack.postgres.data_dir", lambda stack: tmp_path / "pg" / "data")
    monkeypatch.setattr("netoss.embedded.stack.postgres.bindir", lambda: tmp_path)
    from netoss.embedded.stack import portal_app

    s = Stack(state_dir=tmp_path, port_base=27000)
    secrets = s.load_secrets(create=True)
    portal_app.configure(s)
    config = json.loads(portal_app.config_file(s).read_text())
    assert config["NETBOX_TOKEN"] == s.netbox_reader_token()  # the file every daemon reads: view only
    admin_creds = [s.netbox_token(), secrets["portal_admin_token"], secrets["admin_password"]]
    progs = {p.name: p for p in programs(s)}
    expected = {
        "portal-web": {"NETOSS_PORTAL_NETBOX_TOKEN": s.netbox_web_token()},
        "fault-receiver": {},
        "fault-processor": {"NETOSS_PORTAL_NETBOX_TOKEN": s.netbox_faults_token()},
        "portal-worker": {"NETBOX_TOKEN": s.netbox_writer_token(), "PORTAL_TOKEN": secrets["portal_automation_token"]},
        "lab-helper": {},
    }
    token_values = {s.netbox_reader_token(), s.netbox_faults_token(), s.netbox_writer_token(), *admin_creds}
    token_values.add(s.netbox_web_token())
    token_values.add(secrets["portal_automation_token"])
    for name, own in expected.items():
        env = progs[name].environment
        held = {k: v for k, v in env.items() if v in token_values}
        assert held == own, f"{name} holds {sorted(held)}"
        assert not any(c in str(progs[name].command) for c in admin_creds)
    assert progs["lab-helper"].user == "root"
    assert all(progs[n].user == "netoss" for n in ("portal-web", "portal-worker", "fault-receiver", "fault-processor"))
    assert all(progs[n].user == "netoss" for n in ("netbox-web", "netbox-worker"))


def test_machine_users_grant_no_more_than_their_role(tmp_path):
    from netoss.embedded.stack import netbox

    s = Stack(state_dir=tmp_path)
    s.load_secrets(create=True)
    users = {u["user"]: u for u in netbox.machine_users(s)}
    assert set(users) == {"netoss-reader", "netoss-web", "netoss-faults", "netoss-writer"}
    reader, faults, writer = users["netoss-reader"], users["netoss-faults"], users["netoss-writer"]
    assert users["netoss-web"]["grants"] == faults["grants"]
    assert not reader["write"] and [g["actions"] for g in reader["grants"]] == [["view"]]
    assert {tuple(g["actions"]) for g in faults["grants"]} == {("view",), ("add",)}
    assert [g.get("only") for g in faults["grants"] if g["actions"] == ["add"]] == [["extras.journalentry"]]
    write = [g for g in writer["grants"] if g["actions"] != ["view"]]
    assert write and all("core" in g.get("exclude_apps", []) or g.get("only") for g in write)
    # users, tokens and permissions are never granted (ENSURE_MACHINE_USERS excludes the users app)
    assert 'exclude(app_label="users")' in netbox.ENSURE_MACHINE_USERS
    assert s.netbox_reader_token().endswith(reader["secret"])


def _blocked(monkeypatch, why):
    from netoss.embedded import stack as stack_mod

    monkeypatch.setattr(stack_mod.accounts, "ensure_service_user", lambda: None)
    monkeypatch.setattr(stack_mod.accounts, "exists", lambda user: True)
    monkeypatch.setattr(stack_mod.accounts, "blocker", lambda user, path: why if user == "netoss" else None)
    monkeypatch.setattr(stack_mod.accounts, "run_blocker", lambda user, python: None)


def test_up_refuses_to_run_services_as_root_without_the_opt_in(tmp_path, monkeypatch):
    from netoss.embedded.stack import service_users

    monkeypatch.delenv("NETOSS_ALLOW_ROOT", raising=False)
    _blocked(monkeypatch, "/root (owner root, mode 0700) is not searchable by netoss")
    with pytest.raises(StackError) as err:
        service_users(Stack(state_dir=tmp_path), log=lambda m: None)
    text = str(err.value)
    assert "netbox cannot run as netoss: /root (owner root, mode 0700)" in text
    assert "portal cannot run as netoss" in text and "NETOSS_ALLOW_ROOT=1" in text


def test_root_is_an_explicit_opt_in(tmp_path, monkeypatch):
    from netoss.embedded.stack import service_users

    monkeypatch.setenv("NETOSS_ALLOW_ROOT", "1")
    _blocked(monkeypatch, "/root (owner root, mode 0700) is not searchable by netoss")
    said = []
    users = service_users(Stack(state_dir=tmp_path), log=said.append)
    assert users == {"netbox": "root", "portal": "root", "redis": "redis"}
    assert len(said) == 2 and all("runs as root (NETOSS_ALLOW_ROOT=1)" in m for m in said)
    monkeypatch.delenv("NETOSS_ALLOW_ROOT")
    _blocked(monkeypatch, None)
    assert service_users(Stack(state_dir=tmp_path), log=said.append) == {
        "netbox": "netoss",
        "portal": "netoss",
        "redis": "redis",
    }


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="switches accounts (runuser): needs root")


@needs_root
def test_blocker_names_the_private_directory():
    import shutil
    import tempfile
    from pathlib import Path

    from netoss.embedded.stack import accounts

    base = Path(tempfile.mkdtemp(prefix="netoss-blocker-", dir="/tmp"))  # pytest's tmp_path is private
    try:
        os.chmod(base, 0o755)  # noqa: S103 (the test needs a directory others can enter)
        private = base / "private"
        (private / "checkout").mkdir(parents=True)
        os.chmod(private, 0o700)
        why = accounts.blocker("nobody", private / "checkout")
        assert why == f"{private} (owner root, mode 0700) is not searchable by nobody"
        os.chmod(private, 0o711)  # noqa: S103
        assert accounts.blocker("nobody", private / "checkout") is None
    finally:
        shutil.rmtree(base)


@needs_root
@pytest.mark.parametrize("venv", [".venv", ".venv-netbox"])
def test_the_virtualenvs_python_runs_as_an_unprivileged_account(venv):
    """bootstrap builds the virtualenvs from a Python other accounts can run (issue 13, 12)."""
    import subprocess

    from netoss.embedded.stack.config import REPO_ROOT

    python = REPO_ROOT / venv / "bin" / "python"
    if not python.exists():
        pytest.skip(f"{venv} is not built")
    proc = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(python), "-c", "import ssl, sqlite3"],
        capture_output=True,
        text=True,
        cwd="/",
        check=False,
    )
    assert proc.returncode == 0, f"{python} (-> {python.resolve()}) does not run as nobody: {proc.stderr[-500:]}"


@needs_root
def test_what_root_creates_later_stays_writable_by_the_service_account():
    """A playbook run by root in <state>/backups must not leave the portal's jobs unable to write there."""
    import shutil
    import subprocess
    import tempfile
    from pathlib import Path

    from netoss.embedded.stack import accounts

    if not accounts.exists("netoss"):
        pytest.skip("no netoss account here (`netoss up` makes it)")
    base = Path(tempfile.mkdtemp(prefix="netoss-acl-", dir="/tmp"))
    try:
        os.chmod(base, 0o755)  # noqa: S103 (the account must enter it)
        tree = base / "backups"
        (tree / "old").mkdir(parents=True)
        if not accounts.grant_tree(tree, "netoss"):
            pytest.skip("no POSIX ACLs on this file system")
        (tree / "new" / "objects").mkdir(parents=True)  # as root, umask 022, after the grant
        (tree / "new" / "index").write_text("x")
        for target in (tree / "old" / "a", tree / "new" / "objects" / "b"):
            proc = subprocess.run(
                ["runuser", "-u", "netoss", "--", "touch", str(target)], capture_output=True, check=False
            )
            assert proc.returncode == 0, proc.stderr
        proc = subprocess.run(
            ["runuser", "-u", "netoss", "--", "sh", "-c", f"echo y > {tree / 'new' / 'index'}"], check=False
        )
        assert proc.returncode == 0
    finally:
        shutil.rmtree(base)


def test_the_intent_is_one_setting_env_then_record_then_demo(tmp_path, monkeypatch):
    monkeypatch.delenv("NETOSS_INTENT", raising=False)
    s = Stack(state_dir=tmp_path / "state", port_base=31000)
    assert s.intent_dir == s.demo_intent == s.repo / "inventory" / "intent"
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "network.yaml").write_text("sites: []\n")
    s.record()
    assert s.set_intent(mine) == mine.resolve()
    assert s.intent_dir == s.recorded_intent == mine.resolve()
    # The record keeps the port base, and the port base record keeps the intent.
    s.record()
    assert json.loads((s.state_dir / "stack.json").read_text()) == {"port_base": 31000, "intent": str(mine.resolve())}
    other = tmp_path / "other.yml"
    other.write_text("sites: []\n")
    monkeypatch.setenv("NETOSS_INTENT", str(other))
    assert s.intent_dir == other.resolve()  # the environment wins for this command
    assert s.recorded_intent == mine.resolve()  # what the workers' jobs read


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda p: p, "no such file or directory"),
        (lambda p: (p.mkdir(), (p / "notes.txt").write_text("x")) and p, "no *.yml or *.yaml file"),
    ],
)
def test_an_intent_that_is_not_one_is_refused_by_name(tmp_path, make, expected):
    s = Stack(state_dir=tmp_path / "state")
    path = tmp_path / "nowhere"
    make(path)
    with pytest.raises(StackError, match=r"intent .*nowhere: .*" + expected.replace("*", r"\*")):
        s.set_intent(path)
    assert not (s.state_dir / "stack.json").exists()


def test_a_workers_job_reads_the_recorded_intent_not_an_inherited_one(tmp_path, monkeypatch):
    from netoss.domain.jobs import environment
    from netoss.embedded import jobs as embedded_jobs

    # What `netoss worker` registers: the embedded deployment's provider of each job's environment.
    monkeypatch.setattr(environment, "_providers", [embedded_jobs.environment])
    s = Stack(state_dir=tmp_path / "state", port_base=31000)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "a.yml").write_text("sites: []\n")
    s.record()
    s.set_intent(mine)
    monkeypatch.setenv("NETOSS_STATE", str(s.state_dir))
    monkeypatch.setenv("NETOSS_INTENT", str(tmp_path / "what-the-worker-started-with"))
    assert environment.job_environment()["NETOSS_INTENT"] == str(mine.resolve())


def test_a_refused_seeding_quotes_the_plan_and_the_refusal():
    from netoss.embedded.stack import refusal_line

    json_tail = (
        'fatal: [localhost]: FAILED! => {"changed": false, "counts": {"create": 122, "delete": 76}, "managed": 90, '
        '"msg": "Plan: 122 to create, 15 to update, 76 to delete (2 unchanged). refusing to prune: the plan deletes '
        "76 of the 90 objects netoss manages in NetBox (84%, more than the limit of 50%). Is this the intent of "
        'this network? If ..."}\nPLAY RECAP'
    )
    yaml_tail = (
        "fatal: [localhost]: FAILED! =>\n    changed: false\n    msg: 'Plan: 122 to create, 15 to update, 76 to\n"
        "        delete (2 unchanged). refusing to prune: the plan deletes 76 of the 90 objects\n"
        "        netoss manages in NetBox (84%, more than the limit of 50%). Is this the intent'\n"
        "    would_delete:\n        devices:\n        - pe1\n"
    )
    for tail in (json_tail, yaml_tail):
        line = refusal_line(tail)
        assert line.startswith("Plan: 122 to create, 15 to update, 76 to delete"), line
        assert line.endswith("(84%, more than the limit of 50%)."), line
    assert refusal_line("fatal: [localhost]: FAILED! => msg: NetBox at http://127.0.0.1:9 is unreachable") is None


def test_two_stacks_starting_at_once_migrate_netbox_once(tmp_path, monkeypatch):
    """The test suite starts its two stacks side by side: one migrates and caches NetBox's empty
    database, the other waits for that dump and restores it (never a half-written one)."""
    import threading
    import time

    from netoss.embedded.stack import netbox, postgres

    calls: list[tuple[str, str]] = []
    cache = tmp_path / "cache"

    def migrate(stack, *args, what):
        calls.append((stack.state_dir.name, what))
        if what == "netbox migrate":
            time.sleep(0.3)  # long enough for the other stack to arrive meanwhile

    def dump(stack, db, target):
        target.write_text("dump")
        calls.append((stack.state_dir.name, "dump"))

    def restore(stack, db, owner, source):
        assert source.read_text() == "dump"
        calls.append((stack.state_dir.name, "restore"))

    monkeypatch.setattr(postgres, "ensure_role", lambda *a: None)
    monkeypatch.setattr(postgres, "database_exists", lambda *a: False)
    monkeypatch.setattr(postgres, "create_database", lambda *a: None)
    monkeypatch.setattr(postgres, "dump", dump)
    monkeypatch.setattr(postgres, "restore", restore)
    monkeypatch.setattr(netbox, "netbox_cmd", migrate)
    stacks = []
    for name in ("a", "b"):
        stack = Stack(state_dir=tmp_path / name, port_base=20000, cache_dir=cache)
        stack.netbox_root.mkdir(parents=True)
        monkeypatch.setattr(Stack, "load_secrets", lambda self, create=False: {"netbox_db_password": "x"})
        stacks.append(stack)
    threads = [threading.Thread(target=netbox.ensure_database, args=(s, lambda msg: None)) for s in stacks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    whats = [what for _, what in calls]
    assert whats.count("netbox migrate") == 1, calls
    assert whats.count("dump") == 1 and whats.count("restore") == 1, calls


def test_netbox_runs_the_branching_plugin_pinned_once(tmp_path):
    """NetBox Branching (GitOps' proposed state) is enabled as its docs say: the plugin last in
    PLUGINS, DATABASES wrapped in its DynamicSchemaDict, its router; the version the stack keys
    its cached database by is the one requirements/netbox.txt installs; only the writer may
    merge or revert a branch."""
    import ast

    from netoss.embedded.stack import netbox
    from netoss.embedded.stack.config import NETBOX_BRANCHING_VERSION, NETBOX_SCHEMA, NETBOX_VERSION, REPO_ROOT

    pins = dict(
        line.split("==")
        for line in (REPO_ROOT / "requirements" / "netbox.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    assert pins["netbox"] == NETBOX_VERSION and pins["netboxlabs-netbox-branching"] == NETBOX_BRANCHING_VERSION
    s = Stack(state_dir=tmp_path)
    s.load_secrets(create=True)
    netbox.configure(s)
    text = (s.netbox_root / "conf" / "configuration.py").read_text()
    tree = ast.parse(text)  # valid Python
    assigned = {t.id: node.value for node in tree.body if isinstance(node, ast.Assign) for t in node.targets}
    assert ast.literal_eval(assigned["PLUGINS"])[-1] == "netbox_branching"
    assert ast.literal_eval(assigned["DATABASE_ROUTERS"]) == ["netbox_branching.database.BranchAwareRouter"]
    assert isinstance(assigned["DATABASES"], ast.Call) and assigned["DATABASES"].func.id == "DynamicSchemaDict"
    assert "from netbox_branching.utilities import DynamicSchemaDict" in text
    # A stack whose NetBox ran without the plugin migrates again (the marker names the plugin).
    assert NETBOX_BRANCHING_VERSION in NETBOX_SCHEMA and NETBOX_SCHEMA in netbox.migrated_dump(s).name
    users = {u["user"]: u for u in netbox.machine_users(s)}
    merging = {u for u, spec in users.items() for g in spec["grants"] if "merge" in g["actions"]}
    assert merging == {"netoss-writer"}
    (branch_grant,) = [g for g in users["netoss-writer"]["grants"] if "merge" in g["actions"]]
    assert branch_grant["only"] == ["netbox_branching.branch"] and "revert" in branch_grant["actions"]


# --- another host's access (issue 18: scale-out on more hosts) -------------------------------


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.2", "not loopback"),
        ("0.0.0.0", "0.0.0.0"),  # noqa: S104 - refused, that is the point
        ("eth0", "not an IP address"),
        ("fe80::1", "link-local"),
    ],
)
def test_a_listen_address_other_hosts_cannot_use_is_refused(tmp_path, address, why):
    with pytest.raises(StackError, match=why):
        Stack(state_dir=tmp_path).set_listen(address)


def test_listening_for_other_hosts_is_tls_only_on_the_network_and_a_socket_here(tmp_path, monkeypatch):
    monkeypatch.setattr("netoss.embedded.stack.postgres.data_dir", lambda stack: tmp_path / "pg" / "data")
    monkeypatch.setattr("netoss.embedded.stack.postgres.bindir", lambda: tmp_path)
    s = Stack(state_dir=tmp_path, port_base=27000)
    s.load_secrets(create=True)
    before = {p.name: p for p in programs(s)}
    assert s.set_listen("198.18.110.1") == "198.18.110.1" and s.listen == "198.18.110.1"
    progs = {p.name: p for p in programs(s)}
    assert set(progs) - set(before) == {"netbox-web-tls", "portal-web-tls"}
    pg = progs["postgres"].command
    assert "listen_addresses=127.0.0.1,198.18.110.1" in pg and "ssl=on" in pg
    conf = (tmp_path / "redis" / "redis.conf").read_text().splitlines()
    assert "port 0" in conf and "tls-port 27379" in conf and "bind 127.0.0.1 198.18.110.1" in conf
    assert f"unixsocket {s.redis_socket}" in conf
    # Redis, NetBox and the portal's programs restart when the listeners change (their
    # definitions change: `up` applies it), so none keeps a way to Redis that is gone
    for name in ("redis", "netbox-web", "netbox-worker", "portal-web", "portal-worker", "fault-processor"):
        assert progs[name].environment != before[name].environment, name
    for name, port in (("netbox-web-tls", 27080), ("portal-web-tls", 27081)):
        command = progs[name].command
        assert f"198.18.110.1:{port}" in command and "--certfile" in command and "--keyfile" in command
    # this host's programs reach Redis through its socket, not the TLS port
    assert s.redis_url(2).startswith(f"unix://:{s.load_secrets()['redis_password']}@{s.redis_socket}?db=2")
    secrets = s.load_secrets().values()
    for p in progs.values():
        assert not any(sec in arg for sec in secrets if len(sec) > 8 for arg in p.command)
    assert s.set_listen("none") is None and s.listen is None
    assert set(p.name for p in programs(s)) == set(before)


def test_pg_hba_lets_other_hosts_reach_the_portals_database_over_tls_only(tmp_path, monkeypatch):
    from netoss.embedded.stack import postgres, tls

    data = tmp_path / "pg" / "data"
    data.mkdir(parents=True)
    default = "local all all scram-sha-256\nhost all all 127.0.0.1/32 scram-sha-256\n"
    (data / "pg_hba.conf").write_text(default)
    monkeypatch.setattr("netoss.embedded.stack.postgres.data_dir", lambda stack: data)
    s = Stack(state_dir=tmp_path)
    material = tls.ensure(tmp_path / "tls", ["127.0.0.1", "198.18.110.1"])
    postgres.configure_listen(s, material, "portal_db", "portal_role")
    postgres.configure_listen(s, material, "portal_db", "portal_role")  # twice: once in the file
    lines = [line for line in (data / "pg_hba.conf").read_text().splitlines() if line and not line.startswith("#")]
    assert lines == [
        "local all all scram-sha-256",
        "host all all 127.0.0.1/32 scram-sha-256",
        "hostssl portal_db portal_role 0.0.0.0/0 scram-sha-256",
        "hostssl portal_db portal_role ::/0 scram-sha-256",
    ]
    assert (tmp_path / "pg" / "tls" / "server.key").exists()
    postgres.configure_listen(s, None, "portal_db", "portal_role")
    assert (data / "pg_hba.conf").read_text() == default


def test_another_hosts_set_up_reaches_everything_over_verified_tls_and_keeps_its_secrets_private(tmp_path):
    from netoss.embedded.stack import remote, tls

    s = Stack(state_dir=tmp_path / "stack", port_base=27000)
    s.load_secrets(create=True)
    with pytest.raises(StackError, match="--listen"):
        remote.write(s, tmp_path / "h2")
    s.set_listen("198.18.110.1")
    tls.ensure(s.tls_dir, ["127.0.0.1", "198.18.110.1"])
    target = remote.write(s, tmp_path / "h2", path_there=tmp_path / "there")
    config = json.loads((target / "portal" / "portal.json").read_text())
    ca_there = str(tmp_path / "there" / "tls" / "ca.crt")
    assert config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://netoss_portal:")
    assert "@198.18.110.1:27432/netoss_portal?sslmode=verify-full&sslrootcert=" in config["SQLALCHEMY_DATABASE_URI"]
    assert config["REDIS_URL"].startswith("rediss://:") and "@198.18.110.1:27379/2?" in config["REDIS_URL"]
    assert "ssl_cert_reqs=required" in config["REDIS_URL"] and "ssl_check_hostname=true" in config["REDIS_URL"]
    assert config["NETBOX_URL"] == "https://198.18.110.1:27080" and config["PORTAL_URL"] == "https://198.18.110.1:27081"
    assert config["NETBOX_TOKEN"] == s.netbox_reader_token()
    assert (target / "tls" / "ca.crt").read_bytes() == (s.tls_dir / "ca.crt").read_bytes()
    record = remote.load(target)
    assert record["environment"]["portal-worker"]["NETBOX_TOKEN"] == s.netbox_writer_token()
    assert record["environment"]["fault-processor"] == {"NETOSS_PORTAL_NETBOX_TOKEN": s.netbox_faults_token()}
    for private in (target / "portal" / "portal.json", target / remote.RECORD):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
    env = remote.daemon_environment(target, record, "portal-worker")
    assert env["REQUESTS_CA_BUNDLE"] == env["SSL_CERT_FILE"] == ca_there
    assert env["NETOSS_INTENT"] == str(s.recorded_intent) and env["NETOSS_PORTAL_CONFIG"].startswith(str(target))
    assert remote.load(s.state_dir) is None  # a stack's own directory is no other host's


def test_the_assurance_engines_configuration_keeps_secrets_in_private_files(tmp_path):
    """Prometheus, Alertmanager and snmp_exporter read their credentials from files of mode 0600
    (never a command line or a world-readable file); web.yml holds a bcrypt hash, not the password."""
    import bcrypt
    import yaml

    from netoss.embedded.stack import assurance

    s = Stack(state_dir=tmp_path, port_base=27000)
    secrets = s.load_secrets(create=True)
    digest = assurance.configure(s, "root")
    config = tmp_path / "assurance" / "config"
    for f in config.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    web = yaml.safe_load((config / "web.yml").read_text())["basic_auth_users"]["netoss"]
    assert bcrypt.checkpw(secrets["assurance_password"].encode(), web.encode())
    assert secrets["assurance_password"] not in (config / "prometheus.yml").read_text()
    snmp = yaml.safe_load((config / "snmp.yml").read_text())
    assert snmp["netoss-default"]["auth"]["community"] == secrets["snmp_community"]
    am = yaml.safe_load((config / "alertmanager.yml").read_text())
    hook = am["receivers"][0]["webhook_configs"][0]
    assert hook["url"] == "http://127.0.0.1:27081/api/v1/faults/alertmanager" and hook["send_resolved"]
    assert (config / "portal.secret").read_text() == secrets["portal_alertmanager_token"]
    # The same configuration again: the same digest (no restart), and web.yml's hash is kept.
    assert assurance.configure(s, "root") == digest
    assert yaml.safe_load((config / "web.yml").read_text())["basic_auth_users"]["netoss"] == web


def test_a_web_configuration_keeps_its_hash_until_the_password_changes(tmp_path):
    """stack.config.web_config (Prometheus, Alertmanager, the lab's probes): the hash already
    written is kept while it matches; another password gets a new one."""
    import bcrypt
    import yaml

    from netoss.embedded.stack.config import web_config

    web = tmp_path / "web.yml"
    web.write_text(web_config("probe-reader", "first secret"))
    first = yaml.safe_load(web.read_text())["basic_auth_users"]["probe-reader"]
    assert bcrypt.checkpw(b"first secret", first.encode()) and "first secret" not in web.read_text()
    assert web_config("probe-reader", "first secret", previous=web) == web.read_text()
    second = yaml.safe_load(web_config("probe-reader", "second secret", previous=web))["basic_auth_users"]
    assert bcrypt.checkpw(b"second secret", second["probe-reader"].encode())
    assert web_config("other-user", "first secret", previous=web) != web.read_text()  # another user's line


def test_an_invalid_assurance_policy_stops_up_naming_the_problem(tmp_path, monkeypatch):
    from netoss.embedded.stack import assurance

    policy = tmp_path / "policy"
    policy.mkdir()
    (policy / "t.yml").write_text("thresholds:\n  - {name: x, measure: nope, above: 1, for: 1m}\n")
    monkeypatch.setenv("NETOSS_ASSURANCE_POLICY", str(policy))
    s = Stack(state_dir=tmp_path / "state", port_base=27000)
    s.load_secrets(create=True)
    with pytest.raises(StackError, match=r"t\.yml: thresholds\[0\] 'x': measure: 'nope' is not one of"):
        assurance.configure(s, "root")


def test_a_port_base_that_reaches_the_ephemeral_range_is_warned_of(tmp_path):
    """A port in the kernel's ephemeral range can be held by an outgoing connection's local port
    when a service binds it: `up` says which of the stack's ports are there, and what to do."""
    assert Stack(state_dir=tmp_path, port_base=17000).ephemeral_ports((32768, 60999)) == []
    high = Stack(state_dir=tmp_path, port_base=32500)
    assert high.ephemeral_ports((32768, 60999)) == [32879, 32932, 33014]
    warning = high.ephemeral_warning((32768, 60999))
    assert "32879 (redis), 32932 (postgres), 33014 (syslog)" in warning
    assert "32768-60999" in warning and "NETOSS_PORT_BASE" in warning
    assert Stack(state_dir=tmp_path, port_base=17000).ephemeral_warning((32768, 60999)) is None
    assert Stack(state_dir=tmp_path, port_base=17000).ephemeral_warning() is None  # this machine's range
