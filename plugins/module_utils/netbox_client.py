# Copyright: netoss contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One way to reach NetBox from netoss code: a checked pynetbox connection with clear errors.

Modules, the prune step and the portal call `connect()`; it fails early, before anything
is written, with a message that says whether NetBox is unreachable or refused the token.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor

NETBOX_ARG_SPEC = {
    "netbox_url": {"type": "str", "required": False},
    "netbox_token": {"type": "str", "required": False, "no_log": True},
    "validate_certs": {"type": "bool", "default": True},
    "netbox_branch": {"type": "str", "required": False},
}
# NetBox Branching (the plugin netbox_branching): a request carrying this header reads and
# writes inside the branch whose schema id it names, never in main.
BRANCH_HEADER = "X-NetBox-Branch"
BRANCH_PLUGIN = "netbox_branching"
_SCHEMA_ID = re.compile(r"[A-Za-z0-9]{1,32}")


def is_schema_id(value) -> bool:
    """Whether ``value`` can be a NetBox Branching schema id (letters and digits)."""
    return isinstance(value, str) and bool(_SCHEMA_ID.fullmatch(value))


class NetboxError(Exception):
    """NetBox could not be used; the message names the URL and the reason."""


def settings_from_params(params: dict) -> tuple[str, str, bool]:
    """URL, token and TLS flag from module params, falling back to NETBOX_API / NETBOX_TOKEN."""
    url = params.get("netbox_url") or os.environ.get("NETBOX_API")
    token = params.get("netbox_token") or os.environ.get("NETBOX_TOKEN")
    if not url:
        raise NetboxError('no NetBox URL: set netbox_url or NETBOX_API (eval "$(.venv/bin/netoss env)")')
    if not token:
        raise NetboxError('no NetBox token: set netbox_token or NETBOX_TOKEN (eval "$(.venv/bin/netoss env)")')
    return url.rstrip("/"), token, bool(params.get("validate_certs", True))


def branch_from_params(params: dict) -> str | None:
    """The NetBox branch (its schema id) a module works in: netbox_branch, else NETBOX_BRANCH;
    None for main."""
    branch = params.get("netbox_branch") or os.environ.get("NETBOX_BRANCH") or None
    if branch is not None and not is_schema_id(branch):
        raise NetboxError(f"netbox_branch {branch!r} is not a NetBox branch schema id (letters and digits)")
    return branch


def api_from_params(params: dict):
    """A checked pynetbox API from a module's netbox_url / netbox_token / validate_certs /
    netbox_branch (or the environment); NetboxError says what is wrong."""
    url, token, verify = settings_from_params(params)
    api, _status = connect(url, token, verify, branch=branch_from_params(params))
    return api


def connect(url: str, token: str, validate_certs: bool = True, timeout: float = 30, session=None, branch=None):
    """Return (pynetbox.Api, status dict) after checking that NetBox answers and accepts the token.

    ``session`` (a requests.Session) is the one pynetbox then uses, for callers that set more
    on it (netoss's client: a default timeout on every request); a new one by default.
    ``branch``: a NetBox Branching schema id; every request of the session then works in that
    branch. NetBox must run the plugin (else the header would be ignored and writes would go to
    main) and the branch must be ready: NetboxError otherwise."""
    import pynetbox
    import requests

    if session is None:
        session = requests.Session()
    session.verify = validate_certs
    if branch is not None:
        if not is_schema_id(str(branch)):
            raise NetboxError(f"{branch!r} is not a NetBox branch schema id (letters and digits)")
        session.headers[BRANCH_HEADER] = str(branch)
    api = pynetbox.api(url, token=token)
    api.http_session = session
    try:
        resp = session.get(
            f"{url}/api/status/",
            headers={"Authorization": auth_header(token), "Accept": "application/json"},
            timeout=timeout,
        )
    except requests.exceptions.RequestException as exc:
        raise NetboxError(f"NetBox at {url} is unreachable: {failure_reason(exc)}") from None
    if resp.status_code in (401, 403):
        raise NetboxError(f"NetBox at {url} rejected the token (HTTP {resp.status_code}: {answer_detail(resp)})")
    if branch is not None and resp.status_code == 400:
        raise NetboxError(f"NetBox at {url} has no branch ready with schema id {branch}: {answer_detail(resp)}")
    if resp.status_code != 200:
        raise NetboxError(f"NetBox at {url} answered HTTP {resp.status_code} to /api/status/: {answer_detail(resp)}")
    try:
        status = resp.json()
    except ValueError:
        raise NetboxError(f"{url} answered /api/status/ with something that is not NetBox's JSON") from None
    if "netbox-version" not in status:
        raise NetboxError(f"{url} does not look like NetBox (no netbox-version in /api/status/)")
    if branch is not None and BRANCH_PLUGIN not in (status.get("plugins") or {}):
        raise NetboxError(
            f"NetBox at {url} does not run the NetBox Branching plugin ({BRANCH_PLUGIN}): it cannot work in "
            f"branch {branch} (what would be written would go to main)"
        )
    return api, status


def endpoint(api, dotted: str):
    """The pynetbox endpoint named ``app.endpoint`` (e.g. ``ipam.ip_addresses``)."""
    app, name = dotted.split(".")
    return getattr(getattr(api, app), name)


# Lists read at once by read_lists: NetBox's gunicorn has several workers, and each list is
# one request per page, mostly waiting on NetBox.
READERS = 6


def read_lists(api, wanted, workers=READERS):
    """Each list of records ``wanted`` names, read concurrently: ``wanted`` maps a key to
    (``app.endpoint``, filters or None), the answer maps the key to a list of plain dicts."""

    def read(spec):
        dotted, filters = spec
        found = endpoint(api, dotted)
        return [dict(r) for r in (found.filter(**filters) if filters else found.all())]

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(wanted)))) as pool:
        futures = {key: pool.submit(read, spec) for key, spec in wanted.items()}
        return {key: future.result() for key, future in futures.items()}


def auth_header(token: str) -> str:
    """The Authorization header of ``token``: v2 tokens (nbt_<key>.<secret>) use Bearer;
    legacy v1 tokens use Token."""
    return f"Bearer {token}" if token.startswith("nbt_") else f"Token {token}"


def answer_detail(resp) -> str:
    """What NetBox said in a refusal: its JSON ``detail``, else the start of the body."""
    text = getattr(resp, "text", "") or ""
    try:
        body = resp.json()
    except ValueError:
        return text[:200].strip() or getattr(resp, "reason", "") or ""
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])
    return text[:200]


def failure_reason(exc) -> str:
    """Why a request did not reach NetBox, in a few words when the cause is a common one."""
    text = str(exc)
    for hint in ("Connection refused", "Name or service not known", "timed out", "No route to host"):
        if hint in text:
            return hint
    return text[:300]


class GraphqlError(Exception):
    """NetBox's GraphQL API could not answer (disabled, refused, or an error in the answer)."""


def graphql_list(api, name, selection, filters="", page=1000, workers=4, timeout=120):
    """Every record of NetBox's GraphQL list ``name`` (e.g. ``interface_list``) with the fields of
    ``selection``, ``filters`` (GraphQL filter input text, e.g. ``tags: {slug: {exact: "x"}}``)
    applied, read ``page`` at a time, ``workers`` pages at once until a page comes back short.
    GraphQL serialises only what is asked: for big lists several times faster than REST."""
    session = api.http_session
    url = api.base_url.rsplit("/api", 1)[0] + "/graphql/"
    token = getattr(api, "token", None)
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = auth_header(token)
    where = ("filters: {%s}, " % filters) if filters else ""

    def fetch(offset):
        query = "query { %s(%spagination: {offset: %d, limit: %d}) { %s } }" % (name, where, offset, page, selection)
        try:
            resp = session.post(url, json={"query": query}, headers=headers, timeout=timeout)
            body = resp.json()
        except Exception as exc:  # the connection, or an answer that is not JSON
            raise GraphqlError("NetBox's GraphQL API did not answer %s: %s" % (name, failure_reason(exc))) from None
        if resp.status_code != 200 or body.get("errors") or not isinstance(body.get("data"), dict):
            detail = str(body.get("errors") or resp.text)[:300]
            raise GraphqlError("NetBox's GraphQL API refused %s: %s" % (name, detail))
        return body["data"].get(name) or []

    out, offset = [], 0
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        while True:
            pages = list(pool.map(fetch, [offset + i * page for i in range(workers)]))
            for rows in pages:
                out.extend(rows)
            if any(len(rows) < page for rows in pages):
                return out
            offset += workers * page
