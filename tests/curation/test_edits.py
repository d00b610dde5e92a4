"""The household's edits through the HTTP routes, on both databases: precedence over the
sidecar (source "edit"), clearing, batches, access scope, read-only keys, history and
undo, the item moving in the grid, the timeline and the map, edits surviving rescans,
the XMP export read back by exiftool, and the library root left byte-identical.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from imageserver.clock import FakeClock
from imageserver.curation.edits_schemas import normalize_tags
from imageserver.curation.export import Item, tag_args, target
from imageserver.db.tables import media_edit_history, media_edits
from imageserver.scan.watcher import Watcher
from imageserver.server.app import create_app
from imageserver.server.background import close_services
from imageserver.server.bootstrap import bootstrap
from imageserver.work.context import AppContext
from tests.conftest import add_member, login, make_settings, world_database_url
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


@dataclass
class World:
    ctx: AppContext
    client: TestClient
    auth: dict[str, str]
    watcher: Watcher
    tmp: Path

    def library(self, name: str) -> tuple[Path, int, dict[str, str], dict[str, int]]:
        """A new library of `build`'s files, indexed: root, id, digests, ids by path."""
        root = self.tmp / name
        build(root)
        library_id = add_library(self.client, self.auth, root)
        self.watcher.tick(full=True)
        found = items(self.client, self.auth, library=library_id)
        return root, library_id, digest_tree(root), {p: i["id"] for p, i in found.items()}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
) -> Iterator[World]:
    """One server per database for the module; each test indexes a library of its own."""
    tmp = tmp_path_factory.mktemp(f"edits-{request.param}")
    url = world_database_url(request, tmp, sqlite_template)
    ctx = bootstrap(make_settings(tmp, url), clock=FakeClock()).ctx
    try:
        with TestClient(create_app(ctx, background=False)) as client:
            auth = {"Authorization": f"Bearer {login(client)}"}
            yield World(ctx, client, auth, Watcher(ctx), tmp)
    finally:
        close_services(ctx)
        ctx.engine.dispose()


def member_of(w: World, library_id: int, name: str) -> tuple[dict[str, str], int]:
    headers = add_member(w.client, w.auth, username=name)
    user_id = int(w.client.get("/auth/me", headers=headers).json()["id"])
    granted = w.client.put(f"/libraries/{library_id}/members/{user_id}", headers=w.auth)
    assert granted.status_code == 200, granted.text
    return headers, user_id


def patch(client: TestClient, headers: dict[str, str], media_id: int, **body: Any) -> Any:
    return client.patch(f"/media/{media_id}", headers=headers, json=body)


def history(client: TestClient, headers: dict[str, str], media_id: int) -> list[dict[str, Any]]:
    r = client.get(f"/media/{media_id}/edits", headers=headers)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def order(w: World, library_id: int) -> list[str]:
    return list(items(w.client, w.auth, library=library_id))  # newest first


def buckets(w: World, library_id: int) -> dict[str, int]:
    params = {"granularity": "month", "library": library_id}
    r = w.client.get("/timeline", headers=w.auth, params=params)
    assert r.status_code == 200, r.text
    return {b["bucket"]: b["count"] for b in r.json()}


def edit_rows(w: World, ids: list[int]) -> int:
    with w.ctx.engine.connect() as conn:
        return sum(
            int(conn.execute(select(func.count()).where(t.c.media_id.in_(ids))).scalar_one())
            for t in (media_edits, media_edit_history)
        )


def test_edits_win_over_the_sidecar_and_clearing_gives_it_back(world: World) -> None:
    w, (c, auth) = world, (world.client, world.auth)
    root, library_id, before, ids = w.library("precedence")
    a = ids["a.jpg"]
    r = patch(c, auth, a, title="Tower", rating=2, description="At\nnight",
              tags=["Trips / Paris", "A|B", "Trips/Paris"])  # fmt: skip
    assert r.status_code == 200, r.text
    got = r.json()["curation"]
    assert (got["title"], got["rating"], got["description"]) == ("Tower", 2, "At\nnight")
    assert sorted(got["tags"]) == ["A/B", "Trips/Paris"]
    assert got["sources"]["title"] == got["sources"]["tags"] == got["sources"]["rating"] == "edit"
    tree = {n["path"]: n for n in c.get("/tags", headers=auth).json()["tags"]}
    assert tree["Trips"]["children"][0]["path"] == "Trips/Paris" and "A" in tree
    assert list(items(c, auth, tag="Trips/Paris", library=library_id)) == ["a.jpg"]
    assert items(c, auth, tag="Places", library=library_id) == {}  # tags are taken whole

    # refused whole, nothing changed
    for bad in (
        {"colour": "red"},
        {"rating": 6},
        {"rating": True},
        {"rating": "3"},
        {"location": {"latitude": 91, "longitude": 0}},
        {"location": {"latitude": 10}},
        {"taken_at": {"local": "2019-07-14T10:20:30+02:00"}},
        {"taken_at": {"local": "2019-07-14T10:20:30Z"}},
        {"taken_at": {"local": "2019-02-30T10:20:30"}},
        {"title": "ok", "rating": -1},
        {"tags": ["bad\x00tag"]},
        {},
    ):
        assert patch(c, auth, a, **bad).status_code == 422, bad
    assert len(history(c, auth, a)) == 1
    assert patch(c, auth, 799999, title="x").status_code == 404

    # null clears the edit (the sidecar's value shows again); absent fields are untouched
    got = patch(c, auth, a, title=None, tags=None).json()["curation"]
    assert (got["title"], got["sources"]["title"]) == ("Eiffel", "sidecar:a.jpg.xmp")
    assert sorted(got["tags"]) == ["Places/France/Paris", "cat"]
    assert (got["rating"], got["sources"]["rating"]) == (2, "edit")
    # an empty list states "no tags": it wins over the sidecar's
    got = patch(c, auth, a, tags=[]).json()["curation"]
    assert got["tags"] == [] and got["sources"]["tags"] == "edit"
    assert items(c, auth, tag="Places", library=library_id) == {}
    assert digest_tree(root) == before  # editing wrote nothing under the root


def test_date_and_place_edits_move_the_item_and_survive_rescans(world: World) -> None:
    w, (c, auth) = world, (world.client, world.auth)
    root, library_id, _before, ids = w.library("moves")
    assert order(w, library_id) == ["b.jpg", "a.jpg", "c.jpg"]
    assert buckets(w, library_id) == {"2021-03": 1, "2020-06": 1, "2019-01": 1}
    item = ids["c.jpg"]
    r = patch(c, auth, item, taken_at={"local": "2022-08-01T23:30:00", "offset_min": -300},
              location={"latitude": -33.45, "longitude": -70.66})  # fmt: skip
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["taken_at"] == "2022-08-01T23:30:00" and got["taken_at_offset_min"] == -300
    assert (got["gps"]["latitude"], got["gps"]["longitude"]) == (-33.45, -70.66)
    assert got["curation"]["sources"]["taken_at"] == got["curation"]["sources"]["gps"] == "edit"
    assert order(w, library_id) == ["c.jpg", "b.jpg", "a.jpg"]
    assert buckets(w, library_id) == {"2022-08": 1, "2021-03": 1, "2020-06": 1}
    # the map reads the row's fix: c's edited one, a's from its sidecar
    assert set(items(c, auth, has_gps=True, library=library_id)) == {"a.jpg", "c.jpg"}
    markers = c.get("/map/markers", headers=auth, params={"bbox": "-71,-34,-70,-33"})
    assert markers.status_code == 200 and markers.json()["clusters"][0]["count"] == 1

    # a full rescan, then the file read again (its bytes changed): the edit stays on top
    w.watcher.tick(full=True)
    assert order(w, library_id)[0] == "c.jpg"
    make_jpeg(root / "c.jpg", size=(40, 30), color=(0, 0, 201), taken=datetime(2018, 2, 2, 8))
    before = digest_tree(root)
    w.watcher.tick(full=True)
    detail = c.get(f"/media/{item}", headers=auth).json()
    assert detail["taken_at"] == "2022-08-01T23:30:00" and detail["gps"]["latitude"] == -33.45
    assert order(w, library_id)[0] == "c.jpg"

    # cleared: back to the file's values as they are now (read by that rescan)
    r = patch(c, auth, item, taken_at=None, location=None)
    assert r.status_code == 200, r.text
    assert r.json()["taken_at"] == "2018-02-02T08:00:00" and r.json()["gps"] is None
    assert "taken_at" not in r.json()["curation"]["sources"]
    assert order(w, library_id) == ["b.jpg", "a.jpg", "c.jpg"]
    assert buckets(w, library_id) == {"2021-03": 1, "2020-06": 1, "2018-02": 1}
    assert set(items(c, auth, has_gps=True, library=library_id)) == {"a.jpg"}
    with w.ctx.engine.connect() as conn:  # everything cleared: no overlay row is left
        query = select(func.count()).where(media_edits.c.media_id == item)
        assert conn.execute(query).scalar_one() == 0
    assert digest_tree(root) == before


def test_batches_scope_and_read_only_keys(world: World) -> None:
    w, (c, auth) = world, (world.client, world.auth)
    _root, _library_id, _before, ids = w.library("batch")
    other = w.tmp / "batch-other"
    make_jpeg(other / "o.jpg", size=(40, 30), color=(9, 99, 9))
    other_id = add_library(c, auth, other)
    w.watcher.tick(full=True)
    mine = items(c, auth, library=other_id)["o.jpg"]["id"]
    bob, _bob_id = member_of(w, other_id, "bob")  # bob sees only the other library
    a, b = ids["a.jpg"], ids["b.jpg"]

    # an id outside the caller's scope is the 404 of a missing one, for the whole batch
    for target_id in (a, 799999):
        r = c.patch("/media", headers=bob, json={"ids": [mine, target_id], "rating": 1})
        assert r.status_code == 404, r.text
    hidden, missing = patch(c, bob, a, rating=1), patch(c, bob, 799999, rating=1)
    assert (hidden.status_code, hidden.json()) == (missing.status_code, missing.json())
    assert c.get(f"/media/{a}/edits", headers=bob).status_code == 404
    assert c.post(f"/media/{a}/edits/undo", headers=bob).status_code == 404
    assert history(c, auth, mine) == []  # nothing of the refused batch was written
    assert patch(c, bob, mine, rating=5).status_code == 200  # shared: the admin sees it
    assert curation(c, auth, mine)["rating"] == 5

    # batch semantics: 1..1000 ids, `changed` counts the items that changed
    assert c.patch("/media", headers=auth, json={"ids": [], "rating": 1}).status_code == 422
    many = list(range(1, 1002))
    assert c.patch("/media", headers=auth, json={"ids": many, "rating": 1}).status_code == 422
    body = {"ids": [a, b, mine], "rating": 3, "tags": ["Family/2021"]}
    r = c.patch("/media", headers=auth, json=body)
    assert r.status_code == 200 and r.json() == {"changed": 3}
    assert c.patch("/media", headers=auth, json=body).json() == {"changed": 0}
    assert set(items(c, auth, tag="Family")) == {"a.jpg", "b.jpg", "o.jpg"}
    assert list(items(c, bob, tag="Family")) == ["o.jpg"]
    assert c.patch("/media", headers=auth, json={"ids": [a], "x": 1}).status_code == 422

    # a read-only key reads but never writes
    key = c.post("/auth/api-keys", headers=auth, json={"name": "ro", "read_only": True})
    assert key.status_code == 201, key.text
    ro = {"X-API-Key": key.json()["key"]}
    assert c.get(f"/media/{a}/edits", headers=ro).status_code == 200
    for response in (
        patch(c, ro, a, rating=0),
        c.patch("/media", headers=ro, json={"ids": [a], "rating": 0}),
        c.post(f"/media/{a}/edits/undo", headers=ro),
        c.post("/export/xmp", headers=ro, json={}),
    ):
        assert response.status_code == 403, response.text
    assert curation(c, auth, a)["rating"] == 3
    assert c.post("/export/xmp", headers=bob, json={}).status_code == 403


def read_back(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["exiftool", "-json", "-n", "-G1", "-XMP:all", str(path)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    record: dict[str, Any] = json.loads(out.stdout)[0]
    return record


def test_export_writes_xmp_that_exiftool_reads_back(world: World) -> None:
    w, (c, auth) = world, (world.client, world.auth)
    root, library_id, before, ids = w.library("export")
    a, b = ids["a.jpg"], ids["b.jpg"]
    edit = {
        "title": 'Caf\u00e9 & "friends"', "description": "two\nlines", "rating": 5,
        "tags": ["Trips/Chile/Santiago", "dog"],
        "taken_at": {"local": "2022-08-01T23:30:00", "offset_min": -240},
        "location": {"latitude": -33.45, "longitude": -70.66},
    }  # fmt: skip
    assert patch(c, auth, a, **edit).status_code == 200
    r = c.post("/export/xmp", headers=auth, json={"library_id": library_id})
    assert r.status_code == 200, r.text
    assert r.json() == {"libraries": 1, "written": 1, "unchanged": 0, "failed": 0}  # b, c: none
    base = w.ctx.settings.export_dir / "xmp" / str(library_id)
    assert sorted(p.name for p in base.rglob("*")) == ["a.jpg.xmp"]
    x = read_back(base / "a.jpg.xmp")
    assert x["XMP-dc:Title"] == 'Caf\u00e9 & "friends"' and x["XMP-dc:Description"] == "two\nlines"
    assert x["XMP-xmp:Rating"] == 5
    assert x["XMP-dc:Subject"] == ["Trips", "Chile", "Santiago", "dog"]
    assert x["XMP-lr:HierarchicalSubject"] == ["Trips|Chile|Santiago", "dog"]
    assert x["XMP-exif:DateTimeOriginal"] == "2022:08:01 23:30:00-04:00"
    assert (x["XMP-exif:GPSLatitude"], x["XMP-exif:GPSLongitude"]) == (-33.45, -70.66)

    # `since` takes what changed at or after it; a cleared field leaves the export too
    since = {
        "library_id": library_id,
        "since": datetime.fromtimestamp(w.ctx.clock() + 1, UTC).isoformat(),
    }
    assert c.post("/export/xmp", headers=auth, json=since).json()["written"] == 0
    w.ctx.clock.advance(5)  # type: ignore[attr-defined]
    assert patch(c, auth, b, rating=1).status_code == 200
    assert patch(c, auth, a, title=None, tags=None, location=None).status_code == 200
    r = c.post("/export/xmp", headers=auth, json=since)
    assert r.json() == {"libraries": 1, "written": 2, "unchanged": 0, "failed": 0}
    again = c.post("/export/xmp", headers=auth, json={"library_id": library_id})
    assert again.json() == {"libraries": 1, "written": 0, "unchanged": 2, "failed": 0}
    x = read_back(base / "a.jpg.xmp")
    assert x["XMP-dc:Title"] == "Eiffel"  # the sidecar's again: the effective curation
    assert x["XMP-lr:HierarchicalSubject"] == ["Places|France|Paris", "cat"]
    assert (x["XMP-exif:GPSLatitude"], x["XMP-exif:GPSLongitude"]) == (48.858, 2.294)
    assert read_back(base / "b.jpg.xmp")["XMP-xmp:Rating"] == 1
    assert sorted(p.name for p in root.iterdir()) == ["a.jpg", "a.jpg.xmp", "b.jpg", "c.jpg"]
    assert digest_tree(root) == before  # the export went under the data folder only


def test_history_undo_chain_and_no_dangling_rows(world: World) -> None:
    """Last in the module: it deletes a user and its library."""
    w, (c, auth) = world, (world.client, world.auth)
    _root, library_id, _before, ids = w.library("undo")
    a = ids["a.jpg"]
    carol, carol_id = member_of(w, library_id, "carol")
    assert patch(c, auth, a, title="One").status_code == 200
    assert patch(c, carol, a, title="Two", rating=5).status_code == 200
    assert patch(c, auth, a, tags=["x"]).status_code == 200
    h = history(c, auth, a)
    assert [e["after"] for e in h] == [{"tags": ["x"]}, {"title": "Two", "rating": 5},
                                       {"title": "One"}]  # fmt: skip
    assert h[1]["before"] == {"title": "One", "rating": None}
    assert [e["user"]["username"] for e in h] == ["admin", "carol", "admin"]

    undo = c.post(f"/media/{a}/edits/undo", headers=carol)
    assert undo.status_code == 200 and undo.json()["after"] == {"tags": ["x"]}
    assert "Places/France/Paris" in curation(c, auth, a)["tags"]
    c.post(f"/media/{a}/edits/undo", headers=auth)
    got = curation(c, auth, a)
    assert (got["title"], got["rating"], got["sources"]["rating"]) == (
        "One",
        4,
        "sidecar:a.jpg.xmp",
    )
    # a new change after an undo; undo then walks back past the undone entries
    assert patch(c, auth, a, description="new").status_code == 200
    c.post(f"/media/{a}/edits/undo", headers=auth)
    c.post(f"/media/{a}/edits/undo", headers=auth)
    got = curation(c, auth, a)
    assert (got["title"], got["description"], got["sources"]["title"]) == (
        "Eiffel", None, "sidecar:a.jpg.xmp",
    )  # fmt: skip
    nothing = c.post(f"/media/{a}/edits/undo", headers=auth)
    assert nothing.status_code == 409 and nothing.json()["error"]["code"] == "conflict"
    assert all(e["undone_at"] is not None for e in history(c, auth, a))

    # who set a field is forgotten with the user; the edit stays (it is the household's)
    assert patch(c, carol, a, rating=1).status_code == 200
    assert c.delete(f"/users/{carol_id}", headers=auth).status_code == 204
    with w.ctx.engine.connect() as conn:
        row = conn.execute(select(media_edits).where(media_edits.c.media_id == a)).mappings().one()
        assert (row["rating"], row["rating_by"]) == (1, None)
    assert history(c, auth, a)[0]["user"] is None
    assert curation(c, auth, a)["rating"] == 1
    # the media rows gone with their library: no edit or history row is left
    assert edit_rows(w, list(ids.values())) > 0
    assert c.delete(f"/libraries/{library_id}", headers=auth).status_code == 204
    assert edit_rows(w, list(ids.values())) == 0


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
