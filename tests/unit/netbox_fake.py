"""A small HTTP server on loopback that answers like NetBox's REST API, as far as netoss's
NetBox client uses it: /api/status/, devices (paged, filtered by name), journal entries (read
and bulk-create) and a change log this token may not read. It records every request, so a
test sees what was asked and with which Authorization header."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

DEVICES = [{"id": 3, "name": "edge-a", "url": "/api/dcim/devices/3/"}, {"id": 5, "name": "edge-b"}]


class FakeNetBox:
    def __init__(self, token: str = "nbt_key.secret", status_code: int = 200):  # noqa: S107 - a test token
        self.token, self.status_code = token, status_code
        self.requests: list[dict] = []  # {method, path, query, auth, body}
        self.created: list[dict] = []  # journal entries POSTed
        self.journal = []  # journal entries GET answers
        self.refuse_reads: int | None = None  # an HTTP status (401) for every read but /api/status/
        self.release = threading.Event()  # a request to /api/dcim/slow/ waits for it (at most 10 s)
        self.deletes: list[tuple[int, dict]] = []  # answers to DELETEs, in order; then 204
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, body) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _record(self, body=None) -> tuple[str, dict]:
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                fake.requests.append(
                    {"method": self.command, "path": parts.path, "query": query,
                     "auth": self.headers.get("Authorization"), "body": body}
                )  # fmt: skip
                return parts.path, query

            def do_GET(self):
                path, query = self._record()
                if path == "/api/status/":
                    if fake.status_code != 200:
                        return self._answer(fake.status_code, {"detail": "Invalid v2 token"})
                    return self._answer(200, {"netbox-version": "4.7.3"})
                if fake.refuse_reads:
                    return self._answer(fake.refuse_reads, {"detail": "Invalid token"})
                if path == "/api/dcim/devices/":
                    found = [d for d in DEVICES if "name" not in query or d["name"] in query["name"]]
                    limit = int(query.get("limit", ["50"])[0]) or 50
                    offset = int(query.get("offset", ["0"])[0])
                    page = found[offset : offset + limit]
                    more = offset + limit < len(found)
                    base = f"http://{self.headers['Host']}{path}"
                    nxt = f"{base}?limit={limit}&offset={offset + limit}" if more else None
                    return self._answer(200, {"count": len(found), "next": nxt, "previous": None, "results": page})
                if path == "/api/extras/journal-entries/":
                    return self._answer(200, {"count": len(fake.journal), "next": None, "results": fake.journal})
                if path == "/api/core/object-changes/":
                    return self._answer(403, {"detail": "You do not have permission to perform this action."})
                if path == "/api/dcim/slow/":
                    fake.release.wait(10)
                    return self._answer(200, {"count": 0, "next": None, "results": []})
                return self._answer(404, {"detail": "Not found."})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                path, _query = self._record(body)
                if path == "/api/extras/journal-entries/":
                    items = body if isinstance(body, list) else [body]
                    out = []
                    for item in items:
                        fake.created.append(item)
                        out.append({"id": len(fake.created), **item})
                    return self._answer(201, out if isinstance(body, list) else out[0])
                return self._answer(404, {"detail": "Not found."})

            def do_DELETE(self):
                self._record()
                if fake.deletes:
                    return self._answer(*fake.deletes.pop(0))
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeNetBox:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def asked(self, path: str, method: str = "GET") -> list[dict]:
        return [r for r in self.requests if r["path"] == path and r["method"] == method]
