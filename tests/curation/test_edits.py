"""The household's edits through the HTTP routes, on both databases: precedence over the
sidecar (source "edit"), clearing, batches, access scope, read-only keys, history and
undo, the item moving in the grid, the timeline and the map, edits surviving rescans,
the XMP export read back by exiftool, and the library root left byte-identical.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from imageserver.curation.edits_schemas import normalize_tags
from imageserver.curation.export import Item, tag_args, target
from imageserver.db.tables import media_edit_history, media_edits
from imageserver.scan.watcher import Watcher
from imageserver.work.context import AppContext
from tests.conftest import add_member
from tests.curation.test_sidecars import curation, digest_tree, exiftool, items
from tests.fixtures import make_jpeg
from tests.scan.test_watcher import add_library

PARIS = (48.858, 2.294)


def build(root: Path) -> None:
    """a.jpg: a sidecar with rating, title, tags, a date with offset and GPS; b.jpg and
    c.jpg: EXIF dates only (b the newest, c the oldest)."""
    make_jpeg(root / "a.jpg", size=(40, 30), color=(200, 0, 0), taken=datetime(2020, 6, 1, 12))
    exiftool(
        "-o", str(root / "a.jpg.xmp"),
        "-XMP:Rating=4", "-XMP:Title=Eiffel", "-XMP:Subject=cat",
        "-XMP-lr:HierarchicalSubject=Places|France|Paris",
        "-XMP-exif:GPSLatitude=48.858", "-XMP-exif:GPSLongitude=2.294",
        str(root / "a.jpg"),
    )  # fmt: skip
    make_jpeg(root / "b.jpg", size=(40, 30), color=(0, 200, 0), taken=datetime(2021, 3, 1, 9))
    make_jpeg(root / "c.jpg", size=(40, 30), color=(0, 0, 200), taken=datetime(2019, 1, 5, 8))


@pytest.fixture
def lib(client: TestClient, auth: dict[str, str], ctx: AppContext, tmp_path: Path) -> Any:
    root = tmp_path / "lib"
    build(root)
    before = digest_tree(root)
    library_id = add_library(client, auth, root)
    watcher = Watcher(ctx)
    watcher.tick(full=True)
    ids = {p: i["id"] for p, i in items(client, auth).items()}
    return watcher, root, library_id, before, ids


def patch(client: TestClient, headers: dict[str, str], media_id: int, **body: Any) -> Any:
    return client.patch(f"/media/{media_id}", headers=headers, json=body)


def history(client: TestClient, headers: dict[str, str], media_id: int) -> list[dict[str, Any]]:
    r = client.get(f"/media/{media_id}/edits", headers=headers)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def order(client: TestClient, auth: dict[str, str]) -> list[str]:
    return list(items(client, auth))  # newest first (taken_at_utc, id)


def buckets(client: TestClient, auth: dict[str, str]) -> dict[str, int]:
    r = client.get("/timeline", headers=auth, params={"granularity": "month"})
    assert r.status_code == 200, r.text
    return {b["bucket"]: b["count"] for b in r.json()}


def test_edits_win_over_the_sidecar_and_clearing_gives_it_back(
    lib: Any, client: TestClient, auth: dict[str, str]
) -> None:
    _watcher, root, _library_id, before, ids = lib
    a = ids["a.jpg"]
    r = patch(client, auth, a, title="Tower", rating=2, description="At\nnight",
              tags=["Trips / Paris", "A|B", "Trips/Paris"])  # fmt: skip
    assert r.status_code == 200, r.text
    c = r.json()["curation"]
    assert (c["title"], c["rating"], c["description"]) == ("Tower", 2, "At\nnight")
    assert sorted(c["tags"]) == ["A/B", "Trips/Paris"]
    assert c["sources"]["title"] == c["sources"]["tags"] == c["sources"]["rating"] == "edit"
    tree = {n["path"] for n in client.get("/tags", headers=auth).json()["tags"]}
    assert {"A", "Trips"} <= tree and "Places" not in tree  # tags are taken whole
    assert list(items(client, auth, tag="Trips/Paris")) == ["a.jpg"]
    assert items(client, auth, tag="Places") == {}

    # refused whole, nothing changed
    for bad in (
        {"colour": "red"},
        {"rating": 6},
        {"rating": True},
        {"rating": "3"},
        {"location": {"latitude": 91, "longitude": 0}},
        {"location": {"latitude": 10}},
        {"taken_at": {"local": "2019-07-14T10:20:30+02:00"}},
        {"taken_at": {"local": "2019-02-30T10:20:30"}},
        {"title": "ok", "rating": -1},
        {"tags": ["bad\x00tag"]},
        {},
    ):
        assert patch(client, auth, a, **bad).status_code == 422, bad
    assert len(history(client, auth, a)) == 1
    assert patch(client, auth, 799999, title="x").status_code == 404

    # null clears the edit (the sidecar's value shows again); absent fields are untouched
    c = patch(client, auth, a, title=None, tags=None).json()["curation"]
    assert (c["title"], c["sources"]["title"]) == ("Eiffel", "sidecar:a.jpg.xmp")
    assert sorted(c["tags"]) == ["Places/France/Paris", "cat"]
    assert (c["rating"], c["sources"]["rating"]) == (2, "edit")
    # an empty list states "no tags": it wins over the sidecar's
    c = patch(client, auth, a, tags=[]).json()["curation"]
    assert c["tags"] == [] and c["sources"]["tags"] == "edit"
    assert items(client, auth, tag="Places") == {}
    assert digest_tree(root) == before  # editing wrote nothing under the root


def test_date_and_place_edits_move_the_item_and_survive_rescans(
    lib: Any, client: TestClient, auth: dict[str, str], ctx: AppContext
) -> None:
    watcher, root, _library_id, before, ids = lib
    assert order(client, auth) == ["b.jpg", "a.jpg", "c.jpg"]
    months = buckets(client, auth)
    assert months == {"2021-03": 1, "2020-06": 1, "2019-01": 1}
    c = ids["c.jpg"]
    r = patch(client, auth, c, taken_at={"local": "2022-08-01T23:30:00", "offset_min": -300},
              location={"latitude": -33.45, "longitude": -70.66})  # fmt: skip
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["taken_at"] == "2022-08-01T23:30:00" and got["taken_at_offset_min"] == -300
    assert (got["gps"]["latitude"], got["gps"]["longitude"]) == (-33.45, -70.66)
    assert got["curation"]["sources"]["taken_at"] == got["curation"]["sources"]["gps"] == "edit"
    assert order(client, auth) == ["c.jpg", "b.jpg", "a.jpg"]
    assert buckets(client, auth) == {"2022-08": 1, "2021-03": 1, "2020-06": 1}
    gps = items(client, auth, has_gps=True)
    assert set(gps) == {"c.jpg"}  # the map reads the row's fix (a's GPS is its sidecar's)
    markers = client.get("/map/markers", headers=auth, params={"bbox": "-80,-40,-60,-30"})
    assert markers.status_code == 200 and markers.json()["clusters"][0]["count"] == 1

    # a full rescan, then the file read again (its bytes changed): the edit stays on top
    watcher.tick(full=True)
    assert order(client, auth)[0] == "c.jpg"
    make_jpeg(root / "c.jpg", size=(40, 30), color=(0, 0, 201), taken=datetime(2018, 2, 2, 8))
    before = digest_tree(root)
    watcher.tick(full=True)
    detail = client.get(f"/media/{c}", headers=auth).json()
    assert detail["taken_at"] == "2022-08-01T23:30:00" and detail["gps"]["latitude"] == -33.45
    assert order(client, auth)[0] == "c.jpg"

    # cleared: back to the file's values as they are now (read by that rescan)
    r = patch(client, auth, c, taken_at=None, location=None)
    assert r.status_code == 200, r.text
    assert r.json()["taken_at"] == "2018-02-02T08:00:00" and r.json()["gps"] is None
    assert "taken_at" not in r.json()["curation"]["sources"]
    assert order(client, auth) == ["b.jpg", "a.jpg", "c.jpg"]
    assert buckets(client, auth) == {"2021-03": 1, "2020-06": 1, "2018-02": 1}
    assert items(client, auth, has_gps=True) == {}
    with ctx.engine.connect() as conn:  # everything cleared: no overlay row is left
        assert conn.execute(select(func.count()).select_from(media_edits)).scalar_one() == 0
    assert digest_tree(root) == before


def test_batches_scope_and_read_only_keys(
    lib: Any, client: TestClient, auth: dict[str, str], tmp_path: Path
) -> None:
    watcher, _root, _library_id, _before, ids = lib
    other = tmp_path / "other"
    make_jpeg(other / "o.jpg", size=(40, 30), color=(9, 99, 9))
    other_id = add_library(client, auth, other)
    watcher.tick(full=True)
    secret = items(client, auth, library=other_id)["o.jpg"]["id"]
    bob = add_member(client, auth)
    bob_id = client.get("/auth/me", headers=bob).json()["id"]
    assert client.put(f"/libraries/{other_id}/members/{bob_id}", headers=auth).status_code == 200
    mine = secret  # bob sees only the other library
    a, b = ids["a.jpg"], ids["b.jpg"]

    # an id outside the caller's scope is the 404 of a missing one, for the whole batch
    for target_id in (a, 799999):
        r = client.patch("/media", headers=bob, json={"ids": [mine, target_id], "rating": 1})
        assert r.status_code == 404, r.text
    hidden = patch(client, bob, a, rating=1)
    missing = patch(client, bob, 799999, rating=1)
    assert (hidden.status_code, hidden.json()) == (missing.status_code, missing.json())
    assert client.get(f"/media/{a}/edits", headers=bob).status_code == 404
    assert client.post(f"/media/{a}/edits/undo", headers=bob).status_code == 404
    assert history(client, auth, mine) == []  # nothing of the refused batch was written
    assert patch(client, bob, mine, rating=5).status_code == 200  # shared: the admin sees it
    assert curation(client, auth, mine)["rating"] == 5

    # batch semantics: 1..1000 ids, changed counts only items that changed
    assert client.patch("/media", headers=auth, json={"ids": [], "rating": 1}).status_code == 422
    many = list(range(1, 1002))
    assert client.patch("/media", headers=auth, json={"ids": many, "rating": 1}).status_code == 422
    body = {"ids": [a, b, mine], "rating": 3, "tags": ["Family/2021"]}
    r = client.patch("/media", headers=auth, json=body)
    assert r.status_code == 200 and r.json() == {"changed": 3}
    assert client.patch("/media", headers=auth, json=body).json() == {"changed": 0}
    assert set(items(client, auth, tag="Family")) == {"a.jpg", "b.jpg", "o.jpg"}
    assert list(items(client, bob, tag="Family")) == ["o.jpg"]
    assert client.patch("/media", headers=auth, json={"ids": [a], "x": 1}).status_code == 422

    # a read-only key reads but never writes
    key = client.post("/auth/api-keys", headers=auth, json={"name": "ro", "read_only": True})
    assert key.status_code == 201, key.text
    ro = {"X-API-Key": key.json()["key"]}
    assert client.get(f"/media/{a}/edits", headers=ro).status_code == 200
    for response in (
        patch(client, ro, a, rating=0),
        client.patch("/media", headers=ro, json={"ids": [a], "rating": 0}),
        client.post(f"/media/{a}/edits/undo", headers=ro),
        client.post("/export/xmp", headers=ro, json={}),
    ):
        assert response.status_code == 403, response.text
    assert curation(client, auth, a)["rating"] == 3
    assert client.post("/export/xmp", headers=bob, json={}).status_code == 403


def test_history_undo_chain_and_no_dangling_rows(
    lib: Any, client: TestClient, auth: dict[str, str], ctx: AppContext
) -> None:
    _watcher, _root, library_id, _before, ids = lib
    a = ids["a.jpg"]
    bob = add_member(client, auth)
    bob_id = client.get("/auth/me", headers=bob).json()["id"]
    assert client.put(f"/libraries/{library_id}/members/{bob_id}", headers=auth).status_code == 200
    assert patch(client, auth, a, title="One").status_code == 200
    assert patch(client, bob, a, title="Two", rating=5).status_code == 200
    assert patch(client, auth, a, tags=["x"]).status_code == 200
    h = history(client, auth, a)
    assert [e["after"] for e in h] == [{"tags": ["x"]}, {"title": "Two", "rating": 5},
                                       {"title": "One"}]  # fmt: skip
    assert h[1]["before"] == {"title": "One", "rating": None}
    assert [e["user"]["username"] for e in h] == ["admin", "bob", "admin"]

    undo = client.post(f"/media/{a}/edits/undo", headers=auth)
    assert undo.status_code == 200 and undo.json()["after"] == {"tags": ["x"]}
    assert "Places/France/Paris" in curation(client, auth, a)["tags"]
    client.post(f"/media/{a}/edits/undo", headers=auth)
    c = curation(client, auth, a)
    assert (c["title"], c["rating"], c["sources"]["rating"]) == ("One", 4, "sidecar:a.jpg.xmp")
    # a new change after an undo, then undo walks back past the undone entries
    assert patch(client, auth, a, description="new").status_code == 200
    client.post(f"/media/{a}/edits/undo", headers=auth)
    client.post(f"/media/{a}/edits/undo", headers=auth)
    c = curation(client, auth, a)
    assert (c["title"], c["description"]) == ("Eiffel", None)
    nothing = client.post(f"/media/{a}/edits/undo", headers=auth)
    assert nothing.status_code == 409 and nothing.json()["error"]["code"] == "conflict"
    assert all(e["undone_at"] is not None for e in history(client, auth, a))

    # who set a field is forgotten with the user, the edit stays (the household's)
    assert patch(client, bob, a, rating=1).status_code == 200
    assert client.delete(f"/users/{bob_id}", headers=auth).status_code == 204
    with ctx.engine.connect() as conn:
        row = conn.execute(select(media_edits).where(media_edits.c.media_id == a)).mappings().one()
        assert (row["rating"], row["rating_by"]) == (1, None)
    assert history(client, auth, a)[0]["user"] is None
    assert curation(client, auth, a)["rating"] == 1
    # the media rows gone with their library: no edit or history row is left
    assert client.delete(f"/libraries/{library_id}", headers=auth).status_code == 204
    with ctx.engine.connect() as conn:
        for table in (media_edits, media_edit_history):
            assert conn.execute(select(func.count()).select_from(table)).scalar_one() == 0


def read_back(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["exiftool", "-json", "-n", "-G1", "-XMP:all", str(path)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    record: dict[str, Any] = json.loads(out.stdout)[0]
    return record


def test_export_writes_xmp_that_exiftool_reads_back(
    lib: Any, client: TestClient, auth: dict[str, str], ctx: AppContext
) -> None:
    _watcher, root, library_id, before, ids = lib
    a, b = ids["a.jpg"], ids["b.jpg"]
    edit = {
        "title": 'Caf\u00e9 & "friends"', "description": "two\nlines", "rating": 5,
        "tags": ["Trips/Chile/Santiago", "dog"],
        "taken_at": {"local": "2022-08-01T23:30:00", "offset_min": -240},
        "location": {"latitude": -33.45, "longitude": -70.66},
    }  # fmt: skip
    assert patch(client, auth, a, **edit).status_code == 200
    r = client.post("/export/xmp", headers=auth, json={"library_id": library_id})
    assert r.status_code == 200, r.text
    assert r.json() == {"libraries": 1, "written": 1, "failed": 0}  # b, c: nothing curated
    base = ctx.settings.export_dir / "xmp" / str(library_id)
    assert sorted(p.name for p in base.rglob("*")) == ["a.jpg.xmp"]
    x = read_back(base / "a.jpg.xmp")
    assert x["XMP-dc:Title"] == 'Caf\u00e9 & "friends"' and x["XMP-dc:Description"] == "two\nlines"
    assert x["XMP-xmp:Rating"] == 5
    assert x["XMP-dc:Subject"] == ["Trips", "Chile", "Santiago", "dog"]
    assert x["XMP-lr:HierarchicalSubject"] == ["Trips|Chile|Santiago", "dog"]
    assert x["XMP-exif:DateTimeOriginal"] == "2022:08:01 23:30:00-04:00"
    assert (x["XMP-exif:GPSLatitude"], x["XMP-exif:GPSLongitude"]) == (-33.45, -70.66)

    # `since` picks what changed after it; a cleared field leaves the export too
    later = datetime.fromtimestamp(ctx.clock() + 1, UTC).isoformat()
    again = client.post("/export/xmp", headers=auth, json={"since": later})
    assert again.status_code == 200 and again.json()["written"] == 0
    assert patch(client, auth, b, rating=1).status_code == 200
    assert patch(client, auth, a, title=None, tags=None, location=None).status_code == 200
    r = client.post("/export/xmp", headers=auth, json={})
    assert r.json() == {"libraries": 1, "written": 2, "failed": 0}
    x = read_back(base / "a.jpg.xmp")
    assert x["XMP-dc:Title"] == "Eiffel"  # the sidecar's again: the effective curation
    assert x["XMP-lr:HierarchicalSubject"] == ["Places|France|Paris", "cat"]
    assert (x["XMP-exif:GPSLatitude"], x["XMP-exif:GPSLongitude"]) == (48.858, 2.294)
    assert read_back(base / "b.jpg.xmp")["XMP-xmp:Rating"] == 1
    assert not [p for p in os.listdir(root) if p.endswith(".xmp") and p != "a.jpg.xmp"]
    assert digest_tree(root) == before  # the export went under the data folder only


def test_units_tags_args_and_targets(tmp_path: Path) -> None:
    assert normalize_tags([" A | B ", "A/B", "x//y", "/", "C"]) == ["A/B", "x/y", "C"]
    item = Item(3, "f/a.jpg", rating=0, title="<t>\n", tags=["A/B"], offset_min=90,
                taken_at=datetime(2020, 1, 2, 3, 4, 5))  # fmt: skip
    args = tag_args(item)
    assert "-XMP-xmp:Rating=0" in args and "-XMP-dc:Title=&lt;t&gt;&#10;" in args
    assert "-XMP-exif:DateTimeOriginal=2020:01:02 03:04:05+01:30" in args
    assert target(tmp_path, item) == tmp_path / "3" / "f" / "a.jpg.xmp"
    for rel in ("../../etc/x.jpg", "/abs.jpg", "a\nb.jpg"):
        assert target(tmp_path, Item(3, rel)) is None, rel
