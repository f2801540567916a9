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
```

The file is read again when it changes (no restart); a file with problems is refused whole,
each problem named by repository and key. The worker keeps a mirror of each repository under
``GITOPS_DIR`` (default ``<JOBS_DIR>/../gitops``) and fetches it before it plans or applies: a
commit is always read from git, never from a webhook's body.
"""

from __future__ import annotations

import hashlib
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import yaml

from netoss.domain.gitops.repo import GitError, Repository
from netoss.domain.gitops.webhooks import PROVIDERS

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
                },
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
    problems: tuple[str, ...] = field(default=(), compare=False)

    def secret(self) -> str | None:
        """The webhook secret, read from its file (None: no file set; RepositoriesError when it
        cannot be read or others may read it)."""
        if not self.secret_file:
            return None
        path = Path(self.secret_file)
        try:
            st = path.stat()
            if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise RepositoriesError(f"{self.name}: secret_file {path} may be read by others (chmod 600 it)")
            return path.read_text().strip() or None
        except OSError as exc:
            raise RepositoriesError(f"{self.name}: secret_file {path}: {exc.strerror}") from None

    def mirror_dir(self, root: Path) -> Path:
        slug = re.sub(r"[^A-Za-z0-9._-]+", "-", self.name).strip("-")[:80]
        return root / f"{slug}-{hashlib.sha256(self.name.encode()).hexdigest()[:8]}.git"


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
        Repository.clone_mirror(config.url, tmp, timeout=timeout)
        tmp.rename(target)
    repo = Repository(target)
    try:
        repo.git("fetch", "--prune", "--quiet", "origin", timeout=timeout)
    except GitError as exc:
        raise RepositoriesError(f"{config.name}: fetching {config.url} failed: {exc}") from None
    return repo
