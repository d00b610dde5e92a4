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


def test_files_not_indexed_are_counted_by_reason_and_a_minolta_raw_is_indexed(
    client: TestClient, auth: dict[str, str], ctx: AppContext, tmp_path: Path
) -> None:
    root = tmp_path / "odd"
    make_jpeg(root / "a.jpg")
    root.joinpath("notes.txt").write_text("a shopping list")
    root.joinpath("mystery.bin").write_bytes(b"\x01\x02 not media at all" * 40)
    root.joinpath("plain").write_bytes(b"no extension, no magic" * 40)
    # A Minolta RAW: the MRM block magic, whatever follows (this one is too short to decode).
    root.joinpath("PICT0001.MRW").write_bytes(b"\x00MRM\x00\x00\x00\x10\x00PRD" + bytes(600))
    add_library(client, auth, root)
    before = backlogs(client, auth)["odd"]
    assert before["skipped"] == 0 and before["skipped_by_reason"] == []

    Watcher(ctx).tick(full=True)
    row = backlogs(client, auth)["odd"]
    assert row["media"] == 2  # a.jpg and the MRW
    by = {r["reason"]: r for r in row["skipped_by_reason"]}
    assert set(by) == {"unknown_type", "ignored_type"}
    assert by["unknown_type"]["count"] == 2
    assert sorted(by["unknown_type"]["examples"]) == ["mystery.bin", "plain"]
    assert by["ignored_type"]["examples"] == ["notes.txt"] and by["ignored_type"]["description"]
    assert row["skipped"] == 3
    # Indexed as a photo; too short to draw, it waits in the "Could not read" view.
    timeline = client.get("/media", headers=auth).json()
    assert [m["name"] for m in timeline["items"]] == ["a.jpg"]
    items = client.get("/media", headers=auth, params={"unreadable": True}).json()
    mrw = [m for m in items["items"] if m["name"] == "PICT0001.MRW"]
    assert mrw and mrw[0]["kind"] == "photo", items

    # A second complete tick counts the same files again, not twice as many.
    Watcher(ctx).tick(full=True)
    assert backlogs(client, auth)["odd"]["skipped"] == 3
