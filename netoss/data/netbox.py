"""The one way netoss talks to NetBox: :class:`NetBox`.

One connection, the same settings everywhere: NetBox's URL, a token, TLS verification and a
timeout, taken from the portal's configuration (:meth:`NetBox.from_config`: ``NETBOX_URL``,
``NETBOX_TOKEN``, ``NETBOX_VALIDATE_CERTS``, ``NETBOX_TIMEOUT``) or from the stack's record
(:meth:`NetBox.from_stack`: its URL and the token of one of its NetBox accounts).

- :meth:`NetBox.api` is pynetbox, connected through the collection's
  ``netbox_client.connect``: NetBox is asked for its status first, so an unreachable NetBox
  or a refused token is a :class:`NetboxError` that names the URL and the reason, before
  anything is read or written.
- :meth:`NetBox.get` and :meth:`NetBox.get_all` read NetBox's REST API as JSON, a page or
  every page: the bulk reads pynetbox makes slow (records as plain dicts, ``brief`` and
  ``fields`` queries, thousands of objects per refresh), with the same errors.
- :meth:`NetBox.journal` writes NetBox journal entries with the collection's
  ``netbox_records.journal`` (the one writer), :meth:`NetBox.journal_entries` reads them.
- NetBox Branching (the plugin ``netbox_branching``; GitOps' proposed state):
  :meth:`NetBox.create_branch`, :meth:`NetBox.wait_branch`, :meth:`NetBox.branch_changes`,
  :meth:`NetBox.branch_action` (sync, merge, revert: a NetBox background job, waited for; a
  merge or sync refused for conflicts is a :class:`BranchConflict` that lists them), and
  :meth:`NetBox.in_branch`: the same NetBox, every request of which (pynetbox's too) reads and
  writes inside one branch (NetBox Branching's ``X-NetBox-Branch`` header).

Every request, pynetbox's included, goes through one requests session that carries the
token, the TLS setting and the timeout (a request that gives none gets the client's).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Mapping

import requests

from ansible_collections.netoss.core.plugins.module_utils import netbox_records
from ansible_collections.netoss.core.plugins.module_utils.netbox_client import (
    BRANCH_HEADER,
    NetboxError,
    answer_detail,
    auth_header,
    connect,
    endpoint,
    failure_reason,
    is_schema_id,
)

__all__ = ["BRANCH_HEADER", "DEFAULT_TIMEOUT", "BranchConflict", "NetBox", "NetboxError", "failures"]

DEFAULT_TIMEOUT = 30.0  # seconds to connect, and to wait for each answer
STACK_ACCOUNTS = ("admin", "reader", "web", "faults", "writer")


BRANCHES = "plugins/branching/branches"
BRANCH_ACTIONS = ("sync", "merge", "revert")
BRANCH_BROKEN = ("failed", "pending-migrations", "archived")  # a branch in these never becomes ready
JOB_FAILED = ("errored", "failed")
DEADLOCK_TRIES = 5  # a request PostgreSQL ended as one side of a deadlock is made again, at most this often


class BranchConflict(NetboxError):
    """NetBox Branching refused to sync or merge a branch: objects changed in main since the
    branch was made, or synced, were changed in the branch too. ``conflicts``: NetBox's list
    (object_type, object_id, object_repr, conflicts: the field names, conflicting_data)."""

    def __init__(self, message: str, conflicts: list[dict]):
        super().__init__(message)
        self.conflicts = conflicts


def conflict_summary(conflicts: list[dict]) -> str:
    """``dcim.device 12 (pe1): description, status; ...``: what a BranchConflict is about."""
    return "; ".join(
        f"{c.get('object_type')} {c.get('object_id')} ({c.get('object_repr')}): {', '.join(c.get('conflicts') or [])}"
        for c in conflicts
    )


def deadlocked(resp) -> bool:
    """NetBox's answer says PostgreSQL ended the request's transaction as one side of a deadlock
    (HTTP 500, ``deadlock detected``): made again a moment later, it normally goes through."""
    return resp.status_code == 500 and "deadlock detected" in (resp.text or "")


def failures() -> tuple[type[BaseException], ...]:
    """What a call to NetBox can raise: NetboxError (this client's reads, the connection
    check), pynetbox's RequestError (NetBox refused a pynetbox call) and requests' errors
    (NetBox went away during one)."""
    import pynetbox

    return (NetboxError, pynetbox.RequestError, requests.RequestException)


class _Session(requests.Session):
    """A requests session whose requests time out after ``default_timeout`` unless told otherwise
    (pynetbox gives none)."""

    def __init__(self, default_timeout: float):
        super().__init__()
        self.default_timeout = default_timeout

    def request(self, method, url, *args, **kwargs):
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        return super().request(method, url, *args, **kwargs)


class NetBox:
    """A NetBox to read and write: ``url``, ``token``, ``validate_certs``, ``timeout``.

    ``session`` replaces the requests session (tests hand in one that answers like NetBox)."""

    def __init__(
        self,
        url: str,
        token: str,
        validate_certs: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
        session=None,
    ):
        if not url:
            raise NetboxError("no NetBox URL (NETBOX_URL)")
        if not token:
            raise NetboxError(f"no NetBox token for {url} (NETBOX_TOKEN)")
        self.url = url.rstrip("/")
        self.token = token
        self.validate_certs = bool(validate_certs)
        self.timeout = float(timeout)
        if session is None:
            session = _Session(self.timeout)
            session.verify = self.validate_certs
            session.headers.update({"Authorization": auth_header(token), "Accept": "application/json"})
        self.session = session
        self._api = None
        self.status: dict | None = None  # NetBox's /api/status/ once connected
        self.branch: str | None = None  # the NetBox Branching schema id it works in (in_branch); None: main

    def __repr__(self) -> str:
        return f"NetBox({self.url!r})"  # never the token

    @classmethod
    def from_config(cls, config: Mapping) -> NetBox | None:
        """The NetBox of the portal's configuration; None when it names none (no NETBOX_URL or
        no NETBOX_TOKEN): each caller says what it cannot do without one."""
        url, token = config.get("NETBOX_URL"), config.get("NETBOX_TOKEN")
        if not (url and token):
            return None
        verify = config.get("NETBOX_VALIDATE_CERTS", True)
        if isinstance(verify, str):
            verify = verify.strip().lower() not in ("0", "false", "no", "off")
        return cls(url, token, validate_certs=verify, timeout=float(config.get("NETBOX_TIMEOUT") or DEFAULT_TIMEOUT))

    @classmethod
    def from_stack(cls, stack, account: str = "reader", timeout: float = DEFAULT_TIMEOUT) -> NetBox:
        """The stack's NetBox as one of its accounts: ``reader`` (read only), ``web`` and
        ``faults`` (read, add journal entries), ``writer`` (the jobs that write), ``admin``
        (administration only). The stack's record gives the URL and the token."""
        if account not in STACK_ACCOUNTS:
            raise ValueError(f"NetBox account {account!r} is not one of {', '.join(STACK_ACCOUNTS)}")
        token = stack.netbox_token() if account == "admin" else stack.machine_token(account)
        return cls(stack.netbox_url, token, timeout=timeout)

    # -- pynetbox ---------------------------------------------------------------------------

    def api(self):
        """pynetbox's API on this client's session, connected (checked) on first use."""
        if self._api is None:
            self._api, self.status = connect(
                self.url, self.token, self.validate_certs, self.timeout, session=self.session, branch=self.branch
            )
        return self._api

    def check(self) -> dict:
        """NetBox's /api/status/, after checking that it answers and takes the token
        (NetboxError says which it does not)."""
        self.api()
        return self.status or {}

    def endpoint(self, dotted: str):
        """The pynetbox endpoint named ``app.endpoint`` (e.g. ``dcim.devices``)."""
        return endpoint(self.api(), dotted)

    # -- reads as JSON ----------------------------------------------------------------------

    def _request(
        self, method: str, path: str, params=None, body=None, timeout: float | None = None, ok=(200,), tries: int = 1
    ):
        """One call of ``/api/<path>/`` (or a full URL NetBox gave); NetboxError names the URL
        and why it failed unless the answer's status is in ``ok``. ``tries`` > 1 (only for a
        request that is safe to repeat): made again, after 0.5 s, 1 s, 2 s..., while NetBox
        answers that PostgreSQL ended it as one side of a deadlock."""
        url = path if "://" in path else f"{self.url}/api/{path.strip('/')}/"
        for attempt in range(1, tries + 1):
            try:
                if method == "GET":
                    resp = self.session.get(url, params=params, timeout=timeout or self.timeout)
                else:
                    resp = self.session.request(method, url, params=params, json=body, timeout=timeout or self.timeout)
            except requests.RequestException as exc:
                raise NetboxError(f"NetBox at {self.url} is unreachable: {failure_reason(exc)}") from None
            if attempt == tries or not deadlocked(resp):
                break
            time.sleep(0.5 * 2 ** (attempt - 1))
        shown, code = url.split("?", 1)[0].removeprefix(self.url), resp.status_code
        if code in ok:
            return resp
        if code == 401:
            raise NetboxError(f"NetBox at {self.url} rejected the token (HTTP 401: {answer_detail(resp)})")
        if code == 403:
            raise NetboxError(f"NetBox at {self.url} refused {shown} to this token (HTTP 403: {answer_detail(resp)})")
        what = shown if method == "GET" else f"{method} {shown}"
        raise NetboxError(f"NetBox at {self.url} answered HTTP {code} to {what}: {answer_detail(resp)}")

    def _json(self, resp) -> dict:
        try:
            return resp.json()
        except ValueError:
            shown = resp.url.split("?", 1)[0].removeprefix(self.url)
            raise NetboxError(f"NetBox at {self.url} answered {shown} with something that is not JSON") from None

    def get(self, path: str, params=None, timeout: float | None = None) -> dict:
        """One answer of ``/api/<path>/`` (``path``: ``dcim/devices``, or a full URL NetBox gave,
        such as a next page) as JSON; NetboxError names the URL and why it failed."""
        return self._json(self._request("GET", path, params=params, timeout=timeout))

    def post(self, path: str, body: dict | list, timeout: float | None = None) -> dict:
        """POST ``body`` to ``/api/<path>/``; NetBox's answer as JSON."""
        return self._json(self._request("POST", path, body=body, timeout=timeout, ok=(200, 201)))

    def get_all(self, path: str, params=None, timeout: float | None = None) -> list[dict]:
        """Every record of ``/api/<path>/`` with ``params`` (a filter, ``limit`` as the page
        size), following NetBox's next pages."""
        records: list[dict] = []
        url: str | None = path
        while url:
            body = self.get(url, params=params, timeout=timeout)
            records.extend(body["results"])
            url, params = body.get("next"), None  # the next page's URL carries the query
        return records

    # -- NetBox journal entries -------------------------------------------------------------

    def journal(self, entries: list[dict]) -> list[int]:
        """Write NetBox journal entries, one per {device (name) or device_id, kind, comments},
        in one request (the collection's netbox_records.journal); returns their ids."""
        return netbox_records.journal(self.api(), entries)

    def journal_entries(
        self,
        device_ids: Iterable[int],
        since: dt.datetime,
        until: dt.datetime,
        limit: int = 100,
        timeout: float | None = None,
    ) -> list[dict]:
        """The NetBox journal entries of the devices ``device_ids`` created between ``since``
        and ``until``, at most ``limit`` (NetBox's first page), as JSON records."""
        ids = [int(i) for i in device_ids]
        if not ids:
            return []
        params = [
            ("assigned_object_type", "dcim.device"),
            *(("assigned_object_id", i) for i in ids),
            ("created__gte", since.isoformat()),
            ("created__lte", until.isoformat()),
            ("limit", str(limit)),
        ]
        return self.get("extras/journal-entries", params=params, timeout=timeout)["results"]

    # -- NetBox Branching -------------------------------------------------------------------

    def clone(self) -> NetBox:
        """The same NetBox with a session of its own (for a thread of its own), in main."""
        return NetBox(self.url, self.token, self.validate_certs, self.timeout)

    def in_branch(self, schema_id: str) -> NetBox:
        """This NetBox as seen inside the branch ``schema_id``: every request of the client it
        returns, pynetbox's included, reads and writes in that branch, never in main."""
        if not is_schema_id(schema_id):
            raise ValueError(f"not a NetBox branch schema id: {schema_id!r}")
        other = self.clone()
        other.branch = str(schema_id)
        other.check()  # NetBox runs the plugin and the branch is ready, or NetboxError says which not
        return other

    def branches(self, name: str | None = None) -> list[dict]:
        """NetBox's branches (those named ``name``)."""
        return self.get_all(BRANCHES, {"name": name, "limit": 1000} if name else {"limit": 1000})

    def create_branch(self, name: str, description: str = "") -> dict:
        """A new branch of main named ``name``; NetBox provisions it in the background
        (:meth:`wait_branch`)."""
        return self.post(BRANCHES, {"name": name, "description": description})

    def delete_branch(self, branch_id: int) -> None:
        """Delete a branch (and its schema); one already gone is fine. Dropping the schema can
        deadlock with NetBox's own background jobs still writing into it (its search index, one
        job per object written): the delete is made again after a short wait."""
        self._request("DELETE", f"{BRANCHES}/{int(branch_id)}", ok=(204, 404), tries=DEADLOCK_TRIES)

    def _poll(self, path: str, settled, timeout: float, interval: float, late, first: dict | None = None) -> dict:
        """GET ``path`` (a branch, a background job) until its status is one of ``settled``, and
        return it; ``first``: its record as already read. NetboxError with ``late(record)`` when it
        has not settled within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        record = first if first is not None else self.get(path)
        while (record.get("status") or {}).get("value") not in settled:
            if time.monotonic() > deadline:
                raise NetboxError(late(record))
            time.sleep(interval)
            record = self.get(path)
        return record

    def wait_branch(self, branch_id: int, statuses=("ready",), timeout: float = 300, interval: float = 0.25) -> dict:
        """The branch once its status is one of ``statuses``; NetboxError when it fails (the
        status says why) or is not there within ``timeout`` seconds."""
        wanted = " or ".join(statuses)
        branch = self._poll(
            f"{BRANCHES}/{int(branch_id)}",
            (*statuses, *BRANCH_BROKEN),
            timeout,
            interval,
            late=lambda b: (
                f"NetBox branch {b['name']!r} is still {(b.get('status') or {}).get('value')} after {timeout:.0f} s "
                f"(waiting for {wanted}): is NetBox's rqworker running?"
            ),
        )
        status = branch["status"]["value"]
        if status not in statuses:
            raise NetboxError(f"NetBox branch {branch['name']!r} is {status}, not {wanted}")
        return branch

    def branch_changes(self, branch_id: int) -> list[dict]:
        """What the branch changed against main, one record per object (NetBox Branching's
        ChangeDiff: object_type, object_id, object_repr, action, diff, conflicts)."""
        return self.get_all("plugins/branching/changes", {"branch_id": int(branch_id), "limit": 1000})

    def branch_action(
        self,
        branch_id: int,
        action: str,
        commit: bool = True,
        acknowledge_conflicts: bool = False,
        timeout: float = 600,
        interval: float = 0.25,
    ) -> dict:
        """Run ``action`` (sync, merge or revert) on the branch and wait for NetBox's background
        job: its record once completed. ``commit=False`` is NetBox Branching's dry run. A sync
        or merge refused for conflicts raises BranchConflict; a job that fails, NetboxError with
        the job's error."""
        if action not in BRANCH_ACTIONS:
            raise ValueError(f"branch action {action!r} is not one of {', '.join(BRANCH_ACTIONS)}")
        resp = self._request(
            "POST",
            f"{BRANCHES}/{int(branch_id)}/{action}",
            body={"commit": commit, "acknowledge_conflicts": acknowledge_conflicts},
            ok=(200, 409),
        )
        answer = self._json(resp)
        if resp.status_code == 409:
            conflicts = answer.get("conflicts") or []
            raise BranchConflict(
                f"NetBox refused to {action} branch {branch_id}: main changed what the branch changes "
                f"({conflict_summary(conflicts)})",
                conflicts,
            )
        job = self._poll(
            f"core/jobs/{int(answer['id'])}",
            ("completed", *JOB_FAILED),
            timeout,
            interval,
            late=lambda j: (
                f"NetBox's {action} job of branch {branch_id} is still {(j.get('status') or {}).get('value')} "
                f"after {timeout:.0f} s: is NetBox's rqworker running?"
            ),
            first=answer,
        )
        if (job.get("status") or {}).get("value") in JOB_FAILED:
            raise NetboxError(
                f"NetBox's {action} job of branch {branch_id} failed: {job.get('error') or 'no reason given'}"
            )
        return job
