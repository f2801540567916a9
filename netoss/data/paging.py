"""A page of a query's rows and how many match, counted and paged by the database."""

from __future__ import annotations

from sqlalchemy import Select, func, select

from netoss.data.db import db


def page(query: Select, offset: int, limit: int) -> tuple[int, list]:
    """(how many rows ``query`` matches, ``limit`` of them from ``offset`` in its order)."""
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = list(db.session.scalars(query.offset(offset).limit(limit))) if offset < total else []
    return total, rows


def contains(column, text: str):
    """``column`` contains ``text``, case-insensitively (% and _ in it are literal)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")
