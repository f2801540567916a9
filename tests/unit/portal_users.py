"""Portal accounts for the unit tests of the portal's pages and API (pure helpers, no fixture)."""

from __future__ import annotations

from netoss.data.db import db
from netoss.data.models import User
from netoss.web.security import hash_password, new_token

PASSWORD = "correct horse battery"
VIEWER_AND_OPERATOR = (("vera", "viewer"), ("otto", "operator"))


def add_users_with_tokens(accounts=VIEWER_AND_OPERATOR, password: str = PASSWORD) -> dict[str, str]:
    """Add ``accounts`` ((name, role) pairs) to the database of the app context, each with an API
    token; returns the tokens by role (not committed)."""
    tokens = {}
    for name, role in accounts:
        user = User(username=name, password_hash=hash_password(password), role=role)
        db.session.add(user)
        _row, tokens[role] = new_token(user, "t")
    return tokens
