"""The video SQL beyond the kernel's artefact queries: the drain's, and the routes' reads.

Every read a route makes takes the caller's `Scope` into its WHERE clause
(`scope.where(media.c.library_id)`): a video, a path or a content hash of a library the
caller may not see is not found, exactly like one that does not exist.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, RowMapping, and_, select

from imageserver.db.tables import artefacts, libraries, media
from imageserver.video.jobs import PREVIEW_KIND
from imageserver.work.artefacts import HLS_KIND
from imageserver.work.scope import Scope


def settled_videos(
    conn: Connection, library_id: int, video_kinds: Sequence[str]
) -> list[RowMapping]:
    """Live videos of a library whose playlist is settled (done or failed) or whose preview
    is done, with their `hls` and `preview` statuses: what reconcile checks on disk."""
    a_hls = artefacts.alias("a_hls")
    a_prev = artefacts.alias("a_prev")
    firsts = (
        select(media.c.content_hash, media.c.rel_path, libraries.c.root_path)
        .select_from(media.join(libraries, libraries.c.id == media.c.library_id))
        .where(
            media.c.library_id == library_id,
            media.c.kind.in_(video_kinds),
            media.c.retired_at.is_(None),
            media.c.content_hash.is_not(None),
        )
        .subquery()
    )
    query = (
        select(firsts, a_hls.c.status.label("hls"), a_prev.c.status.label("preview"))
        .select_from(
            firsts.outerjoin(
                a_hls,
                and_(a_hls.c.content_hash == firsts.c.content_hash, a_hls.c.kind == HLS_KIND),
            ).outerjoin(
                a_prev,
                and_(a_prev.c.content_hash == firsts.c.content_hash, a_prev.c.kind == PREVIEW_KIND),
            )
        )
        .where((a_hls.c.status.in_(("done", "failed"))) | (a_prev.c.status == "done"))
    )
    return list(conn.execute(query).mappings())


def library_root(conn: Connection, library_id: int) -> str:
    return str(
        conn.execute(select(libraries.c.root_path).where(libraries.c.id == library_id)).scalar_one()
    )


# --- the routes' reads (scoped) -----------------------------------------------------------


def live_media(conn: Connection, scope: Scope, media_id: int) -> RowMapping | None:
    """A live media row of a library in the scope (any kind: the caller checks)."""
    query = select(media).where(
        media.c.id == media_id, media.c.retired_at.is_(None), scope.where(media.c.library_id)
    )
    return conn.execute(query).mappings().first()


def live_video_at(
    conn: Connection, scope: Scope, library_id: int, rel_path: str, video_kinds: Sequence[str]
) -> RowMapping | None:
    """The live video at `rel_path` of `library_id`, when that library is in the scope."""
    query = select(media).where(
        media.c.library_id == library_id,
        media.c.rel_path == rel_path,
        media.c.retired_at.is_(None),
        media.c.kind.in_(video_kinds),
        scope.where(media.c.library_id),
    )
    return conn.execute(query).mappings().first()


def hash_in_scope(conn: Connection, scope: Scope, content_hash: str) -> bool:
    """Some live item with these bytes is in the scope (what lets a hash stream)."""
    query = (
        select(media.c.id)
        .where(
            media.c.content_hash == content_hash,
            media.c.retired_at.is_(None),
            scope.where(media.c.library_id),
        )
        .limit(1)
    )
    return conn.execute(query).first() is not None
