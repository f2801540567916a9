"""The unprivileged accounts the stack's services run as.

PostgreSQL runs as `postgres`, Redis as `redis` (both made by their Debian packages) and
NetBox as `netoss`, a system account without a shell or home made on first use. A
service falls back to root only where its account cannot reach the checkout or the state
directory (for example a checkout under /root, mode 0700); `netoss up` says so.
"""

from __future__ import annotations

import os
import pwd
import subprocess
from pathlib import Path

from .proc import run

SERVICE_USER = "netoss"


def exists(user: str) -> bool:
    try:
        pwd.getpwnam(user)
    except KeyError:
        return False
    return True


def ensure_service_user() -> None:
    """Create the `netoss` system account (no login shell, no home) if it is missing."""
    if not exists(SERVICE_USER):
        run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                SERVICE_USER,
            ],
            what=f"useradd {SERVICE_USER}",
        )


def can_reach(user: str, *paths: Path) -> bool:
    """True if ``user`` can traverse every directory on the way to each path and read it."""
    for path in paths:
        test = "-x" if path.is_dir() else "-r"
        if (
            subprocess.run(
                ["runuser", "-u", user, "--", "test", test, str(path)], capture_output=True, check=False
            ).returncode
            != 0
        ):
            return False
    return True


def can_run(user: str, python: Path) -> bool:
    """True if ``user`` can start this Python (a virtualenv's interpreter links to its base
    install, which may sit in a private directory such as /root/.pyenv)."""
    return (
        subprocess.run(
            ["runuser", "-u", user, "--", str(python), "-c", "pass"], capture_output=True, check=False, cwd="/"
        ).returncode
        == 0
    )


def give(path: Path, user: str, recursive: bool = False) -> None:
    """Make ``user`` the owner of ``path`` (and, with ``recursive``, of everything in it)."""
    entry = pwd.getpwnam(user)
    targets = [path]
    if recursive:
        for root, dirs, files in os.walk(path):
            targets += [Path(root) / n for n in dirs + files]
    for target in targets:
        os.lchown(target, entry.pw_uid, entry.pw_gid)


def owner_of_process(pid: int | None) -> str | None:
    """The account a process runs as (its real uid), or None when it is gone."""
    if not pid:
        return None
    try:
        uid = os.stat(f"/proc/{pid}").st_uid
        return pwd.getpwuid(uid).pw_name
    except (OSError, KeyError):
        return None
