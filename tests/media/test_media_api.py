"""Photo routes over HTTP on both databases: listing, cursors, filters, original, thumbnails."""

from __future__ import annotations

import base64
import json
import os
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from imageserver.inputs import MAX_ID
from imageserver.scan.watcher import Watcher
from imageserver.work.context import AppContext
from tests.fixtures import make_jpeg, make_png
from tests.scan.test_watcher import add_library

DAY = 86_400


def set_mtime(path: Path, when: float) -> None:
    os.utime(path, (when, when))


@pytest.fixture
def library(client: TestClient, auth: dict[str, str], ctx: AppContext, tmp_path: Path) -> Path:
    """12 JPEGs a day apart in two folders, a PNG, indexed by one full tick."""
    root = tmp_path / "lib"
    base = 1_600_000_000
    for i in range(12):
        folder = "2020/a" if i % 2 else "2020/b"
        path = make_jpeg(root / folder / f"img{i:02d}.jpg", color=(i * 10, 0, 0))
        set_mtime(path, base + i * DAY)
    set_mtime(make_png(root / "other" / "pic.png"), base + 100 * DAY)
    add_library(client, auth, root)
    Watcher(ctx).tick(full=True)
    return root


def all_pages(client: TestClient, auth: dict[str, str], params: dict[str, object]) -> list[dict]:
    items: list[dict] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        page = client.get("/media", headers=auth, params=query)
        assert page.status_code == 200, page.text
        body = page.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


def test_listing_is_newest_first_and_cursor_pages_cover_everything(
    client: TestClient, auth: dict[str, str], library: Path
) -> None:
    items = all_pages(client, auth, {"limit": 5})
    assert len(items) == 13
    assert len({i["id"] for i in items}) == 13
    taken = [i["taken_at"] for i in items]
    assert taken == sorted(taken, reverse=True)
    assert items[0]["path"] == "other/pic.png"


def test_cursor_stays_correct_while_rows_are_added(
    client: TestClient, auth: dict[str, str], ctx: AppContext, library: Path
) -> None:
    first = client.get("/media", headers=auth, params={"limit": 4}).json()
    seen = [i["path"] for i in first["items"]]
    # New files arrive: some newer than everything, some in the middle of the listing.
    set_mtime(make_jpeg(library / "new" / "newest.jpg"), 1_700_000_000)
    set_mtime(make_jpeg(library / "new" / "middle.jpg", color=(1, 1, 1)), 1_600_000_000 + 5.5 * DAY)
    Watcher(ctx).tick(full=False)
    rest = all_pages(client, auth, {"limit": 4, "cursor": first["next_cursor"]})
    paths = seen + [i["path"] for i in rest]
    assert len(paths) == len(set(paths)), "an item was shown twice"
    assert "new/middle.jpg" in paths  # older than the first page: it must still appear
    assert "new/newest.jpg" not in paths  # newer than the first page: belongs before it
    assert len(paths) == 14


def test_filters(client: TestClient, auth: dict[str, str], library: Path) -> None:
    def paths(**params: object) -> set[str]:
        return {i["path"] for i in all_pages(client, auth, {"limit": 100, **params})}

    assert len(paths(folder="2020")) == 12
    assert paths(folder="2020/a") == {f"2020/a/img{i:02d}.jpg" for i in range(1, 12, 2)}
    assert paths(folder="2020", recursive=False) == set()
    assert paths(kind="video") == set()
    assert len(paths(kind="photo")) == 13
    from datetime import datetime

    day0 = datetime.fromtimestamp(1_600_000_000).date()
    day2 = datetime.fromtimestamp(1_600_000_000 + 2 * DAY).date()
    assert len(paths(**{"from": day0.isoformat(), "to": day2.isoformat()})) == 3
    bad = client.get("/media", headers=auth, params={"kind": "sound"})
    assert bad.status_code == 422
    assert client.get("/media", headers=auth, params={"cursor": "garbage!"}).status_code == 422
    assert client.get("/media", headers=auth, params={"folder": "../x"}).status_code == 422


def cursor_of(payload: object) -> str:
    """A cursor in the server's encoding (URL-safe base64 of JSON, unpadded)."""
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def test_bad_cursors_are_422_never_500(client: TestClient, auth: dict[str, str]) -> None:
    when = "2020-01-01T00:00:00"
    bad_ids: list[object] = [MAX_ID + 1, 2**63, 2**70, 0, -1, -(2**63), 1.5, True, "7", None]
    cursors = [
        *(cursor_of({"t": when, "i": i}) for i in bad_ids),
        "garbage!",
        base64.urlsafe_b64encode(b'{"t": "2020-01-01", "i": Infinity}').decode(),
        cursor_of({"t": "2020-13-45T00:00:00", "i": 1}),
        cursor_of({"t": when + "+02:00", "i": 1}),
        cursor_of({"t": 20200101, "i": 1}),
        cursor_of({"i": 1}),
        cursor_of([when, 1]),
        cursor_of("x"),
        "%00%ff",
    ]
    for cursor in cursors:
        response = client.get("/media", headers=auth, params={"cursor": cursor})
        assert response.status_code == 422, (cursor, response.text)
        assert response.json()["error"]["code"] == "invalid"
    last = cursor_of({"t": when, "i": MAX_ID})
    edge = client.get("/media", headers=auth, params={"cursor": last})
    assert edge.status_code == 200 and edge.json() == {"items": [], "next_cursor": None}


def test_like_wildcards_in_folder_and_camera_filters_match_only_themselves(
    client: TestClient, auth: dict[str, str], ctx: AppContext, tmp_path: Path
) -> None:
    root = tmp_path / "wild"
    # Each second file is what the first's name would match as an unescaped LIKE pattern.
    make_jpeg(root / "50%_off" / "p.jpg", size=(32, 32), color=(10, 0, 0))
    make_jpeg(root / "50XYoff" / "q.jpg", size=(32, 32), color=(20, 0, 0))
    make_jpeg(root / "a_b" / "r.jpg", size=(32, 32), color=(30, 0, 0), make="Acme_1")
    make_jpeg(root / "aXb" / "s.jpg", size=(32, 32), color=(40, 0, 0), make="AcmeX1")
    make_jpeg(root / "t.jpg", size=(32, 32), color=(50, 0, 0), make="Ac/me")
    library = add_library(client, auth, root)
    Watcher(ctx).tick(full=True)

    def paths(**params: object) -> set[str]:
        return {i["path"] for i in all_pages(client, auth, {"library": library, **params})}

    assert paths(folder="50%_off") == {"50%_off/p.jpg"}
    assert paths(folder="a_b") == {"a_b/r.jpg"}
    assert paths(folder="aXb") == {"aXb/s.jpg"}
    assert paths(camera="acme_1") == {"a_b/r.jpg"}
    assert paths(camera="%") == set() and paths(camera="_") == {"a_b/r.jpg"}
    assert paths(camera="c/m") == {"t.jpg"}  # the escape character itself is literal too
    for parent, count in (("50%_off", 1), ("a_b", 1), ("aXb", 1)):
        body = client.get("/folders", headers=auth, params={"library": library, "parent": parent})
        assert body.status_code == 200 and body.json()["count"] == count, (parent, body.text)


def test_item_lookup_original_with_range(
    client: TestClient, auth: dict[str, str], library: Path
) -> None:
    found = client.get(
        "/media/by-path", headers=auth, params={"library": 1, "path": "2020/b/img00.jpg"}
    )
    assert found.status_code == 200, found.text
    item = found.json()
    assert (
        item["mime"] == "image/jpeg"
        and item["size"] == (library / "2020/b/img00.jpg").stat().st_size
    )
    assert client.get(f"/media/{item['id']}", headers=auth).json()["path"] == "2020/b/img00.jpg"
    raw = (library / "2020/b/img00.jpg").read_bytes()
    full = client.get(f"/media/{item['id']}/original", headers=auth)
    assert full.status_code == 200 and full.content == raw
    assert full.headers["content-type"] == "image/jpeg"
    part = client.get(f"/media/{item['id']}/original", headers={**auth, "Range": "bytes=10-29"})
    assert part.status_code == 206
    assert part.content == raw[10:30]
    assert part.headers["content-range"] == f"bytes 10-29/{len(raw)}"
    tail = client.get(f"/media/{item['id']}/original", headers={**auth, "Range": "bytes=-5"})
    assert tail.content == raw[-5:]
    beyond = client.get(
        f"/media/{item['id']}/original", headers={**auth, "Range": f"bytes={len(raw) + 10}-"}
    )
    assert beyond.status_code == 416
    assert client.get("/media/99999", headers=auth).status_code == 404


def test_thumbnail_etag_and_caching(
    client: TestClient, auth: dict[str, str], library: Path
) -> None:
    item = client.get("/media", headers=auth, params={"limit": 1}).json()["items"][0]
    small = client.get(f"/media/{item['id']}/thumbnail", headers=auth)
    assert small.status_code == 200
    assert small.headers["content-type"] == "image/webp"
    assert "immutable" in small.headers["cache-control"]
    etag = small.headers["etag"]
    assert item["content_hash"] in etag
    again = client.get(f"/media/{item['id']}/thumbnail", headers={**auth, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    large = client.get(f"/media/{item['id']}/thumbnail", headers=auth, params={"size": "large"})
    assert large.status_code == 200 and len(large.content) > len(small.content)
    assert (
        client.get(
            f"/media/{item['id']}/thumbnail", headers=auth, params={"size": "huge"}
        ).status_code
        == 422
    )


def test_timeline_and_duplicates(
    client: TestClient, auth: dict[str, str], ctx: AppContext, library: Path
) -> None:
    months = client.get("/timeline", headers=auth).json()
    assert sum(b["count"] for b in months) == 13
    assert all(len(b["bucket"]) == 7 for b in months)
    days = client.get("/timeline", headers=auth, params={"granularity": "day"}).json()
    assert sum(b["count"] for b in days) == 13 and len(days) == 13
    shutil.copy(library / "2020/a/img01.jpg", library / "other" / "copy of img01.jpg")
    Watcher(ctx).tick(full=False)
    body = client.get("/duplicates", headers=auth).json()
    assert body["total_groups"] == 1
    [group] = body["groups"]
    assert sorted(i["path"] for i in group["items"]) == [
        "2020/a/img01.jpg",
        "other/copy of img01.jpg",
    ]


def test_disabled_library_leaves_the_listing(
    client: TestClient, auth: dict[str, str], library: Path
) -> None:
    assert client.get("/media", headers=auth).json()["items"]
    client.patch("/libraries/1", headers=auth, json={"enabled": False})
    assert client.get("/media", headers=auth).json()["items"] == []


@pytest.mark.parametrize(
    "path",
    [
        "../etc/passwd",
        "2020/../../x",
        "/etc/passwd",
        "a\x00b",
        "a\\..\\b",
        "．．/x",
        "",
        "x" * 5000,
    ],
)
def test_hostile_paths_are_rejected(
    client: TestClient, auth: dict[str, str], library: Path, path: str
) -> None:
    response = client.get("/media/by-path", headers=auth, params={"library": 1, "path": path})
    assert response.status_code == 422, (path, response.text)


def test_symlink_swapped_in_after_indexing_is_not_followed(
    client: TestClient, auth: dict[str, str], library: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    target = library / "2020/b/img00.jpg"
    item = client.get(
        "/media/by-path", headers=auth, params={"library": 1, "path": "2020/b/img00.jpg"}
    ).json()
    target.unlink()
    target.symlink_to(secret)
    response = client.get(f"/media/{item['id']}/original", headers=auth)
    assert response.status_code == 422
    assert b"TOP-SECRET-CONTENT" not in response.content


def test_unreadable_files_leave_the_timeline_for_their_own_view(
    client: TestClient, auth: dict[str, str], ctx: AppContext, library: Path
) -> None:
    broken = library / "other" / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(2048))  # a JPEG head, no picture
    set_mtime(broken, 1_800_000_000)  # copied last: it would lead the timeline
    Watcher(ctx).tick(full=False)
    detail = client.get("/media", headers=auth, params={"folder": "other"}).json()["items"]
    shown = {i["name"]: i for i in detail}
    assert set(shown) == {"pic.png", "broken.jpg"}  # a folder lists everything in it
    # the grid marks a date that is the file's time: the list says where each date came from
    assert shown["broken.jpg"]["taken_at_source"] == "file_mtime"
    one = client.get(f"/media/{shown['broken.jpg']['id']}", headers=auth).json()
    assert one["thumbnail_status"] == "failed", one
    assert one["taken_at_source"] == "file_mtime"

    timeline = all_pages(client, auth, {"limit": 50})
    assert len(timeline) == 13 and "broken.jpg" not in {i["name"] for i in timeline}
    assert sum(b["count"] for b in client.get("/timeline", headers=auth).json()) == 13
    unreadable = all_pages(client, auth, {"unreadable": "true"})
    assert [i["name"] for i in unreadable] == ["broken.jpg"]
    counts = client.get("/timeline", headers=auth, params={"unreadable": "true"}).json()
    assert sum(b["count"] for b in counts) == 1
    readable = all_pages(client, auth, {"unreadable": "false", "folder": "other"})
    assert [i["name"] for i in readable] == ["pic.png"]
