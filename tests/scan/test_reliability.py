"""Unmount, deletion, replacement, read-only guarantee: the watcher never loses or writes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from imageserver.db.tables import media
from imageserver.media.layout import thumb_path
from imageserver.scan import findwalk, pipeline
from imageserver.scan.watcher import Watcher
from imageserver.work.context import AppContext
from tests.fixtures import insert_library, make_jpeg, make_png
from tests.scan.test_watcher import add_library, rows


def live(ctx: AppContext) -> set[str]:
    return {k for k, r in rows(ctx).items() if r["retired_at"] is None}


def health(client: TestClient, auth: dict[str, str]) -> dict[str, object]:
    [lib] = client.get("/libraries", headers=auth).json()
    return dict(lib["health"])


def make_tree(root: Path) -> None:
    for i in range(5):
        make_jpeg(root / f"d{i % 2}" / f"p{i}.jpg", size=(64, 48), color=(i, i, i))
    make_png(root / "x.png", size=(32, 32))


def indexed_tree(client: TestClient, auth: dict[str, str], ctx: AppContext, root: Path) -> Watcher:
    """The tree made, added as a library and indexed by a full tick: its watcher."""
    make_tree(root)
    add_library(client, auth, root)
    watcher = Watcher(ctx)
    watcher.tick(full=True)
    return watcher


def test_unmounted_root_is_stale_retires_nothing_and_recovers(
    client: TestClient, auth: dict[str, str], ctx: AppContext, tmp_path: Path
) -> None:
    root = tmp_path / "nas"
    watcher = indexed_tree(client, auth, ctx, root)
    before = rows(ctx)
    assert len(before) == 6 and health(client, auth)["status"] == "reachable"

    root.rename(tmp_path / "nas-away")  # the disk disappears
    [t] = watcher.tick(full=True)
    assert t.stale and t.counts["retired"] == 0
    state = health(client, auth)
    assert state["status"] == "stale" and "missing" in str(state["reason"])
    assert live(ctx) == set(before)

    root.mkdir()  # an empty mount point: still stale, still nothing retired
    [t] = watcher.tick(full=True)
    assert t.stale and "empty" in str(t.stale_reason)
    assert live(ctx) == set(before)
    root.rmdir()

    (tmp_path / "nas-away").rename(root)  # it comes back
    [t] = watcher.tick(full=True)
    assert not t.stale and t.counts["new"] == 0 and t.counts["retired"] == 0
    after = rows(ctx)
    assert {k: (v["id"], v["content_hash"]) for k, v in after.items()} == {
        k: (v["id"], v["content_hash"]) for k, v in before.items()
    }
    assert health(client, auth)["status"] == "reachable"
    metrics = client.get("/metrics", headers=auth).text
    assert 'imageserver_library_reachable{library="nas"} 1.0' in metrics


def test_root_disappearing_mid_walk_retires_nothing(
    client: TestClient,
    auth: dict[str, str],
    ctx: AppContext,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Python walk: the disk is pulled right after the root was listed."""
    import imageserver.scan.walker as walker_module

    monkeypatch.setattr(pipeline, "WALK", walker_module.walk)
    root = tmp_path / "usb"
    watcher = indexed_tree(client, auth, ctx, root)
    real_scandir = os.scandir
    calls = {"n": 0}

    def unplug_after_root(path: str) -> object:
        calls["n"] += 1
        if calls["n"] == 2:
            root.rename(tmp_path / "usb-gone")
        return real_scandir(path)

    monkeypatch.setattr(walker_module.os, "scandir", unplug_after_root)
    [t] = watcher.tick(full=True)
    monkeypatch.undo()
    assert t.stale
    assert t.counts["retired"] == 0
    assert len(live(ctx)) == 6


@pytest.mark.skipif(not findwalk.available(), reason="GNU find not installed")
def test_root_disappearing_under_find_retires_nothing(
    client: TestClient,
    auth: dict[str, str],
    ctx: AppContext,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Quick tick (find walk): the disk goes away after the probe, as find starts."""
    root = tmp_path / "usb"
    watcher = indexed_tree(client, auth, ctx, root)
    unplugging_find = tmp_path / "find"
    unplugging_find.write_text(f'#!/bin/sh\nmv "{root}" "{root}-gone"\nexec {findwalk.FIND} "$@"\n')
    unplugging_find.chmod(0o755)
    monkeypatch.setattr(findwalk, "FIND", str(unplugging_find))
    [t] = watcher.tick(full=False)
    monkeypatch.undo()
    assert t.stale and "missing" in str(t.stale_reason)
    [t] = watcher.tick(full=True)  # and the full scan that follows retires nothing either
    assert t.stale and t.counts["retired"] == 0
    assert len(live(ctx)) == 6


def test_deleted_file_is_retired_on_full_scan_and_restored_when_back(
    client: TestClient, auth: dict[str, str], ctx: AppContext, tmp_path: Path
) -> None:
    root = tmp_path / "lib"
    watcher = indexed_tree(client, auth, ctx, root)
    victim = root / "d0" / "p0.jpg"
    saved = victim.read_bytes()
    stat = victim.stat()
    victim.unlink()
    watcher.tick(full=False)
    assert "d0/p0.jpg" in live(ctx), "a quick tick must not retire"
    [t] = watcher.tick(full=True)
    assert t.counts["retired"] == 1 and "d0/p0.jpg" not in live(ctx)
    listed = client.get("/media", headers=auth, params={"limit": 100}).json()["items"]
    assert "d0/p0.jpg" not in {i["path"] for i in listed}
    old = rows(ctx)["d0/p0.jpg"]
    victim.write_bytes(saved)
    os.utime(victim, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    watcher.tick(full=False)
    back = rows(ctx)["d0/p0.jpg"]
    assert back["retired_at"] is None and back["id"] == old["id"]
    assert back["content_hash"] == old["content_hash"]


def test_replaced_bytes_get_a_new_hash_and_new_thumbnails(
    client: TestClient, auth: dict[str, str], ctx: AppContext, tmp_path: Path
) -> None:
    root = tmp_path / "lib"
    watcher = indexed_tree(client, auth, ctx, root)
    old = rows(ctx)["x.png"]
    make_png(root / "x.png", size=(40, 30))
    os.utime(root / "x.png", (1, 1))
    [t] = watcher.tick(full=False)
    assert t.counts["changed"] == 1
    new = rows(ctx)["x.png"]
    assert new["id"] == old["id"] and new["content_hash"] != old["content_hash"]
    assert new["content_hash"] == hashlib_blake3(root / "x.png")
    assert thumb_path(ctx.settings.thumbs_dir, str(new["content_hash"]), "small").is_file()


def hashlib_blake3(path: Path) -> str:
    from blake3 import blake3

    return blake3(path.read_bytes()).hexdigest()


def tree_digest(root: Path) -> dict[str, tuple[str, int]]:
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            st = path.lstat()
            out[str(path.relative_to(root))] = (
                hashlib.sha256(path.read_bytes()).hexdigest(),
                st.st_mtime_ns,
            )
    return out


def test_library_files_are_byte_identical_after_full_index(
    client: TestClient, auth: dict[str, str], ctx: AppContext, tmp_path: Path
) -> None:
    root = tmp_path / "lib"
    make_tree(root)
    (root / "notes.txt").write_text("hello")
    before = tree_digest(root)
    dir_before = sorted(os.listdir(root))
    add_library(client, auth, root)
    Watcher(ctx).tick(full=True)
    for item in client.get("/media", headers=auth).json()["items"]:
        client.get(f"/media/{item['id']}/original", headers=auth)
        client.get(f"/media/{item['id']}/thumbnail", headers=auth)
    assert tree_digest(root) == before
    assert sorted(os.listdir(root)) == dir_before


def test_data_dir_inside_a_library_is_never_indexed(
    client: TestClient, auth: dict[str, str], ctx: AppContext, tmp_path: Path
) -> None:
    # The library root contains the server's data folder (a user serving their home dir).
    root = ctx.settings.data_dir.parent
    make_jpeg(root / "photo.jpg", size=(32, 32))
    insert_library(ctx.engine, "home", root)
    Watcher(ctx).tick(full=True)
    with ctx.engine.connect() as conn:
        paths = {r.rel_path for r in conn.execute(select(media.c.rel_path))}
    assert "photo.jpg" in paths
    assert not any(p.startswith(ctx.settings.data_dir.name + "/") for p in paths), paths
