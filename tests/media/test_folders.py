"""GET /folders: immediate sub-folders with recursive counts that match /media?folder=."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from imageserver.scan.watcher import Watcher
from imageserver.work.context import AppContext
from tests.fixtures import make_jpeg
from tests.scan.test_watcher import add_library

FILES = [
    "top.jpg",
    "2020/a/one.jpg",
    "2020/a/two.jpg",
    "2020/b/three.jpg",
    "2020/four.jpg",
    "2021/five.jpg",
    "100%_done/six.jpg",
    "100x_done/seven.jpg",
]


def listing(client: TestClient, auth: dict[str, str], **params: object) -> dict:
    response = client.get("/folders", headers=auth, params=params)  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    body: dict = response.json()
    return body


def test_folders_list_children_with_counts(
    client: TestClient, auth: dict[str, str], ctx: AppContext, tmp_path: Path
) -> None:
    root = tmp_path / "lib"
    for i, rel in enumerate(FILES):
        make_jpeg(root / rel, size=(64, 48), color=(i * 20, 0, 0))
    library = add_library(client, auth, root)
    Watcher(ctx).tick(full=True)

    top = listing(client, auth, library=library)
    assert top["parent"] == "" and top["count"] == 8 and top["direct"] == 1
    assert [(f["name"], f["path"], f["count"]) for f in top["folders"]] == [
        ("100%_done", "100%_done", 1),
        ("100x_done", "100x_done", 1),
        ("2020", "2020", 4),
        ("2021", "2021", 1),
    ]
    sub = listing(client, auth, library=library, parent="2020/")
    assert sub["parent"] == "2020" and sub["count"] == 4 and sub["direct"] == 1
    assert [(f["path"], f["count"]) for f in sub["folders"]] == [("2020/a", 2), ("2020/b", 1)]
    # A LIKE wildcard in a folder name matches only itself.
    assert listing(client, auth, library=library, parent="100%_done")["count"] == 1
    # The counts agree with the grid's listing of the same folder.
    media = client.get("/media", headers=auth, params={"library": library, "folder": "2020"})
    assert len(media.json()["items"]) == sub["count"]
    assert listing(client, auth, library=library, parent="nothing/here")["count"] == 0


def test_folders_reject_bad_input(
    client: TestClient, auth: dict[str, str], ctx: AppContext, tmp_path: Path
) -> None:
    make_jpeg(tmp_path / "lib" / "x.jpg")
    library = add_library(client, auth, tmp_path / "lib")
    assert client.get("/folders", headers=auth, params={"library": 999}).status_code == 404
    assert client.get("/folders", headers=auth, params={"library": 2**40}).status_code == 422
    bad = client.get("/folders", headers=auth, params={"library": library, "parent": "../etc"})
    assert bad.status_code == 422
    assert client.get("/folders", params={"library": library}).status_code == 401
