"""The read side of media: every query the browsing routes run, and the pieces they share.

Visibility is decided in one place. Every query here builds its WHERE clause from
`visible(scope)` (media rows) or `visible_library(scope, id)` (the libraries table): the
caller's `Scope` (the libraries a user may see, work/scope.py) is the first argument of
every read below and goes into the SQL, so a row outside it is never fetched and an id,
path or hash of an ungranted library reads exactly like one that does not exist.

Listings narrow `visible()` with `listed(f)`: rows of enabled libraries, the filter's
conditions, companions folded into their main item. Folder counts and duplicates reuse
`listed`, so a folder's number is what `/media?folder=` shows. Text a client sends into a
LIKE (folder prefixes, the camera filter) is escaped: `%` and `_` match only themselves.

Pagination is keyset on (taken_at_utc, id), so a page boundary stays exact while rows are
added or removed elsewhere: no item is skipped or shown twice, unlike OFFSET paging.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    RowMapping,
    Select,
    and_,
    exists,
    func,
    literal,
    or_,
    select,
    tuple_,
)

from imageserver.db.tables import (
    archives,
    artefacts,
    curation_items,
    faces,
    favorites,
    item_tags,
    libraries,
    media,
    places,
    sidecars,
)
from imageserver.errors import Invalid
from imageserver.inputs import MAX_ID
from imageserver.media.model import (
    ITEM_FIELDS,
    Curation,
    Cursor,
    DuplicateMember,
    DuplicateSet,
    Granularity,
    ItemPage,
    MediaFilter,
    MediaItem,
    Order,
    PlaceName,
)
from imageserver.work.artefacts import THUMB_KIND
from imageserver.work.scope import Scope

# Media rows with their library, for the conditions on `libraries.enabled`.
WITH_LIBRARY = media.join(libraries, libraries.c.id == media.c.library_id)
ITEM_COLUMNS = [media.c[name] for name in ITEM_FIELDS]
# No UTC offset in use is larger (media/metadata/dates.py refuses more from a file).
MAX_OFFSET = timedelta(hours=15)


# --- where-clause builders -----------------------------------------------------------------


def visible(scope: Scope) -> list[ColumnElement[bool]]:
    """The media rows a reader may see: live ones of a library in the caller's scope (a
    retired row is gone for every route).

    Every media read of this module starts from this list: the one place where the
    caller's visibility scope is applied.
    """
    return [media.c.retired_at.is_(None), scope.where(media.c.library_id)]


def visible_library(scope: Scope, library_id: int) -> list[ColumnElement[bool]]:
    """The library `library_id`, when the reader may see it (see `visible`)."""
    return [libraries.c.id == library_id, scope.where(libraries.c.id)]


def folder_within(folder: str) -> ColumnElement[bool]:
    """Rows in `folder` or below it; the folder is literal text, never a LIKE pattern."""
    return or_(media.c.folder == folder, media.c.folder.startswith(folder + "/", autoescape=True))


def camera_contains(text: str) -> ColumnElement[bool]:
    """Make or model contains `text` (case-insensitive, `%` and `_` taken literally)."""
    needle = text.lower()
    return or_(
        func.lower(media.c.model).contains(needle, autoescape=True),
        func.lower(media.c.make).contains(needle, autoescape=True),
    )


def shifted(bound: datetime, delta: timedelta) -> datetime:
    """`bound + delta`, held at the calendar's ends: 0001-01-01 and 9999-12-31 are valid bounds."""
    try:
        return bound + delta
    except OverflowError:
        return datetime.min if delta < timedelta(0) else datetime.max


def listed(scope: Scope, f: MediaFilter) -> list[ColumnElement[bool]]:
    """What the grid lists for a filter (query over WITH_LIBRARY), inside the scope."""
    where = [*visible(scope), libraries.c.enabled.is_(True)]
    if f.library_ids:
        where.append(media.c.library_id.in_(f.library_ids))
    if f.folder is not None:
        folder = f.folder.strip("/")
        if f.recursive and folder:
            where.append(folder_within(folder))
        elif not f.recursive:
            where.append(media.c.folder == folder)
    # The dates are camera days (taken_at); the same bound, widened by the largest UTC
    # offset, on taken_at_utc lets the listing's own index stop at the range's ends.
    if f.date_from is not None:
        where.append(media.c.taken_at >= f.date_from)
        where.append(media.c.taken_at_utc >= shifted(f.date_from, -MAX_OFFSET))
    if f.date_to is not None:
        where.append(media.c.taken_at < f.date_to)
        where.append(media.c.taken_at_utc < shifted(f.date_to, MAX_OFFSET))
    if f.camera:
        where.append(camera_contains(f.camera))
    if f.kind is not None:
        where.append(media.c.kind == f.kind)
    if f.has_gps is True:
        where.append(and_(media.c.latitude.is_not(None), media.c.longitude.is_not(None)))
    elif f.has_gps is False:
        where.append(or_(media.c.latitude.is_(None), media.c.longitude.is_(None)))
    if f.person_id is not None:
        hashes = select(faces.c.content_hash).where(faces.c.person_id == f.person_id)
        where.append(media.c.content_hash.in_(hashes))
    if not f.include_companions:
        where.append(media.c.companion_id.is_(None))
    if f.country is not None or f.region is not None or f.place is not None:
        where.append(media.c.content_hash.in_(placed(f)))
    if f.tag is not None:
        where.append(media.c.id.in_(tagged(f.tag)))
    if f.user_id is not None:
        where += marks(f)
    where += readable(f)
    return where


def readable(f: MediaFilter) -> list[ColumnElement[bool]]:
    """Files nothing could be drawn from (the thumbnail drain gave up) do not lead the
    timeline under the day they were copied: they wait in the "Could not read" view
    (`unreadable=true`); a folder's listing still shows everything in it, and a group's
    companions are listed with their main item."""
    broken = exists().where(
        artefacts.c.content_hash == media.c.content_hash,
        artefacts.c.kind == THUMB_KIND,
        artefacts.c.status == "failed",
    )
    if f.unreadable is True:
        return [broken]
    if f.unreadable is False:
        return [~broken]
    if f.folder is None:
        # A companion (a RAW beside its JPEG) rides with its main item, readable or not.
        return [or_(media.c.companion_id.is_not(None), ~broken)]
    return []


def tagged(tag: str) -> Select[tuple[int]]:
    """Media ids with `tag` or a tag below it (levels joined by "/", taken literally)."""
    tag = tag.strip("/")
    return select(item_tags.c.media_id).where(
        or_(item_tags.c.tag == tag, item_tags.c.tag.startswith(tag + "/", autoescape=True))
    )


def marks(f: MediaFilter) -> list[ColumnElement[bool]]:
    """The caller's favorite / archive filters: archived items leave the timeline (not
    a folder's listing) unless `archived=true` asks for the Archive view."""
    where: list[ColumnElement[bool]] = []
    fav = exists().where(favorites.c.user_id == f.user_id, favorites.c.media_id == media.c.id)
    arch = exists().where(archives.c.user_id == f.user_id, archives.c.media_id == media.c.id)
    if f.favorite is not None:
        where.append(fav if f.favorite else ~fav)
    if f.archived is True:
        where.append(arch)
    elif f.archived is False or f.folder is None:
        where.append(~arch)
    return where


def placed(f: MediaFilter) -> Select[tuple[str]]:
    """Hashes the places drain put in the filter's country / region / place."""
    query = select(places.c.content_hash)
    if f.country is not None:
        query = query.where(places.c.country_code == f.country.upper())
    if f.region is not None:
        query = query.where(places.c.region == f.region)
    if f.place is not None:
        query = query.where(places.c.place == f.place)
    return query


# --- cursors -------------------------------------------------------------------------------


def encode_cursor(item: MediaItem) -> str:
    payload = json.dumps({"t": item.taken_at_utc.isoformat(), "i": item.id})
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Cursor:
    """A cursor this server issued, or Invalid (a 422): never a value the driver refuses."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data: Any = json.loads(raw)
        taken, last_id = data["t"], data["i"]
        when = datetime.fromisoformat(taken)
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise Invalid("cursor: malformed") from exc
    # An id is an INTEGER column: anything else (a float, a bool, 2**63, -1) is no cursor
    # of ours, and out of range it would overflow in the driver.
    if type(last_id) is not int or not 1 <= last_id <= MAX_ID or when.tzinfo is not None:
        raise Invalid("cursor: malformed")
    return Cursor(taken_at=when, id=last_id)


def after(cursor: Cursor, order: Order) -> ColumnElement[bool]:
    """Rows past the cursor in listing order: a row-value comparison on (taken_at_utc, id),
    which both databases answer from the listing index, plus the plain bound on its first
    column that lets a planner start the index range at the cursor."""
    key = media.c.taken_at_utc
    pair = tuple_(key, media.c.id)
    at = tuple_(literal(cursor.taken_at, key.type), literal(cursor.id, media.c.id.type))
    if order == "desc":
        return and_(key <= cursor.taken_at, pair < at)
    return and_(key >= cursor.taken_at, pair > at)


# --- reads ---------------------------------------------------------------------------------


def to_item(row: RowMapping) -> MediaItem:
    return MediaItem(**{name: row[name] for name in ITEM_FIELDS})


def list_page(
    conn: Connection,
    scope: Scope,
    f: MediaFilter,
    limit: int,
    cursor: Cursor | None,
    order: Order = "desc",
) -> ItemPage:
    query = page_query(scope, f, limit, cursor, order)
    items = [to_item(r) for r in conn.execute(query).mappings()]
    next_cursor = encode_cursor(items[limit - 1]) if len(items) > limit else None
    return ItemPage(items=items[:limit], next_cursor=next_cursor)


def page_query(
    scope: Scope, f: MediaFilter, limit: int, cursor: Cursor | None, order: Order = "desc"
) -> Select[Any]:
    """One page (and one row more, to know if there is a next) in the grid's order."""
    where = listed(scope, f)
    if cursor is not None:
        where.append(after(cursor, order))
    ordering = (
        (media.c.taken_at_utc.desc(), media.c.id.desc())
        if order == "desc"
        else (media.c.taken_at_utc.asc(), media.c.id.asc())
    )
    return (
        select(*ITEM_COLUMNS)
        .select_from(WITH_LIBRARY)
        .where(*where)
        .order_by(*ordering)
        .limit(limit + 1)
    )


def item(conn: Connection, scope: Scope, media_id: int) -> MediaItem | None:
    query = select(*ITEM_COLUMNS).where(*visible(scope), media.c.id == media_id)
    row = conn.execute(query).mappings().first()
    return to_item(row) if row is not None else None


def item_by_path(
    conn: Connection, scope: Scope, library_id: int, rel_path: str
) -> MediaItem | None:
    query = select(*ITEM_COLUMNS).where(
        *visible(scope), media.c.library_id == library_id, media.c.rel_path == rel_path
    )
    row = conn.execute(query).mappings().first()
    return to_item(row) if row is not None else None


def companions_of(conn: Connection, scope: Scope, media_id: int) -> list[int]:
    """Live files linked to this item (its RAW, its live video)."""
    query = select(media.c.id).where(*visible(scope), media.c.companion_id == media_id)
    return [int(r.id) for r in conn.execute(query)]


def place_of(conn: Connection, content_hash: str | None) -> PlaceName | None:
    """The places drain's answer for an item's bytes (None: no fix, or not geocoded yet)."""
    if content_hash is None:
        return None
    query = select(
        places.c.country_code, places.c.country, places.c.region, places.c.place, places.c.timezone
    ).where(places.c.content_hash == content_hash)
    row = conn.execute(query).mappings().first()
    return PlaceName(**row) if row is not None else None


def marks_of(conn: Connection, user_id: int, media_id: int) -> tuple[bool, bool]:
    """Whether `user_id` starred / archived the item (per user, so not in MediaItem)."""
    fav = exists().where(favorites.c.user_id == user_id, favorites.c.media_id == media_id)
    arch = exists().where(archives.c.user_id == user_id, archives.c.media_id == media_id)
    row = conn.execute(select(fav.label("favorite"), arch.label("archived"))).one()
    return bool(row.favorite), bool(row.archived)


def curation_of(conn: Connection, item: MediaItem) -> Curation | None:
    """The effective curation of a visible item (the caller checked the item first)."""
    row = (
        conn.execute(select(curation_items).where(curation_items.c.media_id == item.id))
        .mappings()
        .first()
    )
    paths = (
        conn.execute(
            select(sidecars.c.path)
            .where(sidecars.c.library_id == item.library_id, sidecars.c.media_path == item.rel_path)
            .order_by(sidecars.c.path)
        )
        .scalars()
        .all()
    )
    if row is None and not paths:
        return None
    tags = (
        conn.execute(
            select(item_tags.c.tag).where(item_tags.c.media_id == item.id).order_by(item_tags.c.tag)
        )
        .scalars()
        .all()
    )
    r: dict[str, Any] = dict(row) if row is not None else {}

    def load(value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    return Curation(
        rating=r.get("rating"),
        label=r.get("label"),
        title=r.get("title"),
        description=r.get("description"),
        tags=list(tags),
        people=list(load(r.get("people")) or []),
        taken_at=r.get("taken_at"),
        taken_at_offset_min=r.get("taken_at_offset_min"),
        latitude=r.get("latitude"),
        longitude=r.get("longitude"),
        sources=dict(load(r.get("sources")) or {}),
        sidecars=list(paths),
    )


def library_root(conn: Connection, scope: Scope, library_id: int) -> str | None:
    query = select(libraries.c.root_path).where(*visible_library(scope, library_id))
    root = conn.execute(query).scalar_one_or_none()
    return str(root) if root is not None else None


def bucket_expr(conn: Connection, granularity: Granularity) -> ColumnElement[str]:
    if conn.dialect.name == "postgresql":
        fmt = "YYYY-MM" if granularity == "month" else "YYYY-MM-DD"
        return func.to_char(media.c.taken_at, fmt)
    fmt = "%Y-%m" if granularity == "month" else "%Y-%m-%d"
    return func.strftime(fmt, media.c.taken_at)


def timeline(
    conn: Connection, scope: Scope, f: MediaFilter, granularity: Granularity
) -> list[tuple[str, int]]:
    bucket = bucket_expr(conn, granularity).label("bucket")
    query = (
        select(bucket, func.count().label("n"))
        .select_from(WITH_LIBRARY)
        .where(*listed(scope, f))
        .group_by(bucket)
        .order_by(bucket.desc())
    )
    return [(str(r.bucket), int(r.n)) for r in conn.execute(query)]


def duplicate_sets(
    conn: Connection, scope: Scope, library_ids: tuple[int, ...], limit: int, offset: int
) -> tuple[list[DuplicateSet], int]:
    """Hashes present at two or more live paths in the scope, biggest files first; and
    their number (a copy in an ungranted library is no duplicate for this caller)."""
    where = [
        *listed(scope, MediaFilter(library_ids=library_ids, include_companions=True)),
        media.c.content_hash.is_not(None),
    ]
    grouped = (
        select(media.c.content_hash, func.max(media.c.size).label("size"))
        .select_from(WITH_LIBRARY)
        .where(*where)
        .group_by(media.c.content_hash)
        .having(func.count() > 1)
    )
    total = int(conn.execute(select(func.count()).select_from(grouped.subquery())).scalar_one())
    page = conn.execute(
        grouped.order_by(func.max(media.c.size).desc(), media.c.content_hash)
        .limit(limit)
        .offset(offset)
    ).all()
    sizes = {str(r.content_hash): int(r.size) for r in page}
    hashes = list(sizes)
    if not hashes:
        return [], total
    members = conn.execute(
        select(media.c.id, media.c.library_id, media.c.rel_path, media.c.content_hash)
        .select_from(WITH_LIBRARY)
        .where(*where, media.c.content_hash.in_(hashes))
        .order_by(media.c.library_id, media.c.rel_path)
    ).all()
    by_hash: dict[str, list[DuplicateMember]] = {h: [] for h in hashes}
    for m in members:
        by_hash[m.content_hash].append(DuplicateMember(m.id, m.library_id, m.rel_path))
    sets = [DuplicateSet(h, sizes[h], found) for h, found in by_hash.items()]
    return sets, total


def folder_counts(conn: Connection, scope: Scope, library_id: int, parent: str) -> dict[str, int]:
    """folder -> item count as the grid lists it, for `parent` ("" = root) and below."""
    f = MediaFilter(library_ids=(library_id,), folder=parent or None)
    query = (
        select(media.c.folder, func.count())
        .select_from(WITH_LIBRARY)
        .where(*listed(scope, f))
        .group_by(media.c.folder)
    )
    return {str(folder): int(n) for folder, n in conn.execute(query)}
