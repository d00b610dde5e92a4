"""Photo and metadata routes: list, item, lookup by path, original, thumbnail, timeline, dupes."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse
from sqlalchemy import Connection, RowMapping, select

from imageserver.auth.deps import current_user
from imageserver.db.tables import libraries, media
from imageserver.errors import LibraryStale, NotFound, Unsupported, error_responses
from imageserver.inputs import MAX_ID, PRINTABLE, DbId
from imageserver.media import query, repo
from imageserver.media.layout import thumb_path
from imageserver.media.paths import clean_rel_path, open_file_inside
from imageserver.media.schemas import (
    DuplicateGroup,
    DuplicateItem,
    DuplicatesPage,
    MediaDetail,
    MediaPage,
    TimelineBucket,
    detail,
    summary,
)
from imageserver.work import artefacts
from imageserver.work.artefacts import THUMB_KIND
from imageserver.work.deps import Ctx, IdPath, ReadConn

router = APIRouter(tags=["media"], dependencies=[Depends(current_user)])

IMMUTABLE = "private, max-age=31536000, immutable"


def media_filter(
    library: Annotated[list[DbId] | None, Query(description="library id (repeatable)")] = None,
    folder: Annotated[str | None, Query(max_length=4096, description="folder prefix")] = None,
    recursive: bool = True,
    date_from: Annotated[date | datetime | None, Query(alias="from")] = None,
    date_to: Annotated[
        date | datetime | None, Query(alias="to", description="inclusive day")
    ] = None,
    camera: Annotated[
        str | None,
        Query(max_length=200, pattern=PRINTABLE, description="make or model contains"),
    ] = None,
    kind: Literal["photo", "video"] | None = None,
    has_gps: bool | None = None,
    person: Annotated[int | None, Query(ge=1, le=MAX_ID, description="person id")] = None,
    include_companions: bool = False,
) -> query.MediaFilter:
    return query.MediaFilter(
        library_ids=tuple(library or ()),
        folder=clean_rel_path(folder) if folder not in (None, "", "/") else None,
        recursive=recursive,
        date_from=query.as_start(date_from),
        date_to=query.as_end(date_to),
        camera=camera,
        kind=kind,
        has_gps=has_gps,
        person_id=person,
        include_companions=include_companions,
    )


Filter = Annotated[query.MediaFilter, Depends(media_filter)]


@router.get("/media", response_model=MediaPage)
def list_media(
    conn: ReadConn,
    f: Filter,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    order: Literal["desc", "asc"] = "desc",
) -> MediaPage:
    rows, next_cursor = query.list_page(conn, f, limit, cursor, order)
    return MediaPage(items=[summary(r) for r in rows], next_cursor=next_cursor)


def live_row(conn: Connection, media_id: int) -> RowMapping:
    row = repo.get(conn, media_id)
    if row is None or row["retired_at"] is not None:
        raise NotFound(f"media {media_id} not found")
    return row


def _detail(conn: Connection, row: RowMapping) -> MediaDetail:
    companions = [
        r.id
        for r in conn.execute(
            select(media.c.id).where(
                media.c.companion_id == row["id"], media.c.retired_at.is_(None)
            )
        )
    ]
    thumb = artefacts.get(conn, row["content_hash"], THUMB_KIND) if row["content_hash"] else None
    return detail(row, companions, thumb)


@router.get("/media/by-path", response_model=MediaDetail, responses=error_responses(404))
def media_by_path(
    conn: ReadConn,
    library: Annotated[int, Query(ge=1, le=MAX_ID, description="library id")],
    path: Annotated[str, Query(max_length=4096, description="library-relative path")],
) -> MediaDetail:
    rel = clean_rel_path(path)
    row = repo.get_by_path(conn, library, rel)
    if row is None or row["retired_at"] is not None:
        raise NotFound(f"no media at {rel!r} in library {library}")
    return _detail(conn, row)


@router.get("/media/{media_id}", response_model=MediaDetail, responses=error_responses(404))
def get_media(media_id: IdPath, conn: ReadConn) -> MediaDetail:
    return _detail(conn, live_row(conn, media_id))


def library_root(conn: Connection, library_id: int) -> Path:
    root = conn.execute(
        select(libraries.c.root_path).where(libraries.c.id == library_id)
    ).scalar_one_or_none()
    if root is None:
        raise NotFound(f"library {library_id} not found")
    return Path(root)


@router.get(
    "/media/{media_id}/original",
    response_class=FileResponse,
    responses={
        206: {"description": "partial content (Range)"},
        **error_responses(404, 416, 503),
    },
)
def original(media_id: IdPath, conn: ReadConn) -> FileResponse:
    row = live_row(conn, media_id)
    root = library_root(conn, row["library_id"])
    if not root.is_dir():
        raise LibraryStale("the library is not reachable right now (unmounted?)")
    path = open_file_inside(root, row["rel_path"])
    return FileResponse(
        path,
        media_type=row["mime"],
        filename=row["name"],
        content_disposition_type="inline",
        headers={"Cache-Control": "private, max-age=3600"},
    )


@router.get(
    "/media/{media_id}/thumbnail",
    response_class=FileResponse,
    responses=error_responses(304, 404),
)
def thumbnail(
    media_id: IdPath,
    request: Request,
    ctx: Ctx,
    conn: ReadConn,
    size: Literal["small", "large"] = "small",
) -> Response:
    row = live_row(conn, media_id)
    digest = row["content_hash"]
    if digest is None:
        raise NotFound("thumbnail not made yet (file not hashed)")
    etag = f'"{digest}-{size}"'
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag, "Cache-Control": IMMUTABLE})
    path = thumb_path(ctx.settings.thumbs_dir, digest, size)
    if not path.is_file():
        state = artefacts.get(conn, digest, THUMB_KIND)
        if state is not None and state["status"] == "failed":
            raise Unsupported(f"no thumbnail: {state['detail']}")
        raise NotFound("thumbnail not made yet")
    return FileResponse(
        path, media_type="image/webp", headers={"ETag": etag, "Cache-Control": IMMUTABLE}
    )


@router.get("/timeline", response_model=list[TimelineBucket])
def get_timeline(
    conn: ReadConn, f: Filter, granularity: Literal["month", "day"] = "month"
) -> list[TimelineBucket]:
    return [TimelineBucket(bucket=b, count=n) for b, n in query.timeline(conn, f, granularity)]


@router.get("/duplicates", response_model=DuplicatesPage)
def duplicates(
    conn: ReadConn,
    library: Annotated[list[DbId] | None, Query(description="library id (repeatable)")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> DuplicatesPage:
    groups, total = query.duplicate_groups(conn, tuple(library or ()), limit, offset)
    return DuplicatesPage(
        total_groups=total,
        groups=[
            DuplicateGroup(
                content_hash=digest,
                size=members[0]["size"],
                items=[
                    DuplicateItem(id=m["id"], library_id=m["library_id"], path=m["rel_path"])
                    for m in members
                ],
            )
            for digest, members in groups
        ],
    )
