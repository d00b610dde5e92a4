"""Bounds of what clients may send, checked before any query runs (a 422, never a 500).

- Ids are `integer` columns (32-bit on PostgreSQL, 64-bit on SQLite): a larger number
  would reach the driver and overflow there.
- PostgreSQL refuses NUL in text, and control characters have no business in names or
  filters: text that reaches a query or a stored name is free of them.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated

from pydantic import BeforeValidator, Field
from starlette.convertors import Convertor, register_url_convertor

MAX_ID = 2**31 - 1

DbId = Annotated[int, Field(ge=1, le=MAX_ID)]

_BARE_NUMBER = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def _not_a_number(value: object) -> object:
    """A date in a query is ISO 8601 text, as the document's `format` says: pydantic would
    also read a bare number as a Unix timestamp (`0` is 1970-01-01), refused here."""
    if isinstance(value, str) and _BARE_NUMBER.fullmatch(value.strip()):
        raise ValueError("a date is written YYYY-MM-DD (or as an ISO 8601 date-time)")
    return value


def _iso_text(value: object) -> object:
    """A date-time in a JSON body is ISO 8601 text too: a JSON number (or a boolean)
    would be read as a Unix timestamp, refused here as the document's type says."""
    if isinstance(value, int | float):
        raise ValueError("a date-time is ISO 8601 text, e.g. 2024-05-06T07:08:09Z")
    return _not_a_number(value)


IsoDate = Annotated[date, BeforeValidator(_not_a_number)]
IsoDateOrTime = Annotated[date | datetime, BeforeValidator(_not_a_number)]
IsoDateTimeText = Annotated[datetime, BeforeValidator(_iso_text)]

# No C0 control character (NUL included) and no DEL.
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
# Text of several lines: tabs and line breaks, no other C0 control character nor DEL.
TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"

# One name of a library-relative path: no separator, no control character (the Unicode
# category Cc: C0, DEL and C1), no backslash, at most 255 characters (file systems
# count 255 bytes: `media/paths.clean_rel_path` checks the bytes).
_NAME = r"[^/\\\x00-\x1f\x7f-\x9f]"
# A file's library-relative path as `clean_rel_path` accepts it, stated without
# look-arounds (which generators of examples do not honour): it starts with a name, so it
# is neither empty nor absolute. A `..` name is still refused by the server (422).
REL_PATH_PATTERN = rf"^{_NAME}{{1,255}}(/{_NAME}{{0,255}})*$"
# A folder: the same, or empty / "/" for the library's root.
FOLDER_PATTERN = rf"^/?$|{REL_PATH_PATTERN}"


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
