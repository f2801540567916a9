"""Authentication (session or API token), roles, audit and the login rate limit.

- Passwords are hashed with argon2id (argon2-cffi).
- API tokens look like ``nto_<prefix>_<secret>``: 190 bits of randomness, so a SHA-256 of the
  token is enough to store (like GitHub's); the prefix finds the row, the hash proves it.
- A request is authenticated by ``Authorization: Bearer <token>`` (API) or by the session
  cookie (browser); ``require_role`` answers 401 without either, 403 below the role.
- A session carries its user's ``session_epoch``: a password change or disabling the user moves
  the epoch on, which ends every session signed in before.
- Sign-in is refused (429) after LOGIN_MAX_FAILURES failures in LOGIN_WINDOW from one address,
  or for one user name from any address. The address is the peer's, or with
  ``TRUSTED_PROXIES = n`` the one the n-th proxy saw (werkzeug's ProxyFix).
- Every request passes ``check_request`` first (text without NUL bytes, bounded lengths and
  nesting) and every response gets the security headers of ``security_headers``.
"""

from __future__ import annotations

import collections
import datetime as dt
import functools
import hashlib
import hmac
import secrets
import unicodedata
import urllib.parse

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import abort, current_app, g, request, session
from sqlalchemy import func, select

from netoss.data.audit import record as audit
from netoss.data.db import db
from netoss.data.models import ROLES, ApiToken, AuditEvent, User, utc, utcnow
from netoss.web.apidoc import role_doc
from netoss.web.extensions import csrf

_hasher = PasswordHasher()
TOKEN_PREFIX = "nto_"  # noqa: S105 - the marker of netoss tokens, not a secret
# Failed sign-ins from one address, or for one user name, in LOGIN_WINDOW before sign-in is
# refused with 429.
LOGIN_MAX_FAILURES = 10
LOGIN_WINDOW = dt.timedelta(minutes=5)
# Request bounds (check_request): a query argument, header or form field; a JSON body's nesting.
MAX_ARG_LENGTH = 2048
MAX_FIELD_LENGTH = 100_000
MAX_JSON_DEPTH = 32
EXCERPT = 40


class AuthError(Exception):
    """A request that is not authenticated, or not allowed."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(user: User | None, password: str) -> bool:
    if user is None:
        _hasher.hash(password)  # same cost whether or not the user exists
        return False
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(user: User, name: str, expires_at: dt.datetime | None = None) -> tuple[ApiToken, str]:
    """A new API token row (not yet committed) and the token itself, to show once."""
    prefix = secrets.token_hex(4)
    token = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(24)}"
    row = ApiToken(user=user, name=name, prefix=prefix, token_hash=_token_hash(token), expires_at=expires_at)
    db.session.add(row)
    return row, token


TOKEN_USE_EVERY = 60  # seconds: a token's last use is written at most this often


def user_for_token(token: str) -> User:
    """The active user a token belongs to; AuthError(401) says why not."""
    parts = token.split("_")
    if not token.startswith(TOKEN_PREFIX) or len(parts) < 3:
        raise AuthError(401, "malformed API token")
    row = db.session.scalar(select(ApiToken).where(ApiToken.prefix == parts[1]))
    if row is None or not hmac.compare_digest(row.token_hash, _token_hash(token)):
        raise AuthError(401, "unknown API token")
    if row.revoked:
        raise AuthError(401, "this API token was revoked")
    expires = utc(row.expires_at)
    if expires is not None and expires <= utcnow():
        raise AuthError(401, "this API token expired")
    user = row.user
    if not user.active:
        raise AuthError(401, "the token's user is disabled")
    now, last = utcnow(), utc(row.last_used_at)
    if last is None or (now - last).total_seconds() >= TOKEN_USE_EVERY:
        row.last_used_at = now  # kept to the minute: not a write on every request
        db.session.commit()
    return user


def current_user() -> User | None:
    """The user of this request (token or session), cached on ``g``; None when anonymous."""
    if "user" in g:
        return g.user
    user = None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        user = user_for_token(header[len("Bearer ") :].strip())
        g.via_token = True
    elif session.get("user_id"):
        user = db.session.get(User, session["user_id"])
        if user is None or not user.active or session.get("epoch") != user.session_epoch:
            # Disabled, deleted, or its password changed since this session signed in.
            session.clear()
            user = None
    g.user = user
    return user


def require_role(role: str):
    """Decorator: the request needs a signed-in user with at least ``role``. The same decorator
    records the role on the view (``required_role``) and on its operation in the generated
    OpenAPI document (``x-required-role``, with the 401 and 403 it answers), so the document says
    what is enforced."""
    assert role in ROLES

    def wrap(view):
        @functools.wraps(view)
        def inner(*args, **kwargs):
            user = current_user()
            if user is None:
                raise AuthError(401, "sign in or send an API token (Authorization: Bearer <token>)")
            if not user.at_least(role):
                audit("denied", target=request.path, outcome="denied", detail={"needs": role})
                raise AuthError(403, f"this needs the {role} role; {user.username} is {user.role}")
            return view(*args, **kwargs)

        inner.required_role = role  # read by the role matrix test
        return role_doc(inner, role)  # on a copy of the view's record (wraps shared it)

    return wrap


def wants_json() -> bool:
    """Whether the answer to this request is JSON (an API path, or a client that asks for it)."""
    return request.path.startswith(("/api/", "/tmf-api/")) or request.accept_mimetypes.best == "application/json"


def source_address() -> str | None:
    """The client's address: the peer's, or the one the trusted proxy saw (TRUSTED_PROXIES)."""
    return (request.remote_addr or "")[:64] or None


def login_blocked(source: str | None, username: str | None = None) -> str | None:
    """Why sign-in is refused now (too many recent failures from ``source``, or for ``username``
    from anywhere), or None. The per-name count stops a spread-out guess of one password; the
    per-address count stops one client trying many names, without blocking anyone else."""
    since = utcnow() - LOGIN_WINDOW
    failed = select(func.count(AuditEvent.id)).where(
        AuditEvent.action == "login", AuditEvent.outcome == "failed", AuditEvent.at >= since
    )
    if db.session.scalar(failed.where(AuditEvent.source == source)) >= LOGIN_MAX_FAILURES:
        return "too many failed sign-ins from this address: wait a few minutes"
    if username and db.session.scalar(failed.where(AuditEvent.actor == username[:64])) >= LOGIN_MAX_FAILURES:
        return "too many failed sign-ins for this user name: wait a few minutes"
    return None


def require_csrf_unless_token():
    """Browser requests are protected by CSRF tokens; API calls with a bearer token are not
    exposed to CSRF (browsers never add that header by themselves)."""
    if request.headers.get("Authorization", "").startswith("Bearer "):
        return
    if not session.get("user_id"):
        return  # not signed in: the view answers 401
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        csrf.protect()


# -- the request boundary ----------------------------------------------------------------------


def excerpt(value, limit: int = EXCERPT) -> str:
    """A short, printable excerpt of untrusted input for an error message."""
    text = str(value)
    return repr(text[:limit]) + ("…" if len(text) > limit else "")


def _text_problem(where: str, value: str, limit: int) -> str | None:
    if "\x00" in value:
        return f"{where}: holds a NUL character"
    if len(value) > limit:
        return f"{where}: longer than {limit} characters ({excerpt(value)})"
    return None


def _unstorable(text: str) -> str | None:
    """Why PostgreSQL cannot store ``text`` (a NUL, or half a surrogate pair), or None."""
    if "\x00" in text:
        return "holds a NUL character"
    try:
        text.encode()
    except UnicodeEncodeError:
        return "is not valid Unicode (a lone surrogate)"
    return None


def _dotted(path: tuple) -> str:
    text = ".".join(str(p) for p in path) or "body"
    return text if len(text) <= 80 else text[:80] + "…"


def _json_problem(data) -> str | None:
    """The first string (key or value) PostgreSQL cannot store, or nesting past MAX_JSON_DEPTH,
    named by its dotted path (``devices.3.error``) as the body validation names fields."""
    todo = collections.deque([((), data)])
    while todo:
        path, value = todo.popleft()
        if len(path) > MAX_JSON_DEPTH:
            return f"{_dotted(path)}: nested deeper than {MAX_JSON_DEPTH} levels"
        if isinstance(value, dict):
            for key, item in value.items():
                if why := _unstorable(key):
                    return f"{_dotted(path)}: a key {why}"
                todo.append(((*path, key), item))
        elif isinstance(value, list):
            todo.extend(((*path, i), item) for i, item in enumerate(value))
        elif isinstance(value, str) and (why := _unstorable(value)):
            return f"{_dotted(path)}: {why}"
    return None


def check_request() -> None:
    """before_request of the whole app: refuse (400, naming the input and quoting at most a short
    excerpt) NUL bytes anywhere in the path, query, headers, form or JSON body, over-long query
    arguments, headers and form fields, and JSON nested too deep. Bodies are bounded by
    MAX_CONTENT_LENGTH (413) before they are read."""
    problems = []
    if "\x00" in request.path:
        problems.append("the path: holds a NUL character")
    for name, value in request.args.items(multi=True):
        problems.append(_text_problem(f"query argument {excerpt(name)}", name + "=" + value, MAX_ARG_LENGTH))
    for name, value in request.headers.items():
        problems.append(_text_problem(f"header {excerpt(name)}", value, MAX_FIELD_LENGTH))
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            for name, value in request.form.items(multi=True):
                problems.append(_text_problem(f"field {excerpt(name)}", name + value, MAX_FIELD_LENGTH))
        elif request.is_json:
            data = request.get_json(silent=True)
            if data is not None:
                problems.append(_json_problem(data))
    problems = [p for p in problems if p]
    if problems:
        abort(400, problems[0])


# -- redirects and links -----------------------------------------------------------------------


def _unsafe_path(text: str) -> bool:
    if not text.startswith("/") or text.startswith(("//", "/\\")) or "\\" in text:
        return True
    if any(unicodedata.category(ch)[0] in "CZ" for ch in text):  # control, format, any space
        return True
    parts = urllib.parse.urlsplit(text)
    return bool(parts.scheme or parts.netloc)


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None: never an open redirect. Browsers drop
    tabs and newlines and read a backslash as a slash, so a target with any whitespace, control
    character or backslash, or one that is a scheme or ``//host`` once percent-decoded (up to three
    times), is refused rather than cleaned."""
    if not target or len(target) > MAX_ARG_LENGTH:
        return None
    text = target
    for _ in range(4):
        if _unsafe_path(text):
            return None
        decoded = urllib.parse.unquote(text)
        if decoded == text:
            return target
        text = decoded
    return None  # encoded more than three times: nobody does that by accident


def link_hosts() -> set[str]:
    """Hosts a link on a page may point to: the portal itself and NetBox (and LINK_HOSTS)."""
    hosts = {request.host.lower()}
    for key in ("NETBOX_URL", "PORTAL_URL"):
        if current_app.config.get(key):
            hosts.add(urllib.parse.urlsplit(current_app.config[key]).netloc.lower())
    hosts.update(h.lower() for h in current_app.config.get("LINK_HOSTS") or ())
    return hosts


def safe_link(url) -> str | None:
    """A user- or job-supplied URL fit for an ``href``: a local path, or http(s) to a known host.
    Anything else (``javascript:``, ``data:``, another host) is None and is shown as text."""
    if not isinstance(url, str) or not url or len(url) > MAX_ARG_LENGTH:
        return None
    if url.startswith("/"):
        return url if safe_next(url) else None
    if any(unicodedata.category(ch)[0] in "CZ" for ch in url) or "\\" in url:
        return None
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or parts.netloc.lower() not in link_hosts():
        return None
    if parts.username is not None or parts.password is not None:
        return None
    return url


# -- response headers --------------------------------------------------------------------------

# No inline script, style or handler anywhere: scripts and styles come from /static only.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def security_headers(response):
    """after_request of the whole app: the security headers on every response."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
