#!/usr/bin/env python3
"""Put name==version pins into the right lock file: requirements/runtime.txt or requirements/dev.txt.

    .venv/bin/python scripts/pins.py PIN_FILE...     # e.g. an old requirements/app.txt, a pip freeze

Each pin of the files given goes to requirements/runtime.txt when pyproject.toml's runtime
dependencies need its distribution (transitively, as the app virtualenv's installed metadata
says), else to requirements/dev.txt; a pin already in either file is updated in place. Pins of
distributions nothing declared needs are listed and left out. Both files stay sorted, their
header comments kept. Then run tests/unit/test_dependencies.py. README.md: "Adding a dependency".
"""

from __future__ import annotations

import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
LOCKS = {"runtime": REPO / "requirements" / "runtime.txt", "dev": REPO / "requirements" / "dev.txt"}


def read_pins(path: Path) -> dict[str, str]:
    """Canonical name -> the pin line, for the name==version lines of a file."""
    found = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        m = re.fullmatch(r"([A-Za-z0-9._-]+)==(\S+)", line)
        if not m:
            raise SystemExit(f"{path}: {line!r} is not name==version")
        found[canonicalize_name(m.group(1))] = line
    return found


def closure(requirements: list[str]) -> set[str]:
    """The distributions these requirements need, transitively (installed metadata)."""
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        key = (canonicalize_name(req.name), frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = importlib.metadata.distribution(req.name)
        except importlib.metadata.PackageNotFoundError:
            raise SystemExit(f"{req.name} is not installed in this virtualenv: install it first") from None
        for text in dist.requires or []:
            sub = Requirement(text)
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in (req.extras or {""})):
                todo.append(sub)
    return {name for name, _extras in seen}


def write(path: Path, pins: dict[str, str]) -> None:
    header = [line for line in path.read_text().splitlines() if line.startswith("#")]
    path.write_text("\n".join([*header, *(pins[n] for n in sorted(pins))]) + "\n")


def main(files: list[str]) -> None:
    if not files:
        raise SystemExit(__doc__)
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    runtime_need = closure(project["dependencies"])
    dev_need = closure(project["optional-dependencies"]["dev"])
    locks = {group: read_pins(path) for group, path in LOCKS.items()}
    for f in files:
        for name, line in read_pins(Path(f)).items():
            group = "runtime" if name in runtime_need else "dev" if name in dev_need else None
            if group is None:
                print(f"left out: {line} (nothing declared in pyproject.toml needs it)")
                continue
            other = "dev" if group == "runtime" else "runtime"
            if locks[other].pop(name, None):
                print(f"moved to {group}: {line}")
            if locks[group].get(name) != line:
                print(f"{'updated' if name in locks[group] else 'added'} in {group}: {line}")
                locks[group][name] = line
    for group, path in LOCKS.items():
        write(path, locks[group])


if __name__ == "__main__":
    main(sys.argv[1:])
