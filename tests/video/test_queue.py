"""The long-lived queue: concurrency limit, in-flight dedup, wake-ups, shutdown; and the
whole background wiring (queue + watcher + gauges) making playlists without a tick waiting."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from imageserver.db.tables import artefacts
from imageserver.server.app import create_app
from imageserver.server.bootstrap import bootstrap
from imageserver.telemetry.metrics import HLS_QUEUE_DEPTH, HLS_WITH_PLAYLIST
from imageserver.video import jobs, service
from imageserver.video.queue import VideoQueue
from imageserver.work.context import AppContext
from tests.conftest import login, make_settings
from tests.fixtures import make_video
from tests.scan.test_watcher import add_library, wait_for


class FakeWork:
    """Stands in for ffmpeg: records how many jobs overlap, blocks until released."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.peak = 0
        self.started: list[str] = []
        self.finished: list[str] = []
        self.release = threading.Event()

    def run_job(self, job: jobs.Job, *_: Any, **__: Any) -> jobs.JobResult:
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
            self.started.append(job.content_hash)
        self.release.wait(10)
        time.sleep(0.05)
        with self.lock:
            self.running -= 1
        return jobs.JobResult(job, jobs.Outcome.done("copy"), None, "copy", 0.05)

    def finish(self, engine: Any, video_root: Any, result: jobs.JobResult, now: float) -> None:
        self.finished.append(result.job.content_hash)


def job(n: int) -> jobs.Job:
    return jobs.Job(f"{n:064x}", Path(f"/lib/{n}.mp4"), "lib", f"{n}.mp4")


@pytest.mark.parametrize("db", ["sqlite"])
def test_concurrency_dedup_and_idle_wake(
    tmp_path: Path, sqlite_url: str, db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path, sqlite_url, hls_concurrency=2)
    ctx = bootstrap(settings).ctx
    work = FakeWork()
    monkeypatch.setattr(jobs, "run_job", work.run_job)
    monkeypatch.setattr(service, "finish", work.finish)
    woken: list[bool] = []
    ctx.watcher = type("W", (), {"wake": lambda self: woken.append(True)})()
    queue = VideoQueue(ctx)

    async def scenario() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(queue.run_forever)
            await anyio.sleep(0.1)
            assert ctx.video_queue is queue

            def submit_from_a_thread() -> list[bool]:
                return [queue.submit(job(n)) for n in (1, 2, 3, 4, 5, 1, 2)]

            accepted = await anyio.to_thread.run_sync(submit_from_a_thread)
            assert accepted == [True] * 5 + [False, False]  # same hash: deduplicated
            assert queue.depth() == 5 and HLS_QUEUE_DEPTH._value.get() == 5
            await anyio.sleep(0.3)
            assert work.running == 2  # never more than HLS_CONCURRENCY at once
            work.release.set()
            with anyio.fail_after(10):
                while len(work.finished) < 5:
                    await anyio.sleep(0.02)
            await anyio.sleep(0.05)
            assert queue.depth() == 0 and queue.in_flight() == set()
            assert queue.submit(job(1))  # finished hashes may be queued again
            with anyio.fail_after(10):
                while len(work.finished) < 6:
                    await anyio.sleep(0.02)
            tg.cancel_scope.cancel()

    anyio.run(scenario)
    assert work.peak == 2
    # First in, first out: the two workers took the two oldest jobs (which of the two threads
    # records its start first is the scheduler's choice), the rest waited their turn.
    assert set(work.started[:2]) == {f"{1:064x}", f"{2:064x}"}
    assert set(work.started[:5]) == {f"{n:064x}" for n in range(1, 6)}
    assert woken  # the watcher is asked for more when the queue runs dry
    assert ctx.video_queue is None and queue.control.cancel.is_set()
    ctx.engine.dispose()


@pytest.mark.parametrize("db", ["sqlite"])
def test_front_of_queue_for_requests(tmp_path: Path, sqlite_url: str, db: str) -> None:
    ctx = bootstrap(make_settings(tmp_path, sqlite_url)).ctx
    queue = VideoQueue(ctx)
    for n in (1, 2):
        queue.submit(job(n))
    queue.submit(job(3), front=True)
    assert queue._pop() == job(3)
    assert queue.room() == queue.capacity - 2
    ctx.engine.dispose()


@pytest.mark.slow
@pytest.mark.parametrize("db", ["sqlite"])
def test_background_loops_make_playlists_and_refresh_gauges(
    tmp_path: Path, sqlite_url: str, db: str
) -> None:
    settings = make_settings(
        tmp_path, sqlite_url, run_background=True, watch_quick_interval_seconds=30
    )
    ctx: AppContext = bootstrap(settings).ctx
    root = tmp_path / "lib"
    for i in range(3):
        make_video(root / f"v{i}.mp4", seconds=1, size=f"{160 + 16 * i}x120")
    legacy = settings.resolved_video_path / "old.m3u8"
    legacy.write_text("#EXTM3U")
    with TestClient(create_app(ctx)) as client:
        auth = {"Authorization": f"Bearer {login(client)}"}
        add_library(client, auth, root)
        assert ctx.watcher is not None
        wake = ctx.watcher.wake
        assert client.portal is not None
        client.portal.call(wake)  # on the event loop's thread: anyio events are not thread-safe

        def all_done() -> bool:
            with ctx.engine.connect() as conn:
                rows = conn.execute(
                    select(artefacts.c.status).where(artefacts.c.kind == "hls")
                ).all()
            return len(rows) == 3 and all(r[0] == "done" for r in rows)

        assert wait_for(all_done, 60)
        queue = ctx.video_queue
        assert isinstance(queue, VideoQueue)
        # made by the queue, not a tick (its counter moves just after the state is recorded)
        assert wait_for(lambda: queue.done == 3, 10), queue.done
        assert legacy.exists()  # the legacy pass ran at start and deleted nothing
        # a full scan refreshes the gauges through the watcher's after_full hook
        ctx.watcher.last_full_at = None  # type: ignore[attr-defined]
        client.portal.call(wake)
        assert wait_for(lambda: HLS_WITH_PLAYLIST.labels("lib")._value.get() == 3, 30)
        stats = client.get("/hls/stats", headers=auth).json()
        assert stats["aggregate"]["with_playlist"] == 3
    assert ctx.video_queue is None
    ctx.engine.dispose()


def test_a_running_job_keeps_its_lease_and_a_dead_ones_lapses(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Job leases are short and renewed while the work runs: ffmpeg may take longer than
    one lease, yet a killed process's video is taken over within one lease."""
    from imageserver.db.engine import make_engine
    from imageserver.work import artefacts as states
    from imageserver.work import leases

    monkeypatch.setattr(leases, "_lease_seconds", 0.6)
    engine = make_engine(sqlite_url)
    job = jobs.Job("cd" * 32, tmp_path / "v.mp4", "lib", "v.mp4")

    def until() -> float:
        with engine.connect() as conn:
            row = states.get(conn, job.content_hash, service.JOB_KIND)
        assert row is not None
        return float(row["lease_until"])

    assert service.claim_job(engine, job, time.time())
    me = leases.OWNER
    with service.kept(engine, [job.content_hash], time.time):
        time.sleep(1.5)  # longer than two leases
        assert until() > time.time()
        monkeypatch.setattr(leases, "OWNER", "someone-else")
        assert not service.claim_job(engine, job, time.time()), "taken while held"
        monkeypatch.setattr(leases, "OWNER", me)
    time.sleep(0.8)  # no renewals since the block ended: the lease has lapsed
    monkeypatch.setattr(leases, "OWNER", "someone-else")
    assert service.claim_job(engine, job, time.time()), "a lapsed lease is free"
    engine.dispose()
