"""People and faces routes on both databases, over faces rows written directly."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from imageserver.config import Settings
from imageserver.db.tables import media
from imageserver.faces import repo, service
from imageserver.faces import stats as faces_stats
from imageserver.faces.crops import crop_path
from imageserver.scan.watcher import Watcher
from imageserver.telemetry.metrics import REGISTRY
from imageserver.work.context import AppContext
from tests.conftest import make_settings
from tests.faces.scene import Scene, build, face_row
from tests.faces.synthetic import faces_of, identities
from tests.fixtures import make_jpeg
from tests.scan.test_watcher import add_library


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """No detector here: faces rows are written by the scene, not found."""
    return make_settings(tmp_path, db_url, faces_enabled=False)


@pytest.fixture
def scene(client: TestClient, auth: dict[str, str], ctx: AppContext, tmp_path: Path) -> Scene:
    return build(client, auth, ctx, tmp_path)


def get(client: TestClient, auth: dict[str, str], url: str, **params: object) -> dict:
    response = client.get(url, headers=auth, params=params)
    assert response.status_code == 200, response.text
    body: dict = response.json()
    return body


def test_every_route_needs_a_token(client: TestClient, scene: Scene) -> None:
    for url in ("/people", f"/people/{scene.alice}", "/faces/stats", "/media/1/faces"):
        assert client.get(url).status_code == 401
    assert client.get(f"/faces/{scene.faces['a0']}/crop").status_code == 401


def test_people_list_and_detail_with_media_ids(
    client: TestClient, auth: dict[str, str], scene: Scene
) -> None:
    page = get(client, auth, "/people")
    assert page["total"] == 2
    by_id = {p["id"]: p for p in page["items"]}
    alice = by_id[scene.alice]
    assert (alice["face_count"], alice["image_count"]) == (2, 2)
    assert alice["cover_face_id"] == scene.faces["b0"]  # the larger face
    assert alice["cover_url"] == f"/people/{scene.alice}/cover"
    detail = get(client, auth, f"/people/{scene.alice}")
    shown = {f["id"]: f for f in detail["faces"]}
    assert set(shown) == {scene.faces["a0"], scene.faces["b0"]}
    # a.jpg sits at two paths: both media ids are listed for its face.
    assert sorted(shown[scene.faces["a0"]]["media_ids"]) == sorted(
        [scene.media["a.jpg"], scene.media["sub/a-copy.jpg"]]
    )
    assert shown[scene.faces["b0"]]["box"] == {"x": 200, "y": 150, "w": 120, "h": 120}
    assert client.get("/people/99999", headers=auth).status_code == 404


def test_media_filter_by_person(client: TestClient, auth: dict[str, str], scene: Scene) -> None:
    items = get(client, auth, "/media", person=scene.bob, include_companions=True)["items"]
    assert {i["path"] for i in items} == {"a.jpg", "sub/a-copy.jpg", "c.jpg"}


def test_faces_of_a_media_item(client: TestClient, auth: dict[str, str], scene: Scene) -> None:
    body = get(client, auth, f"/media/{scene.media['sub/a-copy.jpg']}/faces")
    assert body["scan_status"] == "done"
    assert [f["person_id"] for f in body["faces"]] == [scene.alice, scene.bob]
    assert body["faces"][1]["box"] == {"x": 300, "y": 120, "w": 60, "h": 60}
    assert body["faces"][0]["image_width"] == 640
    assert get(client, auth, f"/media/{scene.media['d.jpg']}/faces")["faces"] == []
    assert get(client, auth, f"/media/{scene.media['e.jpg']}/faces")["scan_status"] == "pending"
    failed = get(client, auth, f"/media/{scene.media['f.jpg']}/faces")
    assert (failed["scan_status"], failed["scan_error"]) == ("failed", "broken")
    assert client.get("/media/99999/faces", headers=auth).status_code == 404


def test_patch_person_name_hidden_cover(
    client: TestClient, auth: dict[str, str], scene: Scene
) -> None:
    url = f"/people/{scene.alice}"
    named = client.patch(url, headers=auth, json={"name": "  Alice "})
    assert named.status_code == 200 and named.json()["name"] == "Alice"
    assert get(client, auth, "/people", named=True)["total"] == 1
    hidden = client.patch(url, headers=auth, json={"hidden": True})
    assert hidden.json()["hidden"] is True and hidden.json()["name"] == "Alice"
    assert {p["id"] for p in get(client, auth, "/people")["items"]} == {scene.bob}
    assert get(client, auth, "/people", hidden=True)["total"] == 2
    cover = client.patch(url, headers=auth, json={"cover_face_id": scene.faces["a0"]})
    assert cover.json()["cover_face_id"] == scene.faces["a0"]
    foreign = client.patch(url, headers=auth, json={"cover_face_id": scene.faces["c0"]})
    assert foreign.status_code == 422
    assert client.patch(url, headers=auth, json={"name": ""}).json()["name"] is None
    assert client.patch(url, headers=auth, json={"nickname": "x"}).status_code == 422
    assert client.patch(url, headers=auth, json={"name": "x" * 201}).status_code == 422
    assert client.patch("/people/99999", headers=auth, json={"name": "x"}).status_code == 404


def test_merge_moves_faces_as_user_decisions(
    client: TestClient, auth: dict[str, str], ctx: AppContext, scene: Scene
) -> None:
    client.patch(f"/people/{scene.bob}", headers=auth, json={"name": "Bob"})
    url = f"/people/{scene.alice}/merge"
    assert client.post(url, headers=auth, json={"ids": [scene.alice]}).status_code == 422
    assert client.post(url, headers=auth, json={"ids": [99999]}).status_code == 404
    assert client.post(url, headers=auth, json={"ids": []}).status_code == 422
    merged = client.post(url, headers=auth, json={"ids": [scene.bob]})
    assert merged.status_code == 200, merged.text
    body = merged.json()
    assert (body["face_count"], body["image_count"], body["name"]) == (4, 3, "Bob")
    assert client.get(f"/people/{scene.bob}", headers=auth).status_code == 404
    with ctx.engine.connect() as conn:
        moved = repo.get_face(conn, scene.faces["c0"])
    assert moved is not None and moved["assignment"] == "user"


def test_unassign_rejects_the_face_for_good(
    client: TestClient, auth: dict[str, str], ctx: AppContext, scene: Scene
) -> None:
    url = f"/people/{scene.alice}/faces/{scene.faces['a0']}"
    wrong = f"/people/{scene.bob}/faces/{scene.faces['a0']}"
    assert client.delete(wrong, headers=auth).status_code == 404
    assert client.delete(url, headers=auth).status_code == 204
    assert get(client, auth, f"/people/{scene.alice}")["face_count"] == 1
    face = get(client, auth, f"/faces/{scene.faces['a0']}")
    assert (face["person_id"], face["assignment"]) == (None, "rejected")
    # A new look-alike of alice arrives: it joins alice, the rejected face stays out.
    with ctx.engine.begin() as conn:
        vector = faces_of(identities(2)[0], 3, seed=7)[2]
        new = repo.insert_faces(conn, [face_row(scene.hashes["d.jpg"], 0, vector, (1, 1, 90, 90))])
        service.assign_new_faces(conn, new, ctx.settings, 2.0)
        rejected = repo.get_face(conn, scene.faces["a0"])
        assert repo.get_face(conn, new[0][0])["person_id"] == scene.alice  # type: ignore[index]
    assert rejected is not None and rejected["person_id"] is None
    # Taking the last face from an unnamed person removes the person.
    assert (
        client.delete(f"/people/{scene.bob}/faces/{scene.faces['a1']}", headers=auth).status_code
        == 204
    )
    assert (
        client.delete(f"/people/{scene.bob}/faces/{scene.faces['c0']}", headers=auth).status_code
        == 204
    )
    assert client.get(f"/people/{scene.bob}", headers=auth).status_code == 404


def test_patch_face_assigns_or_rejects(
    client: TestClient, auth: dict[str, str], scene: Scene
) -> None:
    url = f"/faces/{scene.faces['c0']}"
    moved = client.patch(url, headers=auth, json={"person_id": scene.alice})
    assert moved.status_code == 200
    assert (moved.json()["person_id"], moved.json()["assignment"]) == (scene.alice, "user")
    assert get(client, auth, f"/people/{scene.alice}")["face_count"] == 3
    rejected = client.patch(url, headers=auth, json={"person_id": None}).json()
    assert (rejected["person_id"], rejected["assignment"]) == (None, "rejected")
    assert client.patch(url, headers=auth, json={"person_id": 99999}).status_code == 404
    assert client.patch("/faces/99999", headers=auth, json={"person_id": None}).status_code == 404


def test_crop_and_cover_are_cached_webp(
    client: TestClient, auth: dict[str, str], ctx: AppContext, scene: Scene
) -> None:
    url = f"/faces/{scene.faces['b0']}/crop"
    first = client.get(url, headers=auth)
    assert first.status_code == 200 and first.headers["content-type"] == "image/webp"
    assert first.content[:4] == b"RIFF" and first.content[8:12] == b"WEBP"
    assert "immutable" in first.headers["cache-control"]
    etag = first.headers["etag"]
    again = client.get(url, headers={**auth, "If-None-Match": etag})
    assert again.status_code == 304
    cached = crop_path(ctx.settings.faces_dir, scene.hashes["b.jpg"], scene.faces["b0"])
    assert cached.is_file()
    from PIL import Image

    with Image.open(cached) as im:
        assert im.width == im.height  # a square crop
    cover = client.get(f"/people/{scene.alice}/cover", headers=auth)
    assert cover.status_code == 200 and cover.headers["etag"] == etag
    assert "no-cache" in cover.headers["cache-control"]
    assert client.get("/faces/99999/crop", headers=auth).status_code == 404


def gauge(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def test_stats_per_library_and_deduplicated_total(
    client: TestClient, auth: dict[str, str], ctx: AppContext, scene: Scene, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "same-as-b.jpg").write_bytes((tmp_path / "lib" / "b.jpg").read_bytes())
    make_jpeg(other / "new.jpg", color=(1, 200, 1))
    second = add_library(client, auth, other)
    Watcher(ctx).tick(full=False)
    with ctx.engine.begin() as conn:  # the tick hashed g.jpg: make it hashless again
        conn.execute(update(media).where(media.c.rel_path == "g.jpg").values(content_hash=None))
    body = get(client, auth, "/faces/stats")
    rows = {r["library_id"]: r for r in body["libraries"]}
    first = rows[scene.library_id]
    expected = {
        "images": 6,  # a (twice on disk), b, c, d, e, f; g is not hashed
        "scanned": 4,
        "with_faces": 3,
        "faces": 4,
        "pending": 1,
        "failed": 1,
        "hashless": 1,
    }
    assert {k: first[k] for k in expected} == expected
    assert {k: rows[second][k] for k in ("images", "scanned", "faces", "pending")} == {
        "images": 2,
        "scanned": 1,
        "faces": 1,
        "pending": 1,
    }
    total = body["total"]
    assert (total["images"], total["faces"], total["pending"], total["hashless"]) == (7, 4, 2, 1)
    name = "lib"  # add_library names a library after its folder
    # The gauges are the operator's view of every library, set by the drain's full ticks
    # (faces_stats.refresh), not by a caller's request.
    with ctx.engine.connect() as conn:
        faces_stats.refresh(conn)
    assert gauge("imageserver_faces_images", library=name, state="images") == 6
    assert gauge("imageserver_faces_images", library="_all", state="pending") is None
    assert gauge("imageserver_faces_detected", library=name) == 4
