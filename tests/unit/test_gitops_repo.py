"""GitOps: a commit of an intent repository (real git, in a temporary directory), its files
and everything wrong with them at once. The repository is a `netoss init` network (not the
demo), with the collection's policy and catalog beside it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from netoss.cli.starter import starter_files
from netoss.domain.gitops.repo import GitError, Repository
from netoss.domain.gitops.validate import validate

REPO = Path(__file__).resolve().parents[2]
CATALOG = yaml.safe_load((REPO / "services" / "catalog.yml").read_text())
VALUES = dict(operator="Nordic Fibre AS", asn=65010, site="osl1", management="10.40.0.0/24", collector="10.40.0.1:5514")


def git(path: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "Erin Engineer",
        "GIT_AUTHOR_EMAIL": "erin@example.net",
        "GIT_COMMITTER_NAME": "Erin Engineer",
        "GIT_COMMITTER_EMAIL": "erin@example.net",
        "HOME": str(path),
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True, check=True, env=env).stdout


@pytest.fixture
def repo(tmp_path) -> Path:
    """An intent repository: a starter network under network/, the collection's policy and
    catalog, and a netoss-gitops.yml saying where each is."""
    root = tmp_path / "intent-repo"
    (root / "network").mkdir(parents=True)
    for name, text in starter_files(REPO / "inventory" / "intent" / "00-netoss.yml", CATALOG, **VALUES).items():
        (root / "network" / name).write_text(text)
    shutil.copytree(REPO / "compliance", root / "policy")
    shutil.copy(REPO / "services" / "catalog.yml", root / "catalog.yml")
    (root / "netoss-gitops.yml").write_text(
        "intent: network\npolicy: policy\ncatalog: catalog.yml\nprotected_branch: production\n"
    )
    git(root, "init", "-q", "-b", "production")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "the network as it is")
    return root


def test_a_commit_is_named_by_id_branch_or_tag_with_its_author(repo):
    r = Repository(repo)
    head = r.commit("production")
    assert (head.author, head.email, head.subject) == ("Erin Engineer", "erin@example.net", "the network as it is")
    assert r.commit(head.sha) == head == r.commit(head.sha[:10])
    git(repo, "tag", "v1")
    assert r.commit("v1") == head


@pytest.mark.parametrize("ref", ["--upload-pack=touch /tmp/x", "a..b", "", "main; rm -rf /", "x\ny", 42])
def test_a_ref_that_is_no_ref_is_refused_before_git_sees_it(repo, ref):
    with pytest.raises(GitError, match="is not a git ref"):
        Repository(repo).commit(ref)


def test_a_ref_that_names_nothing_is_refused_by_name(repo, tmp_path):
    with pytest.raises(GitError, match="'nope' names no commit"):
        Repository(repo).commit("nope")
    with pytest.raises(GitError, match="not a git repository"):
        Repository(tmp_path)


def test_ancestry_says_which_commit_is_newer_and_what_is_on_the_protected_branch(repo):
    r = Repository(repo)
    first = r.commit("production").sha
    git(repo, "checkout", "-q", "-b", "proposal")
    (repo / "network" / "99-more.yml").write_text("tenants:\n  - name: Fjord Telecom\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a new customer")
    second = r.commit("proposal").sha
    assert r.is_ancestor(first, second) and not r.is_ancestor(second, first)
    assert r.on_branch(first, "production") and not r.on_branch(second, "production")
    assert r.changed_files(first, second) == ["network/99-more.yml"]
    git(repo, "checkout", "-q", "production")
    git(repo, "merge", "-q", "--ff-only", "proposal")
    assert r.on_branch(second, "production")


def test_a_commit_is_exported_whole_and_nothing_escapes_the_directory(repo, tmp_path):
    r = Repository(repo)
    sha = r.commit("production").sha
    out = r.export(sha, tmp_path / "export")
    assert sorted(p.name for p in (out / "network").iterdir()) == sorted(p.name for p in (repo / "network").iterdir())
    with pytest.raises(GitError, match="not empty"):
        r.export(sha, out)
    (repo / "escape").symlink_to("/etc/passwd")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a link out of the repository")
    with pytest.raises(GitError, match="cannot be exported safely"):
        r.export(r.commit("production").sha, tmp_path / "other")


def test_a_valid_commit_has_no_problem_and_its_settings(repo):
    settings, problems = validate(repo)
    assert problems == []
    assert (settings.intent, settings.policy, settings.catalog, settings.protected_branch, settings.drift) == (
        "network",
        "policy",
        "catalog.yml",
        "production",
        "refuse",
    )


def test_every_problem_of_a_commit_shows_at_once_named_by_file_and_key(repo, tmp_path):
    (repo / "network" / "30-devices.yml").write_text(
        (repo / "network" / "30-devices.yml").read_text() + "  - name: broken\n"
    )
    (repo / "network" / "01-organization.yml").write_text("tenants: [{name: 1}]\n")
    templates = repo / "templates" / "frr"
    templates.mkdir(parents=True)
    (templates / "00-base.j2").write_text("hostname {{ name }\n")
    (repo / "netoss-gitops.yml").write_text(
        "intent: network\npolicy: policy\ncatalog: catalog.yml\ntemplates: templates\ndrift: sometimes\n"
    )
    out = Repository(repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "broken in three places")
    export = out.export(out.commit("HEAD").sha, tmp_path / "export")
    settings, problems = validate(export)
    assert settings is None and [(p.file, p.where) for p in problems] == [("netoss-gitops.yml", "drift")]
    (export / "netoss-gitops.yml").write_text("intent: network\npolicy: policy\ntemplates: templates\n")
    _settings, problems = validate(export)
    files = {p.file for p in problems}
    assert "network/30-devices.yml" in files and "network/01-organization.yml" in files
    assert ("templates/frr/00-base.j2", "line 1") in {(p.file, p.where) for p in problems}
    assert not any(str(export) in str(p) for p in problems)  # paths relative to the repository


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ("intent: ../elsewhere\n", "intent", "not a path inside the repository"),
        ("intent: /etc\n", "intent", "not a path inside the repository"),
        ("intent: nowhere\n", "intent", "no such file or directory"),
        ("colour: blue\n", "colour", "unknown setting"),
        ("protected_branch: '-x'\n", "protected_branch", "expected a branch name"),
        ("- a list\n", "", "expected a mapping"),
    ],
)
def test_a_settings_file_that_is_wrong_says_which_key(repo, text, key, message):
    (repo / "netoss-gitops.yml").write_text(text)
    settings, problems = validate(repo)
    assert settings is None and any(p.where == key and message in p.message for p in problems), problems


def test_a_plan_compares_a_proposal_with_the_protected_head_and_a_merged_commit_with_its_parent(repo):
    from netoss.domain.gitops.plan import default_base

    r = Repository(repo)
    first = r.commit("production")
    assert default_base(r, first, "production") is None  # the first commit: nothing before it
    git(repo, "checkout", "-q", "-b", "proposal")
    (repo / "network" / "99-more.yml").write_text("tenants:\n  - name: Fjord Telecom\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a new customer")
    proposal = r.commit("proposal")
    assert default_base(r, proposal, "production") == first  # the protected head
    git(repo, "checkout", "-q", "production")
    git(repo, "merge", "-q", "--ff-only", "proposal")
    assert default_base(r, proposal, "production") == first  # merged: its parent
    assert r.parent(first.sha) is None and default_base(r, proposal, "nosuchbranch") is None
