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

Every request, pynetbox's included, goes through one requests session that carries the
token, the TLS setting and the timeout (a request that gives none gets the client's).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

import requests

from ansible_collections.netoss.core.plugins.module_utils import netbox_records
from ansible_collections.netoss.core.plugins.module_utils.netbox_client import (
    NetboxError,
    answer_detail,
    auth_header,
    connect,
    endpoint,
    failure_reason,
)

__all__ = ["DEFAULT_TIMEOUT", "NetBox", "NetboxError", "failures"]

DEFAULT_TIMEOUT = 30.0  # seconds to connect, and to wait for each answer
STACK_ACCOUNTS = ("admin", "reader", "web", "faults", "writer")


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
                self.url, self.token, self.validate_certs, self.timeout, session=self.session
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

    def get(self, path: str, params=None, timeout: float | None = None) -> dict:
        """One answer of ``/api/<path>/`` (``path``: ``dcim/devices``, or a full URL NetBox gave,
        such as a next page) as JSON; NetboxError names the URL and why it failed."""
        url = path if "://" in path else f"{self.url}/api/{path.strip('/')}/"
        try:
            resp = self.session.get(url, params=params, timeout=timeout or self.timeout)
        except requests.RequestException as exc:
            raise NetboxError(f"NetBox at {self.url} is unreachable: {failure_reason(exc)}") from None
        shown, code = url.split("?", 1)[0].removeprefix(self.url), resp.status_code
        if code == 401:
            raise NetboxError(f"NetBox at {self.url} rejected the token (HTTP 401: {answer_detail(resp)})")
        if code == 403:
            raise NetboxError(f"NetBox at {self.url} refused {shown} to this token (HTTP 403: {answer_detail(resp)})")
        if code != 200:
            raise NetboxError(f"NetBox at {self.url} answered HTTP {code} to {shown}: {answer_detail(resp)}")
        try:
            return resp.json()
        except ValueError:
            raise NetboxError(f"NetBox at {self.url} answered {shown} with something that is not JSON") from None

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
