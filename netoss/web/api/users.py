"""/api/v1: the signed-in user, users (admin), API tokens, and the audit log (admin)."""

from __future__ import annotations

import datetime as dt

from flask import abort, jsonify
from sqlalchemy import select

from netoss.data.db import db
from netoss.data.models import ApiToken, AuditEvent, User
from netoss.web.api import bp
from netoss.web.apidoc import Int, Text, body, fails, many, query, responds
from netoss.web.security import audit, current_user, hash_password, new_token, require_role


@bp.get("/v1/me")
@require_role("viewer")
@responds(200, "User")
def me():
    """The signed-in user"""
    return jsonify(current_user().to_dict())


@bp.get("/v1/users")
@require_role("admin")
@responds(200, many("User"))
def list_users():
    """List users"""
    return jsonify([u.to_dict() for u in db.session.scalars(select(User).order_by(User.username))])


@bp.post("/v1/users")
@require_role("admin")
@body("UserCreate")
@responds(201, "User")
@fails(s409="The user exists")
def create_user(data):
    """Create a user"""
    if db.session.scalar(select(User).where(User.username == data["username"])):
        abort(409, f"user {data['username']!r} already exists")
    user = User(username=data["username"], password_hash=hash_password(data["password"]), role=data["role"])
    db.session.add(user)
    db.session.commit()
    audit("user.create", target=user.username, detail={"role": user.role})
    return jsonify(user.to_dict()), 201


@bp.patch("/v1/users/<int(max=2147483647):user_id>")
@require_role("admin")
@body("UserUpdate")
@responds(200, "User")
@fails(s404="No such user")
def update_user(data, user_id: int):
    """Change a user's role, password or state"""
    user = db.session.get(User, user_id) or abort(404, f"no user {user_id}")
    if "role" in data:
        user.role = data["role"]
    if "active" in data:
        user.active = data["active"]
    if "password" in data:
        user.password_hash = hash_password(data["password"])
    db.session.commit()
    audit("user.update", target=user.username, detail={k: v for k, v in data.items() if k != "password"})
    return jsonify(user.to_dict())


@bp.get("/v1/tokens")
@require_role("viewer")
@responds(200, many("Token"))
def list_tokens():
    """List API tokens (own; all for admins)"""
    user = current_user()
    query_ = select(ApiToken).order_by(ApiToken.id)
    if not user.at_least("admin"):
        query_ = query_.where(ApiToken.user_id == user.id)
    return jsonify([t.to_dict() for t in db.session.scalars(query_)])


@bp.post("/v1/tokens")
@require_role("viewer")
@body("TokenCreate")
@responds(201, "Token")
def create_token(data):
    """Create an API token (shown once)"""
    expires = None
    if data.get("expires_in_days"):
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=data["expires_in_days"])
    row, token = new_token(current_user(), data["name"], expires)
    db.session.commit()
    audit("token.create", target=f"{row.prefix} ({row.name})")
    return jsonify(dict(row.to_dict(), token=token)), 201


@bp.delete("/v1/tokens/<int(max=2147483647):token_id>")
@require_role("viewer")
@responds(200, "Token")
@fails(s404="No such token (or not the caller's)")
def revoke_token(token_id: int):
    """Revoke a token"""
    user = current_user()
    row = db.session.get(ApiToken, token_id)
    if row is None or (row.user_id != user.id and not user.at_least("admin")):
        abort(404, f"no token {token_id}")
    row.revoked = True
    db.session.commit()
    audit("token.revoke", target=f"{row.prefix} ({row.name})")
    return jsonify(row.to_dict())


@bp.get("/v1/audit")
@require_role("admin")
@query(limit=Int(1, 1000, 100), actor=Text(), action=Text(), outcome=Text())
@responds(200, many("AuditEvent"))
def list_audit(args):
    """Audit events, newest first"""
    found = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(args["limit"])
    for key in ("actor", "action", "outcome"):
        if args[key]:
            found = found.where(getattr(AuditEvent, key) == args[key])
    return jsonify([e.to_dict() for e in db.session.scalars(found)])
