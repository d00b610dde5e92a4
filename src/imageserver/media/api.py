"""Photo and metadata routes: list, item, lookup by path, original, thumbnail, timeline, dupes.

Thin by design: parse and bound the query (media_filter), call service.py with the
caller's scope (`UserScope`: what the current user may see, applied in the SQL), shape the
response (schemas.py) and the HTTP details (ETag, Cache-Control, 304).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse

from imageserver.auth.deps import User, current_user
from imageserver.auth.scope import UserScope
from imageserver.errors import error_responses
from imageserver.inputs import (
    FOLDER_PATTERN,
    MAX_ID,
    PRINTABLE,
    REL_PATH_PATTERN,
    DbId,
    IsoDateOrTime,
)
from imageserver.media import service
from imageserver.media.model import MediaFilter, as_end, as_start
from imageserver.media.paths import clean_rel_path
from imageserver.media.schemas import (
    DuplicatesPage,
    MediaDetail,
    MediaPage,
    TimelineBucket,
    detail,
    duplicates_page,
    summary,
)
from imageserver.work.deps import Ctx, IdPath, ReadConn

router = APIRouter(tags=["media"], dependencies=[Depends(current_user)])

IMMUTABLE = "private, max-age=31536000, immutable"


def media_filter(
    user: User,
    library: Annotated[list[DbId] | None, Query(description="library id (repeatable)")] = None,
    folder: Annotated[
        str | None, Query(max_length=4096, pattern=FOLDER_PATTERN, description="folder prefix")
    ] = None,
    recursive: bool = True,
    date_from: Annotated[IsoDateOrTime | None, Query(alias="from")] = None,
    date_to: Annotated[IsoDateOrTime | None, Query(alias="to", description="inclusive day")] = None,
    camera: Annotated[
        str | None,
        Query(max_length=200, pattern=PRINTABLE, description="make or model contains"),
    ] = None,
    kind: Literal["photo", "video"] | None = None,
    has_gps: bool | None = None,
    person: Annotated[int | None, Query(ge=1, le=MAX_ID, description="person id")] = None,
    include_companions: bool = False,
    favorite: Annotated[bool | None, Query(description="only (or no) favorites")] = None,
    archived: Annotated[
        bool | None, Query(description="true: the Archive view; default hides archived")
    ] = None,
    country: Annotated[
        str | None, Query(pattern="^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2 code")
    ] = None,
    region: Annotated[
        str | None, Query(max_length=200, pattern=PRINTABLE, description="first-level region")
    ] = None,
    place: Annotated[
        str | None, Query(max_length=200, pattern=PRINTABLE, description="populated place")
    ] = None,
    tag: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=500,
            pattern=PRINTABLE,
            description='tag, hierarchical levels joined by "/"; matches the tags below it',
        ),
    ] = None,
    unreadable: Annotated[
        bool | None,
        Query(description='true: the "Could not read" view; default hides them outside folders'),
    ] = None,
) -> MediaFilter:
    return MediaFilter(
        library_ids=tuple(library or ()),
        folder=clean_rel_path(folder) if folder not in (None, "", "/") else None,
        recursive=recursive,
        date_from=as_start(date_from),
        date_to=as_end(date_to),
        camera=camera,
        kind=kind,
        has_gps=has_gps,
        person_id=person,
        include_companions=include_companions,
        user_id=user.id,
        favorite=favorite,
        archived=archived,
        country=country,
        region=region,
        place=place,
        tag=tag,
        unreadable=unreadable,
    )


Filter = Annotated[MediaFilter, Depends(media_filter)]


@router.get("/media", response_model=MediaPage)
def list_media(
    conn: ReadConn,
    scope: UserScope,
    f: Filter,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    order: Literal["desc", "asc"] = "desc",
) -> MediaPage:
    page = service.list_page(conn, scope, f, limit, cursor, order)
    return MediaPage(items=[summary(i) for i in page.items], next_cursor=page.next_cursor)


@router.get("/media/by-path", response_model=MediaDetail, responses=error_responses(404))
def media_by_path(
    conn: ReadConn,
    scope: UserScope,
    user: User,
    library: Annotated[int, Query(ge=1, le=MAX_ID, description="library id")],
    path: Annotated[
        str,
        Query(max_length=4096, pattern=REL_PATH_PATTERN, description="library-relative path"),
    ],
) -> MediaDetail:
    found = service.item_detail_by_path(conn, scope, library, clean_rel_path(path), user.id)
    return detail(found)


@router.get("/media/{media_id:id}", response_model=MediaDetail, responses=error_responses(404))
def get_media(media_id: IdPath, conn: ReadConn, scope: UserScope, user: User) -> MediaDetail:
    return detail(service.item_detail(conn, scope, media_id, user.id))


@router.get(
    "/media/{media_id}/original",
    response_class=FileResponse,
    responses={
        206: {"description": "partial content (Range)"},
        **error_responses(404, 416, 503),
    },
)
def original(media_id: IdPath, conn: ReadConn, scope: UserScope) -> FileResponse:
    found = service.original(conn, scope, media_id)
    return FileResponse(
        found.path,
        media_type=found.mime,
        filename=found.name,
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
    scope: UserScope,
    size: Literal["small", "large"] = "small",
) -> Response:
    digest = service.thumbnail_hash(conn, scope, media_id)
    etag = f'"{digest}-{size}"'
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag, "Cache-Control": IMMUTABLE})
    path = service.thumbnail_file(conn, ctx.settings.thumbs_dir, digest, size)
    return FileResponse(
        path, media_type="image/webp", headers={"ETag": etag, "Cache-Control": IMMUTABLE}
    )


@router.get("/timeline", response_model=list[TimelineBucket])
def get_timeline(
    conn: ReadConn,
    scope: UserScope,
    f: Filter,
    granularity: Literal["month", "day"] = "month",
) -> list[TimelineBucket]:
    buckets = service.timeline(conn, scope, f, granularity)
    return [TimelineBucket(bucket=b, count=n) for b, n in buckets]


@router.get("/duplicates", response_model=DuplicatesPage)
def duplicates(
    conn: ReadConn,
    scope: UserScope,
    library: Annotated[list[DbId] | None, Query(description="library id (repeatable)")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> DuplicatesPage:
    sets, total = service.duplicates(conn, scope, tuple(library or ()), limit, offset)
    return duplicates_page(sets, total)
