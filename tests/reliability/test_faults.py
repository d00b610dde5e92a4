"""Fault injection with real components, in-process: the watcher over a small library while
the database or the disk misbehaves for real.

- SQLite: another connection holds the write lock (BEGIN IMMEDIATE) in the middle of a
  tick's hash stage. Within the busy timeout the tick just waits; beyond it the tick fails
  cleanly (logged, the other libraries and the API unaffected: WAL readers go on) and the
  next tick succeeds.
- PostgreSQL: the tick's own backend is terminated with pg_terminate_backend right before
  its hash results are written (mid-transaction). That tick fails cleanly, the next one
  succeeds on fresh connections, no row is lost.
- The thumbnail folder or VIDEO_PATH read-only (a tmpfs mounted ro) or full (a tiny
  tmpfs): transient failures with the reason, logged, no failure recorded for good, no
  sentinel, the tick completes; once the disk is back the work is done.
- A library root unmounted for real (a bind mount lazily unmounted) in the middle of a
  full walk: stale, zero rows retired; back after remounting.

The mounts need root (CI runs as root); elsewhere those tests skip, visibly.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import event, select

import imageserver.scan.walker as walker_module
from imageserver.clock import FakeClock
from imageserver.db import engine as engine_module
from imageserver.db.engine import make_engine
from imageserver.db.tables import artefacts, libraries, media
from imageserver.media import hashing
from imageserver.media.layout import thumb_path
from imageserver.scan.pipeline import STAGES, Stage
from imageserver.scan.watcher import Watcher
from imageserver.server.app import create_app
from imageserver.server.background import close_services
from imageserver.server.bootstrap import bootstrap
from imageserver.video import layout
from imageserver.work.context import AppContext
from imageserver.work.leases import DRAIN_LEASE_SECONDS
from imageserver.work.tick import TickContext
from tests.conftest import login, make_settings, skip_outside_ci, truncate_all
from tests.fixtures import insert_library, make_jpeg, make_png, make_video
from tests.video.helpers import read_only_dir, temp_entries, tmpfs

FILES = 8


@dataclass
class Setup:
    ctx: AppContext
    clock: FakeClock
    root: Path
    library_id: int

    def rows(self) -> dict[str, dict[str, object]]:
        with self.ctx.engine.connect() as conn:
            return {r["rel_path"]: dict(r) for r in conn.execute(select(media)).mappings()}

    def states(self, kind: str) -> dict[str, dict[str, object]]:
        with self.ctx.engine.connect() as conn:
            query = select(artefacts).where(artefacts.c.kind == kind)
            return {r["content_hash"]: dict(r) for r in conn.execute(query).mappings()}


def make_tree(root: Path, video: bool = False) -> list[str]:
    names = []
    for i in range(FILES):
        rel = f"d{i % 3}/p{i}.jpg"
        make_jpeg(root / rel, size=(320, 240), color=(i * 20, 10, 10))
        names.append(rel)
    make_png(root / "x.png", size=(40, 30))
    names.append("x.png")
    if video:
        make_video(root / "clips" / "v.mp4", seconds=1, size="160x120")
        names.append("clips/v.mp4")
    return names


def build(tmp: Path, url: str, video: bool = False, **overrides: object) -> tuple[Setup, list[str]]:
    settings = make_settings(tmp, url, hls_preset="ultrafast", **overrides)
    clock = FakeClock()
    ctx = bootstrap(settings, clock=clock).ctx
    root = tmp / "lib"
    names = make_tree(root, video)
    with ctx.engine.begin() as conn:
        library_id = conn.execute(
            libraries.insert()
            .values(
                name="lib",
                root_path=str(root),
                enabled=True,
                excluded_dirs=[],
                created_at=0.0,
                updated_at=0.0,
                health="unknown",
            )
            .returning(libraries.c.id)
        ).scalar_one()
    return Setup(ctx, clock, root, library_id), names


@pytest.fixture
def teardown() -> Iterator[list[AppContext]]:
    made: list[AppContext] = []
    yield made
    for ctx in made:
        close_services(ctx)
        ctx.engine.dispose()


def with_fault(before: str, fault: Callable[[TickContext], None]) -> list[Stage]:
    """The pipeline with `fault` run right before the stage named `before`."""
    stages: list[Stage] = []
    for stage in STAGES:
        if stage.name == before:
            stages.append(Stage("fault", fault, needs_disk=False, always=True))
        stages.append(stage)
    return stages


def assert_complete(s: Setup, names: list[str]) -> None:
    """Every file has exactly one live row, a hash, metadata and a thumbnail."""
    rows = s.rows()
    assert sorted(rows) == sorted(names)
    assert all(r["retired_at"] is None and r["content_hash"] for r in rows.values()), rows
    assert all(r["meta_status"] == "ok" for r in rows.values())
    thumbs = s.states("thumb")
    for r in rows.values():
        assert thumbs[str(r["content_hash"])]["status"] == "done", r["rel_path"]
        assert thumb_path(s.ctx.settings.thumbs_dir, str(r["content_hash"]), "small").is_file()


# --- SQLite busy / locked -----------------------------------------------------------------


def lock_holder(url: str) -> sqlite3.Connection:
    return sqlite3.connect(
        sa.engine.make_url(url).database, isolation_level=None, timeout=0, check_same_thread=False
    )


def locking_hash(holder: sqlite3.Connection, real: Callable[[Path], str]) -> Callable[[Path], str]:
    """hash_file that first makes `holder` take the write lock (once, from any thread):
    mid-stage, the rows are claimed and their results not written yet."""
    once = threading.Lock()

    def hash_then_lock(path: Path) -> str:
        with once:
            if not holder.in_transaction:
                holder.execute("BEGIN IMMEDIATE")
        return real(path)

    return hash_then_lock


def test_sqlite_busy_within_the_timeout_only_slows_the_tick(
    tmp_path: Path, sqlite_url: str, teardown: list[AppContext]
) -> None:
    s, names = build(tmp_path, sqlite_url)
    teardown.append(s.ctx)
    holder = lock_holder(sqlite_url)

    def lock_for_a_second(_: TickContext) -> None:
        holder.execute("BEGIN IMMEDIATE")
        threading.Timer(1.0, holder.rollback).start()

    [t] = Watcher(s.ctx, stages=with_fault("ingest", lock_for_a_second)).tick(full=True)
    assert t.counts["new"] == len(names)
    assert_complete(s, names)


def test_sqlite_locked_beyond_the_timeout_fails_the_tick_cleanly_and_the_next_succeeds(
    tmp_path: Path,
    sqlite_url: str,
    teardown: list[AppContext],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(engine_module, "SQLITE_BUSY_TIMEOUT_MS", 300)  # 30 s in production
    s, names = build(tmp_path, sqlite_url)
    teardown.append(s.ctx)
    holder = lock_holder(sqlite_url)
    real_hash = hashing.hash_file

    hash_then_lock = locking_hash(holder, real_hash)

    caplog.set_level(logging.INFO, logger="imageserver")
    with TestClient(create_app(s.ctx, background=False)) as client:
        auth = {"Authorization": f"Bearer {login(client)}"}
        monkeypatch.setattr(hashing, "hash_file", hash_then_lock)
        watcher = Watcher(s.ctx)
        assert watcher.tick(full=True) == [], "the locked tick should have failed"
        assert "event=tick_failed" in caplog.text and "locked" in caplog.text
        # readers are not blocked by a writer (WAL): the API keeps serving
        assert client.get("/media", headers=auth).status_code == 200
        assert client.get("/libraries", headers=auth).status_code == 200
        holder.rollback()
        monkeypatch.setattr(hashing, "hash_file", real_hash)
        results = watcher.tick(full=True)
    assert len(results) == 1, "the next tick must succeed"
    assert sorted(s.rows()) == sorted(names), "no row lost"
    # the rows the failed tick had claimed are hashed once their lease ends
    s.clock.advance(DRAIN_LEASE_SECONDS + 1)
    watcher.tick(full=False)
    assert_complete(s, names)


def test_work_claimed_by_a_failed_tick_is_done_by_the_next_tick(
    tmp_path: Path,
    sqlite_url: str,
    teardown: list[AppContext],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine_module, "SQLITE_BUSY_TIMEOUT_MS", 300)
    s, names = build(tmp_path, sqlite_url)
    teardown.append(s.ctx)
    holder = lock_holder(sqlite_url)
    real_hash = hashing.hash_file

    hash_then_lock = locking_hash(holder, real_hash)

    monkeypatch.setattr(hashing, "hash_file", hash_then_lock)
    watcher = Watcher(s.ctx)
    assert watcher.tick(full=True) == []
    holder.rollback()
    monkeypatch.setattr(hashing, "hash_file", real_hash)
    assert len(watcher.tick(full=True)) == 1
    assert_complete(s, names)  # no clock advance: the same process takes its work back


# --- PostgreSQL connection dropped --------------------------------------------------------


def test_postgres_backend_terminated_mid_tick_fails_that_tick_and_the_next_succeeds(
    tmp_path: Path,
    pg_session_url: str,
    teardown: list[AppContext],
    caplog: pytest.LogCaptureFixture,
) -> None:
    truncate_all(pg_session_url)
    s, names = build(tmp_path, pg_session_url)
    teardown.append(s.ctx)
    admin = make_engine(pg_session_url, poolclass=sa.NullPool, isolation_level="AUTOCOMMIT")
    killed: list[int] = []

    def terminate_own_backend(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        is_hash_write = statement.startswith("UPDATE media SET") and "content_hash=" in statement
        if killed or not is_hash_write:
            return
        pid = conn.connection.dbapi_connection.info.backend_pid
        with admin.connect() as a:
            assert a.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
            for _ in range(200):  # until the backend is gone
                gone = a.execute(
                    sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p"), {"p": pid}
                ).scalar()
                if not gone:
                    break
        killed.append(pid)

    caplog.set_level(logging.INFO, logger="imageserver")
    event.listen(s.ctx.engine, "before_cursor_execute", terminate_own_backend)
    watcher = Watcher(s.ctx)
    try:
        assert watcher.tick(full=True) == [], "the tick whose backend died should fail"
    finally:
        event.remove(s.ctx.engine, "before_cursor_execute", terminate_own_backend)
    assert killed, "the hash results were never written: nothing was terminated"
    assert "event=tick_failed" in caplog.text
    assert "terminat" in caplog.text or "closed" in caplog.text
    results = watcher.tick(full=True)
    assert len(results) == 1, "the next tick must succeed on fresh connections"
    assert sorted(s.rows()) == sorted(names), "no row lost"
    s.clock.advance(DRAIN_LEASE_SECONDS + 1)
    watcher.tick(full=False)
    assert_complete(s, names)
    admin.dispose()


# --- our own folders read-only or full -----------------------------------------------------


def mounted_on(folder: Path) -> Callable[[str], object]:
    def mount(options: str) -> object:
        return tmpfs(folder, options) if options != "ro" else read_only_dir(folder)

    return mount


@pytest.mark.parametrize(
    ("options", "reason"),
    [("ro", "Read-only file system"), ("size=4k", "No space left on device")],
    ids=["read-only", "full"],
)
def test_thumbnail_folder_read_only_or_full_is_transient(
    tmp_path: Path,
    sqlite_url: str,
    teardown: list[AppContext],
    caplog: pytest.LogCaptureFixture,
    options: str,
    reason: str,
) -> None:
    s, names = build(tmp_path, sqlite_url)
    teardown.append(s.ctx)
    caplog.set_level(logging.INFO, logger="imageserver")
    thumbs = s.ctx.settings.thumbs_dir
    with mounted_on(thumbs)(options):  # type: ignore[attr-defined]
        [t] = Watcher(s.ctx).tick(full=True)
        states = s.states("thumb")
        assert states and all(v["status"] == "retry" for v in states.values()), states
        assert all(reason in str(v["detail"]) for v in states.values()), states
        assert t.counts["thumbnailed"] == 0 and t.counts["new"] == len(names)
        assert "event=thumbnail_failed" in caplog.text and "permanent=False" in caplog.text
        assert "permanent=True" not in caplog.text
    s.clock.advance(3600)  # past the backoff
    Watcher(s.ctx).tick(full=False)
    assert_complete(s, names)


@pytest.mark.slow
@pytest.mark.parametrize("options", ["ro", "size=8k"], ids=["read-only", "full"])
def test_video_path_read_only_or_full_is_transient_without_sentinels(
    tmp_path: Path,
    sqlite_url: str,
    teardown: list[AppContext],
    caplog: pytest.LogCaptureFixture,
    options: str,
) -> None:
    s, _ = build(tmp_path, sqlite_url, video=True)
    teardown.append(s.ctx)
    caplog.set_level(logging.INFO, logger="imageserver")
    video_root = s.ctx.settings.resolved_video_path
    with mounted_on(video_root)(options):  # type: ignore[attr-defined]
        results = Watcher(s.ctx).tick(full=True)
        assert len(results) == 1, "the tick must complete"
        digest = str(s.rows()["clips/v.mp4"]["content_hash"])
        hls = s.states("hls")[digest]
        assert hls["status"] == "retry", hls
        assert not layout.sentinel_path(video_root, digest).exists()
        assert temp_entries(video_root) == []
    assert not layout.hash_dir(video_root, digest).exists()
    s.clock.advance(3600)
    Watcher(s.ctx).tick(full=False)
    assert layout.playlist_path(video_root, digest).is_file(), "made once the disk is back"
    assert not layout.sentinel_path(video_root, digest).exists()


def test_a_recovered_video_is_recorded_done(
    tmp_path: Path, sqlite_url: str, teardown: list[AppContext]
) -> None:
    s, _ = build(tmp_path, sqlite_url, video=True)
    teardown.append(s.ctx)
    video_root = s.ctx.settings.resolved_video_path
    with mounted_on(video_root)("ro"):  # type: ignore[attr-defined]
        Watcher(s.ctx).tick(full=True)
    digest = str(s.rows()["clips/v.mp4"]["content_hash"])
    assert s.states("hls")[digest]["status"] == "retry"
    s.clock.advance(3600)
    [t] = Watcher(s.ctx).tick(full=False)
    assert s.states("hls")[digest]["status"] == "done", s.states("hls")[digest]
    assert t.pending["hls"] == 0


@pytest.mark.parametrize("db", ["sqlite", "postgres"])
def test_artefact_state_moves_from_retry_to_done(
    tmp_path: Path, sqlite_url: str, request: pytest.FixtureRequest, db: str
) -> None:
    from imageserver.work import artefacts as artefact_states
    from imageserver.work.outcome import Outcome

    url = sqlite_url
    if db == "postgres":
        url = request.getfixturevalue("pg_session_url")
        truncate_all(url)
    engine = make_engine(url, poolclass=sa.NullPool)
    digest = "ab" * 32
    with engine.begin() as conn:
        artefact_states.record(conn, digest, "hls", Outcome.retry("disk full"), 1.0)
    with engine.begin() as conn:
        artefact_states.record(conn, digest, "hls", Outcome.done(), 100.0)
    with engine.connect() as conn:
        row = artefact_states.get(conn, digest, "hls")
    engine.dispose()
    assert row is not None and row["status"] == "done", dict(row or {})


# --- a library root unmounted mid-walk -----------------------------------------------------


@pytest.fixture
def bind_mount(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(source folder, mount point) with the source bind-mounted on the mount point."""
    if os.geteuid() != 0:
        skip_outside_ci("bind mounts need root")
    source, point = tmp_path / "disk", tmp_path / "nas"
    source.mkdir()
    point.mkdir()
    yield source, point
    subprocess.run(["umount", "-l", str(point)], capture_output=True)


def mount(source: Path, point: Path) -> None:
    done = subprocess.run(["mount", "--bind", str(source), str(point)], capture_output=True)
    if done.returncode != 0:
        skip_outside_ci(f"cannot bind-mount: {done.stderr!r}")


class _OsWithHook:
    """The walker's view of `os`, with scandir wrapped (the probe keeps the real one)."""

    def __init__(self, hook: Callable[[str], object]) -> None:
        self._hook = hook

    def __getattr__(self, name: str) -> object:
        return getattr(os, name)

    def scandir(self, path: str) -> object:
        return self._hook(path)


@pytest.mark.parametrize("db", ["sqlite", "postgres"])
@pytest.mark.parametrize(
    "moment",
    [
        1,  # right before the walk lists the root: the walk sees an empty mount point
        2,  # after the root was listed, before its folders: they vanish under the walk
    ],
    ids=["before-root-listing", "after-root-listing"],
)
def test_root_unmounted_mid_walk_is_stale_and_retires_nothing(
    tmp_path: Path,
    sqlite_url: str,
    teardown: list[AppContext],
    bind_mount: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    db: str,
    moment: int,
) -> None:
    source, point = bind_mount
    if db == "postgres":
        url: str = request.getfixturevalue("pg_session_url")
        truncate_all(url)
    else:
        url = sqlite_url
    settings = make_settings(tmp_path, url)
    clock = FakeClock()
    ctx = bootstrap(settings, clock=clock).ctx
    teardown.append(ctx)
    names = make_tree(source)
    mount(source, point)
    insert_library(ctx.engine, "nas", point)
    s = Setup(ctx, clock, point, 1)
    watcher = Watcher(ctx)
    watcher.tick(full=True)
    assert_complete(s, names)
    before = {k: (v["id"], v["content_hash"]) for k, v in s.rows().items()}

    calls = {"n": 0}

    def unmount_during_the_walk(path: str) -> object:
        calls["n"] += 1
        if calls["n"] == moment:  # the disk goes away under the walk, for real
            subprocess.run(["umount", "-l", str(point)], check=True)
        return os.scandir(path)

    monkeypatch.setattr(walker_module, "os", _OsWithHook(unmount_during_the_walk))
    clock.advance(10)
    [t] = watcher.tick(full=True)
    monkeypatch.undo()
    assert calls["n"] >= moment and not any(point.iterdir()), "no unmount during the walk"
    assert t.stale and t.counts["retired"] == 0, (t.stale_reason, t.counts)
    assert all(r["retired_at"] is None for r in s.rows().values())
    # a quick tick on the empty mount point is stale too, and retires nothing either
    [quick] = watcher.tick(full=False)
    assert quick.stale and quick.counts["retired"] == 0
    mount(source, point)
    clock.advance(10)
    [back] = watcher.tick(full=True)
    assert not back.stale and back.counts["retired"] == 0 and back.counts["new"] == 0
    assert {k: (v["id"], v["content_hash"]) for k, v in s.rows().items()} == before
