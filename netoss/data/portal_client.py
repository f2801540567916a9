"""The portal's job API for `netoss job run`, `netoss tickets list` and `netoss compliance
report` (and scripts): a thin layer over the collection's portal client
(``plugins/module_utils/portal_client.py``, on Ansible's ``open_url``), the one HTTP client of
the portal. It adds the job calls, the live event stream and the CLI's error wording."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable, Iterator

from ansible_collections.netoss.core.plugins.module_utils import portal_client as _http
from ansible_collections.netoss.core.plugins.module_utils.portal_client import PortalError

JOBS = "/api/v1/jobs"
JOB_TEMPLATES = "/api/v1/job-templates"
DEPLOYMENTS = "/api/v1/gitops/deployments"


class ClientError(RuntimeError):
    """The portal refused or could not be reached; the message is the portal's."""


def _client_error(url: str, exc: PortalError) -> ClientError:
    """The CLI's wording of a PortalError: ``HTTP <status>: <the portal's error>`` and its
    problems one per line, or ``the portal at <url> is unreachable: <why>``."""
    if exc.status is None:
        return ClientError(f"the portal at {url} is unreachable: {exc.reason or exc}")
    body = exc.body
    problems = body.get("problems") if isinstance(body, dict) else None
    message = body.get("error", exc.reason) if isinstance(body, dict) else exc.reason
    if problems:
        message += "\n  " + "\n  ".join(problems)
    return ClientError(f"HTTP {exc.status}: {message}")


class PortalClient(_http.PortalClient):
    def __init__(self, url: str, token: str, timeout: float = 30):
        try:
            super().__init__(url, token, timeout=timeout)
        except PortalError as exc:
            raise ClientError(str(exc)) from None

    def _call(self, method: str, path: str, params: dict | None = None, json: dict | None = None):
        """The JSON answer to a request (``params``: the query, ``json``: the body)."""
        try:
            return self.call(method, path, body=json, query=params)[1]
        except PortalError as exc:
            raise _client_error(self.url, exc) from None

    def template(self, name: str) -> dict:
        for t in self._call("GET", JOB_TEMPLATES):
            if t["name"] == name:
                return t
        raise ClientError(f"no job template {name!r}")

    def launch(self, name: str, parameters: dict, check: bool) -> dict:
        return self._call("POST", JOBS, json={"template": name, "parameters": parameters, "check": check})

    def deploy(self, repository: str, ref: str) -> dict:
        """Queue the GitOps deployment of commit ``ref`` of ``repository``."""
        return self._call("POST", DEPLOYMENTS, json={"repository": repository, "ref": ref})

    def deployment(self, deployment_id: int) -> dict:
        return self._call("GET", f"{DEPLOYMENTS}/{deployment_id}")

    def job(self, job_id: int) -> dict:
        return self._call("GET", f"{JOBS}/{job_id}")

    def stream(self, job_id: int, after: int = 0) -> Iterator[tuple[str, dict]]:
        """(event name, data) of the job's server-sent events until its end. The portal ends
        each stream after a while, or refuses one when too many are open (503, Retry-After):
        it is resumed after the last event received, as a browser's EventSource does."""
        while True:
            try:
                resp = self.open(
                    "GET",
                    f"{JOBS}/{job_id}/stream",
                    query={"after": after},
                    timeout=120,
                    headers={"Accept": "text/event-stream"},
                )
            except PortalError as exc:
                if exc.status == 503:
                    time.sleep(min(int(exc.headers.get("Retry-After", "5") or 5), 30))
                    continue
                raise _client_error(self.url, exc) from None
            event, data = "message", []
            try:
                with resp:
                    for line in resp:
                        raw = line.decode("utf-8").rstrip("\r\n")
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
            except (OSError, http.client.HTTPException):
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
    return 0 if follow(client, job["id"], echo) == "successful" else 1


def follow(client: PortalClient, job_id: int, echo: Callable[[str], None]) -> str:
    """Print a job's live output until it ends; its final status."""
    job = {"id": job_id}
    status = None
    for event, data in client.stream(job["id"]):
        if event == "job-event" and data.get("stdout"):
            echo(data["stdout"])
        elif event == "end":
            status = data["status"]
    final = client.job(job["id"])
    status = final["status"] if status is None else status
    echo(f"job {job['id']} {status}" + (f": {final['error']}" if final.get("error") else ""))
    return status
