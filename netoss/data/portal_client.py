"""A client of the portal's job API, for `netoss job run` (and scripts)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import requests


class ClientError(RuntimeError):
    """The portal refused or could not be reached; the message is the portal's."""


class PortalClient:
    def __init__(self, url: str, token: str, timeout: float = 30):
        self.url = url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.timeout = timeout

    def _call(self, method: str, path: str, **kwargs):
        try:
            resp = self.session.request(method, f"{self.url}{path}", timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise ClientError(f"the portal at {self.url} is unreachable: {exc}") from None
        try:
            body = resp.json()
        except ValueError:
            body = {"error": resp.text[:300]}
        if resp.status_code >= 400:
            problems = body.get("problems") if isinstance(body, dict) else None
            message = body.get("error", resp.reason) if isinstance(body, dict) else resp.reason
            if problems:
                message += "\n  " + "\n  ".join(problems)
            raise ClientError(f"HTTP {resp.status_code}: {message}")
        return body

    def template(self, name: str) -> dict:
        for t in self._call("GET", "/api/v1/job-templates"):
            if t["name"] == name:
                return t
        raise ClientError(f"no job template {name!r}")

    def launch(self, name: str, parameters: dict, check: bool) -> dict:
        return self._call("POST", "/api/v1/jobs", json={"template": name, "parameters": parameters, "check": check})

    def job(self, job_id: int) -> dict:
        return self._call("GET", f"/api/v1/jobs/{job_id}")

    def stream(self, job_id: int, after: int = 0) -> Iterator[tuple[str, dict]]:
        """(event name, data) of the job's server-sent events until its end. The portal ends
        each stream after a while, or refuses one when too many are open (503, Retry-After):
        it is resumed after the last event received, as a browser's EventSource does."""
        while True:
            try:
                resp = self.session.get(
                    f"{self.url}/api/v1/jobs/{job_id}/stream", params={"after": after}, stream=True, timeout=(10, 120)
                )
            except requests.RequestException as exc:
                raise ClientError(f"the portal at {self.url} is unreachable: {exc}") from None
            if resp.status_code == 503:
                time.sleep(min(int(resp.headers.get("Retry-After", "5") or 5), 30))
                continue
            if resp.status_code != 200:
                try:
                    message = resp.json().get("error", resp.reason)
                except ValueError:
                    message = resp.reason
                raise ClientError(f"HTTP {resp.status_code}: {message}")
            event, data = "message", []
            try:
                for raw in resp.iter_lines(decode_unicode=True):
                    if raw is None:
                        continue
                    if raw == "":
                        if data:
                            yield event, json.loads("\n".join(data))
                            if event == "end":
                                return
                        event, data = "message", []
                    elif raw.startswith("id:") and raw[3:].strip().isdigit():
                        after = int(raw[3:].strip())
                    elif raw.startswith("event:"):
                        event = raw[6:].strip()
                    elif raw.startswith("data:"):
                        data.append(raw[5:].strip())
            except requests.RequestException:
                pass  # the stream broke off: resume it after the last event received


def parse_parameters(template: dict, pairs: list[str]) -> dict:
    """key=value strings -> typed values, as the template declares them."""
    types = {p["name"]: p["type"] for p in template["parameters"]}
    out: dict = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ClientError(f"-p {pair!r}: expected key=value")
        kind = types.get(key)
        if kind is None:
            known = ", ".join(types) or "none"
            raise ClientError(f"-p {key}: template {template['name']!r} has no such parameter (it has: {known})")
        if kind == "integer":
            try:
                out[key] = int(value)
            except ValueError:
                raise ClientError(f"-p {key}: {value!r} is not an integer") from None
        elif kind == "boolean":
            if value.lower() not in ("true", "false", "yes", "no", "1", "0"):
                raise ClientError(f"-p {key}: {value!r} is not true or false")
            out[key] = value.lower() in ("true", "yes", "1")
        elif kind == "multichoice":
            out.setdefault(key, []).extend(v for v in value.split(",") if v)
        else:
            out[key] = value
    return out


def run(client: PortalClient, name: str, pairs: list[str], check: bool, wait: bool, echo: Callable[[str], None]) -> int:
    """Launch; with ``wait``, print the live output and return 0 only when the job succeeded."""
    template = client.template(name)
    job = client.launch(name, parse_parameters(template, pairs), check)
    echo(f"job {job['id']} queued: {client.url}/jobs/{job['id']}")
    if not wait:
        return 0
    status = None
    for event, data in client.stream(job["id"]):
        if event == "job-event" and data.get("stdout"):
            echo(data["stdout"])
        elif event == "end":
            status = data["status"]
    final = client.job(job["id"])
    status = final["status"] if status is None else status
    echo(f"job {job['id']} {status}" + (f": {final['error']}" if final.get("error") else ""))
    return 0 if status == "successful" else 1
