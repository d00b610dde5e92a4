"""Listing queries: filters, keyset (cursor) pagination, timeline buckets, duplicates.

Pagination is keyset on (taken_at, id), so a page boundary stays exact while rows are
added or removed elsewhere: no item is skipped or shown twice, unlike OFFSET paging.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal

from sqlalchemy import (
    ColumnElement,
    Connection,
    RowMapping,
    and_,
    func,
    or_,
    select,
)

from imageserver.db.tables import faces, libraries, media
from imageserver.errors import Invalid

Order = Literal["desc", "asc"]


@dataclass(frozen=True)
class MediaFilter:
    library_ids: tuple[int, ...] = ()
    folder: str | None = None
    recursive: bool = True
    date_from: datetime | None = None
    date_to: datetime | None = None  # exclusive
    camera: str | None = None
    kind: str | None = None
    has_gps: bool | None = None
    person_id: int | None = None
    include_companions: bool = False


def as_start(value: date | datetime | None) -> datetime | None:
    """taken_at is a camera's wall clock: a bound's time zone, if any, is dropped."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    return datetime.combine(value, time.min)


def as_end(value: date | datetime | None) -> datetime | None:
    """A date `to` includes that whole day; a datetime is an exclusive bound."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if value == date.max:
        return None  # "up to the last day there is": no bound (the next day overflows)
    return datetime.combine(value, time.min) + timedelta(days=1)


def conditions(f: MediaFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [
        media.c.retired_at.is_(None),
        libraries.c.enabled.is_(True),
    ]
    if f.library_ids:
        where.append(media.c.library_id.in_(f.library_ids))
    if f.folder is not None:
        folder = f.folder.strip("/")
        if f.recursive and folder:
            where.append(or_(media.c.folder == folder, media.c.folder.startswith(folder + "/")))
        elif not f.recursive:
            where.append(media.c.folder == folder)
    if f.date_from is not None:
        where.append(media.c.taken_at >= f.date_from)
    if f.date_to is not None:
        where.append(media.c.taken_at < f.date_to)
    if f.camera:
        pattern = f"%{f.camera.lower()}%"
        where.append(
            or_(func.lower(media.c.model).like(pattern), func.lower(media.c.make).like(pattern))
        )
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
    return where


def encode_cursor(row: RowMapping) -> str:
    payload = json.dumps({"t": row["taken_at"].isoformat(), "i": row["id"]})
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        return datetime.fromisoformat(data["t"]), int(data["i"])
    except (ValueError, KeyError, TypeError, binascii.Error, json.JSONDecodeError) as exc:
        raise Invalid("cursor: malformed") from exc


def list_page(
    conn: Connection, f: MediaFilter, limit: int, cursor: str | None, order: Order = "desc"
) -> tuple[list[RowMapping], str | None]:
    where = conditions(f)
    if cursor:
        taken, last_id = decode_cursor(cursor)
        if order == "desc":
            where.append(
                or_(media.c.taken_at < taken, and_(media.c.taken_at == taken, media.c.id < last_id))
            )
        else:
            where.append(
                or_(media.c.taken_at > taken, and_(media.c.taken_at == taken, media.c.id > last_id))
            )
    ordering = (
        (media.c.taken_at.desc(), media.c.id.desc())
        if order == "desc"
        else (media.c.taken_at.asc(), media.c.id.asc())
    )
    query = (
        select(media)
        .select_from(media.join(libraries, libraries.c.id == media.c.library_id))
        .where(*where)
        .order_by(*ordering)
        .limit(limit + 1)
    )
    rows = list(conn.execute(query).mappings())
    next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], next_cursor


def bucket_expr(conn: Connection, granularity: Literal["month", "day"]) -> ColumnElement[str]:
    if conn.dialect.name == "postgresql":
        fmt = "YYYY-MM" if granularity == "month" else "YYYY-MM-DD"
        return func.to_char(media.c.taken_at, fmt)
    fmt = "%Y-%m" if granularity == "month" else "%Y-%m-%d"
    return func.strftime(fmt, media.c.taken_at)


def timeline(
    conn: Connection, f: MediaFilter, granularity: Literal["month", "day"]
) -> list[tuple[str, int]]:
    bucket = bucket_expr(conn, granularity).label("bucket")
    query = (
        select(bucket, func.count().label("n"))
        .select_from(media.join(libraries, libraries.c.id == media.c.library_id))
        .where(*conditions(f))
        .group_by(bucket)
        .order_by(bucket.desc())
    )
    return [(str(r.bucket), int(r.n)) for r in conn.execute(query)]


def duplicate_groups(
    conn: Connection, library_ids: tuple[int, ...], limit: int, offset: int
) -> tuple[list[tuple[str, list[RowMapping]]], int]:
    """Hashes present at two or more live paths, biggest files first."""
    where: list[ColumnElement[bool]] = [
        media.c.retired_at.is_(None),
        media.c.content_hash.is_not(None),
        libraries.c.enabled.is_(True),
    ]
    if library_ids:
        where.append(media.c.library_id.in_(library_ids))
    joined = media.join(libraries, libraries.c.id == media.c.library_id)
    grouped = (
        select(media.c.content_hash, func.max(media.c.size).label("size"))
        .select_from(joined)
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
    hashes = [r.content_hash for r in page]
    if not hashes:
        return [], total
    members = conn.execute(
        select(media.c.id, media.c.library_id, media.c.rel_path, media.c.content_hash, media.c.size)
        .select_from(joined)
        .where(*where, media.c.content_hash.in_(hashes))
        .order_by(media.c.library_id, media.c.rel_path)
    ).mappings()
    by_hash: dict[str, list[RowMapping]] = {h: [] for h in hashes}
    for member in members:
        by_hash[member["content_hash"]].append(member)
    return [(h, by_hash[h]) for h in hashes], total
