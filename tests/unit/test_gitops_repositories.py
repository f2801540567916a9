"""The GitOps repositories file (schema-checked, every problem named), the worker's mirror of a
repository (real git), and a plan posted back on a merge request (to an HTTP server of the
test's own, on loopback)."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path
from typing import ClassVar

import pytest
import yaml
from test_gitops_repo import git, repo  # noqa: F401 - repo is a fixture

from netoss.domain.gitops import repositories
from netoss.domain.gitops.repo import Repository


def _write(path: Path, doc) -> Path:
    path.write_text(yaml.safe_dump(doc))
    return path


def test_the_file_is_checked_whole_and_each_problem_named(tmp_path):
    assert repositories.load(None) == {} and repositories.load(tmp_path / "absent.yml") == {}
    bad = _write(tmp_path / "repos.yml", {"repositories": [
        {"name": "acme/intent", "url": "/srv/git/intent.git", "provider": "bitbucket"},
        {"name": "acme/other", "url": "--upload-pack=touch /tmp/x", "provider": "github"},
        {"name": "acme/mr", "url": "/srv/git/mr.git", "provider": "gitlab", "comment_url": "ftp://x/{merge_request}"},
        {"name": "acme/tok", "url": "/srv/git/tok.git", "provider": "gitea",
         "comment_url": "https://git.example.net/api/v1/repos/acme/tok/issues/{merge_request}/comments"},
    ]})  # fmt: skip
    with pytest.raises(repositories.RepositoriesError) as err:
        repositories.load(bad)
    message = str(err.value)
    assert "repositories.0.provider: 'bitbucket' is not one of" in message
    assert "repositories.1.url" in message and "repositories.2.comment_url" in message
    assert "repositories.3: 'comment_token_file' is a dependency of 'comment_url'" in message
    twice = _write(tmp_path / "twice.yml", {"repositories": [
        {"name": "acme/intent", "url": "/a", "provider": "github"},
        {"name": "acme/intent", "url": "/b", "provider": "github"},
    ]})  # fmt: skip
    with pytest.raises(repositories.RepositoriesError, match=r"repositories.1.name: 'acme/intent' is given twice"):
        repositories.load(twice)
    good = _write(tmp_path / "good.yml", {"repositories": [{"name": "acme/intent", "url": "/a", "provider": "github"}]})
    (found,) = repositories.load(good).values()
    assert found.branches == ("main",) and found.merge_requests and found.secret() is None


def test_the_mirror_is_cloned_then_fetched(repo, tmp_path):  # noqa: F811
    config = repositories.RepositoryConfig(name="nordic/network-intent", url=str(repo), provider="github")
    first = repositories.mirror(config, tmp_path / "mirrors")
    head = Repository(repo).commit("production")
    assert first.commit("production") == head and first.path.name.startswith("nordic-network-intent-")
    git(repo, "commit", "-q", "--allow-empty", "-m", "a newer merge")
    again = repositories.mirror(config, tmp_path / "mirrors")
    assert again.path == first.path and again.commit("production").subject == "a newer merge"
    nowhere = repositories.RepositoryConfig(name="x/y", url=str(tmp_path / "no-such.git"), provider="github")
    with pytest.raises(repositories.RepositoriesError, match=r"x/y: git clone of .*no-such\.git failed"):
        repositories.mirror(nowhere, tmp_path / "mirrors")


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.seen.append((self.path, self.headers, json.loads(body)))
        status = 201 if "/issues/7/" in self.path else 404
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b'{"id": 1}')

    def log_message(self, *args):
        pass


@pytest.mark.parametrize(("auth", "header", "value"), [
    ("bearer", "Authorization", "Bearer tok-123456"), ("private-token", "PRIVATE-TOKEN", "tok-123456"),
])  # fmt: skip
def test_a_plan_is_posted_back_on_its_merge_request(tmp_path, auth, header, value):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    token = tmp_path / "comment-token"
    token.write_text("tok-123456\n")
    token.chmod(0o600)
    url = f"http://127.0.0.1:{server.server_port}/repos/acme/intent/issues/{{merge_request}}/comments"
    config = repositories.RepositoryConfig(name="acme/intent", url="/a", provider="github", comment_url=url,
                                           comment_token_file=str(token), comment_auth=auth)  # fmt: skip
    _Recorder.seen.clear()
    try:
        assert config.comment("7", "### ✅ netoss plan").endswith(": 201")
        path, headers, body = _Recorder.seen[-1]
        assert path == "/repos/acme/intent/issues/7/comments" and body == {"body": "### ✅ netoss plan"}
        assert headers.get(header) == value
        with pytest.raises(repositories.RepositoriesError, match="answered 404"):
            config.comment("8", "x")
        with pytest.raises(repositories.RepositoriesError, match="is not a merge request number"):
            config.comment("7/../../admin", "x")
        token.chmod(0o644)
        with pytest.raises(repositories.RepositoriesError, match="may be read by others"):
            config.comment("7", "x")
    finally:
        server.shutdown()
