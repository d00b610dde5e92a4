"""Scale-out on one PostgreSQL: 1 worker process vs 2, and what leasing costs per item.

Both rows run the hash and thumbnail drains over the same unique-copy library. Workers are
real `imageserver worker` processes with one drain thread each (two processes on the two
cores, against one process on one); the lease row compares the drains run in-process
(claim, work, record) with a bare loop calling the same hash and thumbnail functions.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import sqlalchemy as sa
from tests.fixtures import throwaway_pg_database

from bench.context import BenchContext
from bench.table import Row

GROUP = "scaleout"
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextmanager
def fresh_database() -> Iterator[str]:
    admin_url = os.environ.get("IMAGESERVER_TEST_DATABASE_URL", PG_DEFAULT)
    with throwaway_pg_database(admin_url, "imageserver_bench") as url:
        yield url


def settings_env(db_url: str, data_dir: Path, root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGESERVER_")}
    env.update(
        IMAGESERVER_DATABASE_URL=db_url,
        IMAGESERVER_DATA_DIR=str(data_dir),
        IMAGESERVER_LIBRARIES=f"bench={root}",
        IMAGESERVER_ADMIN_PASSWORD="bench-admin-pw",
        IMAGESERVER_FACES_ENABLED="false",
        IMAGESERVER_WORKER_THREADS="1",
        IMAGESERVER_WATCH_QUICK_INTERVAL_SECONDS="0.2",
        IMAGESERVER_LOG_LEVEL="warning",
    )
    return env


def ingest_only(env: dict[str, str]) -> None:
    """Walk once so rows exist; no drain runs (the timed runs start from the same state)."""
    code = (
        "from imageserver.server.bootstrap import bootstrap\n"
        "from imageserver.config import Settings\n"
        "from imageserver.scan.watcher import Watcher\n"
        "Watcher(bootstrap(Settings()).ctx, drains=frozenset()).tick(full=True)\n"
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=600)


def reset(db_url: str, data_dir: Path) -> None:
    from imageserver.db.engine import make_engine
    from imageserver.db.tables import artefacts, media

    engine = make_engine(db_url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        conn.execute(
            media.update().values(
                content_hash=None, hash_attempts=0, hash_retry_at=None, lease_owner=None,
                lease_until=None,
            )
        )  # fmt: skip
        conn.execute(artefacts.delete())
    engine.dispose()
    shutil.rmtree(data_dir / "thumbs", ignore_errors=True)


def done(db_url: str, files: int) -> bool:
    from imageserver.db.engine import make_engine
    from imageserver.db.tables import artefacts, media

    engine = make_engine(db_url, poolclass=sa.NullPool)
    with engine.connect() as conn:
        hashed = conn.execute(
            sa.select(sa.func.count()).where(media.c.content_hash.is_not(None))
        ).scalar_one()
        settled = conn.execute(
            sa.select(sa.func.count(sa.distinct(artefacts.c.content_hash))).where(
                artefacts.c.kind == "thumb", artefacts.c.status.in_(("done", "failed"))
            )
        ).scalar_one()
        hashes = conn.execute(
            sa.select(sa.func.count(sa.distinct(media.c.content_hash)))
        ).scalar_one()
    engine.dispose()
    return bool(hashed == files and settled == hashes)


def run_workers(env: dict[str, str], db_url: str, files: int, count: int) -> float:
    """Seconds for `count` worker processes to hash and thumbnail every file."""
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "imageserver.server.cli",
                "worker",
                "--drains",
                "hash,thumbnails",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(count)
    ]
    try:
        while not done(db_url, files):
            time.sleep(0.1)
        return time.perf_counter() - start
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=60)


def in_process_drains(env: dict[str, str], files: int) -> float:
    """The hash and thumbnail drains in this process, one thread: claim, work, record."""
    code = (
        "import time\n"
        "from imageserver.server.bootstrap import bootstrap\n"
        "from imageserver.config import Settings\n"
        "from imageserver.scan.watcher import Watcher\n"
        "ctx = bootstrap(Settings()).ctx\n"
        "w = Watcher(ctx, drains=frozenset({'hash', 'thumbnails'}))\n"
        "start = time.perf_counter()\n"
        "[t] = w.tick(full=False)\n"
        "while t.pending.get('hash') or t.pending.get('thumbnails'):\n"
        "    [t] = w.tick(full=False)\n"
        "print(time.perf_counter() - start)\n"
    )
    env = {
        **env,
        "IMAGESERVER_HASH_BATCH_PER_TICK": str(files),
        "IMAGESERVER_THUMBNAIL_BATCH_PER_TICK": str(files),
    }
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def bare_loop(files: list[Path], out: Path) -> float:
    """The same functions, no database, no leases: hash, then two thumbnails, per file."""
    from imageserver.media.formats import classify
    from imageserver.media.hashing import hash_file
    from imageserver.media.thumbs import ThumbnailError, make_thumbnails

    formats = [classify(f) for f in files]
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for i, (path, found) in enumerate(zip(files, formats, strict=True)):
        hash_file(path)
        if found is None:
            continue
        with suppress(ThumbnailError):
            make_thumbnails(
                path, found.format, out / f"{i}-s.webp", out / f"{i}-l.webp", 250, 1440, 80
            )
    return time.perf_counter() - start


def run(ctx: BenchContext) -> list[Row]:
    count = min(ctx.args.files, 500)
    lib = ctx.build("scaleout-lib", count)
    root = lib.root
    data_dir = ctx.path("scaleout-data")
    rows: list[Row] = []
    with fresh_database() as db_url:
        env = settings_env(db_url, data_dir, root)
        ingest_only(env)
        seconds: dict[int, float] = {}
        for workers in (1, 2):
            reset(db_url, data_dir)
            ctx.log(f"{GROUP}: {workers} worker process(es) over {count} files ...")
            seconds[workers] = run_workers(env, db_url, count, workers)
            ctx.log(f"  {seconds[workers]:.1f} s")
        reset(db_url, data_dir)
        ctx.log(f"{GROUP}: drains in-process (leases) vs a bare loop ...")
        leased = in_process_drains(env, count)
        bare = bare_loop(lib.files[:count], ctx.path("scaleout-bare"))
        ctx.log(f"  leased drains {leased:.1f} s, bare loop {bare:.1f} s")
    rows.append(
        Row(
            GROUP,
            "hash+thumbnails throughput, 2 workers vs 1",
            "files/s",
            count / seconds[2],
            count / seconds[1],
            "1 worker process",
            target=1.7,
            goal="higher",
            note=f"{count} files; worker processes with one drain thread each, PostgreSQL, "
            f"{os.cpu_count()} CPUs",
            details={"seconds": seconds},
        )
    )
    rows.append(
        Row(
            GROUP,
            "drain time per item with leases vs bare loop",
            "s",
            leased,
            bare,
            "bare hash_file + make_thumbnails loop",
            target=1.05,
            goal="lower",
            note="one thread each; ours claims, records and leases every item in PostgreSQL",
        )
    )
    return rows
