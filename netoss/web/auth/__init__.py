"""Sign-in and sign-out (browser sessions)."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, session, url_for
from sqlalchemy import select

from netoss.data.db import db
from netoss.data.models import User
from netoss.web.security import audit, check_password, login_blocked, safe_next, source_address

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        blocked = login_blocked(source_address(), username)
        if blocked:
            audit("login", outcome="blocked", actor=username[:64] or None)
            abort(429, blocked)
        user = db.session.scalar(select(User).where(User.username == username)) if username else None
        if user is not None and user.active and check_password(user, request.form.get("password", "")):
            session.clear()
            session["user_id"] = user.id
            session["epoch"] = user.session_epoch  # a password change or disabling ends this session
            session.permanent = True
            audit("login", actor=user.username)
            return redirect(safe_next(request.args.get("next")) or url_for("main.home"))
        if user is None:
            check_password(None, request.form.get("password", ""))
        audit("login", outcome="failed", actor=username[:64] or None)
        error = "Wrong user name or password."
    return render_template("auth/login.html", error=error), 401 if error else 200


@bp.post("/logout")
def logout():
    if session.get("user_id"):
        user = db.session.get(User, session["user_id"])
        audit("logout", actor=user.username if user else None)
    session.clear()
    return redirect(url_for("auth.login"))
