"""HLS coverage counts: per library and aggregate, deduplicated by content hash; gauges."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, insert

from imageserver.db.tables import media
from imageserver.libraries import repo as libraries_repo
from imageserver.telemetry.metrics import HLS_PENDING, HLS_TOTAL, HLS_UNSUPPORTED, HLS_WITH_PLAYLIST
from imageserver.video import stats
from imageserver.work import artefacts
from imageserver.work.artefacts import HLS_KIND
from imageserver.work.context import AppContext
from imageserver.work.outcome import Outcome


def insert_media(
    conn: Connection,
    library_id: int,
    rel: str,
    digest: str | None,
    *,
    now: float = 1.0,
    kind: str = "video",
    retired: bool = False,
    mtime_ns: int = 1_000_000_000,
) -> int:
    folder, _, name = rel.rpartition("/")
    result = conn.execute(
        insert(media).values(
            library_id=library_id,
            rel_path=rel,
            folder=folder,
            name=name,
            kind=kind,
            format="mp4" if kind == "video" else "jpeg",
            mime="video/mp4" if kind == "video" else "image/jpeg",
            size=1,
            mtime_ns=mtime_ns,
            created_at=now,
            updated_at=now,
            seen_at=now,
            retired_at=now if retired else None,
            content_hash=digest,
            hash_attempts=0,
            meta_status="ok",
            meta_attempts=0,
            taken_at=datetime(2020, 1, 1),
            taken_at_source="test",
        )
    )
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


def h(n: int) -> str:
    return f"{n:064x}"


def test_counts_dedup_by_hash_per_library_and_across(ctx: AppContext, tmp_path: Path) -> None:
    now = ctx.clock()
    with ctx.engine.begin() as conn:
        a = libraries_repo.create(conn, "a", str(tmp_path / "a"), True, [], now)
        b = libraries_repo.create(conn, "b", str(tmp_path / "b"), True, [], now)
        empty = libraries_repo.create(conn, "empty", str(tmp_path / "e"), True, [], now)
        # library a: h1 twice (same bytes, two paths), h2, h3, h4, one hashless, plus noise
        insert_media(conn, a, "x/one.mp4", h(1))
        insert_media(conn, a, "y/one.mp4", h(1))
        insert_media(conn, a, "two.mp4", h(2))
        insert_media(conn, a, "three.mp4", h(3))
        insert_media(conn, a, "four.mp4", h(4))
        insert_media(conn, a, "new.mp4", None)
        insert_media(conn, a, "gone.mp4", h(9), retired=True)  # retired: not counted
        insert_media(conn, a, "photo.jpg", h(10), kind="photo")  # not a video
        # library b: h1 again (a duplicate across libraries) and h5
        insert_media(conn, b, "one.mp4", h(1))
        insert_media(conn, b, "five.mp4", h(5))
        insert_media(conn, b, "n1.mp4", None)
        insert_media(conn, b, "n2.mp4", None)
        artefacts.record(conn, h(1), HLS_KIND, Outcome.done("copy"), now)
        artefacts.record(conn, h(2), HLS_KIND, Outcome.failed("Invalid data"), now)
        artefacts.record(conn, h(3), HLS_KIND, Outcome.retry("timeout"), now)  # still pending
        artefacts.record(conn, h(10), HLS_KIND, Outcome.done(), now)  # a photo's: ignored
        artefacts.record(conn, h(5), "preview", Outcome.done(), now)  # another kind: ignored
    with ctx.engine.connect() as conn:
        result = stats.refresh(conn)
        single = stats.for_library(conn, a)
    by_name = {lib.library: lib.counts for lib in result.libraries}
    assert by_name["a"] == stats.HlsCounts(
        total=4, with_playlist=1, pending=2, unsupported=1, hashless_videos=1
    )
    assert single == by_name["a"]
    assert by_name["b"] == stats.HlsCounts(
        total=2, with_playlist=1, pending=1, unsupported=0, hashless_videos=2
    )
    assert by_name["empty"] == stats.HlsCounts()
    # h1 is in both libraries and counts once in the aggregate
    assert result.aggregate == stats.HlsCounts(
        total=5, with_playlist=1, pending=3, unsupported=1, hashless_videos=3
    )
    assert [lib.library_id for lib in result.libraries] == [a, b, empty]
    # the gauges carry the same numbers
    assert HLS_TOTAL.labels("a")._value.get() == 4
    assert HLS_WITH_PLAYLIST.labels("b")._value.get() == 1
    assert HLS_PENDING.labels("a")._value.get() == 2
    assert HLS_UNSUPPORTED.labels("a")._value.get() == 1


def test_large_library_ids_use_the_general_path(ctx: AppContext, tmp_path: Path) -> None:
    """PostgreSQL folds library ids into a bitmask while they fit; past 62 it falls back."""
    from sqlalchemy import insert as sa_insert

    from imageserver.db.tables import libraries

    now = ctx.clock()
    with ctx.engine.begin() as conn:
        for library_id in (3, 70):
            conn.execute(
                sa_insert(libraries).values(
                    id=library_id,
                    name=f"l{library_id}",
                    root_path=str(tmp_path / str(library_id)),
                    enabled=True,
                    excluded_dirs=[],
                    created_at=now,
                    updated_at=now,
                    health="unknown",
                )
            )
        insert_media(conn, 3, "a.mp4", h(1))
        insert_media(conn, 70, "a.mp4", h(1))
        insert_media(conn, 70, "b.mp4", h(2))
        artefacts.record(conn, h(2), HLS_KIND, Outcome.done(), now)
    with ctx.engine.connect() as conn:
        result = stats.compute(conn, None)
    by_id = {lib.library_id: lib.counts for lib in result.libraries}
    assert by_id[3] == stats.HlsCounts(total=1, pending=1)
    assert by_id[70] == stats.HlsCounts(total=2, with_playlist=1, pending=1)
    assert result.aggregate == stats.HlsCounts(total=2, with_playlist=1, pending=1)
    assert stats._library_ids(0b1010) == {1, 3} and stats._library_ids("3,70") == {3, 70}
