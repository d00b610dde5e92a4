"""Video routes: HLS playlists, segments and previews; signed stream URLs; generate; stats.

HLS players fetch segments without custom headers, so the stream routes accept either a
Bearer credential or `?token=` holding a short-lived stream token scoped to one content
hash (auth/streams.py verifies both, before the route looks anything up: no credentials
is a 401 whatever the path). Then the caller's scope decides, in the SQL (video/repo.py):
a hash streams only while some live item of it is in a library the credential's user may
see (for a stream token: the token's user, read afresh on every request), and a library
path only inside such a library; anything else is the 404 of a video that does not
exist, word for word. A public share link's stream token (albums/shares_api.py) plays its
one video by hash while the link still shows it (work/ports.SharedStreams); any other
hash or any library path is that same 404. A playlist
fetched with a token is served with every segment URI rewritten to an absolute path
carrying that token, so the player's segment requests authenticate too.
Client path pieces are matched against strict patterns (hash: 64 lowercase hex; segment:
`seg_NNNNN.ts`) and never joined into a path raw; library paths go through clean_rel_path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse
from sqlalchemy import Connection, RowMapping

from imageserver.auth.deps import CurrentUser, User
from imageserver.auth.scope import UserScope, scope_of
from imageserver.auth.streams import Stream, StreamAccess, issue_stream_token
from imageserver.errors import (
    Invalid,
    NotFound,
    Unsupported,
    error_responses,
)
from imageserver.inputs import MAX_ID, REL_PATH_PATTERN
from imageserver.media.paths import clean_rel_path
from imageserver.video import layout, repo, service, stats
from imageserver.video.jobs import PREVIEW_KIND, Job
from imageserver.video.queue import VideoQueue
from imageserver.video.schemas import (
    GenerateRequest,
    HlsCountsOut,
    HlsStatsOut,
    LibraryHlsStats,
    VideoInfo,
)
from imageserver.video.state import inspect, needs_generation, source_mtime
from imageserver.work import artefacts
from imageserver.work.artefacts import HLS_KIND
from imageserver.work.context import AppContext
from imageserver.work.deps import Ctx, IdPath, ReadConn, WriteConn
from imageserver.work.scope import Scope

router = APIRouter(tags=["video"])

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
SEGMENT_TYPE = "video/mp2t"
PREVIEW_TYPE = "video/mp4"
IMMUTABLE = "private, max-age=31536000, immutable"
PLAYLIST_CACHE = "private, max-age=30"
# Stream routes authorise by header or ?token= themselves (no bearer dependency).
STREAM_ERRORS = error_responses(401, 403, 404)
RANGE_ERROR = error_responses(416)


# --- authorisation (auth/streams.py) ------------------------------------------------------


HASH_PATTERN = r"^[0-9a-f]{64}$"
HashPath = Annotated[
    str, PathParam(pattern=HASH_PATTERN, description="content hash: 64 lowercase hex characters")
]


def checked_hash(content_hash: str) -> str:
    if not layout.is_hash(content_hash):
        raise Invalid("not a content hash (64 lowercase hex characters)")
    return content_hash


def streamable(
    ctx: AppContext, conn: Connection, access: StreamAccess, content_hash: str, missing: str
) -> str | None:
    """The stream token to propagate (None for a header credential), once the credential's
    user may see an item of the hash (and, for a share link's token, the link still shows
    it); else `missing`, the very 404 the route gives for a hash that exists nowhere (no
    existence oracle)."""
    token = access.token_for(checked_hash(content_hash), missing)
    if not repo.hash_in_scope(conn, scope_of(conn, access.user.id), content_hash):
        raise NotFound(missing)
    if access.share_id is not None and not link_shows(ctx, conn, access.share_id, content_hash):
        raise NotFound(missing)
    return token


def link_shows(ctx: AppContext, conn: Connection, share_id: int, content_hash: str) -> bool:
    """Asked of the share links (work/ports.SharedStreams); none wired: no link plays."""
    links = ctx.shared_streams
    return links is not None and links.shows(conn, share_id, content_hash)


# --- serving -----------------------------------------------------------------------------------


def stream_base(request: Request, content_hash: str) -> str:
    return f"{request.scope.get('root_path', '')}/video/stream/{content_hash}"


def rewrite_playlist(text: str, base: str, token: str | None) -> str:
    """Segment URIs become absolute paths (+ the stream token): right behind any base URL."""
    query = f"?token={quote(token, safe='')}" if token else ""
    out = []
    for line in text.splitlines():
        if line and not line.startswith("#"):
            if not layout.is_segment(line) and not layout.is_variant(line):
                raise NotFound("playlist is damaged")  # never point a player elsewhere
            line = f"{base}/{line}{query}"
        out.append(line)
    return "\n".join(out) + "\n"


def _missing(ctx: AppContext, content_hash: str, what: str) -> Exception:
    reason = layout.read_sentinel(ctx.settings.resolved_video_path, content_hash)
    if reason is not None:
        return Unsupported(f"video cannot be played: {reason}")
    return NotFound(f"{what} not made yet")


def serve_playlist(
    ctx: AppContext, request: Request, content_hash: str, token: str | None
) -> Response:
    """The ladder's master playlist when there is one, else the one media playlist."""
    video_root = ctx.settings.resolved_video_path
    master = layout.master_path(video_root, content_hash)
    path = master if master.is_file() else layout.playlist_path(video_root, content_hash)
    return serve_media_playlist(ctx, request, content_hash, path, token)


def serve_media_playlist(
    ctx: AppContext, request: Request, content_hash: str, path: Path, token: str | None
) -> Response:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _missing(ctx, content_hash, "playlist") from None
    body = rewrite_playlist(text, stream_base(request, content_hash), token)
    return Response(body, media_type=PLAYLIST_TYPE, headers={"Cache-Control": PLAYLIST_CACHE})


def serve_preview(ctx: AppContext, content_hash: str) -> FileResponse:
    path = layout.preview_path(ctx.settings.resolved_video_path, content_hash)
    if not path.is_file():
        raise _missing(ctx, content_hash, "preview clip")
    return FileResponse(path, media_type=PREVIEW_TYPE, headers={"Cache-Control": IMMUTABLE})


@router.get(
    "/video/stream/{content_hash}/playlist.m3u8",
    response_class=Response,
    responses=STREAM_ERRORS,
)
def playlist_by_hash(
    content_hash: HashPath, request: Request, ctx: Ctx, access: Stream, conn: ReadConn
) -> Response:
    token = streamable(ctx, conn, access, content_hash, "playlist not made yet")
    return serve_playlist(ctx, request, content_hash, token)


@router.get(
    "/video/stream/{content_hash}/preview.mp4",
    response_class=FileResponse,
    responses=STREAM_ERRORS,
)
def preview_by_hash(
    content_hash: HashPath, ctx: Ctx, access: Stream, conn: ReadConn
) -> FileResponse:
    streamable(ctx, conn, access, content_hash, "preview clip not made yet")
    return serve_preview(ctx, content_hash)


@router.get(
    "/video/stream/{content_hash}/{segment}",
    response_class=FileResponse,
    responses={206: {"description": "partial content (Range)"}, **STREAM_ERRORS, **RANGE_ERROR},
)
def segment(
    content_hash: HashPath,
    segment: str,
    request: Request,
    ctx: Ctx,
    access: Stream,
    conn: ReadConn,
) -> Response:
    """A segment, or one variant playlist of the ladder (main.m3u8, v360.m3u8, ...)."""
    token = streamable(ctx, conn, access, content_hash, "no such segment")
    if layout.is_variant(segment):
        path = layout.variant_path(ctx.settings.resolved_video_path, content_hash, segment)
        return serve_media_playlist(ctx, request, content_hash, path, token)
    if not layout.is_segment(segment):
        raise NotFound("no such segment")
    path = layout.segment_path(ctx.settings.resolved_video_path, content_hash, segment)
    if not path.is_file():
        raise NotFound("no such segment")
    return FileResponse(path, media_type=SEGMENT_TYPE, headers={"Cache-Control": IMMUTABLE})


def live_video(conn: Connection, scope: Scope, library_id: int, path: str) -> RowMapping:
    rel = clean_rel_path(path)
    row = repo.live_video_at(conn, scope, library_id, rel, ("video",))
    if row is None:
        raise NotFound(f"no video at {rel!r} in library {library_id}")
    return row


def _hash_of(row: RowMapping) -> str:
    if row["content_hash"] is None:
        raise NotFound("video not hashed yet; try again shortly")
    return str(row["content_hash"])


@router.get(
    "/video/stream/library/{library_id}/playlist.m3u8",
    response_class=Response,
    responses=STREAM_ERRORS,
)
def playlist_by_path(
    library_id: IdPath,
    path: Annotated[
        str,
        Query(max_length=4096, pattern=REL_PATH_PATTERN, description="library-relative path"),
    ],
    request: Request,
    ctx: Ctx,
    access: Stream,
    conn: ReadConn,
) -> Response:
    """The stable URL of a video by library + path; resolves to its hash's playlist."""
    access.by_path(f"no video at {clean_rel_path(path)!r} in library {library_id}")
    scope = scope_of(conn, access.user.id)
    row = live_video(conn, scope, library_id, path)
    service.source_of(conn, row)
    content_hash = _hash_of(row)
    token = access.token_for(content_hash)
    return serve_playlist(ctx, request, content_hash, token)


@router.get(
    "/video/stream/library/{library_id}/preview.mp4",
    response_class=FileResponse,
    responses=STREAM_ERRORS,
)
def preview_by_path(
    library_id: IdPath,
    path: Annotated[str, Query(max_length=4096, pattern=REL_PATH_PATTERN)],
    ctx: Ctx,
    access: Stream,
    conn: ReadConn,
) -> FileResponse:
    access.by_path(f"no video at {clean_rel_path(path)!r} in library {library_id}")
    scope = scope_of(conn, access.user.id)
    row = live_video(conn, scope, library_id, path)
    service.source_of(conn, row)
    content_hash = _hash_of(row)
    access.token_for(content_hash)
    return serve_preview(ctx, content_hash)


# --- info, generate, stats ---------------------------------------------------------------------


def _video_row(conn: Connection, scope: Scope, media_id: int) -> RowMapping:
    row = repo.live_media(conn, scope, media_id)
    if row is None:
        raise NotFound(f"media {media_id} not found")
    if row["kind"] != "video":  # no video of that id: a 404 (the id itself is well-formed)
        raise NotFound(f"media {media_id} is not a video")
    return row


def describe(ctx: AppContext, conn: Connection, row: RowMapping, user: CurrentUser) -> VideoInfo:
    digest = row["content_hash"]
    if digest is None:
        return VideoInfo(media_id=row["id"], content_hash=None, status="waiting_for_hash")
    disk = inspect(ctx.settings.resolved_video_path, digest)
    info = VideoInfo(media_id=row["id"], content_hash=digest, status="pending")
    if disk.sentinel is not None:
        return info.model_copy(update={"status": "unsupported", "reason": disk.sentinel})
    if not disk.has_playlist:
        state = artefacts.get(conn, digest, HLS_KIND)
        if state is not None and state["status"] == "retry":
            info.reason = f"retrying: {state['detail']}"
        queue = ctx.video_queue
        if queue is not None and digest in queue.in_flight():
            info.status = "queued"
        return info
    token, expires = issue_stream_token(ctx, user, digest)
    base = f"/video/stream/{digest}"
    info.status = "ready"
    info.playlist_url = f"{base}/playlist.m3u8?token={token}"
    info.preview_url = f"{base}/preview.mp4?token={token}" if disk.preview else None
    info.token_expires_at = expires
    return info


@router.get("/video/by-path", response_model=VideoInfo, responses=error_responses(404))
def video_by_path(
    library: Annotated[int, Query(ge=1, le=MAX_ID, description="library id")],
    path: Annotated[str, Query(max_length=4096, pattern=REL_PATH_PATTERN)],
    ctx: Ctx,
    conn: ReadConn,
    user: User,
    scope: UserScope,
) -> VideoInfo:
    """State of one video and signed playlist / preview URLs (valid without a header)."""
    return describe(ctx, conn, live_video(conn, scope, library, path), user)


@router.get("/video/{media_id:id}", response_model=VideoInfo, responses=error_responses(404))
def video_info(
    media_id: IdPath, ctx: Ctx, conn: ReadConn, user: User, scope: UserScope
) -> VideoInfo:
    """State of one video and signed playlist / preview URLs (valid without a header)."""
    return describe(ctx, conn, _video_row(conn, scope, media_id), user)


@router.post(
    "/video/generate",
    response_model=VideoInfo,
    status_code=202,
    responses={200: {"description": "already made", "model": VideoInfo}, **error_responses(404)},
)
def generate(
    body: GenerateRequest, ctx: Ctx, conn: WriteConn, user: User, scope: UserScope
) -> Response:
    """Ask for a playlist now: 202 queued, 200 ready, 422 unsupported (or refused: the
    file now leads out of its library root), 404 unknown.

    Open to members, not admin-only: asking for the playlist of a video one may see is
    viewing it (the transcode would happen anyway when the drain reaches it), not
    maintenance. Which videos a member may see is the library scope's decision.
    """
    if body.media_id is not None:
        row = _video_row(conn, scope, body.media_id)
    else:
        assert body.library_id is not None and body.path is not None
        row = live_video(conn, scope, body.library_id, body.path)
    root, source = service.source_of(conn, row)  # a symlink leading out of the root: refused
    digest = row["content_hash"]
    if digest is None:
        info = VideoInfo(media_id=row["id"], content_hash=None, status="waiting_for_hash")
        return JSONResponse(info.model_dump(), status_code=202)
    disk = inspect(ctx.settings.resolved_video_path, digest)
    if disk.sentinel is not None:
        raise Unsupported(f"video cannot be played: {disk.sentinel}")
    if disk.has_playlist and not needs_generation(disk.playlist_mtime, source_mtime(source)):
        return JSONResponse(describe(ctx, conn, row, user).model_dump(), status_code=200)
    # Whatever backoff or stale state there was, this video is wanted now.
    artefacts.forget(conn, digest, HLS_KIND)
    artefacts.forget(conn, digest, PREVIEW_KIND)
    queue = ctx.video_queue
    if isinstance(queue, VideoQueue):
        name = ctx.registry.get(row["library_id"])
        rel = row["rel_path"]
        job = Job(digest, root / rel, name.name if name else "?", rel, root=root)
        queue.submit(job, front=True)
    info = VideoInfo(media_id=row["id"], content_hash=digest, status="queued")
    return JSONResponse(info.model_dump(), status_code=202)


@router.get("/hls/stats", response_model=HlsStatsOut)
def hls_stats(conn: ReadConn, scope: UserScope) -> HlsStatsOut:
    """Per-library and aggregate HLS coverage (dedup by hash) over the caller's libraries
    only; the gauges (every library, the operator's view) are the scan's to refresh."""
    result = stats.compute(conn, scope)
    return HlsStatsOut(
        libraries=[
            LibraryHlsStats(library_id=lib.library_id, library=lib.library, **lib.counts.as_dict())
            for lib in result.libraries
        ],
        aggregate=HlsCountsOut(**result.aggregate.as_dict()),
    )


__all__ = ["router"]
