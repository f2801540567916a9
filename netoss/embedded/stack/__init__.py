"""Bring a netoss stack up, report on it, and take it down.

`up` is idempotent: each step checks before it acts, so a second run only verifies.
Everything a stack owns lives in its state directory; `down` stops every process by
PID and keeps the data.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from netoss.embedded.stack import accounts, assurance, netbox, portal_app, postgres
from netoss.embedded.stack.config import Stack, StackError, write_private
from netoss.embedded.stack.proc import port_open, read_pid, run, wait_for
from netoss.embedded.stack.supervisor import Program, Supervisor

__all__ = ["Stack", "StackError", "down", "service_status", "up"]


def redis_tls_dir(stack: Stack) -> Path:
    """Redis's copy of the stack's server certificate and key (its account's alone)."""
    return stack.state_dir / "redis" / "tls"


def redis_listen_lines(stack: Stack, certs: Path) -> list[str]:
    """Redis's listeners when the stack listens for other hosts: TLS only on TCP (loopback and
    the listen address: Redis binds its ports to the same addresses, so the plain port is
    closed rather than open to the network), and a Unix socket for this host's programs, in a
    directory of the portal's group (setgid: the socket takes its group)."""
    return [
        f"bind 127.0.0.1 {stack.listen}",
        "port 0",
        f"tls-port {stack.port('redis')}",
        f"tls-cert-file {certs / 'server.crt'}",
        f"tls-key-file {certs / 'server.key'}",
        f"tls-ca-cert-file {stack.tls_dir / 'ca.crt'}",
        "tls-auth-clients no",  # clients prove themselves with the password, over TLS
        f"unixsocket {stack.redis_socket}",
        "unixsocketperm 770",
    ]


def _redis_program(stack: Stack, user: str) -> Program:
    conf = stack.state_dir / "redis" / "redis.conf"
    listen = ["bind 127.0.0.1", f"port {stack.port('redis')}"]
    if stack.listen:
        listen = redis_listen_lines(stack, redis_tls_dir(stack))
    text = "\n".join(
        [
            "# Written by `netoss up`; edits are overwritten.",
            *listen,
            "protected-mode yes",
            "daemonize no",
            f"requirepass {stack.load_secrets()['redis_password']}",
            'save ""',
            "appendonly no",
            f"dir {conf.parent}",
            "loglevel notice",
            'logfile ""',
            "",
        ]
    )
    write_private(conf, text)
    if accounts.exists(user):
        accounts.give(conf.parent, user, recursive=True)
    redis_server = shutil.which("redis-server") or "/usr/bin/redis-server"
    # The listeners' digest in the program's definition: `up` restarts Redis when they changed.
    digest = hashlib.sha256("\n".join(listen).encode()).hexdigest()[:16]
    return Program(
        name="redis",
        command=[redis_server, str(conf)],
        port=stack.port("redis"),
        user=user,
        priority=20,
        environment={"NETOSS_CONFIG_DIGEST": digest},
    )


DEFAULT_USERS = {"netbox": accounts.SERVICE_USER, "portal": accounts.SERVICE_USER, "redis": "redis"}

# What the portal's account writes in the state directory: jobs (ansible-runner's private data),
# the playbooks' HOME (known_hosts, ~/.ansible), Ansible's temp files, the playbooks' outputs and
# the mirrors of the GitOps repositories.
PORTAL_WRITES = (
    "jobs", "home", "ansible-tmp", "backups", "rendered", "pre-push", "compliance", "service-orders", "gitops",
)  # fmt: skip


def service_users(stack: Stack, log: Callable[[str], None]) -> dict[str, str]:
    """The account each service runs as: its own. Where that account cannot reach what the
    service needs, StackError says which directory is in the way, unless NETOSS_ALLOW_ROOT=1,
    with which that service runs as root (with a warning)."""
    accounts.ensure_service_user()
    users = dict(DEFAULT_USERS)
    pythons = {"netbox": stack.netbox_venv / "bin" / "python", "portal": stack.venv / "bin" / "python"}
    problems = []
    for service, user in DEFAULT_USERS.items():
        if not accounts.exists(user):
            why = f"account {user!r} does not exist"
        else:
            paths = [stack.state_dir] + ([stack.repo, pythons[service].parent] if service in pythons else [])
            why = next((b for b in (accounts.blocker(user, p) for p in paths) if b), None)
            if why is None and service in pythons:
                why = accounts.run_blocker(user, pythons[service])
        if why is None:
            continue
        problems.append(f"{service} cannot run as {user}: {why}")
        if accounts.allow_root():
            users[service] = "root"
            log(f"warning: {service} runs as root ({accounts.ALLOW_ROOT_ENV}=1): {why}")
    if problems and not accounts.allow_root():
        raise StackError(
            "the services would run as root:\n  "
            + "\n  ".join(problems)
            + "\nMake those directories searchable (chmod o+x), or keep the checkout and NETOSS_STATE outside "
            "private directories such as /root; a Python in a private directory is placed in /opt/netoss/python "
            "by `scripts/bootstrap.sh` (run as root). To run these services as root anyway, set "
            f"{accounts.ALLOW_ROOT_ENV}=1 (README: Security)."
        )
    return users


def prepare_state(stack: Stack, users: dict[str, str]) -> None:
    """Owners of the state directory's parts: the portal's account owns what it writes, reads its
    configuration and the lab's device login; secrets.json stays root's alone (mode 0600)."""
    portal = users["portal"]
    if portal == "root" or not accounts.exists(portal):
        return
    for name in PORTAL_WRITES:
        path = stack.state_dir / name
        path.mkdir(mode=0o700 if name == "home" else 0o755, parents=True, exist_ok=True)
        # A stack first run as root: give the whole tree; afterwards only new top levels.
        accounts.give(path, portal, recursive=path.stat().st_uid != accounts.uid(portal))
        # What root's playbooks (`ansible-playbook` by hand, a test) create there later stays
        # writable by the portal's jobs: a default ACL, set once on the whole tree.
        if not accounts.has_default_acl(path):
            accounts.grant_tree(path, portal)
    for path in stack.lab_shared_files:  # the lab's record and device login, which jobs read
        if path.exists():
            accounts.share(path, portal)


def programs(stack: Stack, users: dict[str, str] | None = None, assurance_digest: str = "") -> list[Program]:
    """Every program of the stack, in start order; ``users`` says which account runs NetBox and Redis;
    ``assurance_digest`` is the assurance engines' configuration's (assurance.configure)."""
    users = users or DEFAULT_USERS
    return [
        Program(
            name="postgres",
            command=postgres.command(stack),
            port=stack.port("postgres"),
            user=postgres.SUPERUSER,
            stopsignal="INT",
            stopwaitsecs=60,
            priority=10,
            directory=Path("/"),
        ),
        _redis_program(stack, users["redis"]),
        *netbox.programs(stack, users["netbox"]),
        *portal_app.programs(stack, users["portal"]),
        *assurance.programs(stack, users["portal"], assurance_digest, portal_app.env(stack)),
    ]


def _account(user: str) -> pwd.struct_passwd:
    """The service account (root when it does not exist: services run as root by opt-in)."""
    return pwd.getpwnam(user) if accounts.exists(user) else pwd.getpwuid(0)


def _listen_for_other_hosts(stack: Stack, users: dict[str, str], log: Callable[[str], None]) -> None:
    """The stack's TLS material and each service's copy of it, and PostgreSQL's access rules,
    for the address other hosts reach it at; the rules taken away when it has none."""
    material = None
    if stack.listen:
        from netoss.embedded.stack import tls  # the certificate library only where it is used

        material = tls.ensure(stack.tls_dir, ["127.0.0.1", stack.listen], name=stack.state_dir.name)
        copies = (
            (netbox.tls_dir(stack), users["netbox"]),
            (portal_app.tls_dir(stack), users["portal"]),
            (redis_tls_dir(stack), users["redis"]),
        )
        for target, user in copies:
            entry = _account(user)
            tls.copy_key(material, target, entry.pw_uid, entry.pw_gid)
        # Redis's socket for this host's programs: in a directory of the portal's group (setgid:
        # the socket takes its group).
        socket_dir = stack.redis_socket.parent
        socket_dir.mkdir(parents=True, exist_ok=True)
        os.chown(socket_dir, _account(users["redis"]).pw_uid, _account(users["portal"]).pw_gid)
        os.chmod(socket_dir, 0o2770)  # noqa: S103 - Redis and the portal's group only
        log(
            f"listening for other hosts on {stack.listen}, TLS only (PostgreSQL, Redis, NetBox's API, the "
            f"portal), with the stack's own CA: {material.ca}; `netoss remote-config` writes another host's set-up"
        )
    postgres.configure_listen(stack, material, portal_app.DB_NAME, portal_app.DB_USER)


def _check_ports_free(stack: Stack, progs: list[Program], running: dict[str, dict]) -> None:
    for p in progs:
        if p.port and p.name not in running and port_open(p.port):
            raise StackError(
                f"port {p.port} (for {p.name}) is already in use by another program; "
                f"stop it, or choose another port base with NETOSS_PORT_BASE"
            )


def intent_hash(stack: Stack, path: Path | None = None) -> str:
    """The intent's (``path``, else the stack's) location and content (every file's name and bytes)."""
    path = path or stack.intent_dir
    h = hashlib.sha256(str(path).encode() + b"\0")
    files = [path] if path.is_file() else sorted(path.glob("*.yml")) + sorted(path.glob("*.yaml"))
    for f in files:
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def seed(
    stack: Stack,
    log: Callable[[str], None],
    force: bool = False,
    confirm_prune: bool = False,
    intent: Path | None = None,
) -> bool:
    """Apply the intent (``intent``, else stack.intent_dir) with playbooks/sot_sync.yml unless it
    is already applied.

    A seeding that would delete more than half of what netoss manages in NetBox (the stack moved
    to another network's intent) stops with the plan, unless ``confirm_prune``.
    """
    intent = intent or stack.intent_dir
    marker = stack.state_dir / "seeded-intent"
    digest = intent_hash(stack, intent)
    if not force and marker.exists() and marker.read_text().strip() == digest:
        return False
    log(f"seeding NetBox from {intent} (playbooks/sot_sync.yml)")
    t0 = time.monotonic()
    confirm = ["-e", '{"sot_sync_confirm_prune": true}'] if confirm_prune else []
    try:
        run_playbook(
            stack,
            "sot_sync.yml",
            *confirm,
            log_name="sot-sync.log",
            env={"NETOSS_INTENT": str(intent)},
        )
    except StackError as exc:
        log_file = stack.logs / "sot-sync.log"
        refusal = refusal_line(log_file.read_text() if log_file.exists() else str(exc))
        if refusal:
            raise StackError(
                f"seeding NetBox from {intent} stopped: {refusal}\n"
                "If this is the intent you mean (the stack moves to another network), run "
                f"`netoss up --confirm-prune`; the whole plan is in {log_file}"
            ) from None
        raise
    marker.write_text(digest + "\n")
    log(f"seeded in {time.monotonic() - t0:.0f} s")
    return True


def refusal_line(output: str) -> str | None:
    """The plan and the refusal out of a refused sot_sync's output (Ansible may fold the message
    over several lines, as YAML or JSON), or None when the run was not refused for pruning."""
    text = " ".join(output.replace("\\n", " ").split())
    found = re.search(r"(Plan: \d+ to create.{0,200}?)?refusing to prune: .*?limit of \d+%\)\.?", text)
    return found.group(0) if found else None


def run_playbook(
    stack: Stack, playbook: str, *args: str, log_name: str, env: dict[str, str] | None = None, timeout: float = 3600
) -> str:
    """Run playbooks/<playbook> of the checkout against this stack; its output goes to logs/<log_name>."""
    stack.ansible_home.mkdir(mode=0o700, parents=True, exist_ok=True)
    return run(
        [stack.venv / "bin" / "ansible-playbook", f"playbooks/{playbook}", *args],
        cwd=stack.repo,
        env={
            **client_env(stack, stack.netbox_writer_token()),
            "NETOSS_STATE": str(stack.state_dir),
            # network_cli checks the lab routers' host keys against <state>/home/.ssh/known_hosts.
            "HOME": str(stack.ansible_home),
            "PATH": f"{stack.venv / 'bin'}:/usr/sbin:/usr/bin:/sbin:/bin",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_LOCAL_TEMP": str(stack.state_dir / "ansible-tmp"),
            **(env or {}),
        },
        what=f"playbook {playbook}",
        timeout=timeout,
        log_file=stack.logs / log_name,
    )


def code_stamp(repo: Path) -> str:
    """What the portal's programs run: every Python file, job template and fault rule of the
    checkout (path, size, mtime). `up` restarts the programs when it changed since they started,
    so `git pull && make up` runs the new code."""
    digest = hashlib.sha256()
    for folder, pattern in (("netoss", "*.py"), ("plugins", "*.py"), ("faults", "*.y*ml")):
        for path in sorted((repo / folder).rglob(pattern)):
            st = path.stat()
            digest.update(f"{path.relative_to(repo)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def client_env(stack: Stack, token: str | None = None) -> dict[str, str]:
    """What a client (Ansible, pynetbox, curl) needs to reach this stack: ``token``, else the
    admin's (netoss env); the stack's own playbooks and jobs use the writer's."""
    return {"NETBOX_API": stack.netbox_url, "NETBOX_TOKEN": token or stack.netbox_token()}


def up(
    stack: Stack,
    *,
    seed_intent: bool = True,
    intent: Path | None = None,
    confirm_prune: bool = False,
    listen: str | None = None,
    log: Callable[[str], None] = print,
) -> None:
    """Start (or verify) every service of the stack; seed NetBox from the intent.

    ``intent`` (else NETOSS_INTENT) is recorded as the stack's intent, which later commands,
    `netoss env` and the workers' jobs use; without either, the recorded one (or the demo).
    ``listen`` ("none": no longer) is recorded as the address other hosts reach the stack at
    (docs/scaling.md); without it, the recorded one.
    """
    t0 = time.monotonic()
    netbox.check_installed(stack)
    stack.record()
    if warning := stack.ephemeral_warning():
        log(warning)
    chosen = intent or (Path(os.environ["NETOSS_INTENT"]) if os.environ.get("NETOSS_INTENT") else None)
    if chosen is not None:
        recorded = stack.set_intent(chosen)
        shell = os.environ.get("NETOSS_INTENT")
        if shell and Path(shell).expanduser().resolve() != recorded:
            log(
                f"warning: NETOSS_INTENT in this shell names {shell}, the stack's intent is now {recorded}: "
                'run eval "$(.venv/bin/netoss env)" so that the playbooks apply it'
            )
    log(f"intent: {stack.recorded_intent}")
    if listen is not None:
        stack.set_listen(listen)
    stack.logs.mkdir(parents=True, exist_ok=True)
    secrets = stack.load_secrets(create=True)
    sup = Supervisor(stack)
    running = sup.processes()
    postgres.initdb(stack, secrets["postgres_password"])
    users = service_users(stack, log)
    _listen_for_other_hosts(stack, users, log)
    netbox.configure(stack, users["netbox"])
    portal_app.configure(stack, users["portal"])
    prepare_state(stack, users)
    assurance_digest = assurance.configure(stack, users["portal"])
    progs = programs(stack, users, assurance_digest)
    _check_ports_free(stack, progs, running)
    if sup.write_config(progs) or not running:
        sup.start()
    for name in ("postgres", "redis"):
        sup.start_program(name)
    wait_for(lambda: postgres.ready(stack), 60, f"PostgreSQL on port {stack.port('postgres')}")
    wait_for(lambda: port_open(stack.port("redis")), 30, f"Redis on port {stack.port('redis')}")
    netbox.ensure_database(stack, log)
    netbox.ensure_static(stack, log)
    netbox.ensure_admin(stack)
    for name in ("netbox-web", "netbox-worker", *(("netbox-web-tls",) if stack.listen else ())):
        sup.start_program(name)
    wait_for(
        lambda: netbox.api_status(stack) is not None,
        300,  # about 6 s on an idle machine; minutes on a loaded one
        f"NetBox API at {stack.netbox_url} (see {stack.logs / 'netbox-web.log'})",
        interval=0.5,
    )
    portal_app.ensure_database(stack, log)
    portal_app.ensure_admin(stack, log)
    portal_programs = [p.name for p in portal_app.programs(stack)]
    stamp, stamp_file = code_stamp(stack.repo), stack.supervisor_dir / "portal-code.stamp"
    previous = stamp_file.read_text() if stamp_file.exists() else None
    running_now = sup.processes()
    if previous is not None and previous != stamp:
        restarted = [n for n in (*portal_programs, "assurance") if running_now.get(n, {}).get("statename") == "RUNNING"]
        if restarted:
            log(f"the code changed since the portal started: restarting {', '.join(restarted)}")
        for name in restarted:
            sup.stop_program(name)
    for name in portal_programs:
        sup.start_program(name)
    stamp_file.write_text(stamp)
    wait_for(
        lambda: portal_app.healthy(stack),
        60,
        f"the portal at {stack.portal_url} (see {stack.logs / 'portal-web.log'})",
        interval=0.5,
    )
    why = accounts.blocker(users["portal"], stack.recorded_intent) if users["portal"] != "root" else None
    if why:
        log(f"warning: the portal's jobs run as {users['portal']} and cannot read the intent: {why}")
    # Service assurance, once the portal (its webhook) answers; the daemon reads NetBox.
    for name in assurance.PROGRAMS:
        sup.start_program(name)
    if seed_intent:
        seed(stack, log, confirm_prune=confirm_prune, intent=stack.recorded_intent if chosen else None)
    log(f"stack up in {time.monotonic() - t0:.0f} s")


def down(stack: Stack, log: Callable[[str], None] = print) -> list[int]:
    """Stop every process of the stack by PID; keep the data."""
    stopped = Supervisor(stack).shutdown()
    # A PostgreSQL left from a supervisord that died would hold the data directory.
    link = stack.state_dir / "postgres"
    if link.exists():
        pid = read_pid(link.resolve() / "data" / "postmaster.pid")
        if pid:
            run(
                [postgres.bindir() / "pg_ctl", "-D", link.resolve() / "data", "stop", "-m", "fast"],
                user=postgres.SUPERUSER,
                cwd=Path("/"),
                what="pg_ctl stop",
            )
            stopped.append(pid)
    log(f"stopped {len(stopped)} processes" if stopped else "nothing was running")
    return stopped


@dataclass
class ServiceStatus:
    name: str
    state: str
    pid: int | None
    port: int | None
    healthy: bool
    detail: str = ""
    user: str | None = None

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def service_status(stack: Stack) -> list[ServiceStatus]:
    """Each service of the stack: supervisor state, pid, port and a health probe."""
    sup = Supervisor(stack)
    sup_pid = sup.pid()
    result = [
        ServiceStatus(
            "supervisord",
            "RUNNING" if sup_pid else "STOPPED",
            sup_pid,
            None,
            bool(sup_pid),
            str(sup.conf),
            accounts.owner_of_process(sup_pid),
        )
    ]
    procs = sup.processes()
    for p in _static_programs(stack):
        info = procs.get(p.name, {})
        state = info.get("statename", "STOPPED")
        pid = info.get("pid") or None
        healthy = state == "RUNNING" and (p.port is None or port_open(p.port))
        detail = ""
        if p.name == "netbox-web" and healthy:
            st = netbox.api_status(stack) if stack.secrets_file.exists() else None
            healthy = st is not None
            detail = f"NetBox {st.get('netbox-version')} at {stack.netbox_url}" if st else "API not answering"
        elif p.name == "portal-web" and healthy:
            healthy = portal_app.healthy(stack)
            detail = f"portal at {stack.portal_url}" if healthy else "/healthz not answering"
        result.append(ServiceStatus(p.name, state, pid, p.port, healthy, detail, accounts.owner_of_process(pid)))
    return result


def _static_programs(stack: Stack) -> list[Program]:
    """Program names and ports, without writing any file (status must not change anything)."""
    return [
        Program(name="postgres", command=[], port=stack.port("postgres")),
        Program(name="redis", command=[], port=stack.port("redis")),
        Program(name="netbox-web", command=[], port=stack.port("netbox")),
        Program(name="netbox-worker", command=[]),
        Program(name="portal-web", command=[], port=stack.port("portal")),
        Program(name="lab-helper", command=[]),
        Program(name="portal-worker", command=[]),
        Program(name="fault-receiver", command=[]),
        Program(name="fault-processor", command=[]),
        *(Program(name=name, command=[]) for name in (("netbox-web-tls", "portal-web-tls") if stack.listen else ())),
        Program(name="prometheus", command=[], port=stack.port("prometheus")),
        Program(name="alertmanager", command=[], port=stack.port("alertmanager")),
        Program(name="snmp-exporter", command=[], port=stack.port("snmp-exporter")),
        Program(name="assurance", command=[], port=stack.port("assurance")),
    ]


def summary(stack: Stack) -> str:
    """Where to go and how to log in: printed at the end of `make up`."""
    s = stack.load_secrets()
    return "\n".join(
        [
            "",
            "netoss is up.",
            f"  NetBox      {stack.netbox_url}/   user {s['admin_user']}  password {s['admin_password']}",
            f"  NetBox API  {stack.netbox_url}/api/   token in `.venv/bin/netoss env`",
            f"  Portal      {stack.portal_url}/   user {portal_app.ADMIN}  password {s['portal_admin_password']}"
            f"   (API: {stack.portal_url}/api/openapi.json, token in `.venv/bin/netoss env`)",
            f"  Faults      {stack.portal_url}/alarms  {stack.portal_url}/tickets   (syslog udp/{stack.port('syslog')},"
            f" SNMP traps udp/{stack.port('snmptrap')}, community in {stack.secrets_file.name})",
            f"  Compliance  {stack.portal_url}/compliance   (policy in compliance/*.yml)",
            f"  Services    {stack.portal_url}/orders  {stack.portal_url}/services   (catalog in services/catalog.yml)",
            f"  state dir   {stack.state_dir}   (logs in {stack.logs}, credentials in {stack.secrets_file})",
        ]
    )


HINTS = """
  eval "$(.venv/bin/netoss env)"       # NetBox URL and token, the lab's login, for ansible and pynetbox
  .venv/bin/netoss status              # services, pids, ports, accounts
  .venv/bin/netoss lab status          # routers, daemons, SSH
  .venv/bin/ansible-inventory --graph  # the routers, from NetBox
  .venv/bin/ansible-playbook playbooks/config_push.yml --check --diff   # NetBox vs the routers, line by line
  .venv/bin/ansible-playbook playbooks/config_backup.yml               # running configs -> git (.state/backups)
  .venv/bin/netoss tickets list        # trouble tickets (a link down in the lab opens one within seconds)
  .venv/bin/netoss job run compliance  # check every router against the policy; then: netoss compliance report
  # Order a service for a customer on a free port above (Orders page, or TMF641; docs/services.md)
  make down                            # stop everything, keep the data"""


def describe(stack: Stack) -> dict:
    return {
        "state_dir": str(stack.state_dir),
        "port_base": stack.port_base,
        "netbox_url": stack.netbox_url,
        "services": [s.as_dict() for s in service_status(stack)],
    }
