"""The rules of OCR search and of an item's text. Take a Connection, never commit."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from sqlalchemy import Connection

from imageserver.errors import Invalid, NotFound
from imageserver.media.model import MediaItem
from imageserver.ocr import repo
from imageserver.work import artefacts
from imageserver.work.scope import Scope

MIN_TERM = 3  # the trigram indexes answer substrings of 3+ characters
MAX_TERMS = 8


def _query_pattern() -> str:
    """What `terms_of` accepts, as one regular expression for the OpenAPI document: at
    most MAX_TERMS words, one of them MIN_TERM+ characters long (each place it may take
    is one branch, as the document's patterns have no look-ahead)."""
    # str.split()'s whitespace: regular expression engines' \s and the C0 separators
    # (no other control character: PostgreSQL refuses NUL in text)
    space, text = r"[\s\x1c-\x1f\x85]", r"[^\s\x00-\x1f\x7f-\x9f]"
    word, long = rf"{text}+", rf"{text}*{text}{{{MIN_TERM}}}{text}*"
    places = [
        rf"(?:{word}{space}+){{{k}}}{long}(?:{space}+{word}){{0,{MAX_TERMS - 1 - k}}}"
        for k in range(MAX_TERMS)
    ]
    return rf"^{space}*(?:{'|'.join(places)}){space}*$"


QUERY_PATTERN = _query_pattern()


def terms_of(q: str) -> list[str]:
    """The words of a query (each a case-insensitive substring that must occur); at least
    one of 3+ characters, so the index answers the query."""
    terms = list(dict.fromkeys(w.casefold() for w in q.split()))
    if not terms:
        raise Invalid("q: empty")
    if len(terms) > MAX_TERMS:
        raise Invalid(f"q: at most {MAX_TERMS} words")
    if any(unicodedata.category(ch) == "Cc" for t in terms for ch in t):
        raise Invalid("q: must not contain control characters")
    if max(len(t) for t in terms) < MIN_TERM:
        raise Invalid(f"q: needs a word of at least {MIN_TERM} characters")
    return terms


@dataclass(frozen=True)
class Page:
    items: list[MediaItem]
    next_cursor: str | None


def decode_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not cursor.isdigit() or len(cursor) > 18:
        raise Invalid("cursor: not a cursor of this search")
    return int(cursor)


def search(
    conn: Connection,
    scope: Scope,
    q: str,
    library_id: int | None,
    limit: int,
    cursor: str | None,
) -> Page:
    rows = repo.search(conn, scope, terms_of(q), library_id, decode_cursor(cursor), limit)
    more = len(rows) > limit
    items = rows[:limit]
    return Page(items, str(items[-1].id) if more and items else None)


@dataclass(frozen=True)
class ItemText:
    content_hash: str | None
    status: str
    error: str | None
    engine: str | None
    text: str
    lines: list[dict[str, object]]


def text_of_item(conn: Connection, scope: Scope, media_id: int) -> ItemText:
    row = repo.live_item(conn, scope, media_id)
    if row is None:
        raise NotFound(f"media {media_id} not found")
    digest = row["content_hash"]
    if digest is None:
        return ItemText(None, "pending", None, None, "", [])
    state = artefacts.get(conn, digest, repo.OCR_KIND)
    status = str(state["status"]) if state else "pending"
    error = state["detail"] if state and status != "done" else None
    found = repo.text_of(conn, digest)
    if found is None:
        return ItemText(digest, status, error, None, "", [])
    return ItemText(digest, status, error, found["engine"], found["text"], list(found["lines"]))
