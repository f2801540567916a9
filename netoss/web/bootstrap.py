"""Make sure the portal's admin account and its API token exist: run by `netoss up`.

Reads {"username", "password", "token"} as JSON on stdin (secrets never on a command line),
with NETOSS_PORTAL_CONFIG naming the portal's configuration. The password is set only when
the account is created; the token row is added when its hash is not there yet.
"""

from __future__ import annotations

import json
import secrets
import sys

from sqlalchemy import select

from netoss.data.db import db
from netoss.data.models import ApiToken, User
from netoss.web import create_app
from netoss.web.security import _token_hash, hash_password


def ensure_admin(username: str, password: str, token: str) -> list[str]:
    done = []
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        user = User(username=username, password_hash=hash_password(password), role="admin")
        db.session.add(user)
        done.append(f"created admin user {username}")
    digest = _token_hash(token)
    if db.session.scalar(select(ApiToken).where(ApiToken.token_hash == digest)) is None:
        prefix = token.split("_")[1]
        db.session.add(ApiToken(user=user, name="netoss env (admin)", prefix=prefix, token_hash=digest))
        done.append("registered the admin API token")
    db.session.commit()
    return done


AUTOMATION = "automation"


def ensure_automation(token: str, others: dict[str, str] | None = None) -> list[str]:
    """The `automation` account (operator, no password that anyone knows: it signs in with
    its token only), used by playbooks and jobs to raise alarms and open tickets; ``others``
    (name -> token) are its other tokens, one per client (Alertmanager's webhook)."""
    done = []
    user = db.session.scalar(select(User).where(User.username == AUTOMATION))
    if user is None:
        user = User(username=AUTOMATION, password_hash=hash_password(secrets.token_urlsafe(32)), role="operator")
        db.session.add(user)
        done.append(f"created the {AUTOMATION} account (operator)")
    for name, value in {"playbooks and jobs": token, **(others or {})}.items():
        digest = _token_hash(value)
        if db.session.scalar(select(ApiToken).where(ApiToken.token_hash == digest)) is None:
            db.session.add(ApiToken(user=user, name=name, prefix=value.split("_")[1], token_hash=digest))
            done.append(f"registered the {AUTOMATION} API token for {name}")
    db.session.commit()
    return done


def main() -> None:
    values = json.load(sys.stdin)
    app = create_app()
    with app.app_context():
        for line in ensure_admin(values["username"], values["password"], values["token"]):
            print(line)
        if values.get("automation_token"):
            others = {"Alertmanager": values["alertmanager_token"]} if values.get("alertmanager_token") else {}
            for line in ensure_automation(values["automation_token"], others):
                print(line)


if __name__ == "__main__":
    main()
