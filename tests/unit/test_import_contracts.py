"""The import contracts of pyproject.toml ([tool.importlinter]) hold on the package, and an arrow
pointing up, a cycle or a domain module importing Flask breaks them: lint-imports then fails and
names the import. Each case runs lint-imports on a copy of the package in a temporary directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint(root: Path) -> subprocess.CompletedProcess:
    """lint-imports with the repository's contracts, on the package ``netoss`` found in ``root``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(root)
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(REPO / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def package(tmp_path) -> Path:
    """A copy of the package (its Python files) to break."""
    shutil.copytree(
        REPO / "netoss", tmp_path / "netoss", ignore=shutil.ignore_patterns("__pycache__", "static", "templates")
    )
    return tmp_path


def add_import(root: Path, module: str, statement: str) -> None:
    path = root / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = root / module.replace(".", "/") / "__init__.py"
    path.write_text(path.read_text() + f"\n{statement}\n")


def test_the_package_keeps_its_contracts(package):
    result = lint(package)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    "module, statement, contract, named",
    [
        # the domain reaching up into the web floor
        (
            "netoss.domain.jobs.runner",
            "from netoss.web import create_app  # noqa",
            "floors: data <- domain <- (web | daemons | embedded) <- cli BROKEN",
            "netoss.domain.jobs.runner -> netoss.web",
        ),
        # the data floor reaching up into the domain
        (
            "netoss.data.models",
            "import netoss.domain.jobs.queue  # noqa",
            "floors: data <- domain <- (web | daemons | embedded) <- cli BROKEN",
            "netoss.data.models -> netoss.domain.jobs.queue",
        ),
        # the domain importing Flask itself
        (
            "netoss.domain.faults.tickets",
            "from flask import current_app  # noqa",
            "the domain knows no web framework",
            "netoss.domain.faults.tickets -> flask",
        ),
        # the product knowing the embedded deployment
        (
            "netoss.web.jobs",
            "from netoss.embedded import lab  # noqa",
            "the product does not know the embedded default deployment (stack, lab) BROKEN",
            "netoss.web.jobs -> netoss.embedded.lab",
        ),
        # a cycle between two rooms of one floor (jobs already imports nothing of provisioning)
        (
            "netoss.domain.jobs.runner",
            "from netoss.domain.provisioning import orders  # noqa",
            "No cycles are allowed in netoss.domain.",
            ".jobs -> .provisioning",
        ),
        # the stack and the lab importing each other again
        (
            "netoss.embedded.stack",
            "from netoss.embedded import lab  # noqa",
            "No cycles are allowed in netoss.embedded.",
            ".stack -> .lab",
        ),
    ],
)
def test_a_forbidden_import_breaks_a_contract_and_is_named(package, module, statement, contract, named):
    add_import(package, module, statement)
    result = lint(package)
    assert result.returncode != 0
    assert contract in result.stdout, result.stdout
    assert named in result.stdout, result.stdout
