"""OCR routes: search by words and substrings, the text of an item, the drain's numbers.

Handlers are plain `def`: FastAPI runs them in its thread pool.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from imageserver.auth.deps import current_user
from imageserver.errors import error_responses
from imageserver.inputs import DbId
from imageserver.libraries.access import UserScope
from imageserver.media.schemas import summary
from imageserver.ocr import service, stats
from imageserver.ocr.schemas import MediaText, OcrPage, OcrStats, OcrStatsRow, TextLine
from imageserver.work.deps import IdPath, ReadConn

router = APIRouter(tags=["ocr"], dependencies=[Depends(current_user)])


@router.get("/ocr/search", response_model=OcrPage, responses=error_responses(422))
def ocr_search(
    conn: ReadConn,
    scope: UserScope,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=500,
            description="words; each must occur in the picture's text (case-insensitive "
            "substrings, one of 3+ characters)",
            json_schema_extra={"pattern": service.QUERY_PATTERN},
        ),
    ],
    library_id: Annotated[DbId | None, Query(description="only this library")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=32)] = None,
) -> OcrPage:
    """Visible items whose text holds every word, oldest row first."""
    page = service.search(conn, scope, q, library_id, limit, cursor)
    return OcrPage(items=[summary(i) for i in page.items], next_cursor=page.next_cursor)


@router.get("/media/{media_id}/text", response_model=MediaText, responses=error_responses(404))
def media_text(media_id: IdPath, conn: ReadConn, scope: UserScope) -> MediaText:
    """The text read in a visible item, with each line's box and confidence."""
    found = service.text_of_item(conn, scope, media_id)
    return MediaText(
        media_id=media_id,
        content_hash=found.content_hash,
        status=found.status,
        error=found.error,
        engine=found.engine,
        text=found.text,
        lines=[TextLine.model_validate(line) for line in found.lines],
    )


def _row(library_id: int | None, name: str, c: stats.Counts) -> OcrStatsRow:
    return OcrStatsRow(library_id=library_id, library=name, **c.__dict__)


@router.get("/ocr/stats", response_model=OcrStats)
def ocr_stats(conn: ReadConn, scope: UserScope) -> OcrStats:
    """OCR numbers of the caller's libraries (the gauges are the operator's view)."""
    rows, total = stats.compute(conn, scope)
    return OcrStats(
        libraries=[_row(r.library_id, r.library, r.counts) for r in rows],
        total=_row(None, stats.AGGREGATE_LABEL, total),
    )
