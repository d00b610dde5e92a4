"""All SQL of curation: sidecar rows, embedded and effective values, tags."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, String, and_, cast, delete, insert, or_, select, update

from imageserver.db.tables import curation_items, item_tags, libraries, media, sidecars
from imageserver.work.scope import Scope


@dataclass(frozen=True)
class SidecarRow:
    media_path: str
    path: str
    folder: str
    kind: str
    size: int
    mtime_ns: int
    data: dict[str, Any] | None


@dataclass(frozen=True)
class MediaRef:
    id: int
    rel_path: str
    folder: str
    name: str
    size: int
    mtime_ns: int
    has_date: bool
    meta_pending: bool  # the metadata drain has not read the file yet


def _data(value: Any) -> dict[str, Any] | None:
    if isinstance(value, str):  # some drivers hand JSON back as text
        value = json.loads(value)
    return value if isinstance(value, dict) else None


def sidecar_rows(
    conn: Connection, library_id: int, folders: Iterable[str] | None
) -> list[SidecarRow]:
    query = select(sidecars).where(sidecars.c.library_id == library_id)
    if folders is not None:
        query = query.where(sidecars.c.folder.in_(list(folders)))
    rows = conn.execute(query).mappings()
    return [
        SidecarRow(
            r["media_path"], r["path"], r["folder"], r["kind"], r["size"], r["mtime_ns"],
            (_data(r["data"]) or {}).get("fields"),
        )
        for r in rows
    ]  # fmt: skip


def delete_sidecars(conn: Connection, library_id: int, keys: list[tuple[str, str]]) -> None:
    for media_path, path in keys:
        conn.execute(
            delete(sidecars).where(
                sidecars.c.library_id == library_id,
                sidecars.c.media_path == media_path,
                sidecars.c.path == path,
            )
        )


def put_sidecar(conn: Connection, library_id: int, row: SidecarRow, now: float) -> None:
    conn.execute(
        delete(sidecars).where(
            sidecars.c.library_id == library_id,
            sidecars.c.media_path == row.media_path,
            sidecars.c.path == row.path,
        )
    )
    conn.execute(
        insert(sidecars).values(
            library_id=library_id,
            media_path=row.media_path,
            path=row.path,
            folder=row.folder,
            kind=row.kind,
            size=row.size,
            mtime_ns=row.mtime_ns,
            data={"fields": row.data},
            read_at=now,
        )
    )


def _ref(r: Any) -> MediaRef:
    return MediaRef(
        r["id"], r["rel_path"], r["folder"], r["name"], r["size"], r["mtime_ns"],
        r["taken_at_source"] != "file_mtime", r["meta_status"] == "pending",
    )  # fmt: skip


_REF = (
    media.c.id, media.c.rel_path, media.c.folder, media.c.name, media.c.size,
    media.c.mtime_ns, media.c.taken_at_source, media.c.meta_status,
)  # fmt: skip


def media_ref_columns() -> tuple[Any, ...]:
    return _REF


def to_ref(r: Any) -> MediaRef:
    return _ref(r)


def media_in_folders(conn: Connection, library_id: int, folders: Iterable[str]) -> list[MediaRef]:
    query = select(*_REF).where(
        media.c.library_id == library_id,
        media.c.retired_at.is_(None),
        media.c.folder.in_(list(folders)),
    )
    return [_ref(r) for r in conn.execute(query).mappings()]


def media_by_paths(conn: Connection, library_id: int, paths: list[str]) -> list[MediaRef]:
    out: list[MediaRef] = []
    for start in range(0, len(paths), 500):
        query = select(*_REF).where(
            media.c.library_id == library_id,
            media.c.retired_at.is_(None),
            media.c.rel_path.in_(paths[start : start + 500]),
        )
        out += [_ref(r) for r in conn.execute(query).mappings()]
    return out


def sidecars_for(conn: Connection, library_id: int, media_path: str) -> list[SidecarRow]:
    query = select(sidecars).where(
        sidecars.c.library_id == library_id, sidecars.c.media_path == media_path
    )
    return [
        SidecarRow(
            r["media_path"], r["path"], r["folder"], r["kind"], r["size"], r["mtime_ns"],
            (_data(r["data"]) or {}).get("fields"),
        )
        for r in conn.execute(query).mappings()
    ]  # fmt: skip


def embedded_backlog(conn: Connection, library_id: int, limit: int) -> list[MediaRef]:
    """Live rows whose embedded curation was never read for the file as it is now."""
    key = cast(media.c.size, String) + ":" + cast(media.c.mtime_ns, String)
    query = (
        select(*_REF)
        .select_from(media.outerjoin(curation_items, curation_items.c.media_id == media.c.id))
        .where(
            media.c.library_id == library_id,
            media.c.retired_at.is_(None),
            media.c.kind == "photo",
            or_(curation_items.c.media_id.is_(None), curation_items.c.embedded_key.is_(None),
                curation_items.c.embedded_key != key),
        )
        .order_by(media.c.id)
        .limit(limit)
    )  # fmt: skip
    return [_ref(r) for r in conn.execute(query).mappings()]


def embedded_of(conn: Connection, media_id: int) -> dict[str, Any] | None:
    value = conn.execute(
        select(curation_items.c.embedded).where(curation_items.c.media_id == media_id)
    ).scalar()
    return _data(value)


def ensure_item(conn: Connection, media_id: int, now: float) -> None:
    found = conn.execute(
        select(curation_items.c.media_id).where(curation_items.c.media_id == media_id)
    ).first()
    if found is None:
        conn.execute(insert(curation_items).values(media_id=media_id, sources={}, updated_at=now))


def set_embedded(
    conn: Connection, media_id: int, key: str, data: dict[str, Any] | None, now: float
) -> None:
    ensure_item(conn, media_id, now)
    conn.execute(
        update(curation_items)
        .where(curation_items.c.media_id == media_id)
        .values(embedded_key=key, embedded=data, updated_at=now)
    )


def set_effective(
    conn: Connection,
    media_id: int,
    values: dict[str, Any],
    tags: list[str],
    now: float,
) -> None:
    ensure_item(conn, media_id, now)
    before = conn.execute(
        select(curation_items.c.regions).where(curation_items.c.media_id == media_id)
    ).scalar()
    if (before or None) != (values.get("regions") or None):
        values = {**values, "regions_changed": True}  # for the face drain (faces/regions.py)
    taken = values.get("taken_at")
    values = {**values, "taken_at": datetime.fromisoformat(taken) if taken else None}
    conn.execute(
        update(curation_items)
        .where(curation_items.c.media_id == media_id)
        .values(**values, updated_at=now)
    )
    conn.execute(delete(item_tags).where(item_tags.c.media_id == media_id))
    if tags:
        conn.execute(insert(item_tags), [{"media_id": media_id, "tag": t} for t in tags])


def visible_tag_rows(conn: Connection, scope: Scope) -> list[tuple[int, str]]:
    """(media id, tag) of live rows of enabled libraries in the caller's scope."""
    query = (
        select(item_tags.c.media_id, item_tags.c.tag)
        .select_from(
            item_tags.join(media, media.c.id == item_tags.c.media_id).join(
                libraries, libraries.c.id == media.c.library_id
            )
        )
        .where(
            and_(
                media.c.retired_at.is_(None),
                scope.where(media.c.library_id),
                libraries.c.enabled.is_(True),
            )
        )
    )
    return [(int(r[0]), str(r[1])) for r in conn.execute(query)]


# --- export --------------------------------------------------------------------------------


def library_ids(conn: Connection, scope: Scope, library_id: int | None) -> list[int]:
    query = select(libraries.c.id).where(scope.where(libraries.c.id)).order_by(libraries.c.id)
    if library_id is not None:
        query = query.where(libraries.c.id == library_id)
    return [int(r.id) for r in conn.execute(query)]


def curated(conn: Connection, library_id: int, since: float | None) -> list[dict[str, Any]]:
    """Effective curation of a library's live items (changed at or after `since`)."""
    query = (
        select(media.c.id, media.c.rel_path, curation_items)
        .select_from(media.join(curation_items, curation_items.c.media_id == media.c.id))
        .where(media.c.library_id == library_id, media.c.retired_at.is_(None))
        .order_by(media.c.id)
    )
    if since is not None:
        query = query.where(curation_items.c.updated_at >= since)
    out = []
    for r in conn.execute(query).mappings():
        row = dict(r)
        people = row.get("people")
        row["people"] = json.loads(people) if isinstance(people, str) else people
        out.append(row)
    return out


def tags_of(conn: Connection, ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for start in range(0, len(ids), 500):
        query = (
            select(item_tags.c.media_id, item_tags.c.tag)
            .where(item_tags.c.media_id.in_(ids[start : start + 500]))
            .order_by(item_tags.c.tag)
        )
        for media_id, tag in conn.execute(query):
            out.setdefault(int(media_id), []).append(str(tag))
    return out
