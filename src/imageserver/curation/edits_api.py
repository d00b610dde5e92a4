"""Edit routes: the household's edits of one item or many, their history and undo, and
the XMP export of the effective curation.

- PATCH /media/{id}, PATCH /media {ids, ...}: set (value), clear (null) or keep (absent)
- GET /media/{id}/edits (newest first), POST /media/{id}/edits/undo (409: nothing left)
- POST /export/xmp {library_id?, since?} (admin): sidecars under the data folder

Item paths use the `{media_id:id}` convertor (inputs.py), so `/media/by-path` and the
other literal siblings are never captured. Writes take `WriteConn` (one transaction,
committed before the answer); a read-only API key is refused by `current_user`.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from imageserver.auth.deps import AdminOnly, User, current_user
from imageserver.curation import edits_service, export
from imageserver.curation.edits_repo import HistoryRow
from imageserver.curation.edits_schemas import (
    BatchEdit,
    BatchEditOut,
    EditEntry,
    EditFields,
    EditHistory,
    EditUser,
    ExportOut,
    ExportRequest,
)
from imageserver.db.engine import read_only
from imageserver.errors import error_responses
from imageserver.libraries.access import UserScope
from imageserver.media import service as media_service
from imageserver.media.schemas import MediaDetail, detail
from imageserver.work.deps import Ctx, IdPath, ReadConn, WriteConn

router = APIRouter(tags=["edits"], dependencies=[Depends(current_user)])

ITEM = "/media/{media_id:id}"


def _entry(row: HistoryRow) -> EditEntry:
    user = EditUser(id=row.user_id, username=row.username) if row.user_id is not None else None
    before = {f: (v or {}).get("value") for f, v in row.before.items()}
    return EditEntry(
        id=row.id, at=row.at, user=user, before=before, after=row.after, undone_at=row.undone_at
    )


@router.patch(ITEM, response_model=MediaDetail, responses=error_responses(404))
def edit_item(
    media_id: IdPath, body: EditFields, user: User, scope: UserScope, conn: WriteConn, ctx: Ctx
) -> MediaDetail:
    """Edit one item's date, place, title, description, tags or rating."""
    edits_service.change(conn, scope, user.id, [media_id], body.changes(), ctx.clock())
    return detail(media_service.item_detail(conn, scope, media_id, user.id))


@router.patch("/media", response_model=BatchEditOut, responses=error_responses(404))
def edit_items(
    body: BatchEdit, user: User, scope: UserScope, conn: WriteConn, ctx: Ctx
) -> BatchEditOut:
    """The same change to many items; every id must be visible, else 404 and no change."""
    changed = edits_service.change(conn, scope, user.id, body.ids, body.changes(), ctx.clock())
    return BatchEditOut(changed=changed)


@router.get(f"{ITEM}/edits", response_model=EditHistory, responses=error_responses(404))
def edit_history(media_id: IdPath, scope: UserScope, conn: ReadConn) -> EditHistory:
    rows = edits_service.history(conn, scope, media_id)
    return EditHistory(items=[_entry(r) for r in rows])


@router.post(f"{ITEM}/edits/undo", response_model=EditEntry, responses=error_responses(404, 409))
def undo_edit(
    media_id: IdPath, user: User, scope: UserScope, conn: WriteConn, ctx: Ctx
) -> EditEntry:
    """Walk back the newest change not undone yet; the entry that was undone."""
    entry = edits_service.undo(conn, scope, user.id, media_id, ctx.clock())
    return _entry(entry).model_copy(update={"undone_at": ctx.clock()})


@router.post(
    "/export/xmp",
    response_model=ExportOut,
    dependencies=[AdminOnly],
    responses=error_responses(403),
)
def export_xmp(body: ExportRequest, scope: UserScope, ctx: Ctx) -> ExportOut:
    """Write XMP sidecars of the effective curation under `<data dir>/export/xmp/`."""
    base = ctx.settings.export_dir / "xmp"
    counts = export.Counts()
    with read_only(ctx.engine) as conn:
        ids = export.export_libraries(conn, scope, body.library_id)
    for library_id in ids:
        with read_only(ctx.engine) as conn:
            found = export.items(conn, library_id, body.since_epoch())
        export.write(base, library_id, found, counts)
    return ExportOut(
        libraries=len(ids),
        written=counts.written,
        unchanged=counts.unchanged,
        failed=counts.failed,
    )
