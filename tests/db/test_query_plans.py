"""The hash-keyed visibility lookup uses its index on both databases: "is this face's
picture shown by a live row of a library in scope" must never scan a library's rows (it is
asked per face; a scan made /people take minutes at 20 000 items on SQLite, whose planner
has no statistics until ANALYZE). PostgreSQL is asked with sequential scans disabled, so a
plan that still scans media means no index can answer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text

from imageserver.faces import repo
from imageserver.media import query as media_query
from imageserver.media.model import Cursor, MediaFilter
from imageserver.work.context import AppContext
from imageserver.work.scope import Scope


def plan(ctx: AppContext, statement: str) -> str:
    with ctx.engine.connect() as conn:
        if ctx.engine.dialect.name == "sqlite":
            rows = conn.execute(text("EXPLAIN QUERY PLAN " + statement)).all()
            return "\n".join(str(r[3]) for r in rows)
        conn.execute(text("SET enable_seqscan = off"))
        rows = conn.execute(text("EXPLAIN " + statement)).all()
        return "\n".join(str(r[0]) for r in rows)


def test_people_list_looks_faces_up_by_hash(ctx: AppContext) -> None:
    query, _ = repo._people_query(Scope.of([1, 2]))
    sql = str(query.compile(ctx.engine, compile_kwargs={"literal_binds": True}))
    found = plan(ctx, sql)
    if ctx.engine.dialect.name == "sqlite":
        media_lines = [line for line in found.splitlines() if " media " in f" {line} "]
        assert media_lines and all("ix_media_hash_live" in line for line in media_lines), found
    else:
        assert "Seq Scan on media" not in found, found
        assert "ix_media_hash_live" in found or "ix_media_content_hash" in found, found


def test_a_date_range_page_walks_the_listing_index_between_its_ends(ctx: AppContext) -> None:
    """`/media?from=&to=` filters camera days but sorts by the instant: the widened bound on
    taken_at_utc must let the sort index stop at the range (it was a scan of half of 1M
    rows: 1.2 s per page on SQLite before the bound)."""
    f = MediaFilter(date_from=datetime(2013, 5, 1), date_to=datetime(2013, 6, 1))
    query = media_query.page_query(Scope.of([1]), f, 100, None)
    found = plan(ctx, str(query.compile(ctx.engine, compile_kwargs={"literal_binds": True})))
    if ctx.engine.dialect.name == "sqlite":
        assert "taken_at_utc>" in found.replace(" ", "") and "TEMP B-TREE" not in found, found
    else:
        assert "Seq Scan on media" not in found, found
        assert "taken_at_utc >=" in found and "taken_at_utc <" in found, found


def test_the_first_page_needs_no_sort(ctx: AppContext) -> None:
    """The grid's order is an index's order on both databases (no sort of the library)."""
    query = media_query.page_query(Scope.of([1]), MediaFilter(), 100, None)
    found = plan(ctx, str(query.compile(ctx.engine, compile_kwargs={"literal_binds": True})))
    if ctx.engine.dialect.name == "sqlite":
        assert "TEMP B-TREE" not in found and "ix_media_" in found, found
    else:
        # an empty table's estimate makes a sort look free: only "no scan" is meaningful
        assert "Seq Scan on media" not in found, found


def test_a_deep_cursor_starts_the_index_range_at_the_cursor(ctx: AppContext) -> None:
    """A page deep in the grid costs what the first does: the cursor is a range bound on
    the listing index, not a filter over every row before it (1.3 s at 1M on PostgreSQL
    with the OR form)."""
    cursor = Cursor(taken_at=datetime(2013, 5, 1), id=500_000)
    query = media_query.page_query(Scope.of([1]), MediaFilter(), 100, cursor)
    found = plan(ctx, str(query.compile(ctx.engine, compile_kwargs={"literal_binds": True})))
    if ctx.engine.dialect.name == "sqlite":
        assert "taken_at_utc<" in found.replace(" ", "") and "TEMP B-TREE" not in found, found
    else:
        assert "Seq Scan on media" not in found, found
        assert "Index Cond" in found and "taken_at_utc <=" in found, found
