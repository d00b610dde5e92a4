"""Suggestions for the search box: what the clause being typed (the last one) may become.

`person:an` offers the people whose name starts with "an", `place:`, `country:`,
`camera:`, `in:` (albums) and `tag:` likewise; a bare word of two or more letters offers
matching people, places, albums and tags as filters. Each suggestion is the whole clause
to put in place of the last one (values with spaces or quotes quoted), so the box never
has to know the grammar. Everything comes from what the caller may see.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection

from imageserver.search import suggest_repo as repo
from imageserver.work.scope import Scope

MAX = 10
MIN_WORD = 2


@dataclass(frozen=True)
class Suggestion:
    clause: str  # the clause that replaces the one being typed
    key: str  # person | place | country | camera | in | tag
    value: str


def quoted(value: str) -> str:
    """A value as the query language reads it back: bare when it is one plain word."""
    if value and not any(c.isspace() or c in '"' for c in value):
        return value
    return '"' + value.replace('"', "") + '"'


def last_clause(text: str) -> tuple[str, str]:
    """(what comes before the clause being typed, that clause); a quote left open keeps
    its spaces in the clause."""
    open_quote = text.count('"') % 2 == 1
    cut = text.rfind('"') if open_quote else len(text)
    space = max(text.rfind(" ", 0, cut), text.rfind("\t", 0, cut))
    return text[: space + 1], text[space + 1 :]


def suggest(conn: Connection, scope: Scope, user_id: int, text: str) -> list[Suggestion]:
    _, clause = last_clause(text)
    sign = "-" if clause.startswith("-") else ""
    clause = clause.lstrip("+-")
    key, colon, value = clause.partition(":")
    value = value.strip('"')
    finders: dict[str, Callable[[str, int], list[str]]] = {
        "person": lambda p, n: repo.person_names(conn, scope, user_id, p, n),
        "place": lambda p, n: repo.place_names(conn, scope, user_id, p, n),
        "country": lambda p, n: repo.countries(conn, scope, user_id, p, n),
        "camera": lambda p, n: repo.cameras(conn, scope, user_id, p, n),
        "in": lambda p, n: repo.album_names(conn, user_id, p, n),
        "tag": lambda p, n: repo.tags(conn, scope, user_id, p, n),
    }
    if colon:
        found = finders.get(key.lower())
        if found is None:
            return []
        wanted = [(key.lower(), v) for v in found(value, MAX)]
    elif len(clause) >= MIN_WORD:
        wanted = [
            (name, v)
            for name in ("person", "place", "in", "tag")
            for v in finders[name](clause.strip('"'), 3)
        ]
    else:
        return []
    return [Suggestion(f"{sign}{k}:{quoted(v)}", k, v) for k, v in wanted][:MAX]
