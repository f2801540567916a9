"""Another host's set-up: what its job workers and fault processors need to share this stack.

A stack that listens for other hosts (`netoss up --listen ADDRESS`) serves PostgreSQL, Redis,
NetBox's API and the portal on that address over TLS only. `netoss remote-config DIR` writes
a state directory for another host, to be copied there (its paths are written for where it
will be: ``--path``):

- ``portal/portal.json`` (0600): the portal's database and Redis at the stack's address, each
  over TLS verified against the stack's CA (PostgreSQL ``sslmode=verify-full``, Redis
  ``rediss://`` with hostname checks), NetBox's API and the portal over HTTPS, the host's own
  job directory;
- ``tls/ca.crt``: the stack's CA certificate (public);
- ``remote.json`` (0600): the credentials each daemon gets in its environment, as the stack
  gives its own (the worker: NetBox's writer token and the automation account's portal token;
  the fault processor: NetBox's faults token), and the stack's recorded intent.

On that host, with the same version of netoss checked out: ``NETOSS_STATE=DIR netoss worker``
and ``NETOSS_STATE=DIR netoss faults process`` (docs/scaling.md).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from urllib.parse import quote

from netoss.embedded.stack import portal_app
from netoss.embedded.stack.config import Stack, StackError, write_private

RECORD = "remote.json"


def write(stack: Stack, target: Path, path_there: Path | None = None) -> Path:
    """Write another host's state directory into ``target`` (paths in it as ``path_there``,
    default ``target``); StackError when the stack does not listen for other hosts."""
    if not stack.listen:
        raise StackError(
            "the stack listens on loopback only: start it with `netoss up --listen ADDRESS` "
            "(an address of this host the other hosts reach) first"
        )
    ca = stack.tls_dir / "ca.crt"
    if not ca.exists():
        raise StackError(f"{ca} is missing: run `netoss up` to make the stack's TLS material")
    there = Path(path_there) if path_there else target.resolve()
    s = stack.load_secrets()
    address = stack.listen
    host = f"[{address}]" if ":" in address else address
    ca_there = there / "tls" / "ca.crt"
    config = {
        "SQLALCHEMY_DATABASE_URI": (
            f"postgresql+psycopg://{portal_app.DB_USER}:{quote(s['portal_db_password'], safe='')}@{host}:"
            f"{stack.port('postgres')}/{portal_app.DB_NAME}?sslmode=verify-full&sslrootcert={quote(str(ca_there))}"
        ),
        "SECRET_KEY": s["portal_secret_key"],
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": (
            f"rediss://:{quote(s['redis_password'], safe='')}@{host}:{stack.port('redis')}/2"
            f"?ssl_ca_certs={quote(str(ca_there))}&ssl_cert_reqs=required&ssl_check_hostname=true"
        ),
        "NETBOX_URL": f"https://{host}:{stack.port('netbox')}",
        "NETBOX_TOKEN": stack.netbox_reader_token(),
        "JOBS_DIR": str(there / "jobs"),
        "PORTAL_URL": f"https://{host}:{stack.port('portal')}",
        "FAULTS_SNMP_COMMUNITIES": [s["snmp_community"]],
    }
    config.update(portal_app.local_settings(stack))
    target.mkdir(parents=True, exist_ok=True)
    (target / "tls").mkdir(exist_ok=True)
    shutil.copyfile(ca, target / "tls" / "ca.crt")
    write_private(target / "portal" / "portal.json", json.dumps(config, indent=2) + "\n")
    record = {
        "stack": address,
        "intent": str(stack.recorded_intent),
        "ca": str(ca_there),
        "environment": {
            "portal-worker": {
                "NETBOX_API": config["NETBOX_URL"],
                "NETBOX_TOKEN": stack.netbox_writer_token(),
                "PORTAL_URL": config["PORTAL_URL"],
                "PORTAL_TOKEN": s["portal_automation_token"],
            },
            "fault-processor": {"NETOSS_PORTAL_NETBOX_TOKEN": stack.netbox_faults_token()},
        },
    }
    write_private(target / RECORD, json.dumps(record, indent=2) + "\n")
    return target


def load(state_dir: Path) -> dict | None:
    """The record of another host's state directory, or None (a stack's own directory)."""
    path = state_dir / RECORD
    return json.loads(path.read_text()) if path.exists() else None


def daemon_environment(state_dir: Path, record: dict, daemon: str) -> dict[str, str]:
    """What a daemon on another host runs with: its credentials, the portal's configuration
    there, and the stack's CA for every HTTPS client (requests, Ansible, OpenSSL)."""
    env = dict(record["environment"].get(daemon, {}))
    env.update(
        NETOSS_PORTAL_CONFIG=str(state_dir / "portal" / "portal.json"),
        REQUESTS_CA_BUNDLE=record["ca"],
        SSL_CERT_FILE=record["ca"],
    )
    if daemon == "portal-worker":
        own = state_dir / "ansible-tmp" / str(os.getuid())
        home = state_dir / "home"
        for d in (own, home):
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
        env.update(
            NETOSS_INTENT=record["intent"],
            HOME=str(home),
            ANSIBLE_LOCAL_TEMP=str(own / "local"),
            ANSIBLE_REMOTE_TEMP=str(own / "remote"),
            ANSIBLE_PERSISTENT_CONTROL_PATH_DIR=str(own / "pc"),
        )
    return env
