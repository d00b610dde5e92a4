"""Bounds of what clients may send, checked before any query runs (a 422, never a 500).

- Ids are `integer` columns (32-bit on PostgreSQL, 64-bit on SQLite): a larger number
  would reach the driver and overflow there.
- PostgreSQL refuses NUL in text, and control characters have no business in names or
  filters: text that reaches a query or a stored name is free of them.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from starlette.convertors import Convertor, register_url_convertor

MAX_ID = 2**31 - 1

DbId = Annotated[int, Field(ge=1, le=MAX_ID)]

# No C0 control character (NUL included) and no DEL.
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"


class _SignedIdConvertor(Convertor[str]):
    """`{name:id}` in a route path: an optionally signed run of digits, passed on as text.

    Literal siblings (`/media/favorite`, `/faces/stats`) are never captured by an id
    template, so their other methods answer 405; while -1 or 2**63 still reach the
    parameter's bounds (IdPath) and get the 422 of any out-of-range id, not a 404.
    """

    regex = "-?[0-9]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return str(value)


# Registered on import: every feature router imports this module (DbId, MAX_ID) before its
# route decorators run, which is when Starlette compiles the path patterns.
register_url_convertor("id", _SignedIdConvertor())
