"""GET /stats/backlogs on both databases: per-library counts before and after a tick."""

from __future__ import annotations

import shutil
from pathlib import Path

from fastapi.testclient import TestClient

from imageserver.scan.watcher import Watcher
from imageserver.work.context import AppContext
from tests.fixtures import make_jpeg
from tests.scan.test_watcher import add_library


def backlogs(client: TestClient, auth: dict[str, str], **params: object) -> dict[str, dict]:
    response = client.get("/stats/backlogs", headers=auth, params=params)  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    return {row["library"]: row for row in response.json()["libraries"]}


def test_backlogs_follow_the_drains_per_library(
    client: TestClient, auth: dict[str, str], ctx: AppContext, tmp_path: Path
) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    for i in range(3):
        make_jpeg(one / f"a{i}.jpg", color=(i * 40, 10, 10))
    (one / "sub").mkdir()
    shutil.copy(one / "a0.jpg", one / "sub" / "copy-of-a0.jpg")
    (one / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 10)
    make_jpeg(two / "b.jpg")
    first = add_library(client, auth, one)
    add_library(client, auth, two)

    before = backlogs(client, auth)
    assert before["one"]["media"] == 0 and before["one"]["enabled"] is True
    assert before["one"]["health"] == "unknown"

    watcher = Watcher(ctx)
    watcher.tick(full=True)
    after = backlogs(client, auth)
    row = after["one"]
    assert row["library_id"] == first
    assert (row["media"], row["photos"], row["videos"]) == (5, 5, 0)
    assert row["hash_pending"] == 0 and row["hash_failing"] == 0
    assert row["metadata_pending"] == 0
    # 5 paths, 4 contents: thumbnails count distinct hashes, like the drain.
    assert row["thumbnails_done"] + row["thumbnails_failed"] + row["thumbnails_pending"] == 4
    assert row["thumbnails_failed"] == 1  # broken.jpg
    assert row["thumbnails_pending"] == 0
    assert row["health"] == "reachable" and row["last_full_scan_at"] is not None
    assert after["two"]["media"] == 1 and after["two"]["thumbnails_done"] == 1

    # A new file is a hash backlog until the next tick; a filter by library works.
    make_jpeg(two / "new.jpg", color=(1, 2, 3))
    walk_only = [s for s in watcher.stages if s.name in ("probe", "walk", "diff", "ingest")]
    Watcher(ctx, stages=walk_only).tick(full=False)
    only_two = backlogs(client, auth, library=after["two"]["library_id"])
    assert list(only_two) == ["two"]
    assert only_two["two"]["hash_pending"] == 1 and only_two["two"]["metadata_pending"] == 1


def test_backlogs_need_a_login(client: TestClient) -> None:
    assert client.get("/stats/backlogs").status_code == 401


# --- /health ---------------------------------------------------------------------------------


def test_health_reports_low_free_space_and_a_database_refusing_writes(
    tmp_path: Path, sqlite_url: str
) -> None:
    from imageserver.db.engine import make_engine
    from imageserver.server.app import create_app
    from imageserver.server.background import close_services
    from imageserver.server.bootstrap import bootstrap
    from tests.conftest import make_settings

    ctx = bootstrap(make_settings(tmp_path, sqlite_url)).ctx
    try:
        with TestClient(create_app(ctx, background=False)) as client:
            healthy = client.get("/health")
            assert healthy.status_code == 200, healthy.text
            assert healthy.json()["checks"] == {"database": "ok", "data_dir": "ok"}

            ctx.settings.health_min_free_bytes = 2**62
            low = client.get("/health")
            assert low.status_code == 503 and low.json()["status"] == "degraded"
            assert low.json()["checks"]["data_dir"].startswith("low free space: ")
            ctx.settings.health_min_free_bytes = 0

            writable = ctx.engine
            database = sqlite_url.removeprefix("sqlite:///")
            ctx.engine = make_engine(f"sqlite:///file:{database}?mode=ro&uri=true")
            try:
                refusing = client.get("/health")
            finally:
                ctx.engine.dispose()
                ctx.engine = writable
            assert refusing.status_code == 503
            assert refusing.json()["checks"] == {
                "database": "refusing writes",
                "data_dir": "ok",
            }
    finally:
        close_services(ctx)
        ctx.engine.dispose()
