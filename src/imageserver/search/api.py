"""Search routes: the one search, text search, similar photos, search by an uploaded image."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, UploadFile

from imageserver.auth.deps import User, current_user
from imageserver.errors import Invalid, error_responses
from imageserver.inputs import PRINTABLE, DbId
from imageserver.libraries.access import UserScope
from imageserver.media.schemas import summary
from imageserver.search import combined, service, suggest
from imageserver.search.schemas import (
    OneSearchHit,
    OneSearchResults,
    SearchReason,
    SearchResults,
    SearchSuggestion,
    SearchSuggestions,
)
from imageserver.work.deps import Ctx, IdPath, ReadConn

# 404: an unknown library (or item); 503: no encoder configured or reachable.
router = APIRouter(
    tags=["search"],
    dependencies=[Depends(current_user)],
    responses=error_responses(404, 503),
)

MAX_UPLOAD_BYTES = 50 * 1024 * 1024

Limit = Annotated[int, Query(ge=1, le=1000, description="most hits returned")]
Threshold = Annotated[
    float | None, Query(ge=-1, le=1, description="lowest cosine similarity (default 0.20)")
]
Libraries = Annotated[list[DbId] | None, Query(description="library id (repeatable)")]
Version = Annotated[
    str | None,
    Query(
        max_length=160,
        pattern=PRINTABLE,
        description="model version (default: the loaded model)",
    ),
]


def _query(
    ctx: Ctx, limit: int, threshold: float | None, library: list[int] | None
) -> service.Query:
    if threshold is None:
        threshold = ctx.settings.clip_search_threshold
    return service.Query(limit=limit, threshold=threshold, library_ids=tuple(library or ()))


@router.get("/photos/search", response_model=SearchResults)
def search(
    ctx: Ctx,
    conn: ReadConn,
    scope: UserScope,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=1000,
            pattern=r"\S",
            description="what to look for (not blank: some non-space character)",
        ),
    ],
    limit: Limit = 50,
    threshold: Threshold = None,
    library: Libraries = None,
    model_version: Version = None,
) -> SearchResults:
    """Photos ranked by cosine similarity to the text, best first, one hit per content."""
    query = _query(ctx, limit, threshold, library)
    return service.search_text(ctx, conn, scope, q, query, model_version)


@router.post("/photos/search/image", response_model=SearchResults)
def search_by_image(
    ctx: Ctx,
    conn: ReadConn,
    scope: UserScope,
    image: Annotated[UploadFile, File(description="an image file (JPEG, PNG, WebP, HEIC ...)")],
    limit: Limit = 50,
    threshold: Threshold = None,
    library: Libraries = None,
) -> SearchResults:
    """Photos that look like the uploaded image."""
    data = image.file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise Invalid(f"image: larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB")
    return service.search_image(ctx, conn, scope, data, _query(ctx, limit, threshold, library))


@router.get("/photos/{media_id}/similar", response_model=SearchResults)
def similar(
    ctx: Ctx,
    conn: ReadConn,
    scope: UserScope,
    media_id: IdPath,
    limit: Limit = 50,
    threshold: Threshold = None,
    library: Libraries = None,
    model_version: Version = None,
) -> SearchResults:
    """Photos that look like this one (its stored embedding), itself excluded."""
    query = _query(ctx, limit, threshold, library)
    return service.search_similar(ctx, conn, scope, media_id, query, model_version)


@router.get("/search/suggest", response_model=SearchSuggestions)
def search_suggest(
    conn: ReadConn,
    scope: UserScope,
    user: User,
    q: Annotated[
        str,
        Query(
            max_length=1000,
            pattern=PRINTABLE,
            description="the query as typed so far; its last clause is completed",
        ),
    ] = "",
) -> SearchSuggestions:
    """People, places, countries, cameras, albums and tags the clause being typed may
    become (`person:an`, or a bare word), from what the caller may see."""
    found = suggest.suggest(conn, scope, user.id, q)
    return SearchSuggestions(
        suggestions=[SearchSuggestion(clause=s.clause, key=s.key, value=s.value) for s in found]
    )


@router.get("/search", response_model=OneSearchResults, responses=error_responses(422))
def one_search(
    ctx: Ctx,
    conn: ReadConn,
    scope: UserScope,
    user: User,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=1000,
            pattern=PRINTABLE,
            description='the query language of the README: words, "phrases", '
            "person:, place:, country:, camera:, lens:, type:, after:, before:, year:, "
            "month:, in:, tag:, is:, has:, file:, folder:, similar:, -excludes, 2:weights",
        ),
    ],
    limit: Annotated[int, Query(ge=1, le=500, description="most hits returned")] = 50,
    cursor: Annotated[
        str | None, Query(max_length=200, pattern=PRINTABLE, description="next_cursor")
    ] = None,
    threshold: Threshold = None,
    library: Libraries = None,
) -> OneSearchResults:
    """Items matching every filter of the query, ranked by CLIP when there is a model and
    free text (else newest first); each hit says which clauses it matched."""
    if threshold is None:
        threshold = ctx.settings.clip_search_threshold
    request = combined.Request(
        q=q,
        user_id=user.id,
        limit=limit,
        threshold=threshold,
        cursor=cursor,
        library_ids=tuple(library or ()),
    )
    page = combined.search(ctx, conn, scope, request)
    return OneSearchResults(
        mode=page.mode,
        model_version=page.model_version,
        next_cursor=page.next_cursor,
        hits=[
            OneSearchHit(
                item=summary(h.item),
                score=h.score,
                matched=[SearchReason(clause=r.clause, how=r.how) for r in h.matched],
            )
            for h in page.hits
        ],
    )
