"""Authentication (session or API token), roles, audit and the login rate limit.

- Passwords are hashed with argon2id (argon2-cffi).
- API tokens look like ``nto_<prefix>_<secret>``: 190 bits of randomness, so a SHA-256 of the
  token is enough to store (like GitHub's); the prefix finds the row, the hash proves it.
- A request is authenticated by ``Authorization: Bearer <token>`` (API) or by the session
  cookie (browser); ``require_role`` answers 401 without either, 403 below the role.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import g, request, session
from sqlalchemy import func, select

from .extensions import db
from .models import ROLES, ApiToken, AuditEvent, User, utcnow

_hasher = PasswordHasher()
TOKEN_PREFIX = "nto_"  # noqa: S105 - the marker of netoss tokens, not a secret
# Failed sign-ins from one address in LOGIN_WINDOW before sign-in is refused with 429.
LOGIN_MAX_FAILURES = 10
LOGIN_WINDOW = dt.timedelta(minutes=5)


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
    expires = row.expires_at
    if expires is not None and (expires if expires.tzinfo else expires.replace(tzinfo=dt.UTC)) <= utcnow():
        raise AuthError(401, "this API token expired")
    if not row.user.active:
        raise AuthError(401, "the token's user is disabled")
    row.last_used_at = utcnow()
    db.session.commit()
    return row.user


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
        if user is not None and not user.active:
            user = None
    g.user = user
    return user


def require_role(role: str):
    """Decorator: the request needs a signed-in user with at least ``role``."""
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

        return inner

    return wrap


def source_address() -> str | None:
    return request.remote_addr


def audit(action: str, target: str | None = None, outcome: str = "ok", detail: dict | None = None, actor=None):
    """Record an action (committed at once, so a failed request still leaves its trace)."""
    if actor is None:
        user = g.get("user")
        actor = user.username if user is not None else None
    db.session.add(
        AuditEvent(actor=actor, action=action, target=target, source=source_address(), outcome=outcome, detail=detail)
    )
    db.session.commit()


def login_blocked(source: str | None) -> bool:
    since = utcnow() - LOGIN_WINDOW
    failures = db.session.scalar(
        select(func.count(AuditEvent.id)).where(
            AuditEvent.action == "login", AuditEvent.outcome == "failed", AuditEvent.source == source,
            AuditEvent.at >= since,
        )
    )  # fmt: skip
    return failures >= LOGIN_MAX_FAILURES


def require_csrf_unless_token():
    """Browser requests are protected by CSRF tokens; API calls with a bearer token are not
    exposed to CSRF (browsers never add that header by themselves)."""
    from .extensions import csrf

    if request.headers.get("Authorization", "").startswith("Bearer "):
        return
    if not session.get("user_id"):
        return  # not signed in: the view answers 401
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        csrf.protect()
