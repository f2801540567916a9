"""netbox_client.connect() against small HTTP servers on loopback that answer like NetBox
(or not): the error messages must say what is wrong."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from ansible_collections.netoss.core.plugins.module_utils.netbox_client import (
    NetboxError,
    connect,
    settings_from_params,
)


def _serve(status: int, body: dict | str):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write((json.dumps(body) if isinstance(body, dict) else body).encode())

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def test_ok():
    server, url = _serve(200, {"netbox-version": "4.7.3"})
    try:
        _api, status = connect(url, "nbt_x.y")
        assert status["netbox-version"] == "4.7.3"
    finally:
        server.shutdown()


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (403, {"detail": "Invalid v2 token"}, "rejected the token (HTTP 403: Invalid v2 token)"),
        (500, "boom", "answered HTTP 500"),
        (200, {"hello": 1}, "does not look like NetBox"),
        (200, "<html>", "not NetBox's JSON"),
    ],
)
def test_errors_name_the_url_and_reason(status, body, expected):
    server, url = _serve(status, body)
    try:
        with pytest.raises(NetboxError) as err:
            connect(url, "nbt_x.y")
        assert expected in str(err.value) and url in str(err.value)
    finally:
        server.shutdown()


def test_unreachable():
    with pytest.raises(NetboxError, match=r"127\.0\.0\.1:9 is unreachable: Connection refused"):
        connect("http://127.0.0.1:9", "nbt_x.y", timeout=2)


def test_settings_fall_back_to_environment(monkeypatch):
    monkeypatch.setenv("NETBOX_API", "http://127.0.0.1:1/")
    monkeypatch.setenv("NETBOX_TOKEN", "nbt_a.b")
    assert settings_from_params({}) == ("http://127.0.0.1:1", "nbt_a.b", True)
    monkeypatch.delenv("NETBOX_TOKEN")
    with pytest.raises(NetboxError, match="no NetBox token"):
        settings_from_params({"netbox_url": "http://x"})
