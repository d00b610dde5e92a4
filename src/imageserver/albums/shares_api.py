"""Share-link routes: managing links (login) and the public side under /s/{token}.

- POST /shares, GET /shares, DELETE /shares/{id}        (the caller's own links)
- GET  /s/{token}                                      items of the link (counts a view)
- POST /s/{token}/unlock {password}                    a key for a password link
- GET  /s/{token}/items/{media_id}/thumbnail|original  files of the link's items
- GET  /s/{token}/download                             a streamed zip of the originals

The public routes take no login; a password link wants its key as `?key=` or the
`x-share-key` header. The rules are in shares.py.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import FileResponse, StreamingResponse
from sqlalchemy import RowMapping

from imageserver.albums import shares, shares_repo
from imageserver.albums.schemas import (
    ShareCreate,
    SharedItem,
    SharedMeta,
    SharedPage,
    ShareOut,
    Unlock,
    UnlockOut,
)
from imageserver.albums.zipstream import stream_zip
from imageserver.auth.deps import User, current_user
from imageserver.auth.streams import issue_share_stream_token
from imageserver.errors import NotFound, error_responses
from imageserver.libraries.access import UserScope
from imageserver.media.model import MediaItem
from imageserver.media.service import thumbnail_file
from imageserver.work.context import AppContext
from imageserver.work.deps import Ctx, IdPath, ReadConn, WriteConn

router = APIRouter(tags=["shares"], dependencies=[Depends(current_user)])
public = APIRouter(tags=["public shares"])

Token = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
KeyQuery = Annotated[str | None, Query(max_length=2000, description="key of a password link")]
KeyHeader = Annotated[str | None, Header(max_length=2000)]
PUBLIC_ERRORS = error_responses(403, 404)


def _out(row: RowMapping) -> ShareOut:
    return ShareOut(
        id=int(row["id"]),
        token=str(row["token"]),
        url=f"/s/{row['token']}",
        album_id=row["album_id"],
        album_name=row["album_name"],
        item_count=None if row["album_id"] is not None else int(row["item_count"]),
        expires_at=row["expires_at"],
        has_password=row["password_hash"] is not None,
        allow_download=bool(row["allow_download"]),
        show_metadata=bool(row["show_metadata"]),
        view_count=int(row["view_count"]),
        last_viewed_at=row["last_viewed_at"],
        created_at=float(row["created_at"]),
    )


@router.post(
    "/shares", response_model=ShareOut, status_code=201, responses=error_responses(403, 404)
)
def create_share(
    body: ShareCreate, user: User, scope: UserScope, conn: WriteConn, ctx: Ctx
) -> ShareOut:
    """A public link to an album (owner or editor) or to media ids the caller can see."""
    new = shares.NewShare(
        album_id=body.album_id,
        media_ids=body.media_ids,
        expires_at=body.expires_at.timestamp() if body.expires_at else None,
        password=body.password,
        allow_download=body.allow_download,
        show_metadata=body.show_metadata,
    )
    share_id = shares.create(conn, scope, user.id, new, ctx.clock())
    return next(_out(r) for r in shares_repo.of_owner(conn, user.id) if r["id"] == share_id)


@router.get("/shares", response_model=list[ShareOut])
def list_shares(user: User, conn: ReadConn) -> list[ShareOut]:
    return [_out(r) for r in shares_repo.of_owner(conn, user.id)]


@router.delete("/shares/{share_id}", status_code=204, responses=error_responses(404))
def revoke_share(share_id: IdPath, user: User, conn: WriteConn) -> Response:
    shares.revoke(conn, share_id, user.id)
    return Response(status_code=204)


# --- public --------------------------------------------------------------------------------


def _suffix(key: str | None) -> str:
    return f"?key={key}" if key else ""


def _stream_url(ctx: AppContext, row: RowMapping, item: MediaItem) -> str | None:
    """A video's playlist, playable without a login for the token's lifetime: the token is
    for this one video of this link and dies with the link (auth/streams.py)."""
    if item.kind != "video" or item.content_hash is None:
        return None
    token, _ = issue_share_stream_token(ctx, int(row["id"]), item.content_hash)
    return f"/video/stream/{item.content_hash}/playlist.m3u8?token={quote(token, safe='')}"


def _shared(
    ctx: AppContext, token: str, item: MediaItem, row: RowMapping, key: str | None
) -> SharedItem:
    base = f"/s/{token}/items/{item.id}"
    meta = None
    if row["show_metadata"]:
        meta = SharedMeta(
            make=item.make,
            model=item.model,
            lens=item.lens,
            latitude=item.latitude,
            longitude=item.longitude,
            altitude=item.altitude,
            iso=item.iso,
            f_number=item.f_number,
            exposure_time=item.exposure_time,
            focal_length=item.focal_length,
        )
    return SharedItem(
        id=item.id,
        kind=item.kind,
        name=item.name,
        taken_at=item.taken_at,
        width=item.width,
        height=item.height,
        duration=item.duration,
        thumbnail_url=f"{base}/thumbnail{_suffix(key)}",
        original_url=f"{base}/original{_suffix(key)}" if row["allow_download"] else None,
        metadata=meta,
        stream_url=_stream_url(ctx, row, item),
    )


@public.get("/s/{token}", response_model=SharedPage, responses=PUBLIC_ERRORS)
def open_share(
    token: Token,
    conn: WriteConn,
    ctx: Ctx,
    key: KeyQuery = None,
    x_share_key: KeyHeader = None,
) -> SharedPage:
    """Exactly the link's items (no login). Each call counts as a view."""
    given = key or x_share_key
    opened = shares.open_link(conn, ctx, token, given)
    row = opened.row
    found = shares.items(conn, opened)
    shares_repo.viewed(conn, int(row["id"]), ctx.clock())
    return SharedPage(
        name=str(row["album_name"] or "Shared photos"),
        description=str(row["description"] or ""),
        item_count=len(found),
        allow_download=bool(row["allow_download"]),
        show_metadata=bool(row["show_metadata"]),
        expires_at=row["expires_at"],
        download_url=f"/s/{token}/download{_suffix(given)}" if row["allow_download"] else None,
        items=[_shared(ctx, token, i, row, given) for i in found],
    )


@public.post(
    "/s/{token}/unlock", response_model=UnlockOut, responses=error_responses(403, 404, 429)
)
def unlock_share(
    token: Token, body: Unlock, request: Request, conn: ReadConn, ctx: Ctx
) -> UnlockOut:
    address = request.client.host if request.client else ""
    key, lifetime = shares.unlock(conn, ctx, token, body.password, address)
    return UnlockOut(key=key, expires_in=lifetime)


@public.get(
    "/s/{token}/items/{media_id}/thumbnail",
    response_class=FileResponse,
    responses=PUBLIC_ERRORS,
)
def shared_thumbnail(
    token: Token,
    media_id: IdPath,
    conn: ReadConn,
    ctx: Ctx,
    size: Literal["small", "large"] = "small",
    key: KeyQuery = None,
    x_share_key: KeyHeader = None,
) -> FileResponse:
    opened = shares.open_link(conn, ctx, token, key or x_share_key)
    found, _ = shares.item(conn, opened, media_id)
    if found.content_hash is None:
        raise NotFound("thumbnail not made yet")
    path = thumbnail_file(conn, ctx.settings.thumbs_dir, found.content_hash, size)
    return FileResponse(
        path, media_type="image/webp", headers={"Cache-Control": "private, max-age=3600"}
    )


@public.get(
    "/s/{token}/items/{media_id}/original",
    response_class=FileResponse,
    responses=PUBLIC_ERRORS,
)
def shared_original(
    token: Token,
    media_id: IdPath,
    conn: ReadConn,
    ctx: Ctx,
    key: KeyQuery = None,
    x_share_key: KeyHeader = None,
) -> FileResponse:
    """The original file, when the link allows downloads."""
    opened = shares.open_link(conn, ctx, token, key or x_share_key)
    found, path = shares.original(conn, opened, media_id)
    return FileResponse(
        path,
        media_type=found.mime,
        filename=found.name,
        content_disposition_type="inline",
        headers={"Cache-Control": "private, max-age=3600"},
    )


@public.get(
    "/s/{token}/download",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {}}}, **PUBLIC_ERRORS},
)
def shared_download(
    token: Token,
    conn: ReadConn,
    ctx: Ctx,
    key: KeyQuery = None,
    x_share_key: KeyHeader = None,
) -> StreamingResponse:
    """Every original of the link in one zip, streamed as it is written."""
    opened = shares.open_link(conn, ctx, token, key or x_share_key)
    found = shares.files(conn, opened)
    name = str(opened.row["album_name"] or "shared").replace('"', "")
    return StreamingResponse(
        stream_zip((item.name, path) for item, path in found),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}.zip"'},
    )
