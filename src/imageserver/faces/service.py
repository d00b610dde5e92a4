"""The rules of faces and people. Functions take a Connection and never commit.

Assignments: `auto` (the matcher or a recluster put the face there), `user` (a person
said so: a merge or an explicit assignment; never moved by the machine), `rejected` (a
person took the face away; never auto-assigned again), `sidecar` (a named face region of
a sidecar or embedded XMP covers it: regions.py; kept by reclustering, follows the
sidecar), `none` (not placed yet).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, RowMapping

from imageserver.config import Settings
from imageserver.errors import Invalid, NotFound
from imageserver.faces import repo
from imageserver.faces.cluster import Matcher, plan_recluster
from imageserver.work.scope import Scope

# Assignments a recluster never moves: a person's, and a sidecar's named region.
PINNED = ("user", "sidecar")
# Faces per person a new face is compared with: bounds the work per tick on big libraries.
EXEMPLARS_PER_PERSON = 64


@dataclass(frozen=True)
class AssignSummary:
    assigned: int = 0
    people_created: int = 0


def load_matcher(conn: Connection, settings: Settings, exclude: Sequence[int] = ()) -> Matcher:
    """A matcher holding every person's exemplars and the loose faces (one per tick)."""
    known, exemplars = repo.exemplars(conn, EXEMPLARS_PER_PERSON)
    loose, loose_vectors = repo.loose_faces(conn, exclude=exclude)
    return Matcher(
        settings.face_match_distance,
        settings.face_cluster_distance,
        settings.face_min_faces_per_person,
        known,
        exemplars,
        loose,
        loose_vectors,
    )


def assign_new_faces(
    conn: Connection,
    new_faces: Sequence[tuple[int, str]],
    settings: Settings,
    now: float,
    matcher: Matcher | None = None,
) -> AssignSummary:
    """Place freshly detected faces, given as (face id, picture hash); still unassigned.
    A matcher loaded earlier in the same tick may be passed to save reloading it."""
    if not new_faces:
        return AssignSummary()
    face_ids = [face_id for face_id, _ in new_faces]
    if matcher is None:
        matcher = load_matcher(conn, settings, exclude=face_ids)
    vectors = repo.embeddings(conn, face_ids)
    assigned = created = 0
    touched: set[int] = set()

    def create(group: Sequence[int]) -> int:
        return repo.create_person(conn, now)

    for (face_id, picture), vector in zip(new_faces, vectors, strict=True):
        placement = matcher.place(face_id, picture, vector, create)
        if placement.person_id is None:
            continue
        repo.assign(conn, placement.face_ids, placement.person_id, "auto")
        assigned += len(placement.face_ids)
        created += int(placement.created)
        touched.add(placement.person_id)
    for person_id in touched:
        ensure_cover(conn, person_id, now)
    return AssignSummary(assigned, created)


def ensure_cover(conn: Connection, person_id: int, now: float, *, force: bool = False) -> None:
    """Give the person a cover face if it has none (or its cover left it)."""
    person = repo.person_row(conn, person_id)
    if person is None:
        return
    cover = person["cover_face_id"]
    if cover is not None and not force:
        face = repo.get_face(conn, cover)
        if face is not None and face["person_id"] == person_id:
            return
    best = repo.best_cover(conn, person_id)
    if best != cover:
        repo.update_person(conn, person_id, {"cover_face_id": best, "updated_at": now})


def _kept(person: RowMapping) -> bool:
    """People a user has touched (named or hidden) survive reclustering, even empty."""
    return person["name"] is not None or bool(person["hidden"])


def drop_if_empty(conn: Connection, person_ids: Sequence[int]) -> list[int]:
    """Remove people left without faces unless a user named or hid them."""
    everyone = repo.people_by_id(conn)
    counts = repo.face_counts(conn, person_ids)
    doomed = [p for p, n in counts.items() if n == 0 and p in everyone and not _kept(everyone[p])]
    repo.delete_people(conn, doomed)
    return doomed


# --- reclustering --------------------------------------------------------------------------


@dataclass(frozen=True)
class ReclusterSummary:
    faces: int
    clusters: int
    kept_people: int
    new_people: int
    removed_people: int
    assigned: int
    unassigned: int


def recluster(conn: Connection, settings: Settings, now: float) -> ReclusterSummary:
    """Regroup every face; named/hidden people and user assignments stay where they are."""
    rows = [r for r in repo.all_faces(conn) if r["assignment"] != "rejected"]
    everyone = repo.people_by_id(conn)
    kept = {pid for pid, person in everyone.items() if _kept(person)}
    plan = plan_recluster(
        [r["id"] for r in rows],
        [r["content_hash"] for r in rows],
        repo.decode_many([r["embedding"] for r in rows]),
        [r["person_id"] for r in rows],
        [r["assignment"] in PINNED and r["person_id"] is not None for r in rows],
        kept,
        settings.face_match_distance,
        settings.face_cluster_distance,
        settings.face_min_faces_per_person,
    )
    for person_id, face_ids in plan.to_person.items():
        repo.assign(conn, face_ids, person_id, "auto")
    for face_ids in plan.new_people:
        repo.assign(conn, face_ids, repo.create_person(conn, now), "auto")
    repo.assign(conn, plan.unassigned, None, "none")
    removed = drop_if_empty(conn, list(everyone))
    for person_id in repo.people_by_id(conn):
        ensure_cover(conn, person_id, now)
    return ReclusterSummary(
        faces=len(rows),
        clusters=plan.clusters,
        kept_people=len([p for p in everyone if p not in removed]),
        new_people=len(plan.new_people),
        removed_people=len(removed),
        assigned=sum(len(f) for f in plan.to_person.values())
        + sum(len(f) for f in plan.new_people),
        unassigned=len(plan.unassigned),
    )


# --- user actions --------------------------------------------------------------------------


def person_or_404(conn: Connection, scope: Scope, person_id: int) -> RowMapping:
    """The person as the caller sees it; a person none of whose faces the caller may see
    is "not found", exactly like an id that does not exist."""
    person = repo.get_person(conn, scope, person_id)
    if person is None:
        raise NotFound(f"person {person_id} not found")
    return person


def face_or_404(conn: Connection, scope: Scope, face_id: int) -> RowMapping:
    """A face whose picture the caller may see (with its person's name), else 404."""
    face = repo.visible_face(conn, scope, face_id)
    if face is None:
        raise NotFound(f"face {face_id} not found")
    return face


def update_person(
    conn: Connection, scope: Scope, person_id: int, changes: dict[str, Any], now: float
) -> RowMapping:
    """Rename, hide/show or choose the cover face; only the fields given change."""
    person_or_404(conn, scope, person_id)
    values: dict[str, Any] = {}
    if "name" in changes:
        name = (changes["name"] or "").strip()
        values["name"] = name or None
    if "hidden" in changes:
        if changes["hidden"] is None:
            raise Invalid("hidden: must be true or false")
        values["hidden"] = bool(changes["hidden"])
    if "cover_face_id" in changes:
        cover = changes["cover_face_id"]
        if cover is not None and face_or_404(conn, scope, cover)["person_id"] != person_id:
            raise Invalid(f"cover_face_id: face {cover} is not a face of person {person_id}")
        values["cover_face_id"] = cover
    if values:
        repo.update_person(conn, person_id, {**values, "updated_at": now})
    if "cover_face_id" in values and values["cover_face_id"] is None:
        ensure_cover(conn, person_id, now, force=True)
    return person_or_404(conn, scope, person_id)


def merge(
    conn: Connection, scope: Scope, target_id: int, source_ids: Sequence[int], now: float
) -> RowMapping:
    """Move every face of the sources into the target (as the user's decision) and remove
    the sources. The target keeps its name; an unnamed target takes the first source name."""
    target = person_or_404(conn, scope, target_id)
    sources = sorted(set(source_ids))
    if not sources:
        raise Invalid("ids: name at least one person to merge")
    if target_id in sources:
        raise Invalid("ids: a person cannot be merged into itself")
    found = [person_or_404(conn, scope, pid) for pid in sources]
    repo.move_faces(conn, sources, target_id)
    values: dict[str, Any] = {"updated_at": now}
    if target["name"] is None:
        names = [p["name"] for p in found if p["name"]]
        if names:
            values["name"] = names[0]
    repo.update_person(conn, target_id, values)
    repo.delete_people(conn, sources)
    ensure_cover(conn, target_id, now)
    return person_or_404(conn, scope, target_id)


def unassign(conn: Connection, scope: Scope, person_id: int, face_id: int, now: float) -> None:
    """Take a face away from a person; it is never auto-assigned again."""
    person_or_404(conn, scope, person_id)
    face = face_or_404(conn, scope, face_id)
    if face["person_id"] != person_id:
        raise NotFound(f"face {face_id} is not a face of person {person_id}")
    repo.assign(conn, [face_id], None, "rejected")
    ensure_cover(conn, person_id, now)
    drop_if_empty(conn, [person_id])


def assign_face(
    conn: Connection, scope: Scope, face_id: int, person_id: int | None, now: float
) -> RowMapping:
    """A user's assignment of one face (to a person, or to nobody = rejected)."""
    face = face_or_404(conn, scope, face_id)
    previous = face["person_id"]
    if person_id is None:
        repo.assign(conn, [face_id], None, "rejected")
    else:
        person_or_404(conn, scope, person_id)
        repo.assign(conn, [face_id], person_id, "user")
        ensure_cover(conn, person_id, now)
    if previous is not None and previous != person_id:
        ensure_cover(conn, previous, now)
        drop_if_empty(conn, [previous])
    return face_or_404(conn, scope, face_id)
