"""What a GitOps repository says about itself: ``netoss-gitops.yml`` at its root.

```yaml
intent: inventory/intent        # the intent (sot_sync's input), a directory or one file
policy: compliance              # the compliance policy (optional)
catalog: services/catalog.yml   # the service catalog (optional)
templates: null                 # configuration templates (frr/, eos/, ios/); null: the collection's
protected_branch: main          # only commits on it are applied
drift: refuse                   # a NetBox change made by hand: refuse to apply over it, or overwrite it
verify_timeout: 120             # seconds an applied device has to answer with its sessions up
```

Every key is optional; without the file, the defaults above hold, and the policy and catalog
are read only when their default path exists. Each path is relative to the repository's root
and must stay inside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml

from ansible_collections.netoss.core.plugins.module_utils.schema_files import Problem

SETTINGS_FILE = "netoss-gitops.yml"
DRIFT = ("refuse", "overwrite")
_PATHS = ("intent", "policy", "catalog", "templates")
DEFAULTS = {
    "intent": "inventory/intent",
    "policy": "compliance",
    "catalog": "services/catalog.yml",
    "templates": None,
    "protected_branch": "main",
    "drift": "refuse",
    "verify_timeout": 120,
}


@dataclass(frozen=True)
class Settings:
    intent: str
    policy: str | None
    catalog: str | None
    templates: str | None
    protected_branch: str
    drift: str
    verify_timeout: int = 120


def load(root: Path) -> tuple[Settings | None, list[Problem]]:
    """The settings of the repository exported at ``root``, or None and every problem of its
    settings file (each naming the key)."""
    path = root / SETTINGS_FILE
    given: dict = {}
    problems: list[Problem] = []
    if path.is_file():
        try:
            given = yaml.safe_load(path.read_text()) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            return None, [Problem(SETTINGS_FILE, "", f"not YAML: {str(exc).splitlines()[0]}")]
        if not isinstance(given, dict):
            return None, [Problem(SETTINGS_FILE, "", "expected a mapping of settings")]
    for key in sorted(set(given) - set(DEFAULTS)):
        problems.append(Problem(SETTINGS_FILE, str(key), f"unknown setting (known: {', '.join(DEFAULTS)})"))
    values = {**DEFAULTS, **{k: v for k, v in given.items() if k in DEFAULTS}}
    for key in _PATHS:
        value = values[key]
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip():
            problems.append(Problem(SETTINGS_FILE, key, "expected a path inside the repository, or null"))
            continue
        pure = PurePosixPath(value)
        if pure.is_absolute() or ".." in pure.parts:
            problems.append(Problem(SETTINGS_FILE, key, f"{value!r} is not a path inside the repository"))
            continue
        if key not in given and key in ("policy", "catalog") and not (root / value).exists():
            values[key] = None  # an optional default the repository does not have
        elif not (root / value).exists():
            file = SETTINGS_FILE if key in given else value
            problems.append(Problem(file, key, f"{value}: no such file or directory"))
    branch = values["protected_branch"]
    if not isinstance(branch, str) or not branch or branch.startswith("-") or " " in branch:
        problems.append(Problem(SETTINGS_FILE, "protected_branch", "expected a branch name"))
    timeout = values["verify_timeout"]
    if isinstance(timeout, bool) or not isinstance(timeout, int) or not 5 <= timeout <= 3600:
        problems.append(Problem(SETTINGS_FILE, "verify_timeout", "expected a number of seconds from 5 to 3600"))
    if values["drift"] not in DRIFT:
        problems.append(Problem(SETTINGS_FILE, "drift", f"expected one of {', '.join(DRIFT)}"))
    if problems:
        return None, problems
    return Settings(**values), []
