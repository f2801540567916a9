# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The git repository of configuration backups: one file per device, one commit per change.

``git log -p -- pe1.cfg`` is the device's configuration history. Commits are made one
device at a time, so each commit is one device's change, and the message says which job
took it and when.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess

from ansible_collections.netoss.core.plugins.module_utils.config_values import PATTERNS
from ansible_collections.netoss.core.plugins.module_utils.files import write_if_changed

AUTHOR = ("netoss", "netoss@localhost")


class BackupRepoError(RuntimeError):
    """git failed; the message has its output."""


def _git(repo, *args, check=True):
    env = dict(
        os.environ,
        GIT_AUTHOR_NAME=AUTHOR[0],
        GIT_AUTHOR_EMAIL=AUTHOR[1],
        GIT_COMMITTER_NAME=AUTHOR[0],
        GIT_COMMITTER_EMAIL=AUTHOR[1],
        GIT_TERMINAL_PROMPT="0",
    )
    proc = subprocess.run(["git", "-C", repo, *args], capture_output=True, text=True, env=env, check=False)
    if check and proc.returncode != 0:
        raise BackupRepoError("git %s failed in %s: %s" % (args[0], repo, (proc.stderr or proc.stdout).strip()))
    return proc


@contextlib.contextmanager
def locked(repo):
    """Hold the repository's lock so that two runs backing up at once commit one after the
    other instead of failing on git's index.lock. The lock is the repository directory itself
    (flock on it): nothing is written beside it, where the job's account may not write."""
    os.makedirs(repo, mode=0o750, exist_ok=True)
    fd = os.open(repo, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def as_owner(repo, work):
    """``work()``, run as the account that owns ``repo`` when root calls it (a playbook from a
    root terminal, on a stack whose jobs run as its service account): git refuses a repository
    another account owns ("dubious ownership"), and trusting it (safe.directory) would let that
    account's git configuration run commands as root. So root forks a child that becomes the
    owner and does the work; files stay the owner's. ``work`` returns JSON-able data."""
    import json
    import pwd

    if os.geteuid() != 0 or not os.path.isdir(repo) or os.stat(repo).st_uid == 0:
        return work()
    st = os.stat(repo)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the owner's account, then out
        code = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(st.st_gid)
            os.setuid(st.st_uid)
            try:
                os.environ["HOME"] = pwd.getpwuid(st.st_uid).pw_dir
            except KeyError:
                os.environ["HOME"] = repo
            os.environ["GIT_CONFIG_NOSYSTEM"] = "1"
            try:
                answer = {"ok": work()}
            except Exception as exc:  # told to the parent, which raises it
                answer = {"error": "%s" % exc}
            with os.fdopen(write_end, "w") as out:
                json.dump(answer, out)
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as answer_in:
        text = answer_in.read()
    _pid, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0 or not text:
        raise BackupRepoError("the backup as %s (the owner of %s) ended without an answer" % (st.st_uid, repo))
    answer = json.loads(text)
    if "error" in answer:
        raise BackupRepoError(answer["error"])
    return answer["ok"]


def ensure(repo):
    """Create the repository if needed (a plain, private directory with its own git)."""
    if not os.path.isdir(os.path.join(repo, ".git")):
        os.makedirs(repo, mode=0o750, exist_ok=True)
        _git(repo, "init", "-q", "-b", "main")
        write_if_changed(
            os.path.join(repo, "README.md"),
            "# Configuration backups\n\nOne file per device, written by netoss (role netoss.core.config_backup).\n"
            "One commit per changed device: `git log -p -- <device>.cfg` is its history.\n",
        )
        _git(repo, "add", "README.md")
        _git(repo, "commit", "-q", "-m", "Configuration backups: new repository")


def _numstat(repo, path):
    out = _git(repo, "diff", "--cached", "--numstat", "--", path).stdout.split()
    return (int(out[0]), int(out[1])) if len(out) >= 2 and out[0].isdigit() else (0, 0)


def store(repo, device, text, job, when, check_mode=False):
    """Store one device's configuration; commit it if it changed.

    Returns {changed, first, added, removed, commit, diff}.
    """
    pattern, allowed = PATTERNS["hostname"]
    if not isinstance(device, str) or not pattern.fullmatch(device):
        # A name from NetBox (which allows '/', '..', spaces) must not place a file elsewhere.
        raise BackupRepoError(
            "device %r: its name cannot be a file name in the backup repository (%s)"
            % (device[:70] if isinstance(device, str) else device, allowed)
        )
    path = "%s.cfg" % device
    full = os.path.join(repo, path)
    existed = os.path.exists(full)
    result = {"changed": False, "first": not existed, "added": 0, "removed": 0, "commit": None, "diff": ""}
    if check_mode:
        with open(full, encoding="utf-8") if existed else open(os.devnull, encoding="utf-8") as f:
            before = f.read()
        result["changed"] = before != text
        return result
    write_if_changed(full, text)
    _git(repo, "add", "--", path)
    if _git(repo, "diff", "--cached", "--quiet", "--", path, check=False).returncode == 0:
        return result
    result["added"], result["removed"] = _numstat(repo, path)
    result["diff"] = _git(repo, "diff", "--cached", "--", path).stdout
    what = "first backup" if not existed else "+%d -%d" % (result["added"], result["removed"])
    message = "%s: %s (job %s, %s)" % (device, what, job, when)
    _git(repo, "commit", "-q", "-m", message, "--", path)
    result["commit"] = _git(repo, "rev-parse", "--short", "HEAD").stdout.strip()
    result["changed"] = True
    return result
