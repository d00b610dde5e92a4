"""The watcher over a small generated library: rows, hashes, thumbnails, live apply."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from imageserver.db.tables import artefacts, media
from imageserver.media.layout import thumb_path
from imageserver.scan.watcher import Watcher
from imageserver.server.app import create_app
from imageserver.server.bootstrap import bootstrap
from imageserver.work.context import AppContext
from tests.conftest import login, make_settings
from tests.fixtures import make_jpeg, make_png


def add_library(client: TestClient, auth: dict[str, str], root: Path, **extra: object) -> int:
    response = client.post(
        "/libraries", headers=auth, json={"name": root.name, "root_path": str(root), **extra}
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def rows(ctx: AppContext) -> dict[str, dict[str, object]]:
    with ctx.engine.connect() as conn:
        return {r["rel_path"]: dict(r) for r in conn.execute(select(media)).mappings()}


def test_full_tick_indexes_hashes_and_thumbnails(
    client: TestClient, auth: dict[str, str], ctx: AppContext, tmp_path: Path
) -> None:
    root = tmp_path / "lib"
    make_jpeg(root / "a.jpg")
    make_jpeg(root / "sub" / "b.jpg", color=(1, 2, 3))
    make_png(root / "sub" / "c.png")
    (root / "notes.txt").write_text("not media")
    (root / ".hidden.jpg").write_bytes((root / "a.jpg").read_bytes())
    add_library(client, auth, root)
    [t] = Watcher(ctx).tick(full=True)
    assert not t.stale
    found = rows(ctx)
    assert set(found) == {"a.jpg", "sub/b.jpg", "sub/c.png"}
    assert all(r["content_hash"] and len(str(r["content_hash"])) == 64 for r in found.values())
    assert found["sub/b.jpg"]["folder"] == "sub" and found["sub/b.jpg"]["kind"] == "photo"
    with ctx.engine.connect() as conn:
        done = {
            r.content_hash
            for r in conn.execute(
                select(artefacts.c.content_hash).where(artefacts.c.status == "done")
            )
        }
    assert done == {r["content_hash"] for r in found.values()}
    for r in found.values():
        assert (
            thumb_path(ctx.settings.thumbs_dir, str(r["content_hash"]), "small").stat().st_size > 0
        )
    assert t.counts["new"] == 3 and t.counts["hashed"] == 3 and t.counts["thumbnailed"] == 3


def wait_for(predicate: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


@pytest.mark.parametrize("db", ["sqlite"])
def test_patch_enabled_false_applies_on_next_tick_without_restart(
    tmp_path: Path, sqlite_url: str, db: str
) -> None:
    quick = 0.3
    settings = make_settings(
        tmp_path, sqlite_url, run_background=True, watch_quick_interval_seconds=quick
    )
    ctx = bootstrap(settings).ctx
    root = tmp_path / "lib"
    make_jpeg(root / "first.jpg")
    with TestClient(create_app(ctx)) as client:
        auth = {"Authorization": f"Bearer {login(client)}"}
        library_id = add_library(client, auth, root)
        watcher = ctx.watcher
        assert isinstance(watcher, Watcher)
        assert wait_for(lambda: "first.jpg" in rows(ctx), 10)

        patched = client.patch(f"/libraries/{library_id}", headers=auth, json={"enabled": False})
        assert patched.status_code == 200
        ticks_at_patch = watcher.ticks
        make_jpeg(root / "second.jpg", color=(9, 9, 9))
        # Several quick intervals pass, ticks keep running, the library is skipped.
        assert wait_for(lambda: watcher.ticks >= ticks_at_patch + 3, 10)
        assert "second.jpg" not in rows(ctx)

        client.patch(f"/libraries/{library_id}", headers=auth, json={"enabled": True})
        assert wait_for(lambda: "second.jpg" in rows(ctx), quick * 10)
    ctx.engine.dispose()


def test_excluded_dirs_patch_hides_rows_on_next_tick_and_restores(
    client: TestClient, auth: dict[str, str], ctx: AppContext, tmp_path: Path
) -> None:
    root = tmp_path / "lib"
    make_jpeg(root / "keep.jpg")
    make_jpeg(root / "raw" / "skip.jpg", color=(5, 5, 5))
    make_jpeg(root / "x" / "@eaDir" / "thumb.jpg", color=(7, 7, 7))
    library_id = add_library(client, auth, root)
    watcher = Watcher(ctx)
    watcher.tick(full=True)
    assert {k for k, r in rows(ctx).items() if r["retired_at"] is None} == {
        "keep.jpg",
        "raw/skip.jpg",
        "x/@eaDir/thumb.jpg",
    }
    client.patch(
        f"/libraries/{library_id}", headers=auth, json={"excluded_dirs": ["raw", "@eaDir"]}
    )
    watcher.tick(full=False)
    assert {k for k, r in rows(ctx).items() if r["retired_at"] is None} == {"keep.jpg"}
    client.patch(f"/libraries/{library_id}", headers=auth, json={"excluded_dirs": []})
    watcher.tick(full=False)
    live = {k for k, r in rows(ctx).items() if r["retired_at"] is None}
    assert live == {"keep.jpg", "raw/skip.jpg", "x/@eaDir/thumb.jpg"}
