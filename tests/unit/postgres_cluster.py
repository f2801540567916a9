"""A PostgreSQL cluster of the test session's own, for the unit tests of code that talks to the
portal's database: the stack's engine (Debian's PostgreSQL), not SQLite, without the stack.

The cluster lives in a fresh directory under /tmp, listens on a Unix socket in that directory
only (no TCP port, so it never meets another test run's), trusts local connections and is
stopped and removed at the end of the session. PostgreSQL refuses to run as root: as root the
cluster is the ``postgres`` account's (``runuser``), as anyone else the caller's own.

:meth:`Cluster.database` gives each test a database of its own, copied from a template that
the portal's migrations were applied to once.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg

from netoss.embedded.stack.postgres import SUPERUSER, bindir

TEMPLATE = "portal_template"


class Cluster:
    def __init__(self):
        self.dir: Path | None = None
        self._names = itertools.count(1)
        self._template_ready = False

    # -- life --------------------------------------------------------------------------------

    def _as_owner(self, argv: list) -> list[str]:
        argv = [str(a) for a in argv]
        return ["runuser", "-u", SUPERUSER, "--", *argv] if os.geteuid() == 0 else argv

    def _run(self, argv: list, what: str) -> None:
        proc = subprocess.run(self._as_owner(argv), capture_output=True, text=True, timeout=120, check=False)
        if proc.returncode != 0:
            log = (self.dir / "server.log") if self.dir else None
            tail = log.read_text()[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"{what} failed (rc {proc.returncode}): {proc.stderr.strip()[-2000:]}\n{tail}")

    def start(self) -> Cluster:
        self.dir = Path(tempfile.mkdtemp(prefix="netoss-test-pg-"))
        if os.geteuid() == 0:
            pw = pwd.getpwnam(SUPERUSER)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        data = self.dir / "data"
        self._run([bindir() / "initdb", "-D", data, "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
                   "--locale=C.UTF-8", "--no-sync"], "initdb")  # fmt: skip
        options = (
            f"-c listen_addresses='' -c unix_socket_directories={self.dir} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=50"
        )
        self._run([bindir() / "pg_ctl", "-D", data, "-l", self.dir / "server.log", "-w", "-t", "60",
                   "-o", options, "start"], "pg_ctl start")  # fmt: skip
        return self

    def stop(self) -> None:
        if self.dir is None:
            return
        try:
            if (self.dir / "data" / "postmaster.pid").exists():
                self._run([bindir() / "pg_ctl", "-D", self.dir / "data", "-m", "immediate", "-w", "stop"],
                          "pg_ctl stop")  # fmt: skip
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    # -- databases ---------------------------------------------------------------------------

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of ``database`` (psycopg 3, the portal's driver)."""
        return f"postgresql+psycopg://{SUPERUSER}@/{database}?host={self.dir}"

    def _sql(self, statement: str) -> None:
        with psycopg.connect(host=str(self.dir), user=SUPERUSER, dbname="postgres", autocommit=True) as conn:
            conn.execute(statement)

    def _template(self) -> None:
        """The portal's schema, from its migrations, in the template database (once)."""
        if self._template_ready:
            return
        from flask_migrate import upgrade

        from netoss.data.db import db
        from netoss.web import create_app

        self._sql(f"CREATE DATABASE {TEMPLATE}")
        app = create_app({"SQLALCHEMY_DATABASE_URI": self.url(TEMPLATE), "SECRET_KEY": "t", "TESTING": True})
        with app.app_context():
            upgrade()
            db.session.remove()
            db.engine.dispose()  # a template must have no connections to be copied
        self._template_ready = True

    def database(self) -> str:
        """A new database with the portal's schema; its SQLAlchemy URL."""
        self._template()
        name = f"test_{next(self._names)}"
        self._sql(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
        return self.url(name)
