"""Media read rules: what a listing, an item, its original and its thumbnail resolve to.

Plain functions over a Connection (never committing) that the routers call in one line;
every query is in query.py, every answer a typed value of model.py. Errors are the domain
exceptions of errors.py (a missing or retired item is NotFound, an unreachable library
LibraryStale), so a router only shapes the response.

The caller's `Scope` is the second argument of each reader here, handed on to the
query.py readers (which put it in the SQL, `visible(scope)`): an item of a library
outside the scope is the NotFound of an item that does not exist, word for word.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection

from imageserver.errors import LibraryStale, NotFound, Unsupported
from imageserver.media import localtime, query
from imageserver.media.layout import ThumbSize, thumb_path
from imageserver.media.model import (
    ArtefactState,
    DuplicateSet,
    FolderCount,
    FolderTree,
    Granularity,
    ItemDetail,
    ItemPage,
    MediaFilter,
    MediaItem,
    Order,
    OriginalFile,
)
from imageserver.media.paths import clean_rel_path, open_file_inside
from imageserver.work import artefacts
from imageserver.work.artefacts import THUMB_KIND
from imageserver.work.scope import Scope


def list_page(
    conn: Connection, scope: Scope, f: MediaFilter, limit: int, cursor: str | None, order: Order
) -> ItemPage:
    """One keyset page of the grid; a malformed cursor is Invalid (422)."""
    after = query.decode_cursor(cursor) if cursor else None
    return query.list_page(conn, scope, f, limit, after, order)


def live_item(conn: Connection, scope: Scope, media_id: int) -> MediaItem:
    item = query.item(conn, scope, media_id)
    if item is None:
        raise NotFound(f"media {media_id} not found")
    return item


def thumbnail_state(conn: Connection, content_hash: str | None) -> ArtefactState | None:
    state = artefacts.get(conn, content_hash, THUMB_KIND) if content_hash else None
    return ArtefactState(status=state["status"], detail=state["detail"]) if state else None


def detail(
    conn: Connection, scope: Scope, item: MediaItem, user_id: int | None = None
) -> ItemDetail:
    """`user_id` adds the caller's own favorite / archive marks."""
    place = query.place_of(conn, item.content_hash)
    favorite, archived = query.marks_of(conn, user_id, item.id) if user_id else (False, False)
    return ItemDetail(
        item=item,
        companions=query.companions_of(conn, scope, item.id),
        thumbnail=thumbnail_state(conn, item.content_hash),
        place=place,
        time=localtime.resolve(item, place.timezone if place else None),
        favorite=favorite,
        archived=archived,
        curation=query.curation_of(conn, item),
    )


def item_detail(
    conn: Connection, scope: Scope, media_id: int, user_id: int | None = None
) -> ItemDetail:
    return detail(conn, scope, live_item(conn, scope, media_id), user_id)


def item_detail_by_path(
    conn: Connection, scope: Scope, library_id: int, rel_path: str, user_id: int | None = None
) -> ItemDetail:
    """`rel_path` is already clean (paths.clean_rel_path)."""
    item = query.item_by_path(conn, scope, library_id, rel_path)
    if item is None:
        raise NotFound(f"no media at {rel_path!r} in library {library_id}")
    return detail(conn, scope, item, user_id)


def library_root(conn: Connection, scope: Scope, library_id: int) -> Path:
    root = query.library_root(conn, scope, library_id)
    if root is None:
        raise NotFound(f"library {library_id} not found")
    return Path(root)


def original(conn: Connection, scope: Scope, media_id: int) -> OriginalFile:
    """The item's file, resolved inside its library root (no symlink leaves it)."""
    item = live_item(conn, scope, media_id)
    root = library_root(conn, scope, item.library_id)
    if not root.is_dir():
        raise LibraryStale("the library is not reachable right now (unmounted?)")
    return OriginalFile(path=open_file_inside(root, item.rel_path), mime=item.mime, name=item.name)


def thumbnail_hash(conn: Connection, scope: Scope, media_id: int) -> str:
    """The content hash naming the item's thumbnails (and their ETag)."""
    digest = live_item(conn, scope, media_id).content_hash
    if digest is None:
        raise NotFound("thumbnail not made yet (file not hashed)")
    return digest


def thumbnail_file(conn: Connection, thumbs_dir: Path, content_hash: str, size: ThumbSize) -> Path:
    """The thumbnail on disk; NotFound while it is pending, Unsupported when it failed."""
    path = thumb_path(thumbs_dir, content_hash, size)
    if not path.is_file():
        state = thumbnail_state(conn, content_hash)
        if state is not None and state.status == "failed":
            raise Unsupported(f"no thumbnail: {state.detail}")
        raise NotFound("thumbnail not made yet")
    return path


def timeline(
    conn: Connection, scope: Scope, f: MediaFilter, granularity: Granularity
) -> list[tuple[str, int]]:
    return query.timeline(conn, scope, f, granularity)


def duplicates(
    conn: Connection, scope: Scope, library_ids: tuple[int, ...], limit: int, offset: int
) -> tuple[list[DuplicateSet], int]:
    return query.duplicate_sets(conn, scope, library_ids, limit, offset)


def folder_tree(conn: Connection, scope: Scope, library_id: int, parent: str) -> FolderTree:
    """Immediate sub-folders of `parent` (a client's path; "" or "/" = root) with counts.

    An unknown library is NotFound before the path is looked at. One grouped query over
    the `folder` column (indexed with library_id); the immediate children are derived
    from the folder paths below `parent`.
    """
    library_root(conn, scope, library_id)
    parent = clean_rel_path(parent) if parent.strip("/") else ""
    counts = query.folder_counts(conn, scope, library_id, parent)
    return FolderTree(
        parent=parent,
        count=sum(counts.values()),
        direct=counts.get(parent, 0),
        folders=children(counts, parent),
    )


def children(counts: dict[str, int], parent: str) -> list[FolderCount]:
    """Fold folder -> count (for parent and below) into parent's children, by name."""
    prefix = parent + "/" if parent else ""
    totals: dict[str, int] = {}
    for folder, n in counts.items():
        if folder == parent or not folder.startswith(prefix):
            continue
        name = folder[len(prefix) :].split("/", 1)[0]
        totals[name] = totals.get(name, 0) + n
    return [
        FolderCount(name=name, path=prefix + name, count=n)
        for name, n in sorted(totals.items(), key=lambda kv: kv[0].casefold())
    ]
