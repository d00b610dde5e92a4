"""Curation read from real sidecars (written by exiftool here), embedded XMP/IPTC and
Takeout-shaped folders, through real watcher ticks and the HTTP routes.

Also: sidecars are never grid items, a quick tick picks up a sidecar that appears,
changes or disappears without hashing or thumbnailing again, the library root stays
byte-identical, and tags are counted and filtered inside the caller's scope.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from imageserver.media import hashing, thumbs
from imageserver.scan.watcher import Watcher
from imageserver.work.context import AppContext
from tests.conftest import add_member
from tests.fixtures import make_jpeg
from tests.scan.test_watcher import add_library

LONG = "Screenshot_20190714-102030_Some Long App Name Here.jpg"


def exiftool(*args: str) -> None:
    subprocess.run(["exiftool", "-q", *args], check=True, capture_output=True)


def xmp_sidecar(path: Path, *assignments: str) -> None:
    """An XMP sidecar written by exiftool holding just these tags (from a blank source:
    `-o x.xmp` would copy a source file's own metadata in as well)."""
    with tempfile.TemporaryDirectory() as tmp:
        blank = Path(tmp) / "blank.jpg"
        make_jpeg(blank, size=(8, 8))
        path.parent.mkdir(parents=True, exist_ok=True)
        exiftool("-o", str(path), *assignments, str(blank))


def takeout_json(path: Path, **doc: Any) -> None:
    path.write_text(json.dumps({"title": path.name, **doc}))


def build_library(root: Path) -> None:
    make_jpeg(root / "a.jpg", size=(40, 30), color=(200, 0, 0))
    exiftool(
        "-o", str(root / "a.jpg.xmp"),
        "-XMP:Rating=4", "-XMP:Label=Red", "-XMP:Title=Eiffel", "-XMP:Description=At night",
        "-XMP:Subject=Paris", "-XMP:Subject=cat",
        "-XMP-lr:HierarchicalSubject=Places|France|Paris",
        "-XMP-digiKam:TagsList=People/Alice",
        "-XMP-exif:DateTimeOriginal=2019:07:14 22:20:30+02:00",
        "-XMP-exif:GPSLatitude=48.858", "-XMP-exif:GPSLongitude=2.294",
        str(root / "a.jpg"),
    )  # fmt: skip
    # embedded IPTC keywords and an XMP rating, no sidecar
    make_jpeg(root / "e.jpg", size=(40, 30), color=(0, 200, 0))
    exiftool(
        "-overwrite_original", "-IPTC:Keywords=Holiday", "-IPTC:Keywords=Beach",
        "-IPTC:ObjectName=Sand", "-XMP:Rating=2", str(root / "e.jpg"),
    )  # fmt: skip
    # a shared name.xmp for two files of one name; the specific one outranks it
    make_jpeg(root / "pair" / "b.jpg", size=(40, 30), color=(0, 0, 200))
    make_jpeg(root / "pair" / "b.jpeg", size=(30, 40), color=(0, 0, 100))
    xmp_sidecar(root / "pair" / "b.xmp", "-XMP:Rating=3", "-XMP:Title=Shared")
    xmp_sidecar(root / "pair" / "b.jpeg.xmp", "-XMP:Rating=5")
    # Google Takeout: plain, (1)-suffixed, supplemental-metadata and a cut name
    t = root / "Takeout" / "Google Photos" / "Photos from 2019"
    make_jpeg(t / "IMG.jpg", size=(40, 30), color=(10, 10, 10))
    takeout_json(
        t / "IMG.jpg.json",
        description="Grandma at the lake",
        photoTakenTime={"timestamp": "1563092430"},
        geoData={"latitude": 46.5, "longitude": 6.6},
        people=[{"name": "Grandma"}],
    )
    make_jpeg(t / "IMG(1).jpg", size=(40, 30), color=(20, 20, 20))
    takeout_json(t / "IMG.jpg(1).json", photoTakenTime={"timestamp": "1262304000"})
    # the file's own date wins over Takeout's instant, which only fills in for no date
    make_jpeg(
        t / "dated.jpg", size=(40, 30), color=(50, 50, 50), taken=datetime(2015, 5, 6, 7, 8, 9)
    )
    takeout_json(t / "dated.jpg.json", photoTakenTime={"timestamp": "1262304000"})
    make_jpeg(t / "sup.jpg", size=(40, 30), color=(30, 30, 30))
    takeout_json(t / "sup.jpg.supplemental-metadata.json", description="supplemental")
    make_jpeg(t / LONG, size=(40, 30), color=(40, 40, 40))
    takeout_json(t / (LONG[:46] + ".json"), description="cut name")
    takeout_json(t / "metadata.json", title="Photos from 2019")  # an album's, not a photo's


def digest_tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def lib(client: TestClient, auth: dict[str, str], ctx: AppContext, tmp_path: Path) -> Any:
    root = tmp_path / "lib"
    build_library(root)
    before = digest_tree(root)
    library_id = add_library(client, auth, root)
    watcher = Watcher(ctx)
    watcher.tick(full=True)
    return watcher, root, library_id, before


def items(client: TestClient, auth: dict[str, str], **params: Any) -> dict[str, dict[str, Any]]:
    r = client.get("/media", headers=auth, params={"limit": 1000, **params})
    assert r.status_code == 200, r.text
    return {i["path"]: i for i in r.json()["items"]}


def curation(client: TestClient, auth: dict[str, str], media_id: int) -> dict[str, Any]:
    r = client.get(f"/media/{media_id}", headers=auth)
    assert r.status_code == 200, r.text
    return dict(r.json()["curation"] or {})


def instant(client: TestClient, auth: dict[str, str], media_id: int) -> datetime:
    """The UTC instant of an item's shown date (wall clock less its offset)."""
    r = client.get(f"/media/{media_id}", headers=auth).json()
    wall = datetime.fromisoformat(r["taken_at"])
    return (wall - timedelta(minutes=r["taken_at_offset_min"] or 0)).replace(tzinfo=None)


def timeline(client: TestClient, auth: dict[str, str]) -> dict[str, int]:
    r = client.get("/timeline", headers=auth, params={"granularity": "month"})
    assert r.status_code == 200, r.text
    return {b["bucket"][:7]: b["count"] for b in r.json()}


def test_reading_sidecars_embedded_and_takeout(
    lib: Any, client: TestClient, auth: dict[str, str]
) -> None:
    _watcher, root, _library_id, before = lib
    grid = items(client, auth)
    assert not [p for p in grid if p.endswith((".xmp", ".json"))]  # sidecars are no items
    assert len(grid) == 9
    a = curation(client, auth, grid["a.jpg"]["id"])
    assert (a["rating"], a["label"]) == (4, "Red")
    assert (a["title"], a["description"]) == ("Eiffel", "At night")
    assert sorted(a["tags"]) == ["People/Alice", "Places/France/Paris", "cat"]
    assert (a["taken_at"], a["taken_at_offset_min"]) == ("2019-07-14T22:20:30", 120)
    assert a["gps"]["latitude"] == pytest.approx(48.858)
    assert a["sources"]["rating"] == "sidecar:a.jpg.xmp" and a["sidecars"] == ["a.jpg.xmp"]

    e = curation(client, auth, grid["e.jpg"]["id"])
    assert (e["rating"], e["title"], sorted(e["tags"])) == (2, "Sand", ["Beach", "Holiday"])
    assert e["sources"]["rating"] == "embedded" and e["taken_at"] is None

    b_jpg = curation(client, auth, grid["pair/b.jpg"]["id"])
    b_jpeg = curation(client, auth, grid["pair/b.jpeg"]["id"])
    assert (b_jpg["rating"], b_jpg["title"]) == (3, "Shared")
    assert (b_jpeg["rating"], b_jpeg["title"]) == (5, "Shared")  # own xmp first, then shared

    t = "Takeout/Google Photos/Photos from 2019/"
    img = curation(client, auth, grid[t + "IMG.jpg"]["id"])
    assert img["description"] == "Grandma at the lake" and img["people"] == ["Grandma"]
    assert (img["taken_at"], img["taken_at_offset_min"]) == ("2019-07-14T08:20:30", 0)
    assert (img["gps"]["latitude"], img["gps"]["longitude"]) == (46.5, 6.6)
    dup = curation(client, auth, grid[t + "IMG(1).jpg"]["id"])
    assert dup["taken_at"] == "2010-01-01T00:00:00" and dup["sidecars"] == [t + "IMG.jpg(1).json"]
    assert curation(client, auth, grid[t + "sup.jpg"]["id"])["description"] == "supplemental"

    # A curated date is the item's date in the grid and the timeline: the XMP's wall
    # clock, Takeout's instant (for a file with no date of its own), never over the file's.
    assert (grid["a.jpg"]["taken_at"], grid["a.jpg"]["taken_at_source"]) == (
        "2019-07-14T22:20:30", "xmp"
    )  # fmt: skip
    assert instant(client, auth, grid[t + "IMG.jpg"]["id"]) == datetime(2019, 7, 14, 8, 20, 30)
    assert grid[t + "IMG.jpg"]["taken_at_source"] == "takeout"
    assert instant(client, auth, grid[t + "IMG(1).jpg"]["id"]) == datetime(2010, 1, 1)
    assert (grid[t + "dated.jpg"]["taken_at"], grid[t + "dated.jpg"]["taken_at_source"]) == (
        "2015-05-06T07:08:09", "EXIF:DateTimeOriginal"
    )  # fmt: skip
    assert grid["e.jpg"]["taken_at_source"] == "file_mtime"
    dated = ["a.jpg", t + "IMG.jpg", t + "dated.jpg", t + "IMG(1).jpg"]  # newest first
    assert [p for p in grid if p in dated] == dated
    months = timeline(client, auth)
    assert {"2019-07", "2015-05"} <= set(months)
    assert months["2019-07"] == 3  # a.jpg, IMG.jpg and the screenshot named on that day
    assert client.get("/media", headers=auth, params={"has_gps": "true"}).json()["items"]
    assert curation(client, auth, grid[t + LONG]["id"])["description"] == "cut name"
    assert digest_tree(root) == before  # reading wrote nothing under the root


def test_tags_tree_and_filter(lib: Any, client: TestClient, auth: dict[str, str]) -> None:
    r = client.get("/tags", headers=auth)
    assert r.status_code == 200, r.text
    tree = {n["path"]: n for n in r.json()["tags"]}
    assert tree["Places"]["count"] == 1 and tree["Holiday"]["count"] == 1
    [france] = tree["Places"]["children"]
    assert france["path"] == "Places/France"
    assert france["children"][0]["path"] == "Places/France/Paris"
    assert list(items(client, auth, tag="Places")) == ["a.jpg"]
    assert list(items(client, auth, tag="Places/France/Paris")) == ["a.jpg"]
    assert items(client, auth, tag="Plac") == {}  # a level, not a prefix of letters
    assert list(items(client, auth, tag="Beach")) == ["e.jpg"]
    assert client.get("/media", headers=auth, params={"tag": ""}).status_code == 422


def test_tags_stay_in_scope(
    lib: Any, client: TestClient, auth: dict[str, str], ctx: AppContext, tmp_path: Path
) -> None:
    watcher, _root, _library_id, _before = lib
    other = tmp_path / "other"
    make_jpeg(other / "o.jpg", size=(40, 30), color=(1, 99, 1))
    xmp_sidecar(other / "o.xmp", "-XMP:Subject=Secret")
    other_id = add_library(client, auth, other)
    watcher.tick(full=True)
    bob = add_member(client, auth)
    bob_id = client.get("/auth/me", headers=bob).json()["id"]
    granted = client.put(f"/libraries/{other_id}/members/{bob_id}", headers=auth)
    assert granted.status_code == 200, granted.text
    assert [n["path"] for n in client.get("/tags", headers=bob).json()["tags"]] == ["Secret"]
    assert items(client, bob, tag="Places") == {}
    a_id = items(client, auth)["a.jpg"]["id"]
    assert client.get(f"/media/{a_id}", headers=bob).status_code == 404
    assert "Secret" in {n["path"] for n in client.get("/tags", headers=auth).json()["tags"]}


def counting(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    calls = {"hash": 0, "thumbs": 0}

    def wrap(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return real(*args, **kwargs)

        return counted

    monkeypatch.setattr(hashing, "hash_file", wrap("hash", hashing.hash_file))
    monkeypatch.setattr(thumbs, "make_thumbnails", wrap("thumbs", thumbs.make_thumbnails))
    return calls


def test_quick_tick_follows_sidecars_without_rehashing(
    lib: Any, client: TestClient, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    watcher, root, _library_id, _before = lib
    watcher.tick(full=False)  # the quick walk now has a previous walk to compare with
    calls = counting(monkeypatch)
    grid = items(client, auth)
    t = root / "Takeout" / "Google Photos" / "Photos from 2019"
    exiftool("-overwrite_original", "-XMP:Rating=1", "-XMP:Subject=", str(root / "a.jpg.xmp"))
    xmp_sidecar(root / "e.jpg.xmp", "-XMP:Rating=5")  # appears
    (t / "IMG.jpg.json").unlink()  # disappears
    watcher.tick(full=False)
    assert calls == {"hash": 0, "thumbs": 0}  # the images were not read again
    a = curation(client, auth, grid["a.jpg"]["id"])
    assert a["rating"] == 1 and sorted(a["tags"]) == ["People/Alice", "Places/France/Paris"]
    e = curation(client, auth, grid["e.jpg"]["id"])
    assert (e["rating"], e["sources"]["rating"]) == (5, "sidecar:e.jpg.xmp")
    assert e["title"] == "Sand"  # still the embedded one: the sidecar has no title
    img = curation(client, auth, grid["Takeout/Google Photos/Photos from 2019/IMG.jpg"]["id"])
    assert img["description"] is None and img["sidecars"] == [] and img["gps"] is None
    # its Takeout date and place leave the row with the JSON: the file's own come back
    row = client.get(f"/media/{grid['Takeout/Google Photos/Photos from 2019/IMG.jpg']['id']}",
                     headers=auth).json()  # fmt: skip
    assert (row["taken_at_source"], row["gps"]) == ("file_mtime", None)
    assert list(items(client, auth, tag="Places")) == ["a.jpg"]
    assert len(items(client, auth)) == 9


def test_a_sidecar_before_its_photo_and_a_full_scan_agree(
    lib: Any, client: TestClient, auth: dict[str, str]
) -> None:
    watcher, root, _library_id, _before = lib
    watcher.tick(full=False)
    xmp_sidecar(root / "later" / "n.jpg.xmp", "-XMP:Title=Waiting")
    watcher.tick(full=False)  # the sidecar alone: nothing to describe yet
    make_jpeg(root / "later" / "n.jpg", size=(40, 30), color=(5, 5, 5))
    watcher.tick(full=False)
    n_id = items(client, auth)["later/n.jpg"]["id"]
    assert curation(client, auth, n_id)["title"] == "Waiting"
    watcher.tick(full=True)
    assert curation(client, auth, n_id)["title"] == "Waiting"
    (root / "later" / "n.jpg.xmp").unlink()
    watcher.tick(full=True)
    assert curation(client, auth, n_id)["title"] is None
