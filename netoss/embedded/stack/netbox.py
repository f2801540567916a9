"""NetBox 4.7 from PyPI, in its own virtualenv, configured for one stack.

Migrating an empty database takes 5-6 minutes of CPU, so the migrated (still empty)
database is kept as a pg_dump in the cache directory, keyed by NetBox version, and
restored in about a second by every later stack.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from pathlib import Path

from netoss.data.netbox import NetBox, NetboxError
from netoss.embedded.stack import accounts, postgres
from netoss.embedded.stack.config import (
    MACHINE_USERS,
    NETBOX_SCHEMA,
    NETBOX_VERSION,
    Stack,
    StackError,
    gunicorn_tls_args,
    write_private,
)
from netoss.embedded.stack.proc import run
from netoss.embedded.stack.supervisor import Program

DB_NAME = "netbox"
DB_USER = "netbox"

CONFIGURATION = """\
# Written by `netoss up` for the stack in {state}; edits are overwritten.
from netbox_branching.utilities import DynamicSchemaDict

ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"{listen_host}]
# NetBox Branching: each branch is a PostgreSQL schema, chosen per request by its router.
DATABASES = DynamicSchemaDict({{
    "default": {{
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "{db}", "USER": "{db_user}", "PASSWORD": {db_password!r},
        "HOST": "127.0.0.1", "PORT": "{pg_port}", "CONN_MAX_AGE": 300,
    }}
}})
DATABASE_ROUTERS = ["netbox_branching.database.BranchAwareRouter"]
PLUGINS = ["netbox_branching"]  # it must be the last plugin listed
REDIS = {{
    "tasks": {{"HOST": "127.0.0.1", "PORT": {redis_port}, "USERNAME": "", "PASSWORD": {redis_password!r},
              "DATABASE": 0, "SSL": False{tasks_url}}},
    "caching": {{"HOST": "127.0.0.1", "PORT": {redis_port}, "USERNAME": "", "PASSWORD": {redis_password!r},
                "DATABASE": 1, "SSL": False{caching_url}}},
}}
SECRET_KEY = {secret_key!r}
API_TOKEN_PEPPERS = {{1: {pepper!r}}}
LOGIN_REQUIRED = True
TIME_ZONE = "UTC"
# Bulk writes of many objects take tens of seconds; search indexing runs on the rqworker.
MAINTENANCE_MODE = False
"""

WSGI = '''\
"""NetBox WSGI app with its static files served by WhiteNoise (written by `netoss up`)."""
from netbox.settings import STATIC_ROOT
from netbox.wsgi import application as netbox_application
from whitenoise import WhiteNoise

application = WhiteNoise(netbox_application, root=STATIC_ROOT, prefix="static/")
'''

ENSURE_ADMIN = """
import os
from users.models import Token, User
name = os.environ["NETOSS_ADMIN_USER"]
user, created = User.objects.get_or_create(username=name)
user.is_superuser = True
user.is_active = True
if created:  # a password changed later in NetBox is the admin's business: never reset it
    user.set_password(os.environ["NETOSS_ADMIN_PASSWORD"])
user.save()
key = os.environ["NETOSS_TOKEN_KEY"]
if not Token.objects.filter(key=key).exists():
    Token(user=user, key=key, token=os.environ["NETOSS_TOKEN_SECRET"],
          description="netoss stack token (make up)").save()
print("admin ok")
"""

# NetBox's machine users: no password, no superuser; each gets only the object permissions of
# its role (NETOSS_MACHINE_USERS, JSON: name, actions and whether its token may write) and
# its v2 token. The permissions are set again on every run (a NetBox upgrade adds models).
ENSURE_MACHINE_USERS = """
import json, os
from core.models import ObjectType
from users.constants import OBJECTPERMISSION_OBJECT_TYPES
from users.models import ObjectPermission, Token, User
types = ObjectType.objects.filter(OBJECTPERMISSION_OBJECT_TYPES).exclude(app_label="users")
for spec in json.loads(os.environ["NETOSS_MACHINE_USERS"]):
    user, _ = User.objects.get_or_create(username=spec["user"])
    user.is_superuser = user.is_staff = False
    user.is_active = True
    user.set_unusable_password()
    user.save()
    wanted = set()
    for grant in spec["grants"]:
        name = f"{spec['user']}: {grant['name']}"
        wanted.add(name)
        perm, _ = ObjectPermission.objects.get_or_create(name=name, defaults={"actions": grant["actions"]})
        perm.actions, perm.enabled, perm.constraints = grant["actions"], True, None
        perm.description = "netoss machine user (make up); rewritten by every `netoss up`"
        perm.save()
        chosen = types
        if grant.get("only"):
            chosen = ObjectType.objects.none()
            for label in grant["only"]:
                app, model = label.split(".")
                chosen = chosen | ObjectType.objects.filter(app_label=app, model=model)
        if grant.get("exclude_apps"):
            chosen = chosen.exclude(app_label__in=grant["exclude_apps"])
        perm.object_types.set(chosen)
        perm.users.set([user])
    ObjectPermission.objects.filter(users=user).exclude(name__in=wanted).delete()
    token = Token.objects.filter(key=spec["key"]).first()
    if token is None:
        token = Token(user=user, key=spec["key"], token=spec["secret"], description=f"netoss {spec['user']}")
    token.user, token.write_enabled = user, spec["write"]
    token.save()
print("machine users ok")
"""

# The custom fields netoss itself relies on, whatever the intent says (the intent's own custom
# fields are the intent's business): created, or set back, on every run.
# - netoss_ifindex on dcim.interface: each device's SNMP ifIndex table. The fault processor names
#   the interface of a standard linkDown/linkUp trap (ifIndex only) from it; `netoss lab up`
#   fills it for the lab's routers, discovery or an engineer for other devices.
# - netoss_probe on dcim.device: host:port of a blackbox_exporter that probes from the device
#   (service assurance: each service's latency and loss are measured from its PE); `netoss lab
#   up` fills it for the lab's routers, an engineer for a real PE's probe host.
ENSURE_CUSTOM_FIELDS = """
import json, os
from core.models import ObjectType
from django.apps import apps
from extras.models import CustomField
for spec in json.loads(os.environ["NETOSS_CUSTOM_FIELDS"]):
    name = spec["name"]
    field, created = CustomField.objects.get_or_create(name=name, defaults={"type": spec["type"]})
    if field.type != spec["type"]:
        raise SystemExit(f"NetBox custom field {name} is of type {field.type}, netoss needs {spec['type']}")
    field.label, field.description = spec["label"], spec["description"]
    field.validation_minimum, field.validation_maximum = spec.get("minimum"), spec.get("maximum")
    field.validation_regex = spec.get("regex", "")
    field.is_cloneable = False
    field.full_clean()
    field.save()
    field.object_types.add(ObjectType.objects.get_for_model(apps.get_model(spec["model"])))
print("custom fields ok")
"""


def custom_fields() -> list[dict]:
    """The custom fields ENSURE_CUSTOM_FIELDS makes (names from the domains that read them)."""
    from netoss.domain.assurance.targets import PROBE_FIELD  # start-up time: only where NetBox is set up
    from netoss.domain.faults.topology import IFINDEX_FIELD

    return [
        {
            "name": IFINDEX_FIELD,
            "type": "integer",
            "model": "dcim.interface",
            "label": "SNMP ifIndex",
            "description": "The interface's SNMP ifIndex on its device: names the interface of a linkDown trap "
            "(netoss)",
            "minimum": 1,
            "maximum": 2147483647,
        },
        {
            "name": PROBE_FIELD,
            "type": "text",
            "model": "dcim.device",
            "label": "Probe",
            "description": "host:port of a blackbox_exporter probing from this device: service SLAs (netoss)",
            "regex": r"^[A-Za-z0-9.-]{1,253}:[0-9]{1,5}$",
        },
    ]


# What each machine user may do (see MACHINE_USERS in stack.config).
VIEW_ALL = {"name": "view", "actions": ["view"]}
JOURNAL = {"name": "journal", "actions": ["add"], "only": ["extras.journalentry"]}
BRANCH = "netbox_branching.branch"
MACHINE_GRANTS = {
    "reader": {"write": False, "grants": [VIEW_ALL]},
    "web": {"write": True, "grants": [VIEW_ALL, JOURNAL]},
    "faults": {"write": True, "grants": [VIEW_ALL, JOURNAL]},
    "writer": {
        "write": True,
        "grants": [
            VIEW_ALL,
            {"name": "write", "actions": ["add", "change", "delete"], "exclude_apps": ["core"]},
            # NetBox Branching's own actions on a branch (GitOps: plan, apply, roll back).
            {"name": "branches", "actions": ["sync", "merge", "migrate", "revert", "archive"], "only": [BRANCH]},
        ],
    },
}


def env(stack: Stack) -> dict[str, str]:
    """Environment every NetBox process needs (HOME: its account's, not the caller's /root)."""
    return {
        "NETBOX_ROOT": str(stack.netbox_root),
        "PYTHONPATH": str(stack.netbox_root),
        "HOME": str(stack.netbox_root / "home"),
        # In the programs' definitions: `up` restarts them when the stack starts or stops listening
        # for other hosts (their Redis is then reached another way).
        **({"NETOSS_LISTEN": stack.listen} if stack.listen else {}),
    }


def netbox_cmd(
    stack: Stack, *args: str, what: str | None = None, extra_env: dict | None = None, timeout: float = 1800
) -> str:
    return run(
        [stack.netbox_venv / "bin" / "netbox", *args],
        env={**env(stack), **(extra_env or {})},
        cwd=stack.netbox_root,
        what=what or f"netbox {args[0]}",
        timeout=timeout,
    )


def configure(stack: Stack, owner: str = "root") -> None:
    """Write conf/configuration.py (mode 0600, owned by ``owner``, NetBox's account) and the WSGI wrapper."""
    s = stack.load_secrets()
    text = CONFIGURATION.format(
        state=stack.state_dir,
        db=DB_NAME,
        db_user=DB_USER,
        db_password=s["netbox_db_password"],
        pg_port=stack.port("postgres"),
        redis_port=stack.port("redis"),
        redis_password=s["redis_password"],
        secret_key=s["netbox_secret_key"],
        pepper=s["netbox_pepper"],
        listen_host=f", {stack.listen!r}" if stack.listen else "",
        # With a listen address Redis speaks TLS on TCP, and this host's programs use its socket.
        tasks_url=f', "URL": {stack.redis_url(0)!r}' if stack.listen else "",
        caching_url=f', "URL": {stack.redis_url(1)!r}' if stack.listen else "",
    )
    root = stack.netbox_root
    for sub in ("conf", "media", "scripts", "reports", "static", "home"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    write_private(root / "conf" / "configuration.py", text)
    (root / "conf" / "__init__.py").touch()
    (root / "netoss_wsgi.py").write_text(WSGI)
    # NetBox's account reads its configuration and writes uploads; static files stay root's.
    for sub in ("conf", "media", "scripts", "reports", "home"):
        accounts.give(root / sub, owner, recursive=True)


def migrated_dump(stack: Stack) -> Path:
    return stack.cache_dir / f"netbox-{NETBOX_SCHEMA}-migrated.dump"


def ensure_database(stack: Stack, log) -> None:
    """Create NetBox's database: restore the cached migrated dump, or migrate and cache it."""
    s = stack.load_secrets()
    postgres.ensure_role(stack, DB_USER, s["netbox_db_password"])
    marker = stack.netbox_root / f".migrated-{NETBOX_SCHEMA}"
    if postgres.database_exists(stack, DB_NAME):
        if marker.exists():
            return
        log("migrating NetBox's existing database (NetBox or its plugins changed)")
        netbox_cmd(stack, "migrate", "--no-input", what="netbox migrate")
        marker.touch()
        return
    postgres.create_database(stack, DB_NAME, DB_USER)
    dump = migrated_dump(stack)
    # Two stacks starting at once (the test suite's, side by side) migrate once: the second
    # waits for the first's dump instead of restoring a half-written one or migrating too.
    stack.cache_dir.mkdir(parents=True, exist_ok=True)
    with open(dump.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        migrated = not dump.exists()
        if migrated:
            log(
                f"migrating an empty NetBox {NETBOX_VERSION} database: 5-6 minutes on 2 cores, once per "
                f"NetBox and plugin version (then cached in {dump})"
            )
            t0 = time.monotonic()
            netbox_cmd(stack, "migrate", "--no-input", what="netbox migrate")
            log(f"migrated in {time.monotonic() - t0:.0f} s; caching the empty migrated database")
            postgres.dump(stack, DB_NAME, dump)
    if not migrated:
        log(f"restoring the migrated NetBox {NETBOX_SCHEMA} database from {dump}")
        postgres.restore(stack, DB_NAME, DB_USER, dump)
        netbox_cmd(stack, "migrate", "--no-input", what="netbox migrate (check)")
    marker.touch()


def ensure_static(stack: Stack, log) -> None:
    """NetBox's static files (served by WhiteNoise): collected once per version, then copied from the cache."""
    marker = stack.netbox_root / f".static-{NETBOX_VERSION}"
    if marker.exists():
        return
    static = stack.netbox_root / "static"
    cached = stack.cache_dir / f"netbox-{NETBOX_VERSION}-static"
    if cached.is_dir():
        shutil.rmtree(static, ignore_errors=True)
        shutil.copytree(cached, static)
    else:
        log("collecting NetBox's static files (once per NetBox version, then cached)")
        netbox_cmd(stack, "collectstatic", "--no-input", "--clear", what="netbox collectstatic")
        tmp = cached.with_name(cached.name + f".tmp{os.getpid()}")
        shutil.copytree(static, tmp)
        try:
            os.replace(tmp, cached)
        except OSError:  # another stack cached it meanwhile
            shutil.rmtree(tmp, ignore_errors=True)
    marker.touch()


def ensure_admin(stack: Stack) -> None:
    """The admin user (superuser, password set only when created) and the stack's API token;
    the machine users with their permissions and tokens; the custom fields netoss relies on
    (one `netbox shell`: each costs seconds)."""
    s = stack.load_secrets()
    netbox_cmd(
        stack,
        "shell",
        "-c",
        ENSURE_ADMIN + ENSURE_MACHINE_USERS + ENSURE_CUSTOM_FIELDS,
        what="netbox shell (admin, machine users, permissions and tokens, custom fields)",
        extra_env={
            "NETOSS_CUSTOM_FIELDS": json.dumps(custom_fields()),
            "NETOSS_MACHINE_USERS": json.dumps(machine_users(stack)),
            "NETOSS_ADMIN_USER": s["admin_user"],
            "NETOSS_ADMIN_PASSWORD": s["admin_password"],
            "NETOSS_TOKEN_KEY": s["netbox_token_key"],
            "NETOSS_TOKEN_SECRET": s["netbox_token_secret"],
        },
    )


def machine_users(stack: Stack) -> list[dict]:
    """NetBox's machine users as ENSURE_MACHINE_USERS takes them: portal.json's reads only; the
    portal's web tier and the fault processor read and add journal entries (ticket events); jobs
    write the network's objects (never users, tokens, permissions or NetBox's core)."""
    s = stack.load_secrets()
    return [
        {"user": user, "key": s[f"{prefix}_key"], "secret": s[f"{prefix}_secret"], **MACHINE_GRANTS[role]}
        for role, (user, prefix) in MACHINE_USERS.items()
    ]


def api_status(stack: Stack, token: str | None = None, timeout: float = 5) -> dict | None:
    """NetBox's /api/status/ with the stack token (``token``, else the admin's); None when
    NetBox does not answer it (or refuses the token)."""
    try:
        if token:
            return NetBox(stack.netbox_url, token, timeout=timeout).check()
        return NetBox.from_stack(stack, "admin", timeout=timeout).check()
    except NetboxError:
        return None


def tls_dir(stack: Stack) -> Path:
    """NetBox's copy of the stack's server certificate and key (its account's alone)."""
    return stack.netbox_root / "tls"


def _gunicorn(stack: Stack, bind: str, workers: str, tls: bool = False) -> list[str]:
    return [
        str(stack.netbox_venv / "bin" / "gunicorn"),
        "--bind",
        bind,
        *(gunicorn_tls_args(tls_dir(stack)) if tls else []),
        "--workers",
        workers,
        "--threads",
        "3",
        "--timeout",
        "300",
        "--max-requests",
        "5000",
        "--max-requests-jitter",
        "500",
        "--access-logfile",
        "-",
        "netoss_wsgi:application",
    ]


def programs(stack: Stack, user: str = "root") -> list[Program]:
    """NetBox's web server and background worker (as ``user``), started once the database is
    ready; and, when the stack listens for other hosts, its API there over TLS only
    (``netbox-web-tls``: gunicorn's TLS is for all of a server's addresses, so a server of its own)."""
    bin_ = stack.netbox_venv / "bin"
    remote = [
        Program(
            name="netbox-web-tls",
            user=user,
            autostart=False,
            priority=205,
            startsecs=3,
            directory=stack.netbox_root,
            environment=env(stack),
            command=_gunicorn(stack, f"{stack.listen}:{stack.port('netbox')}", "2", tls=True),
        )
    ]
    return [
        Program(
            name="netbox-web",
            port=stack.port("netbox"),
            user=user,
            autostart=False,
            priority=200,
            startsecs=3,
            directory=stack.netbox_root,
            environment=env(stack),
            command=_gunicorn(stack, f"127.0.0.1:{stack.port('netbox')}", "3"),
        ),
        *(remote if stack.listen else []),
        Program(
            name="netbox-worker",
            user=user,
            autostart=False,
            priority=210,
            directory=stack.netbox_root,
            environment=env(stack),
            command=[str(bin_ / "netbox"), "rqworker", "high", "default", "low"],
        ),
    ]


def check_installed(stack: Stack) -> None:
    if not (stack.netbox_venv / "bin" / "netbox").exists():
        raise StackError(
            f"NetBox is not installed in {stack.netbox_venv}: run `make up` (scripts/bootstrap.sh builds it)"
        )
