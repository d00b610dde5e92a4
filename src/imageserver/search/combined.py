"""The one search (`GET /search`): a parsed query becomes SQL conditions and, with a model,
one CLIP query vector; the two meet in the ranking.

Two modes:
- `clip`: there is a model and the query has a positive word or `+similar:`. The vector
  is the weighted sum of the text embeddings (positive unit-weight words encoded as one
  sentence, every weighted or excluded word on its own, excluded ones subtracted) and
  of the stored embeddings of `similar:` items, normalised. When the conditions match at
  most MASK_CAP contents the scan is masked to exactly those rows (a selective filter
  ranks only its rows); otherwise to the scope's rows, and the ranked rows are resolved
  through the conditions in rounds (search/service.py). One hit per content, best first.
- `filters`: no model, or no positive free text: every word is matched literally (OCR
  text, file and folder names) and items come newest first.
Quoted phrases and excluded words are always literal conditions. Every hit carries the
clauses it satisfied. Cursors are opaque and name their mode: a page of one mode never
continues another.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import ColumnElement, Connection

from imageserver.errors import Invalid, NotFound, ServiceUnavailable
from imageserver.media.model import MediaItem
from imageserver.media.query import decode_cursor, encode_cursor
from imageserver.ml import encoders
from imageserver.ml import repo as ml_repo
from imageserver.ml.encoders import Encoder, EncoderUnavailable
from imageserver.search import combined_repo, repo, service
from imageserver.search.language import Filter, Parsed, QuerySyntaxError, Similar, Term, parse
from imageserver.telemetry.metrics import SEARCH_SECONDS
from imageserver.work.context import AppContext
from imageserver.work.scope import Scope

MASK_CAP = 50_000  # contents: up to this many, a filtered CLIP search scans only them
CLIP, FILTERS = "clip", "filters"
CURSOR_PREFIX = {CLIP: "c", FILTERS: "t"}


@dataclass(frozen=True)
class Request:
    q: str
    user_id: int
    limit: int
    threshold: float
    cursor: str | None = None
    library_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Reason:
    clause: str  # as the query wrote it
    how: str  # filter | clip | similar | excluded | text, file name, folder, title, ...


@dataclass(frozen=True)
class Hit:
    item: MediaItem
    score: float | None
    matched: list[Reason]


@dataclass(frozen=True)
class Page:
    mode: str
    model_version: str | None
    hits: list[Hit]
    next_cursor: str | None


# --- cursors -------------------------------------------------------------------------------


def _clip_cursor(score: float, row: int) -> str:
    raw = json.dumps({"s": score, "r": row}).encode()
    return CURSOR_PREFIX[CLIP] + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_clip_cursor(cursor: str) -> tuple[np.float32, int]:
    try:
        body = cursor[1:]
        data: Any = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        score, row = data["s"], data["r"]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise Invalid("cursor: malformed") from exc
    if type(row) is not int or row < 0 or type(score) is not float or not -2 <= score <= 2:
        raise Invalid("cursor: malformed")
    return np.float32(score), row


def _mode_of(cursor: str | None, mode: str) -> None:
    if cursor is not None and cursor[:1] != CURSOR_PREFIX[mode]:
        raise Invalid("cursor: not a cursor of this query")


# --- the query vector ----------------------------------------------------------------------


def _encoder(ctx: AppContext) -> Encoder | None:
    try:
        return encoders.get_encoder(ctx)
    except encoders.ModelError as exc:
        raise ServiceUnavailable(f"semantic search is unavailable: {exc}") from exc


def _texts(words: list[Term]) -> list[tuple[str, float]]:
    """(text, signed weight): the plain positive words as one sentence (CLIP reads a
    sentence better than its words), every weighted or excluded word alone."""
    plain = [w.text for w in words if not w.negative and w.weight == 1.0]
    out = [(" ".join(plain), 1.0)] if plain else []
    for w in words:
        if w.negative or w.weight != 1.0:
            out.append((w.text, -w.weight if w.negative else w.weight))
    return out


def query_vector(
    conn: Connection, scope: Scope, encoder: Encoder, parsed: Parsed
) -> NDArray[np.float32]:
    texts = _texts(parsed.words())
    parts: list[NDArray[np.float32]] = []
    if texts:
        try:
            vectors = encoder.encode_text([t for t, _ in texts])
        except EncoderUnavailable as exc:
            raise ServiceUnavailable(str(exc)) from exc
        parts += [np.float32(w) * vectors[i] for i, (_, w) in enumerate(texts)]
    for s in parsed.similar:
        row = repo.live_media(conn, s.media_id, scope)
        if row is None:
            raise NotFound(f"media {s.media_id} not found")
        digest = row["content_hash"]
        stored = ml_repo.stored_vector(conn, digest, encoder.model_version) if digest else None
        if stored is None:
            raise NotFound(f"media {s.media_id} has no embedding of the loaded model yet")
        parts.append(np.float32(-s.weight if s.negative else s.weight) * stored)
    total = np.sum(parts, axis=0).astype(np.float32)
    norm = float(np.linalg.norm(total))
    if norm < 1e-6:
        raise Invalid("q: the weighted terms cancel out")
    unit: NDArray[np.float32] = (total / norm).astype(np.float32)
    return unit


# --- why it matched ------------------------------------------------------------------------


def _literal_reason(
    t: Term, item: MediaItem, ocr: dict[str, str], curated: dict[int, dict[str, str]]
) -> Reason:
    if t.negative:
        return Reason(t.raw, "excluded")
    needle = t.text.casefold()
    mine = curated.get(item.id, {})
    fields = [
        name
        for name, value in (
            ("text", ocr.get(item.content_hash or "", "")),
            ("file name", item.name),
            ("folder", item.folder),
            ("title", mine.get("title", "")),
            ("description", mine.get("description", "")),
            ("tag", mine.get("tags", "")),
        )
        if needle in value.casefold()
    ]
    return Reason(t.raw, ", ".join(fields) or "text")


def explain(
    conn: Connection, parsed: Parsed, literal: list[Term], clip: bool, items: list[MediaItem]
) -> list[list[Reason]]:
    ocr = combined_repo.ocr_texts(
        conn, sorted({i.content_hash for i in items if i.content_hash and literal})
    )
    curated = combined_repo.curated_texts(conn, [i.id for i in items] if literal else [])
    out = []
    for item in items:
        reasons = [Reason(f.raw, "filter") for f in parsed.filters]
        reasons += [_literal_reason(t, item, ocr, curated) for t in literal]
        if clip:
            reasons += [Reason(w.raw, "clip") for w in parsed.words() if not w.negative]
            reasons += [Reason(s.raw, "similar") for s in parsed.similar]
        out.append(sorted(reasons, key=lambda r: parsed_order(parsed, r.clause)))
    return out


def parsed_order(parsed: Parsed, raw: str) -> int:
    """The clause's place in the query, so reasons read in the order they were written."""
    clauses: list[Term | Filter | Similar] = [*parsed.terms, *parsed.filters, *parsed.similar]
    starts = [c.start for c in clauses if c.raw == raw]
    return starts[0] if starts else 0


# --- the search ----------------------------------------------------------------------------


def search(ctx: AppContext, conn: Connection, scope: Scope, req: Request) -> Page:
    started = time.perf_counter()
    parsed = parse(req.q)
    if parsed.clauses == 0:
        raise QuerySyntaxError(0, "a term or filter")
    scope = scope.narrow(req.library_ids)
    positive = any(not w.negative for w in parsed.words()) or any(
        not s.negative for s in parsed.similar
    )
    if parsed.similar and not positive:
        first = parsed.similar[0].start
        raise QuerySyntaxError(first, "a word or +similar: to rank by, beside -similar:")
    encoder = _encoder(ctx) if positive else None
    if parsed.similar and encoder is None:
        raise ServiceUnavailable(f"similar: needs a CLIP model ({encoders.NOT_CONFIGURED})")
    clip = encoder is not None and positive
    literal = [t for t in parsed.terms if t.phrase or t.negative or not clip]
    where = combined_repo.conditions(conn, scope, req.user_id, parsed, literal)
    if clip:
        assert encoder is not None
        _mode_of(req.cursor, CLIP)
        page = _clip_page(ctx, conn, scope, encoder, parsed, where, req)
    else:
        _mode_of(req.cursor, FILTERS)
        page = _newest_page(conn, where, req)
    hits = [
        Hit(item, score, reasons)
        for (item, score), reasons in zip(
            page.ranked,
            explain(conn, parsed, literal, clip, [i for i, _ in page.ranked]),
            strict=True,
        )
    ]
    SEARCH_SECONDS.observe(time.perf_counter() - started)
    return Page(CLIP if clip else FILTERS, page.version, hits, page.next_cursor)


@dataclass(frozen=True)
class _Ranked:
    ranked: list[tuple[MediaItem, float | None]]
    version: str | None
    next_cursor: str | None


def _newest_page(conn: Connection, where: list[ColumnElement[bool]], req: Request) -> _Ranked:
    cursor = decode_cursor(req.cursor[1:]) if req.cursor is not None else None
    items = combined_repo.newest(conn, where, req.limit, cursor)
    more = len(items) > req.limit
    items = items[: req.limit]
    next_cursor = CURSOR_PREFIX[FILTERS] + encode_cursor(items[-1]) if more and items else None
    return _Ranked([(i, None) for i in items], None, next_cursor)


def _clip_page(
    ctx: AppContext,
    conn: Connection,
    scope: Scope,
    encoder: Encoder,
    parsed: Parsed,
    where: list[ColumnElement[bool]],
    req: Request,
) -> _Ranked:
    version = encoder.model_version
    vector = query_vector(conn, scope, encoder, parsed)
    index = service.search_index(ctx)
    version_index = index.get(version)
    if version_index is None or scope.empty:
        return _Ranked([], version, None)
    snap = version_index.snapshot()
    mask = None
    if parsed.filters or any(t.phrase or t.negative for t in parsed.terms):
        digests = combined_repo.matching_hashes(conn, where, MASK_CAP)
        if len(digests) <= MASK_CAP:
            mask = snap.mask(bytes.fromhex(d) for d in digests)
    if mask is None:
        mask = service.scan_mask(index, conn, snap, scope)
    scores = snap.scores(vector, mask)
    if req.cursor is not None:
        last, row = _decode_clip_cursor(req.cursor)
        rows = np.arange(scores.shape[0])
        later = (scores < last) | ((scores == last) & (rows > row))
        scores = np.where(later, scores, np.float32(-np.inf)).astype(np.float32)
    found: list[tuple[int, MediaItem]] = []
    for rows_ in service.ranked_rows(scores, req.threshold, (req.limit + 1) * service.FIRST_ROUND):
        digests = [snap.hash_at(int(r)) for r in rows_]
        items = combined_repo.representatives(conn, where, digests)
        for r, digest in zip(rows_, digests, strict=True):
            item = items.get(digest)
            if item is not None:
                found.append((int(r), item))
        if len(found) > req.limit:
            break
    more = len(found) > req.limit
    found = found[: req.limit]
    next_cursor = None
    if more and found:
        last_row = found[-1][0]
        next_cursor = _clip_cursor(float(scores[last_row]), last_row)
    ranked: list[tuple[MediaItem, float | None]] = [
        (item, round(float(scores[r]), 6)) for r, item in found
    ]
    return _Ranked(ranked, version, next_cursor)
