"""Bounds of what clients may send, checked before any query runs (a 422, never a 500).

- Ids are `integer` columns (32-bit on PostgreSQL, 64-bit on SQLite): a larger number
  would reach the driver and overflow there.
- PostgreSQL refuses NUL in text, and control characters have no business in names or
  filters: text that reaches a query or a stored name is free of them.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

MAX_ID = 2**31 - 1

DbId = Annotated[int, Field(ge=1, le=MAX_ID)]

# No C0 control character (NUL included) and no DEL.
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
