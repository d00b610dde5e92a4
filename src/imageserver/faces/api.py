"""Faces and people routes: people list/detail/edit/merge, faces of an item, crops, stats.

Handlers are plain `def`: FastAPI runs them in its thread pool, so queries, numpy and
Pillow never block the event loop.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse
from sqlalchemy import Connection, RowMapping

from imageserver.auth.deps import AdminOnly, current_user
from imageserver.errors import NotFound, error_responses
from imageserver.faces import crops, repo, service, stats
from imageserver.faces.schemas import (
    Face,
    FacePatch,
    FaceStats,
    MediaFaces,
    MergeRequest,
    PeoplePage,
    Person,
    PersonDetail,
    PersonPatch,
    face_out,
    person_face_out,
    person_out,
    stats_row,
)
from imageserver.libraries.access import UserScope
from imageserver.work import artefacts
from imageserver.work.artefacts import FACES_KIND
from imageserver.work.deps import Ctx, IdPath, ReadConn, WriteConn
from imageserver.work.scope import Scope

router = APIRouter(tags=["faces"], dependencies=[Depends(current_user)])

IMMUTABLE = "private, max-age=31536000, immutable"
NOT_FOUND = error_responses(404)
CROP_RESPONSES = error_responses(304, 404)


@router.get("/people", response_model=PeoplePage)
def list_people(
    conn: ReadConn,
    scope: UserScope,
    hidden: Annotated[bool, Query(description="include hidden people")] = False,
    named: Annotated[bool | None, Query(description="only named (true) / unnamed (false)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> PeoplePage:
    rows, total = repo.list_people(conn, scope, hidden, named, limit, offset)
    return PeoplePage(items=[person_out(r) for r in rows], total=total)


def _detail(
    conn: Connection, scope: Scope, person: RowMapping, limit: int, offset: int
) -> PersonDetail:
    rows = repo.person_faces(conn, scope, person["id"], limit, offset)
    media_ids = repo.media_ids_by_hash(conn, scope, (r["content_hash"] for r in rows))
    return PersonDetail(
        **person_out(person).model_dump(),
        faces=[person_face_out(r, media_ids[r["content_hash"]]) for r in rows],
    )


@router.get("/people/{person_id}", response_model=PersonDetail, responses=NOT_FOUND)
def get_person(
    person_id: IdPath,
    conn: ReadConn,
    scope: UserScope,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> PersonDetail:
    return _detail(conn, scope, service.person_or_404(conn, scope, person_id), limit, offset)


@router.patch(
    "/people/{person_id}", response_model=Person, responses=NOT_FOUND, dependencies=[AdminOnly]
)
def patch_person(
    person_id: IdPath, body: PersonPatch, ctx: Ctx, conn: WriteConn, scope: UserScope
) -> Person:
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    return person_out(service.update_person(conn, scope, person_id, changes, ctx.clock()))


@router.post(
    "/people/{person_id}/merge",
    response_model=Person,
    responses=NOT_FOUND,
    dependencies=[AdminOnly],
)
def merge_people(
    person_id: IdPath, body: MergeRequest, ctx: Ctx, conn: WriteConn, scope: UserScope
) -> Person:
    return person_out(service.merge(conn, scope, person_id, body.ids, ctx.clock()))


@router.delete(
    "/people/{person_id}/faces/{face_id}",
    status_code=204,
    responses=NOT_FOUND,
    dependencies=[AdminOnly],
)
def unassign_face(
    person_id: IdPath, face_id: IdPath, ctx: Ctx, conn: WriteConn, scope: UserScope
) -> Response:
    service.unassign(conn, scope, person_id, face_id, ctx.clock())
    return Response(status_code=204)


@router.get("/people/{person_id}/cover", response_class=FileResponse, responses=CROP_RESPONSES)
def person_cover(
    person_id: IdPath, request: Request, ctx: Ctx, conn: ReadConn, scope: UserScope
) -> Response:
    person = service.person_or_404(conn, scope, person_id)
    if person["cover_face_id"] is None:
        raise NotFound(f"person {person_id} has no cover face")
    face = service.face_or_404(conn, scope, person["cover_face_id"])
    # The cover may change: clients revalidate, and get 304 while it is the same face.
    return _crop_response(ctx, request, face, "private, no-cache")


@router.get("/media/{media_id}/faces", response_model=MediaFaces, responses=NOT_FOUND)
def media_faces(media_id: IdPath, conn: ReadConn, scope: UserScope) -> MediaFaces:
    row = repo.live_media(conn, scope, media_id)
    if row is None:
        raise NotFound(f"media {media_id} not found")
    digest = row["content_hash"]
    state = artefacts.get(conn, digest, FACES_KIND) if digest else None
    return MediaFaces(
        media_id=media_id,
        content_hash=digest,
        scan_status=state["status"] if state else "pending",
        scan_error=state["detail"] if state and state["status"] != "done" else None,
        faces=[face_out(r) for r in repo.faces_of_hash(conn, digest)] if digest else [],
    )


@router.get("/faces/stats", response_model=FaceStats)
def face_stats(conn: ReadConn, scope: UserScope) -> FaceStats:
    """Face-scan numbers of the caller's libraries (the gauges are the operator's view)."""
    rows, total = stats.compute(conn, scope)
    return FaceStats(
        libraries=[stats_row(r.library_id, r.library, r.counts) for r in rows],
        total=stats_row(None, stats.AGGREGATE_LABEL, total),
    )


@router.get("/faces/{face_id:id}", response_model=Face, responses=NOT_FOUND)
def get_face(face_id: IdPath, conn: ReadConn, scope: UserScope) -> Face:
    return face_out(service.face_or_404(conn, scope, face_id))


@router.patch(
    "/faces/{face_id:id}", response_model=Face, responses=NOT_FOUND, dependencies=[AdminOnly]
)
def patch_face(
    face_id: IdPath, body: FacePatch, ctx: Ctx, conn: WriteConn, scope: UserScope
) -> Face:
    return face_out(service.assign_face(conn, scope, face_id, body.person_id, ctx.clock()))


@router.get("/faces/{face_id:id}/crop", response_class=FileResponse, responses=CROP_RESPONSES)
def face_crop(
    face_id: IdPath, request: Request, ctx: Ctx, conn: ReadConn, scope: UserScope
) -> Response:
    return _crop_response(ctx, request, service.face_or_404(conn, scope, face_id), IMMUTABLE)


def _crop_response(ctx: Ctx, request: Request, face: RowMapping, cache: str) -> Response:
    etag = f'"face-{face["id"]}-{face["content_hash"][:16]}"'
    headers = {"ETag": etag, "Cache-Control": cache}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    s = ctx.settings
    path = crops.ensure_crop(face, s.thumbs_dir, s.faces_dir, s.thumb_quality)
    return FileResponse(path, media_type="image/webp", headers=headers)
