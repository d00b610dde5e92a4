"""GET /folders: the sub-folders of one folder of a library, with item counts (folder browsing).

Counts follow the grid's default listing (live rows of an enabled library, companions
folded into their main item), so a folder's number matches what `/media?folder=` shows.
One grouped query over the `folder` column (indexed with library_id); the immediate
children are derived from the folder paths below `parent`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Connection, func, or_, select

from imageserver.auth.deps import current_user
from imageserver.db.tables import libraries, media
from imageserver.errors import NotFound, error_responses
from imageserver.inputs import MAX_ID
from imageserver.media.paths import clean_rel_path
from imageserver.work.deps import ReadConn

router = APIRouter(tags=["media"], dependencies=[Depends(current_user)])


class Folder(BaseModel):
    name: str
    path: str = Field(description="library-relative folder path")
    count: int = Field(description="items in this folder and below")


class FolderListing(BaseModel):
    library_id: int
    parent: str = Field(description='the folder listed ("" is the library root)')
    count: int = Field(description="items in parent and below")
    direct: int = Field(description="items directly in parent")
    folders: list[Folder]


def folder_counts(conn: Connection, library_id: int, parent: str) -> dict[str, int]:
    """folder -> live item count, for `parent` and every folder below it."""
    where: list[ColumnElement[bool]] = [
        media.c.library_id == library_id,
        media.c.retired_at.is_(None),
        media.c.companion_id.is_(None),
        libraries.c.enabled.is_(True),
    ]
    if parent:
        where.append(
            or_(media.c.folder == parent, media.c.folder.startswith(parent + "/", autoescape=True))
        )
    query = (
        select(media.c.folder, func.count())
        .select_from(media.join(libraries, libraries.c.id == media.c.library_id))
        .where(*where)
        .group_by(media.c.folder)
    )
    return {str(folder): int(n) for folder, n in conn.execute(query)}


def children(counts: dict[str, int], parent: str) -> list[Folder]:
    prefix = parent + "/" if parent else ""
    totals: dict[str, int] = {}
    for folder, n in counts.items():
        if folder == parent or not folder.startswith(prefix):
            continue
        name = folder[len(prefix) :].split("/", 1)[0]
        totals[name] = totals.get(name, 0) + n
    return [
        Folder(name=name, path=prefix + name, count=n)
        for name, n in sorted(totals.items(), key=lambda kv: kv[0].casefold())
    ]


@router.get("/folders", response_model=FolderListing, responses=error_responses(404))
def list_folders(
    conn: ReadConn,
    library: Annotated[int, Query(ge=1, le=MAX_ID, description="library id")],
    parent: Annotated[str, Query(max_length=4096, description="folder; empty = root")] = "",
) -> FolderListing:
    """Immediate sub-folders of `parent` with recursive item counts."""
    exists = conn.execute(select(libraries.c.id).where(libraries.c.id == library)).first()
    if exists is None:
        raise NotFound(f"library {library} not found")
    clean = clean_rel_path(parent) if parent.strip("/") else ""
    counts = folder_counts(conn, library, clean)
    return FolderListing(
        library_id=library,
        parent=clean,
        count=sum(counts.values()),
        direct=counts.get(clean, 0),
        folders=children(counts, clean),
    )
