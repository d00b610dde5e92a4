"""SQL of the faces feature: the scan backlog, face rows, people. The only place with SQL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import (
    ColumnElement,
    Connection,
    RowMapping,
    case,
    delete,
    func,
    insert,
    select,
    true,
    update,
)

from imageserver.db.tables import curation_items, faces, libraries, media, people
from imageserver.work import artefacts as artefacts_state
from imageserver.work import backlog
from imageserver.work.artefacts import FACES_KIND, THUMB_KIND
from imageserver.work.scope import Scope

EMBEDDING_DIM = 128
CHUNK = 500
Vectors = npt.NDArray[np.float32]


def encode(vector: npt.NDArray[np.float32]) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def decode_many(blobs: Sequence[bytes]) -> Vectors:
    if not blobs:
        return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), EMBEDDING_DIM)


# --- the scan backlog ----------------------------------------------------------------------


def _faces_unsettled(now: float) -> ColumnElement[bool]:
    """No faces state yet, a retry whose time has come, and nobody's live lease."""
    return artefacts_state.not_settled(FACES_KIND, now)


def scan_batch(
    conn: Connection, library_id: int, now: float, limit: int, thumb_status: str
) -> list[RowMapping]:
    """One live photo per hash still waiting for a face scan whose preview is `thumb_status`
    (done: ready to scan; failed: can never be scanned)."""
    where = [
        *backlog.live_photos(library_id),
        libraries.c.enabled.is_(True),
        _faces_unsettled(now),
        backlog.artefact_field(THUMB_KIND) == thumb_status,
    ]
    columns = [
        media.c.id,
        media.c.content_hash,
        media.c.rel_path,
        media.c.width,
        media.c.height,
        libraries.c.root_path,
        backlog.artefact_field(THUMB_KIND).label("thumb_status"),
        backlog.artefact_field(THUMB_KIND, "detail").label("thumb_detail"),
    ]
    return backlog.one_per_hash(conn, columns, where, limit)


def count_pending(conn: Connection, library_id: int, now: float) -> int:
    where = [*backlog.live_photos(library_id), _faces_unsettled(now)]
    return backlog.distinct_hashes(conn, where)


# --- faces ---------------------------------------------------------------------------------


def has_faces(conn: Connection, content_hash: str) -> bool:
    query = select(faces.c.id).where(faces.c.content_hash == content_hash).limit(1)
    return conn.execute(query).first() is not None


def insert_faces(conn: Connection, rows: Sequence[dict[str, Any]]) -> list[tuple[int, str]]:
    """Insert the faces of some pictures; returns (id, hash) of each, in insertion order."""
    if not rows:
        return []
    conn.execute(insert(faces), list(rows))
    hashes = sorted({r["content_hash"] for r in rows})
    found = conn.execute(
        select(faces.c.id, faces.c.content_hash, faces.c.face_index).where(
            faces.c.content_hash.in_(hashes)
        )
    ).all()
    ids = {(r.content_hash, r.face_index): r.id for r in found}
    return [(ids[(r["content_hash"], r["face_index"])], r["content_hash"]) for r in rows]


def get_face(conn: Connection, face_id: int) -> RowMapping | None:
    return conn.execute(select(faces).where(faces.c.id == face_id)).mappings().first()


def _named_faces() -> Any:
    """Face rows with their person's name (None when unassigned)."""
    return select(faces, people.c.name.label("person_name")).select_from(
        faces.outerjoin(people, people.c.id == faces.c.person_id)
    )


def faces_of_hash(conn: Connection, content_hash: str) -> list[RowMapping]:
    query = _named_faces().where(faces.c.content_hash == content_hash).order_by(faces.c.face_index)
    return list(conn.execute(query).mappings())


def embeddings(conn: Connection, face_ids: Sequence[int]) -> Vectors:
    """Vectors of these faces, in the order given."""
    blobs: dict[int, bytes] = {}
    for start in range(0, len(face_ids), CHUNK):
        chunk = face_ids[start : start + CHUNK]
        for row in conn.execute(select(faces.c.id, faces.c.embedding).where(faces.c.id.in_(chunk))):
            blobs[row.id] = row.embedding
    return decode_many([blobs[i] for i in face_ids])


def exemplars(conn: Connection, per_person: int) -> tuple[list[tuple[int, str]], Vectors]:
    """Up to `per_person` faces of every person (user-confirmed first, then newest), as
    (person id, picture hash) and vectors: what a new face is compared with."""
    rank = (
        func.row_number()
        .over(
            partition_by=faces.c.person_id,
            order_by=(case((faces.c.assignment == "user", 0), else_=1), faces.c.id.desc()),
        )
        .label("rank")
    )
    ranked = (
        select(faces.c.person_id, faces.c.content_hash, faces.c.embedding, rank)
        .where(faces.c.person_id.is_not(None))
        .subquery()
    )
    rows = conn.execute(
        select(ranked.c.person_id, ranked.c.content_hash, ranked.c.embedding).where(
            ranked.c.rank <= per_person
        )
    ).all()
    return [(r.person_id, r.content_hash) for r in rows], decode_many([r.embedding for r in rows])


def loose_faces(
    conn: Connection, exclude: Iterable[int] = ()
) -> tuple[list[tuple[int, str]], Vectors]:
    """Faces waiting for enough look-alikes to become a person (never the rejected ones),
    as (face id, picture hash) and vectors."""
    excluded = set(exclude)
    rows = conn.execute(
        select(faces.c.id, faces.c.content_hash, faces.c.embedding)
        .where(faces.c.person_id.is_(None), faces.c.assignment == "none")
        .order_by(faces.c.id)
    ).all()
    kept = [r for r in rows if r.id not in excluded]
    return [(r.id, r.content_hash) for r in kept], decode_many([r.embedding for r in kept])


def all_faces(conn: Connection) -> list[RowMapping]:
    query = select(
        faces.c.id, faces.c.content_hash, faces.c.person_id, faces.c.assignment, faces.c.embedding
    ).order_by(faces.c.id)
    return list(conn.execute(query).mappings())


def assign(conn: Connection, face_ids: Sequence[int], person_id: int | None, how: str) -> None:
    for start in range(0, len(face_ids), CHUNK):
        chunk = face_ids[start : start + CHUNK]
        conn.execute(
            update(faces).where(faces.c.id.in_(chunk)).values(person_id=person_id, assignment=how)
        )


def move_faces(conn: Connection, sources: Sequence[int], target: int) -> int:
    result = conn.execute(
        update(faces)
        .where(faces.c.person_id.in_(sources))
        .values(person_id=target, assignment="user")
    )
    return int(result.rowcount or 0)


def media_ids_by_hash(
    conn: Connection, scope: Scope, hashes: Iterable[str]
) -> dict[str, list[int]]:
    """Live media rows in scope showing each hash (the same bytes may sit at several
    paths, in several libraries: only the scope's are named)."""
    wanted = sorted(set(hashes))
    found: dict[str, list[int]] = {h: [] for h in wanted}
    for start in range(0, len(wanted), CHUNK):
        rows = conn.execute(
            select(media.c.content_hash, media.c.id)
            .where(media.c.content_hash.in_(wanted[start : start + CHUNK]))
            .where(media.c.retired_at.is_(None), scope.where(media.c.library_id))
            .order_by(media.c.id)
        )
        for row in rows:
            found[row.content_hash].append(row.id)
    return found


# --- people ----------------------------------------------------------------------------------
#
# What a caller sees is decided here, by the `Scope` every user-facing query takes: a face
# is visible while a live media row of a library in scope shows its picture; a person
# exists for the caller while at least one of its faces is visible, and shows only those
# (counts and cover included). `scope=None` is internal work (drains, recluster): every
# live picture counts.


def _visible_face(scope: Scope | None) -> ColumnElement[bool]:
    """A face counts while some live media row (of a library in scope) shows its picture."""
    where = [media.c.content_hash == faces.c.content_hash, media.c.retired_at.is_(None)]
    if scope is not None:
        where.append(scope.where(media.c.library_id))
    return select(media.c.id).where(*where).exists()


def _cover_order() -> list[Any]:
    """User-confirmed first, then the largest, then newest."""
    return [
        case((faces.c.assignment == "user", 0), else_=1),
        (faces.c.box_w * faces.c.box_h).desc(),
        faces.c.id.desc(),
    ]


def _people_query(scope: Scope) -> Any:
    """People with at least one visible face, their visible counts and a visible cover
    (the chosen cover while it is visible, else the best visible face)."""
    counts = (
        select(
            faces.c.person_id,
            func.count().label("face_count"),
            func.count(func.distinct(faces.c.content_hash)).label("image_count"),
        )
        .where(faces.c.person_id.is_not(None), _visible_face(scope))
        .group_by(faces.c.person_id)
        .subquery()
    )
    chosen = (
        select(faces.c.id)
        .where(
            faces.c.id == people.c.cover_face_id,
            faces.c.person_id == people.c.id,
            _visible_face(scope),
        )
        .scalar_subquery()
    )
    best = (
        select(faces.c.id)
        .where(faces.c.person_id == people.c.id, _visible_face(scope))
        .order_by(*_cover_order())
        .limit(1)
        .scalar_subquery()
    )
    columns = [c for c in people.c if c.name != "cover_face_id"]
    query = select(
        *columns,
        func.coalesce(chosen, best).label("cover_face_id"),
        counts.c.face_count,
        counts.c.image_count,
    ).select_from(people.join(counts, counts.c.person_id == people.c.id))
    return query, counts


def list_people(
    conn: Connection,
    scope: Scope,
    include_hidden: bool,
    named: bool | None,
    limit: int,
    offset: int,
) -> tuple[list[RowMapping], int]:
    query, counts = _people_query(scope)
    where: list[ColumnElement[bool]] = []
    if not include_hidden:
        where.append(people.c.hidden.is_(False))
    if named is True:
        where.append(people.c.name.is_not(None))
    elif named is False:
        where.append(people.c.name.is_(None))
    total = conn.execute(
        select(func.count())
        .select_from(people.join(counts, counts.c.person_id == people.c.id))
        .where(*where)
    ).scalar_one()
    page = conn.execute(
        query.where(*where)
        .order_by(
            case((people.c.name.is_(None), 1), else_=0),
            counts.c.face_count.desc(),
            people.c.id,
        )
        .limit(limit)
        .offset(offset)
    ).mappings()
    return list(page), int(total)


def get_person(conn: Connection, scope: Scope, person_id: int) -> RowMapping | None:
    """The person as the scope sees it; None when none of its faces is visible."""
    query, _ = _people_query(scope)
    return conn.execute(query.where(people.c.id == person_id)).mappings().first()


def visible_face(conn: Connection, scope: Scope, face_id: int) -> RowMapping | None:
    """A face (with its person's name) whose picture the scope may see, else None."""
    query = _named_faces().where(faces.c.id == face_id, _visible_face(scope))
    return conn.execute(query).mappings().first()


def live_media(conn: Connection, scope: Scope, media_id: int) -> RowMapping | None:
    query = select(media.c.id, media.c.content_hash).where(
        media.c.id == media_id, media.c.retired_at.is_(None), scope.where(media.c.library_id)
    )
    return conn.execute(query).mappings().first()


def person_row(conn: Connection, person_id: int) -> RowMapping | None:
    """The bare people row (no counts): cheap enough for every placement."""
    return conn.execute(select(people).where(people.c.id == person_id)).mappings().first()


def people_by_id(conn: Connection) -> dict[int, RowMapping]:
    return {r["id"]: r for r in conn.execute(select(people)).mappings()}


def create_person(conn: Connection, now: float, name: str | None = None) -> int:
    result = conn.execute(
        insert(people).values(name=name, hidden=False, created_at=now, updated_at=now)
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def update_person(conn: Connection, person_id: int, values: dict[str, Any]) -> None:
    conn.execute(update(people).where(people.c.id == person_id).values(**values))


def delete_people(conn: Connection, person_ids: Sequence[int]) -> None:
    for start in range(0, len(person_ids), CHUNK):
        chunk = person_ids[start : start + CHUNK]
        conn.execute(
            update(faces)
            .where(faces.c.person_id.in_(chunk))
            .values(person_id=None, assignment="none")
        )
        conn.execute(delete(people).where(people.c.id.in_(chunk)))


def person_faces(
    conn: Connection, scope: Scope, person_id: int, limit: int, offset: int
) -> list[RowMapping]:
    query = (
        _named_faces()
        .where(faces.c.person_id == person_id, _visible_face(scope))
        .order_by(faces.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(conn.execute(query).mappings())


def best_cover(conn: Connection, person_id: int) -> int | None:
    """The stored cover of a person (internal: any live picture counts): user-confirmed
    first, then the largest, then newest. Callers see `_people_query`'s scoped cover."""
    query = (
        select(faces.c.id)
        .where(faces.c.person_id == person_id, _visible_face(None))
        .order_by(*_cover_order())
        .limit(1)
    )
    found = conn.execute(query).scalar_one_or_none()
    return int(found) if found is not None else None


def face_counts(conn: Connection, person_ids: Sequence[int]) -> dict[int, int]:
    """Faces per person (visible or not): an empty unnamed person is removed."""
    if not person_ids:
        return {}
    rows = conn.execute(
        select(faces.c.person_id, func.count())
        .where(faces.c.person_id.in_(list(person_ids)))
        .group_by(faces.c.person_id)
    ).all()
    counts = {int(pid): 0 for pid in person_ids}
    counts.update({int(r[0]): int(r[1]) for r in rows})
    return counts


# --- names from the face regions of sidecars (faces/regions.py) ----------------------------


def person_ids_by_name(conn: Connection) -> dict[str, int]:
    """Named people by folded name (the oldest person of a name when two share it)."""
    rows = conn.execute(
        select(people.c.id, people.c.name).where(people.c.name.is_not(None)).order_by(people.c.id)
    )
    out: dict[str, int] = {}
    for person_id, name in rows:
        out.setdefault(str(name).casefold(), int(person_id))
    return out


CURATED_MEDIA = curation_items.join(media, media.c.id == curation_items.c.media_id)


def regions_of_hash(conn: Connection, content_hash: str) -> tuple[list[dict[str, Any]], int | None]:
    """The regions of the newest curated live row showing these bytes, and its EXIF
    orientation; ([], None) when no row has any."""
    row = conn.execute(
        select(curation_items.c.regions, media.c.orientation)
        .select_from(CURATED_MEDIA)
        .where(
            media.c.content_hash == content_hash,
            media.c.retired_at.is_(None),
            curation_items.c.regions.is_not(None),
        )
        .order_by(curation_items.c.updated_at.desc(), media.c.id.desc())
        .limit(1)
    ).first()
    if row is None or not isinstance(row.regions, list):
        return [], None
    return [r for r in row.regions if isinstance(r, dict)], row.orientation


def regions_changed(conn: Connection, library_id: int, limit: int) -> list[tuple[int, str]]:
    """(media id, hash) of the library's rows whose face regions changed since the face
    drain last matched them (curation sets the flag, regions.changed_pass clears it)."""
    rows = conn.execute(
        select(media.c.id, media.c.content_hash)
        .select_from(CURATED_MEDIA)
        .where(
            media.c.library_id == library_id,
            curation_items.c.regions_changed == true(),  # indexed: = , not IS
            media.c.content_hash.is_not(None),
        )
        .order_by(media.c.id)
        .limit(limit)
    ).all()
    return [(int(r.id), str(r.content_hash)) for r in rows]


def clear_regions_changed(conn: Connection, media_ids: Sequence[int]) -> None:
    for start in range(0, len(media_ids), CHUNK):
        chunk = media_ids[start : start + CHUNK]
        conn.execute(
            update(curation_items)
            .where(curation_items.c.media_id.in_(chunk))
            .values(regions_changed=False)
        )
