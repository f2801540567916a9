"""The intent repository as GitOps sees it: a commit, its author, whether it is on the
protected branch and newer than another, and its files.

It is plain git (the ``git`` program, never a shell): a working clone or a bare repository,
the one a pipeline checks out or the one the portal mirrors. A ref given by a user is checked
before git sees it (no option can be smuggled in as a ref), and the files of a commit are
exported with ``git archive`` into a directory of the caller's, so a plan never depends on, or
changes, the state of a working tree.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import subprocess
import tarfile
from dataclasses import asdict, dataclass
from pathlib import Path

# A ref as a user may give one: a commit id, or a branch/tag name (git check-ref-format's rules,
# roughly: no leading dash, no "..", no control characters or spaces).
_REF = re.compile(r"(?!-)(?!.*\.\.)[A-Za-z0-9._/@^~+-]{1,200}")
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "GIT_TERMINAL_PROMPT": "0",  # never wait for a password
        "LC_ALL": "C",
        "GIT_CONFIG_NOSYSTEM": "1",
        # No ext:: or fd:: transport, whatever a URL or a repository's configuration says.
        "GIT_ALLOW_PROTOCOL": "file:git:http:https:ssh",
    }


class GitError(Exception):
    """A git operation failed; the message says which and why."""


@dataclass(frozen=True)
class Commit:
    sha: str
    author: str
    email: str
    date: dt.datetime
    subject: str

    @property
    def short(self) -> str:
        return self.sha[:12]

    def to_dict(self) -> dict:
        return {**asdict(self), "date": self.date.isoformat()}


class Repository:
    """The git repository at ``path`` (a work tree or a bare repository)."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        if not self.path.is_dir():
            raise GitError(f"{self.path}: no such directory (the intent repository)")
        try:
            self.git("rev-parse", "--git-dir")
        except GitError:
            raise GitError(f"{self.path} is not a git repository (the intent repository)") from None

    def git(self, *args: str, binary: bool = False, timeout: float = 120):
        env = _env()
        try:
            proc = subprocess.run(
                ["git", "-C", str(self.path), *args],
                capture_output=True,
                env=env,
                timeout=timeout,
                check=False,
            )
        except FileNotFoundError:
            raise GitError("git is not installed") from None
        except subprocess.TimeoutExpired:
            raise GitError(f"git {args[0]} in {self.path} did not end within {timeout:.0f} s") from None
        if proc.returncode != 0:
            err = proc.stderr.decode(errors="replace").strip().splitlines()
            reason = err[-1] if err else f"exit {proc.returncode}"
            raise GitError(f"git {args[0]} in {self.path} failed: {reason}")
        return proc.stdout if binary else proc.stdout.decode(errors="replace")

    @classmethod
    def clone_mirror(cls, url: str, target: Path, timeout: float = 300) -> Repository:
        """A bare mirror of the repository at ``url`` (a path, ssh:// or https://) in ``target``."""
        if not isinstance(url, str) or not url or url.startswith("-"):
            raise GitError(f"{url!r} is not a repository URL")
        env = _env()
        try:
            proc = subprocess.run(
                ["git", "clone", "--mirror", "--quiet", "--", url, str(target)],
                capture_output=True,
                env=env,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise GitError(f"git clone of {url} did not end within {timeout:.0f} s") from None
        if proc.returncode != 0:
            err = proc.stderr.decode(errors="replace").strip().splitlines()
            raise GitError(f"git clone of {url} failed: {err[-1] if err else proc.returncode}")
        return cls(target)

    def commit(self, ref: str) -> Commit:
        """The commit ``ref`` names (a commit id, a branch or a tag); GitError when none."""
        if not isinstance(ref, str) or not _REF.fullmatch(ref):
            raise GitError(f"{ref!r} is not a git ref (a commit id, branch or tag name)")
        try:
            sha = self.git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}").strip()
        except GitError:
            raise GitError(f"{ref!r} names no commit in {self.path}") from None
        out = self.git("show", "-s", "--format=%H%x00%an%x00%ae%x00%aI%x00%s", sha)
        sha, author, email, date, subject = out.rstrip("\n").split("\x00", 4)
        return Commit(sha, author, email, dt.datetime.fromisoformat(date), subject)

    def parent(self, sha: str) -> Commit | None:
        """The first parent of commit ``sha`` (None for a root commit)."""
        if not _SHA.fullmatch(sha):
            raise GitError(f"{sha!r} is not a full commit id")
        try:
            return self.commit(f"{sha}^1")
        except GitError:
            return None

    def is_ancestor(self, older: str, newer: str) -> bool:
        """Whether commit ``older`` is ``newer`` or one of its ancestors."""
        for sha in (older, newer):
            if not _SHA.fullmatch(sha):
                raise GitError(f"{sha!r} is not a full commit id")
        proc = subprocess.run(
            ["git", "-C", str(self.path), "merge-base", "--is-ancestor", older, newer],
            capture_output=True,
            check=False,
            timeout=60,
        )
        if proc.returncode not in (0, 1):
            raise GitError(f"git merge-base in {self.path} failed: {proc.stderr.decode(errors='replace').strip()}")
        return proc.returncode == 0

    def on_branch(self, sha: str, branch: str) -> bool:
        """Whether the commit ``sha`` is on ``branch`` (the branch's head or one of its ancestors)."""
        head = self.commit(f"refs/heads/{branch}" if "/" not in branch else branch)
        return self.is_ancestor(sha, head.sha)

    def changed_files(self, base: str, sha: str) -> list[str]:
        """The paths that differ between commits ``base`` and ``sha``."""
        return [p for p in self.git("diff", "--name-only", "--no-renames", base, sha, "--").splitlines() if p]

    def export(self, sha: str, target: Path) -> Path:
        """The files of commit ``sha`` written into the directory ``target`` (created; it must
        be empty): what a plan reads. Links and special files are refused by tarfile's data
        filter, so nothing can be written outside ``target``."""
        if not _SHA.fullmatch(sha):
            raise GitError(f"{sha!r} is not a full commit id")
        target.mkdir(parents=True, exist_ok=True)
        if any(target.iterdir()):
            raise GitError(f"{target} is not empty: a commit is exported into an empty directory")
        data = self.git("archive", "--format=tar", sha, binary=True, timeout=300)
        try:
            with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                tar.extractall(target, filter="data")
        except tarfile.TarError as exc:
            raise GitError(f"commit {sha[:12]} holds a file that cannot be exported safely: {exc}") from None
        return target
