"""Lists paged and filtered by the database (or NetBox), the same way in the API and the pages.

- The API: ``offset`` and ``limit`` (TMF's paging) are query arguments (apidoc ``OFFSET`` and
  ``LIMIT`` bounds), and :func:`listed` answers a page with ``X-Total-Count``, how many match.
- The pages: :func:`page_args` reads ``offset`` and ``limit`` from the query string (a bad one
  is a 400 naming it), and :class:`Pager` gives the template the counts and the links to the
  other pages, the filters kept (templates/_pager.html shows them).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from flask import jsonify, request

from netoss.web.apidoc import bounded_int

MAX_OFFSET = 10_000_000
TOTAL_HEADER = "X-Total-Count"


def listed(rows: list, total: int):
    """A JSON list answer, with how many match in ``X-Total-Count``."""
    resp = jsonify(rows)
    resp.headers[TOTAL_HEADER] = str(total)
    return resp


def page_args(default_limit: int = 50, max_limit: int = 500) -> tuple[int, int]:
    """(offset, limit) of a page's query string; a bad one is a 400 naming it."""
    args = request.args
    offset = bounded_int(args["offset"], "offset", 0, MAX_OFFSET) if args.get("offset") else 0
    limit = bounded_int(args["limit"], "limit", 1, max_limit) if args.get("limit") else default_limit
    return offset, limit


@dataclass(frozen=True)
class Pager:
    """Where a page is in its list: rows ``first``..``last`` of ``total``, and the links."""

    total: int
    offset: int
    limit: int

    @property
    def first(self) -> int:
        return min(self.offset + 1, self.total)

    @property
    def last(self) -> int:
        return min(self.offset + self.limit, self.total)

    def _link(self, offset: int) -> str:
        kept = [(k, v) for k, v in request.args.items(multi=True) if k != "offset" and v != ""]
        if offset:
            kept.append(("offset", str(offset)))
        return f"{request.path}?{urlencode(kept)}" if kept else request.path

    @property
    def previous(self) -> str | None:
        return self._link(max(self.offset - self.limit, 0)) if self.offset > 0 else None

    @property
    def next(self) -> str | None:
        return self._link(self.offset + self.limit) if self.offset + self.limit < self.total else None

    @property
    def first_link(self) -> str | None:
        return self._link(0) if self.offset > 0 else None

    @property
    def last_link(self) -> str | None:
        if self.offset + self.limit >= self.total:
            return None
        return self._link(((self.total - 1) // self.limit) * self.limit)
