"""GET /folders: the sub-folders of one folder of a library, with item counts (folder browsing).

Counts follow the grid's default listing (live rows of an enabled library, companions
folded into their main item), so a folder's number matches what `/media?folder=` shows:
service.folder_tree and the listing share query.listed. A library outside the caller's
scope is the 404 of a library that does not exist.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from imageserver.auth.deps import current_user
from imageserver.auth.scope import UserScope
from imageserver.errors import error_responses
from imageserver.inputs import FOLDER_PATTERN, MAX_ID
from imageserver.media import service
from imageserver.media.schemas import FolderListing, folder_listing
from imageserver.work.deps import ReadConn

router = APIRouter(tags=["media"], dependencies=[Depends(current_user)])


@router.get("/folders", response_model=FolderListing, responses=error_responses(404))
def list_folders(
    conn: ReadConn,
    scope: UserScope,
    library: Annotated[int, Query(ge=1, le=MAX_ID, description="library id")],
    parent: Annotated[
        str, Query(max_length=4096, pattern=FOLDER_PATTERN, description="folder; empty = root")
    ] = "",
) -> FolderListing:
    """Immediate sub-folders of `parent` with recursive item counts."""
    return folder_listing(library, service.folder_tree(conn, scope, library, parent))
