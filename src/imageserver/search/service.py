"""Search rules: encode the query, rank every stored vector of the version, resolve hits.

Ranking scores every stored vector of the version (exactly, or by the int8 scan with a
float16 rescore of its best rows past SEARCH_QUANTIZE_ABOVE: see search/index.py), then the
best rows above the threshold are resolved to live photos in rounds (4x limit, then 4x
more, ...) so a library filter that excludes most top rows never sorts the whole matrix
and never copies it. A hash is one hit (its oldest visible path), best first.

Scope: the caller sees photos of granted libraries only. The scan itself is masked to the
rows of those libraries (search/index.py LibraryHashes), so the rounds never spend their
budget on rows the caller cannot see; the resolve applies the scope again in SQL.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Connection

from imageserver.errors import Invalid, NotFound, ServiceUnavailable
from imageserver.media import decode, thumbs
from imageserver.ml import encoders
from imageserver.ml import repo as ml_repo
from imageserver.ml.encoders import BatchFailed, Encoder, EncoderUnavailable
from imageserver.search import repo
from imageserver.search.index import SearchIndex, Snapshot
from imageserver.search.schemas import SearchHit, SearchResults
from imageserver.telemetry.metrics import SEARCH_SECONDS
from imageserver.work.context import AppContext
from imageserver.work.scope import Scope

log = logging.getLogger("imageserver.search")

FIRST_ROUND = 4


@dataclass(frozen=True)
class Query:
    limit: int
    threshold: float
    library_ids: tuple[int, ...] = ()
    exclude_hash: str | None = None


# --- services held by the process ------------------------------------------------------


def search_index(ctx: AppContext) -> SearchIndex:
    """This process's index, made on first use; the embeddings drain sees it as a
    `VersionIndex` (ctx.search_index) and tells it of the vectors it commits."""
    found = ctx.search_index
    if not isinstance(found, SearchIndex):
        found = SearchIndex(ctx.engine, ctx.settings.search_quantize_above)
        ctx.search_index = found
    return found


def require_encoder(ctx: AppContext) -> Encoder:
    try:
        encoder = encoders.get_encoder(ctx)
    except encoders.ModelError as exc:
        raise ServiceUnavailable(f"semantic search is unavailable: {exc}") from exc
    if encoder is None:
        raise ServiceUnavailable(encoders.NOT_CONFIGURED)
    return encoder


def on_start(ctx: AppContext) -> None:
    """Load the current version's matrix in the background so the first search is fast."""
    index = search_index(ctx)

    def load() -> None:
        try:
            encoder = encoders.get_encoder(ctx)
            if encoder is not None:
                index.load(encoder.model_version)
        except Exception:
            log.exception("event=index_load_failed")

    threading.Thread(target=load, name="search-index-load", daemon=True).start()
    watcher = ctx.watcher
    if watcher is not None:
        from imageserver.ml.stats import refresh_gauges

        watcher.after_full.append(lambda _results: refresh_gauges(ctx))


def on_stop(ctx: AppContext) -> None:
    ctx.search_index = None
    encoders.close_encoder(ctx)


# --- ranking ---------------------------------------------------------------------------


def ranked_rows(
    scores: NDArray[np.float32], threshold: float, first: int
) -> Iterator[NDArray[np.intp]]:
    """Row numbers with score >= threshold, best first (ties: lower row first), in rounds
    of growing size; each round is a fresh partial selection, never a full sort up front."""
    above = np.flatnonzero(scores >= threshold)
    if above.size == 0:
        return
    candidate_scores = scores[above]
    done = 0
    size = max(1, first)
    while done < above.size:
        size = min(size, above.size)
        if size < above.size:
            top = np.argpartition(-candidate_scores, size - 1)[:size]
        else:
            top = np.arange(above.size)
        order = top[np.lexsort((above[top], -candidate_scores[top]))]
        yield above[order[done:]]
        done = size
        size *= 4


def scan_mask(
    index: SearchIndex, conn: Connection, snap: Snapshot, scope: Scope
) -> NDArray[np.bool_] | None:
    """The rows the scan may score: those of the scope's libraries (None: every row, when
    the scope holds every library there is)."""
    if scope.library_ids >= repo.all_library_ids(conn):
        return None
    return snap.mask(index.library_hashes.union(scope.library_ids))


def rank(
    conn: Connection,
    snap: Snapshot,
    query_vector: NDArray[np.float32],
    q: Query,
    scope: Scope,
    mask: NDArray[np.bool_] | None = None,
) -> list[SearchHit]:
    """The best hits the scope may see. `mask` limits the scan itself to the scope's rows
    (so the rounds below resolve visible rows, and limit=N gives N hits when N exist);
    the resolve through `repo.places` applies the scope again: it is the authority."""
    scores = snap.scores(query_vector, mask)
    hits: list[SearchHit] = []
    for rows in ranked_rows(scores, q.threshold, q.limit * FIRST_ROUND):
        digests = [snap.hash_at(int(r)) for r in rows]
        places = repo.places(conn, [d for d in digests if d != q.exclude_hash], scope)
        for row, digest in zip(rows, digests, strict=True):
            place = places.get(digest)
            if place is None:
                continue
            hits.append(
                SearchHit(
                    media_id=place.media_id,
                    library_id=place.library_id,
                    path=place.rel_path,
                    score=round(float(scores[row]), 6),
                )
            )
            if len(hits) >= q.limit:
                return hits
    return hits


def _search(
    ctx: AppContext,
    conn: Connection,
    version: str,
    vector: NDArray[np.float32],
    q: Query,
    scope: Scope,
) -> SearchResults:
    index = search_index(ctx)
    version_index = index.get(version)
    hits: list[SearchHit] = []
    if version_index is not None and not scope.empty:
        snap = version_index.snapshot()
        hits = rank(conn, snap, vector, q, scope, scan_mask(index, conn, snap, scope))
    return SearchResults(model_version=version, hits=hits)


# --- the three searches ----------------------------------------------------------------


def search_text(
    ctx: AppContext,
    conn: Connection,
    scope: Scope,
    text: str,
    q: Query,
    model_version: str | None,
) -> SearchResults:
    started = time.perf_counter()
    text = text.strip()
    if not text:
        raise Invalid("q: must not be blank")
    encoder = require_encoder(ctx)
    version = encoder.model_version
    if model_version is not None and model_version != version:
        raise Invalid(
            f"model_version: text can only be encoded by the loaded model {version!r}; "
            f"{model_version!r} is searchable by image (GET /photos/{{id}}/similar)"
        )
    scope = scope.narrow(q.library_ids)
    try:
        vector = encoder.encode_text([text])[0]
    except EncoderUnavailable as exc:
        raise ServiceUnavailable(str(exc)) from exc
    results = _search(ctx, conn, version, vector, q, scope)
    SEARCH_SECONDS.observe(time.perf_counter() - started)
    return results


def search_similar(
    ctx: AppContext,
    conn: Connection,
    scope: Scope,
    media_id: int,
    q: Query,
    model_version: str | None,
) -> SearchResults:
    started = time.perf_counter()
    row = repo.live_media(conn, media_id, scope)
    if row is None:
        raise NotFound(f"media {media_id} not found")
    version = model_version or require_encoder(ctx).model_version
    scope = scope.narrow(q.library_ids)
    digest = row["content_hash"]
    vector = ml_repo.stored_vector(conn, digest, version) if digest else None
    if vector is None:
        raise NotFound(f"media {media_id} has no embedding of model {version!r} yet")
    q = Query(q.limit, q.threshold, q.library_ids, exclude_hash=digest)
    results = _search(ctx, conn, version, vector, q, scope)
    SEARCH_SECONDS.observe(time.perf_counter() - started)
    return results


def upload_preview(ctx: AppContext, data: bytes) -> bytes:
    """The upload as the library's own images are encoded: a large-preview WebP, made by
    the bounded libvips decoder (never a full decode of whatever size the file declares)."""
    s = ctx.settings
    try:
        image = decode.load_photo_bytes(data, s.thumb_large_px)
        preview: bytes = image.webpsave_buffer(
            Q=s.thumb_quality, effort=thumbs.LARGE_EFFORT, strip=True
        )
    except decode.DecodeError as exc:
        raise Invalid(f"image: {exc.reason}") from exc
    return preview


def search_image(
    ctx: AppContext, conn: Connection, scope: Scope, data: bytes, q: Query
) -> SearchResults:
    started = time.perf_counter()
    if not data:
        raise Invalid("image: empty upload")
    encoder = require_encoder(ctx)
    scope = scope.narrow(q.library_ids)
    preview = upload_preview(ctx, data)
    try:
        vector = encoder.encode_images([preview])[0]
    except BatchFailed as exc:
        raise Invalid(f"image: {next(iter(exc.failures.values())).reason}") from exc
    except EncoderUnavailable as exc:
        raise ServiceUnavailable(str(exc)) from exc
    results = _search(ctx, conn, encoder.model_version, vector, q, scope)
    SEARCH_SECONDS.observe(time.perf_counter() - started)
    return results
