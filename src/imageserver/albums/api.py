"""Routes of favorites, archive, albums and memories (share links: shares_api.py).

- PUT/DELETE /media/{id}/favorite, /media/{id}/archive; POST /media/favorite|archive {ids}
- GET/POST /albums; GET/PATCH/DELETE /albums/{id}; POST/DELETE /albums/{id}/items
- POST /albums/{id}/members, DELETE /albums/{id}/members/{user_id}
- GET /memories?date=YYYY-MM-DD&window=N

Every route takes the caller's `UserScope`; the visibility rule is in service.py.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import StreamingResponse
from sqlalchemy import Connection

from imageserver.albums import repo, service
from imageserver.albums.schemas import (
    AlbumCreate,
    AlbumDetail,
    AlbumOut,
    AlbumPatch,
    BulkMark,
    BulkMarkOut,
    ItemIds,
    ItemsChanged,
    MarkOut,
    MemberIn,
    MemberOut,
    Memories,
    MemoryItem,
    MemoryYear,
    Owner,
    Selection,
)
from imageserver.albums.zipstream import stream_zip
from imageserver.auth.deps import User, current_user
from imageserver.errors import error_responses
from imageserver.inputs import IsoDate
from imageserver.libraries.access import UserScope
from imageserver.media.schemas import summary
from imageserver.work.deps import Ctx, IdPath, ReadConn, WriteConn
from imageserver.work.scope import Scope

router = APIRouter(tags=["collections"], dependencies=[Depends(current_user)])

Mark = Literal["favorite", "archive"]
NOT_FOUND = error_responses(404)


def _mark_out(kind: str, media_id: int, value: bool) -> MarkOut:
    if kind == "favorite":
        return MarkOut(media_id=media_id, favorite=value)
    return MarkOut(media_id=media_id, archived=value)


def _mark_routes(kind: Mark) -> None:
    @router.put(f"/media/{{media_id}}/{kind}", response_model=MarkOut, responses=NOT_FOUND)
    def put_mark(
        media_id: IdPath, user: User, scope: UserScope, conn: WriteConn, ctx: Ctx
    ) -> MarkOut:
        service.set_mark(conn, scope, user.id, kind, [media_id], True, ctx.clock())
        return _mark_out(kind, media_id, True)

    @router.delete(f"/media/{{media_id}}/{kind}", response_model=MarkOut, responses=NOT_FOUND)
    def delete_mark(
        media_id: IdPath, user: User, scope: UserScope, conn: WriteConn, ctx: Ctx
    ) -> MarkOut:
        service.set_mark(conn, scope, user.id, kind, [media_id], False, ctx.clock())
        return _mark_out(kind, media_id, False)

    @router.post(f"/media/{kind}", response_model=BulkMarkOut, responses=NOT_FOUND)
    def bulk_mark(
        body: BulkMark, user: User, scope: UserScope, conn: WriteConn, ctx: Ctx
    ) -> BulkMarkOut:
        """Set (value=true) or clear the mark on many ids; all must be visible (else 404)."""
        changed = service.set_mark(conn, scope, user.id, kind, body.ids, body.value, ctx.clock())
        return BulkMarkOut(changed=changed)

    put_mark.__name__ = f"put_{kind}"
    delete_mark.__name__ = f"delete_{kind}"
    bulk_mark.__name__ = f"bulk_{kind}"


_mark_routes("favorite")
_mark_routes("archive")


@router.post(
    "/media/download",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {}}}, **error_responses(404, 503)},
)
def download_selection(body: Selection, scope: UserScope, conn: ReadConn) -> StreamingResponse:
    """The originals of a selection in one zip, streamed as it is written (all ids must be
    visible, else 404; a file gone from disk is left out)."""
    found = service.selection_files(conn, scope, body.ids)
    name = f"imageserver-{len(found)}-items.zip"
    return StreamingResponse(
        stream_zip(found),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- albums --------------------------------------------------------------------------------


def _album_out(found: service.AlbumView) -> AlbumOut:
    row = found.row
    return AlbumOut(
        id=int(row["id"]),
        name=str(row["name"]),
        description=str(row["description"]),
        owner=Owner(id=int(row["owner_id"]), username=str(row["owner_name"])),
        role=found.role,
        sort_order=str(row["sort_order"]),
        cover_media_id=found.cover_media_id,
        item_count=found.item_count,
        date_from=found.date_from,
        date_to=found.date_to,
        created_at=float(row["created_at"]),
        updated_at=float(row["updated_at"]),
    )


def _detail(
    conn: Connection, album_id: int, user_id: int, scope: Scope, limit: int, offset: int
) -> AlbumDetail:
    row = service.reach(conn, album_id, user_id)
    base = _album_out(service.view(conn, row, user_id, scope))
    people = [MemberOut(**dict(m)) for m in repo.members(conn, album_id)]
    found = service.items(conn, scope, row, limit, offset)
    return AlbumDetail(**base.model_dump(), members=people, items=[summary(i) for i in found])


@router.get("/albums", response_model=list[AlbumOut])
def list_albums(user: User, scope: UserScope, conn: ReadConn) -> list[AlbumOut]:
    """Albums the caller owns or is a member of, most recently changed first."""
    return [_album_out(v) for v in service.list_albums(conn, user.id, scope)]


@router.post("/albums", response_model=AlbumDetail, status_code=201, responses=NOT_FOUND)
def create_album(
    body: AlbumCreate, user: User, scope: UserScope, conn: WriteConn, ctx: Ctx
) -> AlbumDetail:
    folder = (body.from_folder.library, body.from_folder.path) if body.from_folder else None
    album_id = service.create_album(
        conn, scope, user.id, body.name, body.description, body.sort_order, folder, ctx.clock()
    )
    return _detail(conn, album_id, user.id, scope, 100, 0)


@router.get("/albums/{album_id}", response_model=AlbumDetail, responses=NOT_FOUND)
def get_album(
    album_id: IdPath,
    user: User,
    scope: UserScope,
    conn: ReadConn,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> AlbumDetail:
    """The album with the page of its items the caller may see (service.py: the rule)."""
    return _detail(conn, album_id, user.id, scope, limit, offset)


@router.patch("/albums/{album_id}", response_model=AlbumOut, responses=error_responses(403, 404))
def patch_album(
    album_id: IdPath, body: AlbumPatch, user: User, scope: UserScope, conn: WriteConn, ctx: Ctx
) -> AlbumOut:
    # null leaves a field as it is; only the cover can be cleared (null: no chosen cover)
    changes = {
        k: v
        for k, v in body.model_dump(exclude_unset=True).items()
        if v is not None or k == "cover_media_id"
    }
    service.patch_album(conn, scope, album_id, user.id, changes, ctx.clock())
    row = service.reach(conn, album_id, user.id)
    return _album_out(service.view(conn, row, user.id, scope))


@router.delete("/albums/{album_id}", status_code=204, responses=error_responses(403, 404))
def delete_album(album_id: IdPath, user: User, conn: WriteConn) -> Response:
    service.delete_album(conn, album_id, user.id)
    return Response(status_code=204)


def _changed(conn: Connection, album_id: int, user_id: int, scope: Scope, n: int) -> ItemsChanged:
    row = service.reach(conn, album_id, user_id)
    return ItemsChanged(changed=n, item_count=service.view(conn, row, user_id, scope).item_count)


@router.post(
    "/albums/{album_id}/items", response_model=ItemsChanged, responses=error_responses(403, 404)
)
def add_items(
    album_id: IdPath, body: ItemIds, user: User, scope: UserScope, conn: WriteConn, ctx: Ctx
) -> ItemsChanged:
    added = service.add_items(conn, scope, album_id, user.id, body.ids, ctx.clock())
    return _changed(conn, album_id, user.id, scope, added)


@router.delete(
    "/albums/{album_id}/items", response_model=ItemsChanged, responses=error_responses(403, 404)
)
def remove_items(
    album_id: IdPath, body: ItemIds, user: User, scope: UserScope, conn: WriteConn, ctx: Ctx
) -> ItemsChanged:
    removed = service.remove_items(conn, scope, album_id, user.id, body.ids, ctx.clock())
    return _changed(conn, album_id, user.id, scope, removed)


@router.post(
    "/albums/{album_id}/members",
    response_model=list[MemberOut],
    responses=error_responses(403, 404),
)
def put_member(
    album_id: IdPath, body: MemberIn, user: User, conn: WriteConn, ctx: Ctx
) -> list[MemberOut]:
    """Add a member (or change their role). Owner only."""
    service.put_member(conn, album_id, user.id, body.user_id, body.role, ctx.clock())
    return [MemberOut(**dict(m)) for m in repo.members(conn, album_id)]


@router.delete(
    "/albums/{album_id}/members/{user_id}",
    status_code=204,
    responses=error_responses(403, 404),
)
def remove_member(album_id: IdPath, user_id: IdPath, user: User, conn: WriteConn) -> Response:
    service.remove_member(conn, album_id, user.id, user_id)
    return Response(status_code=204)


# --- memories ------------------------------------------------------------------------------


@router.get("/memories", response_model=Memories)
def get_memories(
    user: User,
    scope: UserScope,
    conn: ReadConn,
    ctx: Ctx,
    day: Annotated[IsoDate | None, Query(alias="date", description="default: today")] = None,
    window: Annotated[int, Query(ge=0, le=7, description="days either side")] = 0,
) -> Memories:
    """ "On this day": per earlier year, the caller's visible, non-archived photos."""
    wanted = day or date.fromtimestamp(ctx.clock())
    years = service.memories(conn, scope, user.id, wanted, window)
    return Memories(
        date=wanted.isoformat(),
        window_days=window,
        years=[
            MemoryYear(
                year=year,
                years_ago=wanted.year - year,
                items=[MemoryItem(item=summary(i), favorite=f) for i, f in found],
            )
            for year, found in years
        ],
    )
