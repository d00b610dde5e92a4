"""SQL of the OCR feature: the read backlog, the text rows, the substring index, search.

The substring index differs per database and lives here only:
- PostgreSQL: `ocr_text.text ILIKE '%term%'` answered by the pg_trgm GIN index
  `ix_ocr_text_trgm` (migration 0010).
- SQLite: the FTS5 table `ocr_fts` with the trigram tokenizer (case-insensitive
  substrings of 3+ characters), created here on the first write (`ensure_fts`) and written
  in the same transaction as each `ocr_text` row, so the two never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    RowMapping,
    column,
    select,
    table,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite

from imageserver.db.tables import libraries, media, ocr_text
from imageserver.media.model import MediaItem
from imageserver.media.query import ITEM_COLUMNS, to_item, visible
from imageserver.work import artefacts as artefacts_state
from imageserver.work import backlog
from imageserver.work.artefacts import THUMB_KIND
from imageserver.work.scope import Scope

OCR_KIND = "ocr"
FTS = "ocr_fts"
ocr_fts = table(FTS, column("content_hash"), column("text"))
FTS_DDL = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS} "
    "USING fts5(content_hash UNINDEXED, text, tokenize='trigram')"
)


# --- the backlog ---------------------------------------------------------------------------


def read_batch(
    conn: Connection, library_id: int, now: float, limit: int, thumb_status: str
) -> list[RowMapping]:
    """One live photo per hash still waiting to be read whose preview is `thumb_status`
    (done: ready; failed: can never be read)."""
    where = [
        *backlog.live_photos(library_id),
        libraries.c.enabled.is_(True),
        artefacts_state.not_settled(OCR_KIND, now),
        backlog.artefact_field(THUMB_KIND) == thumb_status,
    ]
    columns = [
        media.c.id,
        media.c.content_hash,
        media.c.rel_path,
        backlog.artefact_field(THUMB_KIND, "detail").label("thumb_detail"),
    ]
    return backlog.one_per_hash(conn, columns, where, limit)


def count_pending(conn: Connection, library_id: int, now: float) -> int:
    where = [*backlog.live_photos(library_id), artefacts_state.not_settled(OCR_KIND, now)]
    return backlog.distinct_hashes(conn, where)


# --- text rows and the SQLite index --------------------------------------------------------


def has_fts(conn: Connection) -> bool:
    query = text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name")
    return conn.execute(query, {"name": FTS}).first() is not None


def ensure_fts(conn: Connection) -> None:
    """SQLite: the trigram table exists and holds every text row (filled once from
    `ocr_text` when it is created). PostgreSQL: nothing to do."""
    if conn.dialect.name != "sqlite" or has_fts(conn):
        return
    conn.execute(text(FTS_DDL))
    conn.execute(
        text(f"INSERT INTO {FTS} (content_hash, text) SELECT content_hash, text FROM ocr_text")
    )


def insert_texts(conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Store texts once per hash (a hash read before keeps its text); the new ones count."""
    if not rows:
        return 0
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = (
        insert(ocr_text)
        .values(list(rows))
        .on_conflict_do_nothing(index_elements=[ocr_text.c.content_hash])
        .returning(ocr_text.c.content_hash)
    )
    added = {r[0] for r in conn.execute(stmt)}
    if conn.dialect.name == "sqlite" and added:
        ensure_fts(conn)
        fresh = [{"content_hash": r["content_hash"], "text": r["text"]} for r in rows]
        conn.execute(ocr_fts.insert(), [r for r in fresh if r["content_hash"] in added])
    return len(added)


def text_of(conn: Connection, content_hash: str) -> RowMapping | None:
    query = select(ocr_text).where(ocr_text.c.content_hash == content_hash)
    return conn.execute(query).mappings().first()


def live_item(conn: Connection, scope: Scope, media_id: int) -> RowMapping | None:
    query = select(media.c.id, media.c.content_hash, media.c.kind).where(
        *visible(scope), media.c.id == media_id
    )
    return conn.execute(query).mappings().first()


# --- search --------------------------------------------------------------------------------


def _like_pattern(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _fts_phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def matching_hashes(conn: Connection, terms: Sequence[str]) -> Any:
    """A subquery of the hashes whose text holds every term (case-insensitive substrings;
    the caller guarantees at least one term of 3+ characters, which the index answers)."""
    long_terms = [t for t in terms if len(t) >= 3]
    short_terms = [t for t in terms if len(t) < 3]
    if conn.dialect.name == "postgresql":
        return select(ocr_text.c.content_hash).where(
            *(ocr_text.c.text.ilike(_like_pattern(t), escape="\\") for t in terms)
        )
    # FTS5 trigram: MATCH answers the 3+ character terms from the index; shorter ones are
    # checked on the few rows it returns (a trigram index cannot answer them).
    return select(ocr_fts.c.content_hash).where(
        ocr_fts.c.text.op("MATCH")(" AND ".join(_fts_phrase(t) for t in long_terms)),
        *(ocr_fts.c.text.ilike(_like_pattern(t), escape="\\") for t in short_terms),
    )


def search(
    conn: Connection,
    scope: Scope,
    terms: Sequence[str],
    library_id: int | None,
    after_id: int | None,
    limit: int,
) -> list[MediaItem]:
    """Visible live items whose text holds every term, by id; `limit + 1` rows at most so
    the caller knows whether there is a next page."""
    if conn.dialect.name == "sqlite" and not has_fts(conn):
        return []  # nothing was ever read on this database
    where = [
        *visible(scope),
        libraries.c.enabled.is_(True),
        media.c.content_hash.in_(matching_hashes(conn, terms)),
    ]
    if library_id is not None:
        where.append(media.c.library_id == library_id)
    if after_id is not None:
        where.append(media.c.id > after_id)
    query = (
        select(*ITEM_COLUMNS)
        .select_from(media.join(libraries, libraries.c.id == media.c.library_id))
        .where(*where)
        .order_by(media.c.id)
        .limit(limit + 1)
    )
    return [to_item(r) for r in conn.execute(query).mappings()]
