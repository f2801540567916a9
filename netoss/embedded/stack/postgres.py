"""The stack's own PostgreSQL cluster: created with initdb, run by supervisord as `postgres`.

PostgreSQL refuses to run as root, so its data directory belongs to the postgres account.
When that account cannot reach the state directory (for example a checkout under /root,
mode 0700), the cluster lives under /var/lib/netoss/<id> instead, with a symlink in the
state directory so everything is still found from there.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import re
import subprocess
from pathlib import Path

from netoss.embedded.stack import accounts
from netoss.embedded.stack.config import Stack, StackError, write_private
from netoss.embedded.stack.proc import run

SUPERUSER = "postgres"


def bindir() -> Path:
    """The newest installed PostgreSQL server's bin directory (Debian layout)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not found:
        raise StackError(
            "PostgreSQL server not found under /usr/lib/postgresql: run `make up` "
            "(it installs the Debian package `postgresql`)"
        )
    return found[-1].parent


def data_dir(stack: Stack) -> Path:
    """The cluster's data directory (created on first use, owned by postgres)."""
    link = stack.state_dir / "postgres"
    if link.is_symlink() or (link / "data").exists():
        return link.resolve() / "data"
    stack.state_dir.mkdir(parents=True, exist_ok=True)
    if accounts.can_reach(SUPERUSER, stack.state_dir):
        link.mkdir(exist_ok=True)
    else:
        tag = hashlib.sha256(str(stack.state_dir).encode()).hexdigest()[:12]
        outside = Path("/var/lib/netoss") / tag / "postgres"
        outside.mkdir(parents=True, exist_ok=True)
        os.chmod(outside.parent, 0o755)  # noqa: S103 (postgres must traverse it; data dir stays 0700)
        link.symlink_to(outside)
    target = link.resolve()
    pw = pwd.getpwnam(SUPERUSER)
    os.chown(target, pw.pw_uid, pw.pw_gid)
    return target / "data"


def initdb(stack: Stack, password: str) -> Path:
    """Create the cluster if it does not exist yet; return its data directory."""
    data = data_dir(stack)
    if (data / "PG_VERSION").exists():
        return data
    pwfile = data.parent / "pwfile"
    write_private(pwfile, password + "\n")
    pw = pwd.getpwnam(SUPERUSER)
    os.chown(pwfile, pw.pw_uid, pw.pw_gid)
    try:
        run(
            [
                bindir() / "initdb",
                "-D",
                data,
                "-U",
                SUPERUSER,
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
            user=SUPERUSER,
            what="initdb",
            cwd=Path("/"),
        )
    finally:
        pwfile.unlink(missing_ok=True)
    return data


# What other hosts may reach (`netoss up --listen`): the portal's database as its own role, over
# TLS, with a password (SCRAM). NetBox's database and the superuser stay on loopback.
HBA_BEGIN = "# netoss: other hosts (netoss up --listen), written by `netoss up`"
HBA_END = "# netoss: end"


def tls_dir(stack: Stack) -> Path:
    """The server's certificate and key as PostgreSQL reads them (the postgres account's)."""
    return data_dir(stack).parent / "tls"


def configure_listen(stack: Stack, material, portal_db: str, portal_role: str) -> None:
    """pg_hba.conf for the stack's listen address (``material``: netoss.embedded.stack.tls;
    None when the stack listens on loopback only): the portal's database, for its role, over
    TLS with SCRAM from anywhere that reaches the address; nothing else. PostgreSQL rejects
    a connection no line allows, so without TLS nothing from another host gets in."""
    from netoss.embedded.stack import tls  # the certificate library only where it is used

    hba = data_dir(stack) / "pg_hba.conf"
    text = hba.read_text()
    if HBA_BEGIN in text:
        head, _, rest = text.partition(HBA_BEGIN)
        text = head.rstrip("\n") + "\n" + rest.partition(HBA_END)[2].lstrip("\n")
    if material is not None:
        pw = pwd.getpwnam(SUPERUSER)
        tls.copy_key(material, tls_dir(stack), pw.pw_uid, pw.pw_gid)
        text = (
            text.rstrip("\n")
            + "\n"
            + "\n".join(
                [
                    HBA_BEGIN,
                    f"hostssl {portal_db} {portal_role} 0.0.0.0/0 scram-sha-256",
                    f"hostssl {portal_db} {portal_role} ::/0 scram-sha-256",
                    HBA_END,
                    "",
                ]
            )
        )
    if text != hba.read_text():
        st = hba.stat()
        tmp = hba.with_name("pg_hba.conf.tmp")
        tmp.write_text(text)
        os.chown(tmp, st.st_uid, st.st_gid)
        os.chmod(tmp, 0o600)
        tmp.replace(hba)


def command(stack: Stack) -> list[str]:
    """The foreground server command that supervisord runs (with the stack's listen address
    and TLS when it has one)."""
    data = data_dir(stack)
    listen = ["-c", "listen_addresses=127.0.0.1"]
    if stack.listen:
        certs = tls_dir(stack)
        listen = [
            "-c",
            f"listen_addresses=127.0.0.1,{stack.listen}",
            "-c",
            "ssl=on",
            "-c",
            f"ssl_cert_file={certs / 'server.crt'}",
            "-c",
            f"ssl_key_file={certs / 'server.key'}",
            "-c",
            "ssl_min_protocol_version=TLSv1.2",
        ]
    return [
        str(bindir() / "postgres"),
        "-D",
        str(data),
        *listen,
        "-c",
        f"port={stack.port('postgres')}",
        "-c",
        "unix_socket_directories=",
        "-c",
        "max_connections=200",
        "-c",
        "shared_buffers=128MB",
        "-c",
        "logging_collector=off",
        "-c",
        f"cluster_name=netoss-{stack.port('postgres')}",
    ]


def _env(stack: Stack) -> dict[str, str]:
    return {
        "PGHOST": "127.0.0.1",
        "PGPORT": str(stack.port("postgres")),
        "PGUSER": SUPERUSER,
        "PGPASSWORD": stack.load_secrets()["postgres_password"],
        "PGDATABASE": "postgres",
    }


def psql(stack: Stack, sql: str, database: str = "postgres") -> str:
    """Run SQL as the cluster's superuser; return the unaligned, tuples-only output."""
    return run(
        [bindir() / "psql", "-v", "ON_ERROR_STOP=1", "-XAtq", "-d", database, "-c", sql],
        env=_env(stack),
        what="psql",
    )


def ready(stack: Stack) -> bool:
    return (
        subprocess.run(
            [str(bindir() / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(stack.port("postgres"))],
            check=False,
        ).returncode
        == 0
    )


def _ident(name: str) -> str:
    """Check a role or database name we build SQL with (they are ours, never user input)."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise StackError(f"invalid PostgreSQL identifier {name!r}")
    return name


def database_exists(stack: Stack, name: str) -> bool:
    sql = f"SELECT 1 FROM pg_database WHERE datname = '{_ident(name)}'"  # noqa: S608
    return psql(stack, sql).strip() == "1"


def ensure_role(stack: Stack, role: str, password: str) -> None:
    """Create the login role, or reset its password to the stack's secret."""
    exists = psql(stack, f"SELECT 1 FROM pg_roles WHERE rolname = '{_ident(role)}'").strip() == "1"  # noqa: S608
    verb = "ALTER" if exists else "CREATE"
    quoted = password.replace("'", "''")
    # SQL on stdin, so the password never appears in a process list.
    run(
        [bindir() / "psql", "-v", "ON_ERROR_STOP=1", "-XAtq"],
        env=_env(stack),
        input=f"{verb} ROLE {role} LOGIN PASSWORD '{quoted}';\n",
        what=f"{verb} ROLE {role}",
    )


def create_database(stack: Stack, name: str, owner: str) -> None:
    psql(stack, f'CREATE DATABASE "{_ident(name)}" OWNER "{_ident(owner)}"')


def dump(stack: Stack, database: str, target: Path) -> None:
    """pg_dump -Fc into target, atomically."""
    tmp = target.with_name(target.name + ".tmp")
    target.parent.mkdir(parents=True, exist_ok=True)
    run(
        [bindir() / "pg_dump", "-Fc", "--no-owner", "-d", database, "-f", tmp],
        env=_env(stack),
        what=f"pg_dump {database}",
    )
    os.replace(tmp, target)


def restore(stack: Stack, database: str, owner: str, source: Path) -> None:
    """Restore a pg_dump -Fc archive into an existing empty database, owned by ``owner``."""
    run(
        [bindir() / "pg_restore", "--no-owner", f"--role={owner}", "--exit-on-error", "-d", database, source],
        env=_env(stack),
        what=f"pg_restore {source.name}",
    )
