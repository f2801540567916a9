"""The intent repositories the portal applies: one YAML file, named by the portal's setting
``GITOPS_REPOSITORIES_FILE`` (the stack's: ``<state>/portal/gitops-repositories.yml``).

```yaml
repositories:
  - name: acme/network-intent          # as the git host names it (GitLab: group/project)
    url: /srv/git/network-intent.git   # where the worker fetches it (a path, ssh:// or https://)
    provider: github                   # github, gitlab, gitea or forgejo: how its webhooks are signed
    secret_file: /etc/netoss/network-intent.secret   # the webhook secret (mode 0600, never in this file)
    branches: [main]                   # pushes to these branches are applied (default: main)
    merge_requests: true               # merge requests targeting them are planned (default: true)
    # Optional: the plan of a merge request posted back as a comment on it ({merge_request}: its number).
    comment_url: https://api.github.com/repos/acme/network-intent/issues/{merge_request}/comments
    comment_token_file: /etc/netoss/network-intent.comment-token   # mode 0600
    comment_auth: bearer               # bearer (GitHub), token (Gitea, Forgejo), private-token (GitLab)
```

The file is read again when it changes (no restart); a file with problems is refused whole,
each problem named by repository and key. The worker keeps a mirror of each repository under
``GITOPS_DIR`` (default ``<JOBS_DIR>/../gitops``) and fetches it before it plans or applies: a
commit is always read from git, never from a webhook's body.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import requests
import yaml

from netoss.domain.gitops.repo import GitError, Repository
from netoss.domain.gitops.webhooks import PROVIDERS

# How the comment's token is sent: (header, value prefix).
AUTH = {
    "bearer": ("Authorization", "Bearer "),
    "token": ("Authorization", "token "),
    "private-token": ("PRIVATE-TOKEN", ""),
}
NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$"
_BRANCH = r"^(?!-)(?!.*\.\.)[A-Za-z0-9._/-]{1,200}$"
SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["repositories"],
    "properties": {
        "repositories": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "url", "provider"],
                "properties": {
                    "name": {"type": "string", "pattern": NAME, "maxLength": 200},
                    "url": {"type": "string", "minLength": 1, "maxLength": 1000, "pattern": r"^(?!-)\S+$"},
                    "provider": {"enum": list(PROVIDERS)},
                    "secret_file": {"type": "string", "minLength": 1},
                    "branches": {"type": "array", "items": {"type": "string", "pattern": _BRANCH}, "minItems": 1},
                    "merge_requests": {"type": "boolean"},
                    "comment_url": {
                        "type": "string",
                        "pattern": r"^https?://[^\s{}]+(\{merge_request\}[^\s{}]*)*$",
                        "maxLength": 1000,
                    },
                    "comment_token_file": {"type": "string", "minLength": 1},
                    "comment_auth": {"enum": list(AUTH)},
                },
                "dependentRequired": {"comment_url": ["comment_token_file"]},
            },
        }
    },
}


class RepositoriesError(ValueError):
    """The repositories file has problems (each named), or a repository cannot be fetched."""


@dataclass(frozen=True)
class RepositoryConfig:
    name: str
    url: str
    provider: str
    secret_file: str | None = None
    branches: tuple[str, ...] = ("main",)
    merge_requests: bool = True
    comment_url: str | None = None
    comment_token_file: str | None = None
    comment_auth: str = "bearer"
    problems: tuple[str, ...] = field(default=(), compare=False)

    def secret(self) -> str | None:
        """The webhook secret, read from its file (None: no file set; RepositoriesError when it
        cannot be read or others may read it)."""
        return _private(self.name, "secret_file", self.secret_file)

    def comment(self, merge_request: str, markdown: str, timeout: float = 30) -> str:
        """Post ``markdown`` as a comment on merge request ``merge_request``; what the host
        answered (RepositoriesError when it refused or could not be reached)."""
        if not self.comment_url:
            raise RepositoriesError(f"{self.name}: no comment_url")
        if not str(merge_request).isdigit():
            raise RepositoriesError(f"{self.name}: {merge_request!r} is not a merge request number")
        token = _private(self.name, "comment_token_file", self.comment_token_file)
        header, prefix = AUTH[self.comment_auth]
        url = self.comment_url.replace("{merge_request}", str(merge_request))
        try:
            resp = requests.post(url, json={"body": markdown}, headers={header: f"{prefix}{token}"}, timeout=timeout)
        except requests.RequestException as exc:
            raise RepositoriesError(f"{self.name}: posting the plan to {url} failed: {exc}") from None
        if resp.status_code >= 300:
            raise RepositoriesError(f"{self.name}: {url} answered {resp.status_code}: {resp.text.strip()[:200]}")
        return f"{url}: {resp.status_code}"

    def mirror_dir(self, root: Path) -> Path:
        slug = re.sub(r"[^A-Za-z0-9._-]+", "-", self.name).strip("-")[:80]
        return root / f"{slug}-{hashlib.sha256(self.name.encode()).hexdigest()[:8]}.git"


def _private(name: str, key: str, value: str | None) -> str | None:
    """The text of the file ``value`` (a secret): None when no file is set; RepositoriesError
    when it cannot be read or others may read it."""
    if not value:
        return None
    path = Path(value)
    try:
        st = path.stat()
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise RepositoriesError(f"{name}: {key} {path} may be read by others (chmod 600 it)")
        return path.read_text().strip() or None
    except OSError as exc:
        raise RepositoriesError(f"{name}: {key} {path}: {exc.strerror}") from None


_CACHE: dict[str, tuple[tuple, dict[str, RepositoryConfig]]] = {}


def load(path: str | Path | None) -> dict[str, RepositoryConfig]:
    """The repositories by name; {} when no file is set or it does not exist."""
    if not path:
        return {}
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        return {}
    key = (st.st_mtime_ns, st.st_size)
    cached = _CACHE.get(str(path))
    if cached and cached[0] == key:
        return dict(cached[1])
    try:
        doc = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise RepositoriesError(f"{path}: not YAML: {str(exc).splitlines()[0]}") from None
    errors = sorted(jsonschema.Draft202012Validator(SCHEMA).iter_errors(doc), key=lambda e: list(e.path))
    problems = [f"{path.name}: {'.'.join(map(str, e.path)) or '(top)'}: {e.message}" for e in errors]
    found: dict[str, RepositoryConfig] = {}
    if not problems:
        for i, entry in enumerate(doc["repositories"]):
            if entry["name"] in found:
                problems.append(f"{path.name}: repositories.{i}.name: {entry['name']!r} is given twice")
                continue
            entry = dict(entry)
            entry["branches"] = tuple(entry.get("branches") or ("main",))
            found[entry["name"]] = RepositoryConfig(**entry)
    if problems:
        raise RepositoriesError("the GitOps repositories file has problems:\n  " + "\n  ".join(problems))
    _CACHE[str(path)] = (key, found)
    return dict(found)


def mirror(config: RepositoryConfig, root: Path, timeout: float = 300) -> Repository:
    """The worker's mirror of the repository, fetched now (cloned the first time)."""
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = config.mirror_dir(root)
    if not target.is_dir():
        tmp = target.with_suffix(".new")
        shutil.rmtree(tmp, ignore_errors=True)  # a clone that died half-way
        try:
            Repository.clone_mirror(config.url, tmp, timeout=timeout)
        except GitError as exc:
            raise RepositoriesError(f"{config.name}: {exc}") from None
        tmp.rename(target)
    repo = Repository(target)
    try:
        repo.git("fetch", "--prune", "--quiet", "origin", timeout=timeout)
    except GitError as exc:
        raise RepositoriesError(f"{config.name}: fetching {config.url} failed: {exc}") from None
    return repo
