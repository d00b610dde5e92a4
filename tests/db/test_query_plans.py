"""The hash-keyed visibility lookup uses its index on both databases: "is this face's
picture shown by a live row of a library in scope" must never scan a library's rows (it is
asked per face; a scan made /people take minutes at 20 000 items on SQLite, whose planner
has no statistics until ANALYZE). PostgreSQL is asked with sequential scans disabled, so a
plan that still scans media means no index can answer."""

from __future__ import annotations

from sqlalchemy import text

from imageserver.faces import repo
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
