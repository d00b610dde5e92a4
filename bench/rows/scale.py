"""Scale: every listing route over --rows media rows (1M is the household ceiling we
promise), on SQLite and on PostgreSQL, p50 and p99 per route, and the bench's peak RSS.

The rows are bulk-loaded straight into a freshly migrated database (the schema and indexes
the server makes): dates spread over 25 years, 60% with GPS, one in ten a video, folders
by year and month, twenty cameras; a face on 30% of the items spread over 200 people,
thumbnails done for every hash, HLS done for most videos, 2% favorites of the admin and 50
albums. The routes are the real app in this process (the ASGI app through a TestClient,
one connection pool), called as the admin who owns every library, so every query runs
with its scope. Each route is called WARMUP times, then TIMED times; the page cursor for
the deep rows is one a client would hold halfway through the listing.

Targets (issue "A million items"): /media first page and any filter p50 <= 30 ms and deep
cursor pages the same, /timeline <= 50 ms, /folders <= 30 ms, /people <= 50 ms,
/hls/stats and /stats/backlogs <= 200 ms, peak RSS <= 500 MB.
"""

from __future__ import annotations

import base64
import json
import os
import random
import resource
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tests.fixtures import throwaway_pg_database

from bench.context import BenchContext
from bench.table import Row

GROUP = "scale"
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ADMIN_PASSWORD = "bench-admin-pw"
WARMUP = 3
TIMED = 30
BATCH = 5_000
PEOPLE = 200
ALBUMS = 50
ALBUM_SIZE = 200
CAMERAS = [(make, f"{make} M{n}") for make in ("Canon", "Nikon", "Apple", "Sony") for n in range(5)]
START = datetime(2001, 1, 1)
SPAN_SECONDS = 25 * 365 * 86_400

# route name -> (url, p50 target in ms)
Route = tuple[str, float]


def routes(library_id: int, deep_cursor: str, person_id: int) -> dict[str, Route]:
    lib = f"library={library_id}"
    return {
        "/media first page": (f"/media?limit=100&{lib}", 30),
        "/media deep cursor": (f"/media?limit=100&cursor={deep_cursor}", 30),
        "/media?kind=video": ("/media?limit=100&kind=video", 30),
        "/media?has_gps=true": ("/media?limit=100&has_gps=true", 30),
        "/media?camera=": ("/media?limit=100&camera=Sony%20M3", 30),
        "/media?from=&to= (a month)": ("/media?limit=100&from=2013-05-01&to=2013-05-31", 30),
        "/media?favorite=true": ("/media?limit=100&favorite=true", 30),
        "/media?person=": (f"/media?limit=100&person={person_id}", 30),
        "/media?folder= (a month)": (f"/media?limit=100&{lib}&folder=2013/05", 30),
        "/timeline": ("/timeline", 50),
        "/folders (root)": (f"/folders?{lib}", 30),
        "/folders (a year)": (f"/folders?{lib}&parent=2013", 30),
        "/people": ("/people", 50),
        "/hls/stats": ("/hls/stats", 200),
        "/stats/backlogs": ("/stats/backlogs", 200),
        "/map/markers (world, zoom 2)": ("/map/markers?bbox=-180,-90,180,90&zoom=2", 100),
        "/map/markers (a region, zoom 8)": ("/map/markers?bbox=5,45,10,48&zoom=8", 100),
    }


def fake_hash(n: int) -> str:
    return f"{n:064x}"


def media_rows(library_id: int, count: int, seed: int = 7) -> Iterator[list[dict[str, Any]]]:
    """Batches of realistic media rows (deterministic for a seed)."""
    rnd = random.Random(seed)
    now = time.time()
    batch: list[dict[str, Any]] = []
    for i in range(1, count + 1):
        taken = START + timedelta(seconds=rnd.randrange(SPAN_SECONDS))
        folder = f"{taken.year}/{taken.month:02d}"
        video = i % 10 == 0
        name = f"{'VID' if video else 'IMG'}_{i:07d}.{'mp4' if video else 'jpg'}"
        make, model = CAMERAS[rnd.randrange(len(CAMERAS))]
        gps = rnd.random() < 0.6
        batch.append(
            {
                "library_id": library_id,
                "rel_path": f"{folder}/{name}",
                "folder": folder,
                "name": name,
                "kind": "video" if video else "photo",
                "format": "mp4" if video else "jpeg",
                "mime": "video/mp4" if video else "image/jpeg",
                "size": 2_000_000 + rnd.randrange(3_000_000),
                "mtime_ns": int(taken.timestamp() * 1e9),
                "created_at": now,
                "updated_at": now,
                "seen_at": now,
                "content_hash": fake_hash(i),
                "hash_attempts": 0,
                "meta_status": "ok",
                "meta_attempts": 0,
                "taken_at": taken,
                "taken_at_source": "exif",
                "taken_at_utc": taken,  # as if UTC: the bench's server zone is irrelevant
                "make": make,
                "model": model,
                "width": 4032,
                "height": 3024,
                "latitude": rnd.uniform(-60, 70) if gps else None,
                "longitude": rnd.uniform(-180, 180) if gps else None,
                "duration": 12.5 if video else None,
            }
        )
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def bulk_load(engine: Any, library_id: int, admin_id: int, count: int) -> dict[str, Any]:
    """Insert everything; returns what the route list needs (a person id, a deep cursor)."""
    from imageserver.db.tables import (
        album_items,
        albums,
        artefacts,
        faces,
        favorites,
        media,
        people,
    )
    from imageserver.work.artefacts import HLS_KIND, THUMB_KIND

    now = time.time()
    rnd = random.Random(11)
    with engine.begin() as conn:
        conn.execute(
            people.insert(),
            [
                {"name": f"Person {p}", "hidden": False, "created_at": now, "updated_at": now}
                for p in range(PEOPLE)
            ],
        )
        person_ids = [
            int(r[0]) for r in conn.execute(people.select().with_only_columns(people.c.id))
        ]
    for batch in media_rows(library_id, count):
        with engine.begin() as conn:
            conn.execute(media.insert(), batch)
            hashes = [r["content_hash"] for r in batch]
            states = [
                {
                    "content_hash": h,
                    "kind": THUMB_KIND,
                    "status": "done",
                    "attempts": 1,
                    "updated_at": now,
                }
                for h in hashes
            ]
            states += [
                {
                    "content_hash": r["content_hash"],
                    "kind": HLS_KIND,
                    "status": "done",
                    "attempts": 1,
                    "updated_at": now,
                }
                for r in batch
                if r["kind"] == "video" and rnd.random() < 0.8
            ]
            conn.execute(artefacts.insert(), states)
            conn.execute(
                faces.insert(),
                [
                    {
                        "content_hash": h,
                        "face_index": 0,
                        "box_x": 100,
                        "box_y": 100,
                        "box_w": 200,
                        "box_h": 200,
                        "image_width": 4032,
                        "image_height": 3024,
                        "landmarks": [],
                        "detector": "hog",
                        "embedding": b"\0" * 512,
                        "person_id": person_ids[rnd.randrange(PEOPLE)],
                        "assignment": "auto",
                        "created_at": now,
                    }
                    for h in hashes
                    if rnd.random() < 0.3
                ],
            )
    with engine.begin() as conn:
        ids = [int(r[0]) for r in conn.execute(media.select().with_only_columns(media.c.id))]
        conn.execute(
            favorites.insert(),
            [{"user_id": admin_id, "media_id": m, "created_at": now} for m in ids if m % 50 == 0],
        )
        for a in range(ALBUMS):
            album_id = conn.execute(
                albums.insert().values(
                    owner_id=admin_id, name=f"Album {a}", created_at=now, updated_at=now
                )
            ).inserted_primary_key[0]
            members = rnd.sample(ids, min(ALBUM_SIZE, len(ids)))
            conn.execute(
                album_items.insert(),
                [
                    {"album_id": album_id, "media_id": m, "added_by": admin_id, "added_at": now}
                    for m in members
                ],
            )
        middle = conn.execute(
            media.select()
            .with_only_columns(media.c.taken_at_utc, media.c.id)
            .order_by(media.c.taken_at_utc.desc(), media.c.id.desc())
            .offset(len(ids) // 2)
            .limit(1)
        ).first()
    assert middle is not None
    payload = json.dumps({"t": middle.taken_at_utc.isoformat(), "i": int(middle.id)})
    cursor = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
    return {"person_id": person_ids[0], "deep_cursor": cursor}


@contextmanager
def database(kind: str, data_dir: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{data_dir / 'imageserver.db'}"
        return
    admin_url = os.environ.get("IMAGESERVER_TEST_DATABASE_URL", PG_DEFAULT)
    with throwaway_pg_database(admin_url, "imageserver_scale") as url:
        yield url


def timed(call: Callable[[], Any]) -> tuple[float, float]:
    for _ in range(WARMUP):
        call()
    samples = []
    for _ in range(TIMED):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), statistics.quantiles(samples, n=100)[98]


def measure(ctx: BenchContext, kind: str, count: int) -> list[Row]:
    from fastapi.testclient import TestClient
    from sqlalchemy import select, text

    from imageserver.config import LibrarySeed, Settings
    from imageserver.db.tables import libraries, users
    from imageserver.server.app import create_app
    from imageserver.server.background import close_services
    from imageserver.server.bootstrap import bootstrap

    data_dir = ctx.path(f"scale-{kind}")
    root = ctx.path(f"scale-{kind}-root")
    root.mkdir(parents=True, exist_ok=True)
    out: list[Row] = []
    with database(kind, data_dir) as url:
        settings = Settings(
            _env_file=None,
            data_dir=data_dir,
            database_url=url,
            libraries=[LibrarySeed(name="scale", root_path=root)],
            admin_password=ADMIN_PASSWORD,
            run_background=False,
        )
        app_ctx = bootstrap(settings).ctx
        try:
            with app_ctx.engine.connect() as conn:
                library_id = int(conn.execute(select(libraries.c.id)).scalar_one())
                admin_id = int(conn.execute(select(users.c.id)).scalar_one())
            started = time.perf_counter()
            facts = bulk_load(app_ctx.engine, library_id, admin_id, count)
            loaded = time.perf_counter() - started
            if kind != "sqlite":
                with app_ctx.engine.begin() as conn:
                    conn.execute(text("ANALYZE"))  # what autovacuum does on its own
            ctx.log(f"{GROUP}: {kind} loaded {count} rows in {loaded:.0f} s")
            out.append(Row(GROUP, f"{kind}: bulk load {count} rows", "s", loaded))
            app = create_app(app_ctx, background=False)
            with TestClient(app) as client:
                token = client.post(
                    "/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
                ).json()["access_token"]
                headers = {"Authorization": f"Bearer {token}"}
                for name, (url_path, target) in routes(
                    library_id, facts["deep_cursor"], facts["person_id"]
                ).items():

                    def call(u: str = url_path) -> None:
                        answer = client.get(u, headers=headers)
                        if answer.status_code != 200:
                            raise RuntimeError(f"{u}: {answer.status_code} {answer.text[:200]}")

                    p50, p99 = timed(call)
                    ctx.log(f"{GROUP}: {kind} {name} p50 {p50:.1f} ms p99 {p99:.1f} ms")
                    out.append(
                        Row(
                            GROUP,
                            f"{kind}: {name} p50",
                            "ms",
                            p50,
                            target=target,
                            goal="lower",
                            note=f"p99 {p99:.1f} ms",
                        )
                    )
        finally:
            close_services(app_ctx)
            app_ctx.engine.dispose()
    return out


def run(ctx: BenchContext) -> list[Row]:
    count = int(getattr(ctx.args, "rows", None) or 100_000)
    out: list[Row] = []
    for kind in ("sqlite", "postgresql"):
        out += measure(ctx, kind, count)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out.append(Row(GROUP, "peak RSS of the whole run", "MB", peak_mb, target=500, goal="lower"))
    return out
