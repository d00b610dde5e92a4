"""SQL of the one search (`GET /search`): a parsed query becomes WHERE conditions on media.

Every condition list starts from `media/query.py` `listed(scope, MediaFilter(user_id=...))`:
the caller's scope, enabled libraries, companions folded, and the timeline's archive rule
(archived items are left out unless `is:archived` asks for them). Filters add conditions;
an excluded filter (`-person:Bob`) is the negation of its condition with NULL read as "no
match" (so `-lens:50mm` keeps items without a lens). Filters on derived data (people,
places, OCR text) are subqueries keyed by content hash (curation: title, description and
tags, by media id); the media row they select is
still one the caller may see, so a person or an album never shows an ungranted item.

OCR text is matched like `ocr/repo.py` does (the two features may not import each other):
PostgreSQL `ILIKE` answered by the pg_trgm index, SQLite the FTS5 trigram table `ocr_fts`
for terms of 3+ characters (shorter ones by `LIKE` on `ocr_text`).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    column,
    exists,
    extract,
    false,
    func,
    not_,
    or_,
    select,
    table,
    text,
)

from imageserver.db.tables import (
    album_items,
    album_members,
    albums,
    curation_items,
    faces,
    favorites,
    item_tags,
    media,
    ocr_text,
    people,
    places,
)
from imageserver.media.model import Cursor, MediaFilter, MediaItem
from imageserver.media.query import (
    ITEM_COLUMNS,
    WITH_LIBRARY,
    after,
    camera_contains,
    listed,
    to_item,
)
from imageserver.search.language import Filter, Parsed, Term
from imageserver.work.scope import Scope

CHUNK = 500
ocr_fts = table("ocr_fts", column("content_hash"), column("text"))


# --- text ----------------------------------------------------------------------------------


def _escape(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _contains(col: ColumnElement[str], needle: str) -> ColumnElement[bool]:
    """Case-insensitive substring, `%` and `_` literal."""
    return func.lower(col).like(f"%{_escape(needle.lower())}%", escape="\\")


def glob(col: ColumnElement[str], pattern: str) -> ColumnElement[bool]:
    """`*` and `?` globs, case-insensitive, over the whole value; no wildcard: contains."""
    if "*" not in pattern and "?" not in pattern:
        return _contains(col, pattern)
    like = _escape(pattern.lower()).replace("*", "%").replace("?", "_")
    return func.lower(col).like(like, escape="\\")


def has_fts(conn: Connection) -> bool:
    query = text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ocr_fts'")
    return conn.execute(query).first() is not None


def ocr_hashes(conn: Connection, term: str) -> Select[tuple[str]] | None:
    """Hashes whose OCR text holds `term` (None: nothing was ever read on this SQLite)."""
    pattern = f"%{_escape(term)}%"
    if conn.dialect.name == "postgresql":
        return select(ocr_text.c.content_hash).where(ocr_text.c.text.ilike(pattern, escape="\\"))
    if not has_fts(conn):
        return None
    if len(term) < 3:
        return select(ocr_text.c.content_hash).where(ocr_text.c.text.ilike(pattern, escape="\\"))
    phrase = '"' + term.replace('"', '""') + '"'
    return select(ocr_fts.c.content_hash).where(ocr_fts.c.text.op("MATCH")(phrase))


def curated_ids(term: str) -> Select[tuple[int]]:
    """Media ids whose effective title, description or a tag holds the term."""
    described = select(curation_items.c.media_id).where(
        or_(_contains(curation_items.c.title, term), _contains(curation_items.c.description, term))
    )
    tagged = select(item_tags.c.media_id).where(_contains(item_tags.c.tag, term))
    return described.union(tagged)  # type: ignore[return-value]


def text_match(conn: Connection, term: str) -> ColumnElement[bool]:
    """The term occurs in the item's OCR text, file name, folder path, title, description
    or tags."""
    found = [
        _contains(media.c.name, term),
        _contains(media.c.folder, term),
        media.c.id.in_(curated_ids(term)),
    ]
    hashes = ocr_hashes(conn, term)
    if hashes is not None:
        found.append(media.c.content_hash.in_(hashes))
    return or_(*found)


def ocr_texts(conn: Connection, digests: Sequence[str]) -> dict[str, str]:
    """hash -> its OCR text, for explaining a page of hits."""
    if not digests:
        return {}
    query = select(ocr_text.c.content_hash, ocr_text.c.text).where(
        ocr_text.c.content_hash.in_(list(digests))
    )
    return {str(r.content_hash): str(r.text) for r in conn.execute(query)}


def curated_texts(conn: Connection, ids: Sequence[int]) -> dict[int, dict[str, str]]:
    """media id -> its title, description and tags (one line each), for explaining hits."""
    out: dict[int, dict[str, str]] = {}
    if not ids:
        return out
    wanted = list(ids)
    rows = conn.execute(
        select(
            curation_items.c.media_id, curation_items.c.title, curation_items.c.description
        ).where(curation_items.c.media_id.in_(wanted))
    )
    for r in rows:
        out[int(r.media_id)] = {"title": r.title or "", "description": r.description or ""}
    for media_id, tag in conn.execute(
        select(item_tags.c.media_id, item_tags.c.tag).where(item_tags.c.media_id.in_(wanted))
    ):
        entry = out.setdefault(int(media_id), {"title": "", "description": ""})
        entry["tags"] = entry.get("tags", "") + "\n" + str(tag)
    return out


# --- filters -------------------------------------------------------------------------------


def _named(col: ColumnElement[str], value: str) -> ColumnElement[bool]:
    return func.lower(col) == value.lower()


def _person(f: Filter) -> ColumnElement[bool]:
    who = _named(people.c.name, f.value)
    if f.number is not None:
        who = or_(who, people.c.id == f.number)
    hashes = select(faces.c.content_hash).join(people, people.c.id == faces.c.person_id)
    return media.c.content_hash.in_(hashes.where(who))


def _place(f: Filter) -> ColumnElement[bool]:
    where = or_(_named(places.c.place, f.value), _named(places.c.region, f.value))
    return media.c.content_hash.in_(select(places.c.content_hash).where(where))


def _country(f: Filter) -> ColumnElement[bool]:
    where = or_(places.c.country_code == f.value.upper(), _named(places.c.country, f.value))
    return media.c.content_hash.in_(select(places.c.content_hash).where(where))


def _tag(f: Filter) -> ColumnElement[bool]:
    """The tag or one below it (levels joined by "/"), ignoring case."""
    tag = f.value.strip("/").lower()
    below = func.lower(item_tags.c.tag).like(_escape(tag) + "/%", escape="\\")
    ids = select(item_tags.c.media_id).where(or_(func.lower(item_tags.c.tag) == tag, below))
    return media.c.id.in_(ids)


def _album(f: Filter, user_id: int) -> ColumnElement[bool]:
    """Items of the caller's albums (owned or shared with them) by name or id; an album
    grants nothing, the scope conditions beside this one still hold."""
    member = exists().where(
        album_members.c.album_id == albums.c.id, album_members.c.user_id == user_id
    )
    which = _named(albums.c.name, f.value)
    if f.number is not None:
        which = or_(which, albums.c.id == f.number)
    ids = (
        select(album_items.c.media_id)
        .join(albums, albums.c.id == album_items.c.album_id)
        .where(or_(albums.c.owner_id == user_id, member), which)
    )
    return media.c.id.in_(ids)


def _span(f: Filter) -> ColumnElement[bool]:
    assert f.span is not None
    start, end = f.span
    where = []
    if start is not None:
        where.append(media.c.taken_at >= start)
    if end is not None:
        where.append(media.c.taken_at < end)
    return and_(*where)


def condition(f: Filter, user_id: int) -> ColumnElement[bool] | None:
    """The filter's condition as written without its sign; None: it is a listing mark
    (`is:archived`), applied by `listed` itself."""
    key = f.key
    if key == "person":
        return _person(f)
    if key == "place":
        return _place(f)
    if key == "country":
        return _country(f)
    if key == "camera":
        return camera_contains(f.value)
    if key == "lens":
        return _contains(media.c.lens, f.value)
    if key == "type":
        return media.c.kind == f.value
    if key in ("after", "before", "year") or (key == "month" and f.span is not None):
        return _span(f)
    if key == "month":
        return extract("month", media.c.taken_at) == f.number
    if key == "in":
        return _album(f, user_id)
    if key == "tag":
        return _tag(f)
    if key == "file":
        return glob(media.c.name, f.value)
    if key == "folder":
        return glob(media.c.folder, f.value)
    if key == "is" and f.value == "favorite":
        return exists().where(favorites.c.user_id == user_id, favorites.c.media_id == media.c.id)
    if key == "is":
        return None
    if key == "has" and f.value == "gps":
        return and_(media.c.latitude.is_not(None), media.c.longitude.is_not(None))
    if key == "has":
        read = select(ocr_text.c.content_hash).where(ocr_text.c.text != "")
        return media.c.content_hash.in_(read)
    raise AssertionError(f"no condition for filter {key!r}")  # the parser knows every key


def negate(cond: ColumnElement[bool]) -> ColumnElement[bool]:
    """NOT cond, where an unknown (NULL) reads as "does not match"."""
    return not_(func.coalesce(cond, false()))


def conditions(
    conn: Connection,
    scope: Scope,
    user_id: int,
    parsed: Parsed,
    literal: Sequence[Term],
) -> list[ColumnElement[bool]]:
    """WHERE of the query: the listing rules in scope, every filter, every literal term
    (phrases; words too when there is no model). Negative clauses exclude."""
    archived: bool | None = None
    for f in parsed.of("is"):
        if f.value == "archived":
            archived = not f.negative
    where = listed(scope, MediaFilter(user_id=user_id, archived=archived))
    for f in parsed.filters:
        cond = condition(f, user_id)
        if cond is not None:
            where.append(negate(cond) if f.negative else cond)
    for t in literal:
        cond = text_match(conn, t.text)
        where.append(negate(cond) if t.negative else cond)
    return where


# --- reads ---------------------------------------------------------------------------------


def newest(
    conn: Connection, where: list[ColumnElement[bool]], limit: int, cursor: Cursor | None
) -> list[MediaItem]:
    """Matching items newest first (keyset on taken_at, id), `limit + 1` at most."""
    if cursor is not None:
        where = [*where, after(cursor, "desc")]
    query = (
        select(*ITEM_COLUMNS)
        .select_from(WITH_LIBRARY)
        .where(*where)
        .order_by(media.c.taken_at.desc(), media.c.id.desc())
        .limit(limit + 1)
    )
    return [to_item(r) for r in conn.execute(query).mappings()]


def matching_hashes(conn: Connection, where: list[ColumnElement[bool]], cap: int) -> list[str]:
    """Distinct content hashes of matching items, at most `cap + 1` (more: too many to
    mask the scan with; the caller then resolves ranked rows instead)."""
    query = (
        select(media.c.content_hash)
        .select_from(WITH_LIBRARY)
        .where(*where, media.c.content_hash.is_not(None), media.c.kind == "photo")
        .distinct()
        .limit(cap + 1)
    )
    return [str(r[0]) for r in conn.execute(query)]


def representatives(
    conn: Connection, where: list[ColumnElement[bool]], digests: Sequence[str]
) -> dict[str, MediaItem]:
    """hash -> its oldest matching item, for the hashes that have one."""
    found: dict[str, MediaItem] = {}
    for start in range(0, len(digests), CHUNK):
        chunk = list(digests[start : start + CHUNK])
        firsts = (
            select(func.min(media.c.id))
            .select_from(WITH_LIBRARY)
            .where(*where, media.c.content_hash.in_(chunk))
            .group_by(media.c.content_hash)
        )
        query = select(*ITEM_COLUMNS).where(media.c.id.in_(firsts.scalar_subquery()))
        for row in conn.execute(query).mappings():
            item = to_item(row)
            assert item.content_hash is not None
            found[item.content_hash] = item
    return found
