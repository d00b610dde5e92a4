"""Several processes on one real PostgreSQL: leased work done exactly once, taken over when
a worker dies, and API replicas that agree. Each test gets a database of its own."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import sqlalchemy as sa
from PIL import Image

from imageserver.db.engine import make_engine
from imageserver.db.tables import artefacts, media
from tests.conftest import fresh_pg_database

pytestmark = pytest.mark.slow

PASSWORD = "scaleout-admin-pw"


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_pg_database("imageserver_scale") as url:
        yield url


def env_for(tmp_path: Path, db_url: str, library: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGESERVER_")}
    env.update(
        IMAGESERVER_DATABASE_URL=db_url,
        IMAGESERVER_DATA_DIR=str(tmp_path / "shared-data"),  # the shared folder (NFS)
        IMAGESERVER_LIBRARIES=f"lib={library}",
        IMAGESERVER_ADMIN_PASSWORD=PASSWORD,
        IMAGESERVER_JWT_SECRET="s" * 48,  # one secret: tokens verify on every replica
        IMAGESERVER_FACES_ENABLED="false",
        IMAGESERVER_WATCH_QUICK_INTERVAL_SECONDS="0.2",
        IMAGESERVER_LOG_LEVEL="info",
    )
    env.update(extra)
    return env


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "imageserver.server.cli", *args],
        env=env,
        stdout=handle,
        stderr=handle,
    )


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except sa.exc.SQLAlchemyError:
            pass  # tables not created yet: the workers are still migrating
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def unique_jpegs(root: Path, count: int) -> None:
    rng = np.random.default_rng(1)
    for i in range(count):
        pixels = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
        root.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(root / f"p{i:03d}.jpg", quality=90)


def test_three_workers_do_every_item_exactly_once(tmp_path: Path, pg_url: str) -> None:
    library = tmp_path / "lib"
    unique_jpegs(library, 36)
    env = env_for(
        tmp_path, pg_url, library,
        IMAGESERVER_HASH_BATCH_PER_TICK="3",
        IMAGESERVER_METADATA_BATCH_PER_TICK="3",
        IMAGESERVER_THUMBNAIL_BATCH_PER_TICK="3",
    )  # fmt: skip
    logs = [tmp_path / f"worker{i}.log" for i in range(3)]
    workers = [start(["worker", "--drains", "hash,metadata,thumbnails"], env, log) for log in logs]
    engine = make_engine(pg_url, poolclass=sa.NullPool)

    def all_done() -> bool:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(media.c.content_hash, media.c.meta_status)).all()
            thumbs = conn.execute(
                sa.select(sa.func.count()).where(
                    artefacts.c.kind == "thumb", artefacts.c.status == "done"
                )
            ).scalar_one()
        return len(rows) == 36 and all(r[0] and r[1] == "ok" for r in rows) and thumbs == 36

    try:
        wait_until(all_done, 120, "three workers to index 36 photos")
    finally:
        stop(workers)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(media.c.hash_attempts, media.c.meta_attempts, media.c.lease_owner)
        ).all()
        thumb_attempts = [
            r[0]
            for r in conn.execute(
                sa.select(artefacts.c.attempts).where(artefacts.c.kind == "thumb")
            )
        ]
    engine.dispose()
    assert [(r[0], r[1]) for r in rows] == [(1, 1)] * 36, "an item was processed twice"
    assert thumb_attempts == [1] * 36
    assert all(r[2] is None for r in rows), "a lease was left behind"
    texts = [log.read_text(errors="replace") for log in logs]
    walkers = [t for t in texts if "event=walker_lock_acquired" in t]
    assert len(walkers) == 1, "exactly one process walks"
    busy = [t for t in texts if re.search(r"event=tick_done .*(hashed|thumbnailed)=[1-9]", t)]
    assert len(busy) >= 2, "the backlog was shared between workers"


def big_png(path: Path) -> None:
    """A photo that takes a second or more to decode: time to kill its worker mid-item."""
    rng = np.random.default_rng(2)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 255, (5000, 5000, 3), dtype=np.uint8)).save(
        path, compress_level=1
    )


def test_a_killed_worker_loses_its_lease_and_another_finishes(tmp_path: Path, pg_url: str) -> None:
    library = tmp_path / "lib"
    big_png(library / "huge.png")
    env = env_for(tmp_path, pg_url, library, IMAGESERVER_LEASE_SECONDS="3")
    engine = make_engine(pg_url, poolclass=sa.NullPool)
    indexer = start(["worker", "--drains", "hash,metadata"], env, tmp_path / "indexer.log")

    def hashed() -> bool:
        with engine.connect() as conn:
            return bool(conn.execute(sa.select(media.c.content_hash)).scalar())

    try:
        wait_until(hashed, 60, "the photo to be hashed")
    finally:
        stop([indexer])

    def thumb_state() -> sa.RowMapping | None:
        with engine.connect() as conn:
            return (
                conn.execute(sa.select(artefacts).where(artefacts.c.kind == "thumb"))
                .mappings()
                .first()
            )

    first = start(["worker", "--drains", "thumbnails"], env, tmp_path / "first.log")
    try:
        wait_until(lambda: (s := thumb_state()) is not None and s["lease_owner"], 60, "a lease")
        first.send_signal(signal.SIGKILL)  # mid-item: the thumbnail is being decoded
        first.wait(timeout=10)
    finally:
        stop([first])
    killed = thumb_state()
    assert killed is not None and killed["status"] == "pending" and killed["lease_owner"]
    second = start(["worker", "--drains", "thumbnails"], env, tmp_path / "second.log")
    try:
        wait_until(
            lambda: (s := thumb_state()) is not None and s["status"] == "done",
            90,
            "another worker to finish the item after the lease expired",
        )
    finally:
        stop([second])
    done = thumb_state()
    engine.dispose()
    assert done is not None and done["attempts"] == 1 and done["lease_owner"] is None
    assert done["lease_owner"] != killed["lease_owner"]
    assert "event=lease_lost" not in (tmp_path / "second.log").read_text()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_two_api_replicas_return_the_same_search_results(tmp_path: Path, pg_url: str) -> None:
    from tests.ml.tiny_clip import build_tiny_clip

    model = build_tiny_clip(tmp_path / "tiny-clip")
    library = tmp_path / "lib"
    unique_jpegs(library, 9)
    env = env_for(tmp_path, pg_url, library, IMAGESERVER_CLIP_MODEL_PATH=str(model.root))
    ports = [free_port(), free_port()]
    procs = [start(["worker"], env, tmp_path / "worker.log")]
    for n, port in enumerate(ports):
        api_env = {**env, "IMAGESERVER_PORT": str(port), "IMAGESERVER_HOST": "127.0.0.1"}
        procs.append(start(["serve", "--no-workers"], api_env, tmp_path / f"api{n}.log"))
    try:
        bases = [f"http://127.0.0.1:{p}" for p in ports]

        def up() -> bool:
            return all(httpx.get(f"{b}/health", timeout=2).status_code == 200 for b in bases)

        wait_until(lambda: _quiet(up), 60, "both API processes")
        token = httpx.post(
            f"{bases[0]}/auth/login", json={"username": "admin", "password": PASSWORD}
        ).json()["access_token"]  # issued by one replica, used on both
        headers = {"Authorization": f"Bearer {token}"}

        def embedded() -> bool:
            stats = httpx.get(f"{bases[1]}/ml/stats", headers=headers).json()
            return bool(stats["total"]["embedded"] == 9)

        wait_until(lambda: _quiet(embedded), 120, "the worker to embed every photo")
        params = {"q": "red", "limit": 20, "threshold": -1}

        def results(base: str) -> list[tuple[str, float]]:
            hits = httpx.get(f"{base}/photos/search", params=params, headers=headers).json()
            return [(h["path"], round(h["score"], 5)) for h in hits["hits"]]

        wait_until(
            lambda: len(results(bases[0])) == 9 and results(bases[0]) == results(bases[1]),
            30,
            "both replicas' indexes to hold every embedding",
        )
        assert results(bases[0]) == results(bases[1])
    finally:
        stop(procs)


def _quiet(check: Callable[[], bool]) -> bool:
    try:
        return check()
    except (httpx.HTTPError, KeyError, ValueError):
        return False
