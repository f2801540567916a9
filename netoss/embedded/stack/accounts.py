"""The unprivileged accounts the stack's services run as.

PostgreSQL runs as `postgres`, Redis as `redis` (both made by their Debian packages),
NetBox and the portal's daemons as `netoss`, a system account without a shell or home made on
first use. Root keeps only supervisord (which switches to each account), the lab's namespace
operations and account creation. When an account cannot reach what its service needs (the
checkout, the state directory, the virtualenv's Python), `netoss up` stops and says which
directory is in the way; running that service as root instead is an explicit opt-in:
NETOSS_ALLOW_ROOT=1.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import pwd
import struct
import subprocess
import tempfile
from pathlib import Path

from netoss.embedded.stack.proc import run

SERVICE_USER = "netoss"
ALLOW_ROOT_ENV = "NETOSS_ALLOW_ROOT"


def allow_root() -> bool:
    """True when the operator opted in to run services as root where their account cannot."""
    return os.environ.get(ALLOW_ROOT_ENV, "").strip().lower() in ("1", "true", "yes")


def exists(user: str) -> bool:
    try:
        pwd.getpwnam(user)
    except KeyError:
        return False
    return True


@contextlib.contextmanager
def passwd_lock():
    """Serialise this machine's account changes (useradd, chpasswd, userdel) between stacks that
    start at once: shadow's tools refuse, rather than wait, when another holds /etc/passwd."""
    path = Path("/run/lock") if Path("/run/lock").is_dir() else Path(tempfile.gettempdir())
    with open(path / "netoss-accounts.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def ensure_service_user() -> None:
    """Create the `netoss` system account (no login shell, no home) if it is missing."""
    with passwd_lock():
        if exists(SERVICE_USER):
            return
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


def _as(user: str, *argv: str) -> bool:
    return (
        subprocess.run(["runuser", "-u", user, "--", *argv], capture_output=True, check=False, cwd="/").returncode == 0
    )


def _describe(path: Path) -> str:
    try:
        st = path.stat()
    except OSError as exc:
        return f"{path} ({exc.strerror})"
    owner = pwd.getpwuid(st.st_uid).pw_name if _has_uid(st.st_uid) else str(st.st_uid)
    return f"{path} (owner {owner}, mode {st.st_mode & 0o7777:04o})"


def _has_uid(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True


def blocker(user: str, path: Path) -> str | None:
    """Why ``user`` cannot reach ``path``: the first directory on the way it cannot enter (or
    the path itself it cannot read), described with owner and mode; None when it can."""
    path = Path(os.path.abspath(path))
    for parent in [*reversed(path.parents), path]:
        if parent == path and not path.is_dir():
            if not _as(user, "test", "-r", str(path)):
                return f"{_describe(path)} is not readable by {user}"
            return None
        if not _as(user, "test", "-x", str(parent)):
            return f"{_describe(parent)} is not searchable by {user}"
    return None


def can_run(user: str, python: Path) -> bool:
    """True if ``user`` can start this Python (a virtualenv's interpreter links to its base
    install, which may sit in a private directory such as /root/.pyenv)."""
    return (
        subprocess.run(
            ["runuser", "-u", user, "--", str(python), "-c", "pass"], capture_output=True, check=False, cwd="/"
        ).returncode
        == 0
    )


def run_blocker(user: str, python: Path) -> str | None:
    """Why ``user`` cannot start this Python (a virtualenv's interpreter is a link to its base
    install, whose directory may be private, like pyenv's under /root); None when it can."""
    if can_run(user, python):
        return None
    target = python.resolve()
    return blocker(user, target) or (
        f"{python} (-> {target}) does not start as {user} (libpython or a module it needs is out of reach)"
    )


def uid(user: str) -> int:
    return pwd.getpwnam(user).pw_uid


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


def share(path: Path, user: str) -> None:
    """Let ``user``'s group read a private file (root keeps ownership): mode 0640, group ``user``.
    A no-op when the account does not exist (a stack whose services all run as root)."""
    if not exists(user) or os.geteuid() != 0:
        return
    os.chown(path, 0, pwd.getpwnam(user).pw_gid)
    os.chmod(path, 0o640)


# POSIX ACLs as the kernel takes them in the system.posix_acl_* extended attributes.
_ACL_VERSION, _UNDEFINED = 2, 0xFFFFFFFF
_USER_OBJ, _USER, _GROUP_OBJ, _MASK, _OTHER = 0x01, 0x02, 0x04, 0x10, 0x20


def _acl(mode: int, uid: int, user_perm: int) -> bytes:
    entries = [
        (_USER_OBJ, (mode >> 6) & 7, _UNDEFINED),
        (_USER, user_perm, uid),
        (_GROUP_OBJ, (mode >> 3) & 7, _UNDEFINED),
        (_MASK, user_perm | (mode >> 3) & 7, _UNDEFINED),
        (_OTHER, mode & 7, _UNDEFINED),
    ]
    return struct.pack("<I", _ACL_VERSION) + b"".join(struct.pack("<HHI", *e) for e in entries)


def has_default_acl(path: Path) -> bool:
    try:
        return bool(os.getxattr(path, "system.posix_acl_default"))
    except OSError:
        return False


def grant_tree(path: Path, user: str) -> bool:
    """Let ``user`` write in the tree at ``path`` whoever creates things there later: an ACL
    entry for it on everything, and a default ACL on every directory (inherited by what root's
    playbooks or tools create there, whatever their umask). False when the file system has no ACLs."""
    uid_ = uid(user)
    try:
        for root, _dirs, files in os.walk(path):
            d = Path(root)
            mode = d.lstat().st_mode & 0o777
            acl = _acl(mode | 0o700, uid_, 7)
            os.setxattr(d, "system.posix_acl_access", acl)
            os.setxattr(d, "system.posix_acl_default", acl)
            for name in files:
                f = d / name
                st = f.lstat()
                if not os.path.islink(f):
                    os.setxattr(f, "system.posix_acl_access", _acl(st.st_mode & 0o777, uid_, 6 | (st.st_mode >> 6) & 1))
    except OSError as exc:
        if exc.errno in (errno.EOPNOTSUPP, errno.ENOTSUP):
            return False
        raise
    return True
