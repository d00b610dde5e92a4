"""Places and map routes on both databases: the tree, /media filters, the item detail's
place and local time, server-side clusters, the outline layer; all scoped to the caller."""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from imageserver.db.tables import library_members, media, users
from imageserver.errors import Invalid
from imageserver.places import service
from imageserver.scan.pipeline import STAGES
from imageserver.scan.watcher import Watcher
from imageserver.work.context import AppContext
from tests.conftest import add_member
from tests.fixtures import insert_library, make_jpeg

GENEVA = (46.2044, 6.1432)
ANNEMASSE = (46.1934, 6.2342)
KEHL = (48.5730, 7.8150)
NEW_YORK = (40.7128, -74.0060)
STAGES_NO_MEDIA_WORK = [s for s in STAGES if s.name not in ("thumbnails", "embeddings", "hls")]


def build(ctx: AppContext, tmp_path: Path) -> dict[str, int]:
    """Library A (granted to the member): Geneva twice (same bytes), Annemasse, New York,
    one without GPS; library B (admin only): Kehl."""
    a, b = tmp_path / "a", tmp_path / "b"
    summer = datetime(2026, 7, 1, 12, 0, 0)
    make_jpeg(a / "geneva.jpg", gps=GENEVA, taken=summer, offset="+02:00", color=(1, 1, 200))
    make_jpeg(
        a / "dup" / "geneva.jpg", gps=GENEVA, taken=summer, offset="+02:00", color=(1, 1, 200)
    )
    make_jpeg(a / "annemasse.jpg", gps=ANNEMASSE, taken=summer, color=(1, 200, 1))
    make_jpeg(a / "ny.jpg", gps=NEW_YORK, taken=summer, color=(200, 200, 1))
    make_jpeg(a / "nogps.jpg", taken=summer, color=(200, 1, 200))
    make_jpeg(b / "kehl.jpg", gps=KEHL, taken=summer, color=(200, 1, 1))
    a_id = insert_library(ctx.engine, "a", a)
    insert_library(ctx.engine, "b", b)
    watcher = Watcher(ctx, stages=STAGES_NO_MEDIA_WORK)
    watcher.tick(full=True)
    watcher.tick(full=False)
    with ctx.engine.begin() as conn:
        bob = conn.execute(select(users.c.id).where(users.c.username == "bob")).scalar_one()
        conn.execute(library_members.insert().values(library_id=a_id, user_id=bob, created_at=0))
        rows = conn.execute(select(media.c.rel_path, media.c.id)).tuples().all()
    return dict(rows)


@pytest.fixture
def world(
    client: TestClient, auth: dict[str, str], ctx: AppContext, tmp_path: Path
) -> tuple[dict[str, int], dict[str, str], dict[str, str]]:
    member = add_member(client, auth)
    return build(ctx, tmp_path), auth, member


def names(tree: dict[str, Any]) -> dict[str, dict[str, dict[str | None, tuple[int, int]]]]:
    return {
        c["country_code"]: {
            r["region"]: {p["place"]: (p["count"], p["cover"]) for p in r["places"]}
            for r in c["regions"]
        }
        for c in tree["countries"]
    }


def test_places_media_filters_detail_and_markers_are_scoped(
    client: TestClient, world: tuple[dict[str, int], dict[str, str], dict[str, str]]
) -> None:
    ids, admin, member = world
    geneva = (2, max(ids["geneva.jpg"], ids["dup/geneva.jpg"]))

    tree = client.get("/places", headers=member).json()
    assert names(tree) == {
        "CH": {"Genève": {"Genève": geneva}},
        "FR": {"Auvergne-Rhône-Alpes": {"Annemasse": (1, ids["annemasse.jpg"])}},
        "US": {"New York": {"New York City": (1, ids["ny.jpg"])}},
    }
    assert tree["countries"][0]["country_code"] == "CH"  # most items first
    assert "GeoNames" in tree["attribution"]
    assert "DE" in names(client.get("/places", headers=admin).json())  # granted B

    def listed(headers: dict[str, str], **params: str) -> set[str]:
        response = client.get("/media", headers=headers, params=params)
        assert response.status_code == 200, response.text
        return {item["path"] for item in response.json()["items"]}

    assert listed(member, country="ch") == {"geneva.jpg", "dup/geneva.jpg"}
    assert listed(member, country="FR", region="Auvergne-Rhône-Alpes") == {"annemasse.jpg"}
    assert listed(member, place="New York City") == {"ny.jpg"}
    assert listed(admin, country="DE") == {"kehl.jpg"}
    assert client.get("/media", headers=member, params={"country": "CHE"}).status_code == 422

    def detail(name: str) -> dict[str, Any]:
        body: dict[str, Any] = client.get(f"/media/{ids[name]}", headers=member).json()
        return body

    ny = detail("ny.jpg")
    assert ny["place"] == {
        "country_code": "US",
        "country": "United States",
        "region": "New York",
        "place": "New York City",
        "timezone": "America/New_York",
    }
    # 12:00 on a July day in New York without an EXIF offset: EDT, from the GPS zone
    assert ny["taken_at_offset_source"] == "gps_zone"
    assert ny["taken_at_utc"].startswith("2026-07-01T16:00:00")
    assert ny["taken_at_utc_offset_min"] == -240
    gen = detail("geneva.jpg")
    assert gen["taken_at_offset_source"] == "exif_offset"
    assert gen["taken_at_utc"].startswith("2026-07-01T10:00:00")
    nogps = detail("nogps.jpg")
    assert nogps["place"] is None and nogps["taken_at_offset_source"] == "server_default"

    def clusters(headers: dict[str, str], bbox: str, zoom: int) -> list[dict[str, Any]]:
        response = client.get("/map/markers", headers=headers, params={"bbox": bbox, "zoom": zoom})
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["clusters"]
        return found

    world_box = "-180,-90,180,90"
    seen = clusters(member, world_box, 3)
    assert sum(c["count"] for c in seen) == 4  # A's fixes, B's Kehl left out
    assert {c["media_id"] for c in seen} <= set(ids.values()) - {ids["kehl.jpg"]}
    assert sum(c["count"] for c in clusters(admin, world_box, 3)) == 5
    # Geneva and Annemasse (7 km apart) are one cluster at zoom 3, apart at zoom 12;
    # the two Geneva files (one point) stay together at any zoom.
    europe = clusters(member, "0,40,20,50", 3)
    assert [c["count"] for c in europe] == [3]
    close = sorted(c["count"] for c in clusters(member, "6.0,46.1,6.4,46.3", 12))
    assert close == [1, 2]
    south, west, north, east = europe[0]["bounds"]
    assert south <= ANNEMASSE[0] <= GENEVA[0] <= north and west <= GENEVA[1] < ANNEMASSE[1] <= east
    # a box across the antimeridian, sent unwrapped as Leaflet does
    assert clusters(member, "170,-10,200,10", 4) == []
    for bad in ("1,2,3", "0,50,10,40", "a,b,c,d", "0,-91,10,10", "10,0,0,10"):
        response = client.get("/map/markers", headers=member, params={"bbox": bad})
        assert response.status_code == 422, bad


def test_outline_layer_and_map_config(client: TestClient, auth: dict[str, str]) -> None:
    response = client.get("/map/outlines", headers={**auth, "Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["content-type"].startswith("application/geo+json")
    doc = json.loads(response.content)  # the client undid the gzip
    codes = {f["properties"]["cc"] for f in doc["features"]}
    assert {"CH", "FR", "US", "NZ"} <= codes and doc["type"] == "FeatureCollection"
    plain = client.get("/map/outlines", headers={**auth, "Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert json.loads(plain.content) == doc
    assert gzip.decompress(service_outlines_gz()) == plain.content
    config = client.get("/map/config", headers=auth).json()
    assert config["tile_url"] == "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    assert "OpenStreetMap" in config["tile_attribution"]
    assert config["outlines_url"] == "/map/outlines"
    assert client.get("/map/outlines").status_code == 401


def service_outlines_gz() -> bytes:
    from imageserver.places.outlines import country_outlines_geojson_gz

    return country_outlines_geojson_gz()


def test_bbox_parsing_and_grid() -> None:
    assert service.parse_bbox("-200,-90,200,90") == service.Box(-90, -180, 90, 180)
    assert service.parse_bbox("170,-10,200,10") == service.Box(-10, 170, 10, -160)
    assert service.parse_bbox("-190,0,-170,10") == service.Box(0, 170, 10, -170)
    for bad in ("nan,0,1,1", "0,0,inf,1", ""):
        with pytest.raises(Invalid):
            service.parse_bbox(bad)
    assert service.cell_degrees(0) == 90.0
    assert service.cell_degrees(10) == pytest.approx(90.0 / 1024)


TOKYO = (35.6762, 139.6503)
BERLIN = (52.5200, 13.4050)
LISBON = (38.7223, -9.1393)


def test_a_trip_across_zones_lists_in_the_order_it_happened(
    client: TestClient, auth: dict[str, str], ctx: AppContext, tmp_path: Path
) -> None:
    """Wall-clock order is the reverse of what happened on this trip (no EXIF offsets): the
    grid, its cursors and an album sort by the instant the GPS zone gives."""
    trip = tmp_path / "trip"
    day = datetime(2026, 1, 10)
    for name, gps, hour, minute in (
        ("tokyo.jpg", TOKYO, 20, 0),  # 11:00Z
        ("berlin.jpg", BERLIN, 13, 0),  # 12:00Z
        ("lisbon.jpg", LISBON, 12, 30),  # 12:30Z
        ("ny.jpg", NEW_YORK, 8, 0),  # 13:00Z
    ):
        make_jpeg(trip / name, gps=gps, taken=day.replace(hour=hour, minute=minute))
    insert_library(ctx.engine, "trip", trip)
    watcher = Watcher(ctx, stages=STAGES_NO_MEDIA_WORK)
    watcher.tick(full=True)
    watcher.tick(full=False)
    happened = ["tokyo.jpg", "berlin.jpg", "lisbon.jpg", "ny.jpg"]

    def order(**params: str) -> list[str]:
        body = client.get("/media", headers=auth, params=params).json()
        return [item["path"] for item in body["items"]]

    assert order() == happened[::-1]
    assert order(order="asc") == happened
    walked, cursor = [], None
    while True:
        params = {"limit": "1", **({"cursor": cursor} if cursor else {})}
        body = client.get("/media", headers=auth, params=params).json()
        walked += [item["path"] for item in body["items"]]
        if not (cursor := body["next_cursor"]):
            break
    assert walked == happened[::-1]
    ids = {i["path"]: i["id"] for i in client.get("/media", headers=auth).json()["items"]}
    instants = [client.get(f"/media/{ids[n]}", headers=auth).json() for n in happened]
    assert [d["taken_at_offset_source"] for d in instants] == ["gps_zone"] * 4
    assert [d["taken_at_utc"][11:16] for d in instants] == ["11:00", "12:00", "12:30", "13:00"]
    album = client.post("/albums", headers=auth, json={"name": "Trip", "sort_order": "taken_asc"})
    assert album.status_code in (200, 201), album.text
    album_id = album.json()["id"]
    added = client.post(f"/albums/{album_id}/items", headers=auth, json={"ids": list(ids.values())})
    assert added.status_code == 200, added.text
    items = client.get(f"/albums/{album_id}", headers=auth).json()["items"]
    assert [i["path"] for i in items] == happened
