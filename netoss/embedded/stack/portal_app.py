"""The portal service of the stack: its PostgreSQL database, configuration, migrations,
admin account and gunicorn program."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from netoss.embedded.stack import accounts, postgres
from netoss.embedded.stack.config import Stack, StackError, gunicorn_tls_args, write_private
from netoss.embedded.stack.proc import run
from netoss.embedded.stack.supervisor import Program

DB_NAME = "netoss_portal"
DB_USER = "netoss_portal"
ADMIN = "admin"


def config_file(stack: Stack) -> Path:
    return stack.state_dir / "portal" / "portal.json"


def python(stack: Stack) -> Path:
    return stack.venv / "bin" / "python"


def configure(stack: Stack, owner: str = "root") -> Path:
    """Write the portal's configuration (database URL with its password, secret key): mode 0600,
    owned by ``owner``, the portal's account. Its NetBox token is the read-only one; each
    daemon that needs more gets its own token in its environment (daemon_env)."""
    s = stack.load_secrets(create=True)
    values = {
        "SQLALCHEMY_DATABASE_URI": (
            f"postgresql+psycopg://{DB_USER}:{s['portal_db_password']}@127.0.0.1:{stack.port('postgres')}/{DB_NAME}"
        ),
        "SECRET_KEY": s["portal_secret_key"],
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        # Database 2 of the stack's Redis (NetBox uses 0 and 1): the job queue.
        "REDIS_URL": stack.redis_url(2),
        "NETBOX_URL": stack.netbox_url,
        "NETBOX_TOKEN": stack.netbox_reader_token(),
        "JOBS_DIR": str(stack.state_dir / "jobs"),
        # The intent repositories GitOps applies (docs/gitops.md); none until the file exists.
        "GITOPS_REPOSITORIES_FILE": str(stack.state_dir / "portal" / "gitops-repositories.yml"),
        "GITOPS_DIR": str(stack.state_dir / "gitops"),
        # Links in ticket notifications and NetBox journal entries.
        "PORTAL_URL": stack.portal_url,
        # SNMPv2c traps are taken with this community only.
        "FAULTS_SNMP_COMMUNITIES": [s["snmp_community"]],
        # Service assurance: graphs and SLA states read Prometheus' HTTP API.
        "PROMETHEUS_URL": f"http://127.0.0.1:{stack.port('prometheus')}",
        "PROMETHEUS_USER": "netoss",
        "PROMETHEUS_PASSWORD": s["assurance_password"],
    }
    values.update(local_settings(stack))
    path = config_file(stack)
    text = json.dumps(values, indent=2) + "\n"
    if not path.exists() or path.read_text() != text:
        write_private(path, text)
    if owner != "root" and accounts.exists(owner):
        accounts.give(path.parent, owner)
        accounts.give(path, owner)
    return path


# Settings an operator may add in <state>/portal/settings.json (kept across `netoss up`, which
# rewrites portal.json): notifications and fault processing; nothing that would replace a
# credential netoss manages.
LOCAL_PREFIXES = ("FAULTS_",)


def local_settings(stack: Stack) -> dict:
    """The operator's settings file, checked: a JSON object of FAULTS_* keys (StackError otherwise)."""
    path = stack.state_dir / "portal" / "settings.json"
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise StackError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise StackError(f'{path}: a JSON object of settings is needed, like {{"FAULTS_WEBHOOK_URL": "..."}}')
    bad = sorted(k for k in data if not k.startswith(LOCAL_PREFIXES))
    if bad:
        raise StackError(f"{path}: {', '.join(bad)}: only FAULTS_* settings may be set here")
    return data


def env(stack: Stack) -> dict[str, str]:
    return {
        "NETOSS_PORTAL_CONFIG": str(config_file(stack)),
        "NETOSS_STATE": str(stack.state_dir),
        "NETOSS_PORT_BASE": str(stack.port_base),
        "PATH": f"{stack.venv / 'bin'}:/usr/sbin:/usr/bin:/sbin:/bin",
        # The account's HOME (gunicorn's control socket, Ansible's files), not the caller's /root.
        "HOME": str(stack.ansible_home),
        # `up` restarts the programs when the stack starts or stops listening for other hosts.
        **({"NETOSS_LISTEN": stack.listen} if stack.listen else {}),
    }


def ensure_database(stack: Stack, log) -> None:
    """Create the portal's role and database if needed, then apply its Alembic migrations."""
    s = stack.load_secrets(create=True)
    postgres.ensure_role(stack, DB_USER, s["portal_db_password"])
    if not postgres.database_exists(stack, DB_NAME):
        postgres.create_database(stack, DB_NAME, DB_USER)
        log("created the portal's database")
    run(
        [python(stack), "-m", "flask", "--app", "netoss.web:create_app()", "db", "upgrade"],
        env=env(stack),
        cwd=stack.repo,
        what="portal database migrations (flask db upgrade)",
        log_file=stack.logs / "portal-migrate.log",
    )


def ensure_admin(stack: Stack, log) -> None:
    s = stack.load_secrets(create=True)
    out = run(
        [python(stack), "-m", "netoss.web.bootstrap"],
        env=env(stack),
        cwd=stack.repo,
        input=json.dumps(
            {
                "username": ADMIN,
                "password": s["portal_admin_password"],
                "token": s["portal_admin_token"],
                "automation_token": s["portal_automation_token"],
                "alertmanager_token": s["portal_alertmanager_token"],
            }
        ),
        what="portal admin account",
    )
    for line in out.splitlines():
        log(f"portal: {line}")


def healthy(stack: Stack) -> bool:
    """The portal answers /healthz (which also reaches its database)."""
    try:
        with urllib.request.urlopen(f"{stack.portal_url}/healthz", timeout=2) as resp:  # noqa: S310 - loopback URL
            return resp.status == 200
    except OSError:
        return False


def daemon_env(stack: Stack, name: str) -> dict[str, str]:
    """The credentials a portal daemon gets in its environment, only its own:
    the worker (and the jobs it runs) the writer NetBox token and the `automation` portal token;
    the fault processor and the web tier each its NetBox token (read, add journal entries: ticket
    events); the fault receiver nothing beyond portal.json (whose NetBox token is read-only)."""
    if name == "portal-worker":
        return {
            "NETBOX_TOKEN": stack.netbox_writer_token(),
            "PORTAL_TOKEN": stack.load_secrets()["portal_automation_token"],
        }
    if name == "fault-processor":
        return {"NETOSS_PORTAL_NETBOX_TOKEN": stack.netbox_faults_token()}
    if name == "portal-web":
        return {"NETOSS_PORTAL_NETBOX_TOKEN": stack.netbox_web_token()}
    return {}


def tls_dir(stack: Stack) -> Path:
    """The portal's copy of the stack's server certificate and key (its account's alone)."""
    return stack.state_dir / "portal" / "tls"


def _gunicorn(stack: Stack, bind: str, workers: str, tls: bool = False) -> list[str]:
    return [
        str(stack.venv / "bin" / "gunicorn"),
        "--bind",
        bind,
        *(gunicorn_tls_args(tls_dir(stack)) if tls else []),
        "--workers",
        workers,
        # Threads per worker: live job streams take at most STREAM_MAX_PER_PROCESS (12) of
        # them, each for at most STREAM_SECONDS, so 4 stay free for everything else.
        "--threads",
        "16",
        "--timeout",
        "120",
        "--access-logfile",
        "-",
        "netoss.web:create_app()",
    ]


def programs(stack: Stack, user: str = "root") -> list[Program]:
    # When the stack listens for other hosts, the portal is served there too, over TLS only
    # (portal-web-tls: the API their workers' jobs report to).
    remote = [
        Program(
            name="portal-web-tls",
            user=user,
            autostart=False,
            priority=301,
            startsecs=2,
            directory=stack.repo,
            environment={**env(stack), **daemon_env(stack, "portal-web")},
            command=_gunicorn(stack, f"{stack.listen}:{stack.port('portal')}", "1", tls=True),
        )
    ]
    return [
        Program(
            name="portal-web",
            port=stack.port("portal"),
            user=user,
            autostart=False,
            priority=300,
            startsecs=2,
            directory=stack.repo,
            environment={**env(stack), **daemon_env(stack, "portal-web")},
            command=_gunicorn(stack, f"127.0.0.1:{stack.port('portal')}", "2"),
        ),
        *(remote if stack.listen else []),
        # The lab's privileged helper (root): the jobs' only way to patch and probe the lab.
        Program(
            name="lab-helper",
            user="root",
            autostart=False,
            priority=305,
            startsecs=1,
            stopwaitsecs=10,
            directory=stack.repo,
            environment=env(stack),
            command=[str(stack.venv / "bin" / "netoss"), "lab", "helper"],
        ),
        # The netoss daemons of the portal, each `netoss <args>` in the checkout.
        *(
            Program(
                name=name,
                user=user,
                autostart=False,
                priority=priority,
                startsecs=2,
                stopwaitsecs=stopwait,
                directory=stack.repo,
                environment={**env(stack), **daemon_env(stack, name)},
                command=[str(stack.venv / "bin" / "netoss"), *args],
            )
            for name, priority, stopwait, args in (
                ("portal-worker", 310, 30, ["worker"]),
                ("fault-receiver", 320, 20, ["faults", "receive"]),
                ("fault-processor", 330, 15, ["faults", "process"]),
            )
        ),
    ]
