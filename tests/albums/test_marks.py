"""Favorites and archive: per user, through the scope, and what they do to listings."""

from __future__ import annotations

from typing import Any

from tests.albums.conftest import World


def ids(response: Any) -> set[int]:
    assert response.status_code == 200, response.text
    return {i["id"] for i in response.json()["items"]}


def test_favorite_is_per_user_and_filters_the_listing(w: World) -> None:
    c, one, two = w.client, w.a["trip/one.jpg"], w.a["trip/two.jpg"]
    put = c.put(f"/media/{one}/favorite", headers=w.h("bob"))
    assert put.status_code == 200 and put.json() == {
        "media_id": one,
        "favorite": True,
        "archived": None,
    }
    assert c.put(f"/media/{one}/favorite", headers=w.h("bob")).status_code == 200  # idempotent
    try:
        assert ids(c.get("/media", params={"favorite": True}, headers=w.h("bob"))) == {one}
        assert one not in ids(c.get("/media", params={"favorite": False}, headers=w.h("bob")))
        assert two in ids(c.get("/media", params={"favorite": False}, headers=w.h("bob")))
        # carol sees the same library, but bob's star is his own
        assert ids(c.get("/media", params={"favorite": True}, headers=w.h("carol"))) == set()
    finally:
        assert c.delete(f"/media/{one}/favorite", headers=w.h("bob")).json()["favorite"] is False
    assert ids(c.get("/media", params={"favorite": True}, headers=w.h("bob"))) == set()


def test_marking_an_id_outside_the_scope_is_the_same_404_as_a_missing_one(w: World) -> None:
    c, secret = w.client, w.b["zulu/secret.jpg"]
    for kind in ("favorite", "archive"):
        for method in ("PUT", "DELETE"):
            hidden = c.request(method, f"/media/{secret}/{kind}", headers=w.h("bob"))
            absent = c.request(method, f"/media/999999/{kind}", headers=w.h("bob"))
            assert hidden.status_code == absent.status_code == 404
            assert hidden.json() == absent.json()
        bulk = {"ids": [w.a["trip/one.jpg"], secret], "value": True}
        hidden = c.post(f"/media/{kind}", json=bulk, headers=w.h("bob"))
        absent = c.post(
            f"/media/{kind}",
            json={**bulk, "ids": [w.a["trip/one.jpg"], 999999]},
            headers=w.h("bob"),
        )
        assert hidden.status_code == absent.status_code == 404
        assert hidden.json() == absent.json()
    # all or nothing: the visible id of the refused bulk was not starred
    assert ids(c.get("/media", params={"favorite": True}, headers=w.h("bob"))) == set()
    # carol may see B: the same id is hers to star
    assert c.put(f"/media/{secret}/favorite", headers=w.h("carol")).status_code == 200
    assert c.delete(f"/media/{secret}/favorite", headers=w.h("carol")).status_code == 200


def test_archived_items_leave_the_timeline_but_not_folders_or_the_archive_view(w: World) -> None:
    c, h = w.client, w.h("bob")
    four, five = w.a["home/four.jpg"], w.a["home/five.jpg"]
    bulk = c.post("/media/archive", json={"ids": [four, five]}, headers=h)
    assert bulk.status_code == 200 and bulk.json() == {"changed": 2}
    try:
        listed = ids(c.get("/media", headers=h))
        assert four not in listed and five not in listed and w.a["trip/one.jpg"] in listed
        assert ids(c.get("/media", params={"archived": True}, headers=h)) == {four, five}
        assert ids(c.get("/media", params={"folder": "home"}, headers=h)) == {four, five}
        months = {b["bucket"]: b["count"] for b in c.get("/timeline", headers=h).json()}
        assert "2023-01" not in months
        # carol's timeline is untouched by bob's archive
        assert four in ids(c.get("/media", headers=w.h("carol")))
        # an album keeps its archived items
        album = c.post("/albums", json={"name": "kept"}, headers=h).json()["id"]
        c.post(f"/albums/{album}/items", json={"ids": [four]}, headers=h)
        shown = c.get(f"/albums/{album}", headers=h).json()
        assert [i["id"] for i in shown["items"]] == [four] and shown["item_count"] == 1
        assert c.delete(f"/albums/{album}", headers=h).status_code == 204
    finally:
        undo = c.post("/media/archive", json={"ids": [four, five], "value": False}, headers=h)
    assert undo.json() == {"changed": 2}
    assert {four, five} <= ids(c.get("/media", headers=h))


def test_the_item_detail_carries_the_callers_own_marks(w: World) -> None:
    c, one = w.client, w.a["trip/one.jpg"]
    assert c.put(f"/media/{one}/favorite", headers=w.h("bob")).status_code == 200
    assert c.put(f"/media/{one}/archive", headers=w.h("carol")).status_code == 200
    try:
        bob = c.get(f"/media/{one}", headers=w.h("bob")).json()
        carol = c.get(f"/media/{one}", headers=w.h("carol")).json()
        assert (bob["favorite"], bob["archived"]) == (True, False)
        assert (carol["favorite"], carol["archived"]) == (False, True)
        path = c.get(
            "/media/by-path",
            params={"library": bob["library_id"], "path": bob["path"]},
            headers=w.h("bob"),
        ).json()
        assert (path["favorite"], path["archived"]) == (True, False)
    finally:
        c.delete(f"/media/{one}/favorite", headers=w.h("bob"))
        c.delete(f"/media/{one}/archive", headers=w.h("carol"))
    assert c.get(f"/media/{one}", headers=w.h("bob")).json()["favorite"] is False


def test_a_selection_downloads_as_one_zip_of_visible_originals(w: World) -> None:
    import io
    import zipfile

    c, one, two, secret = (
        w.client,
        w.a["trip/one.jpg"],
        w.a["trip/two.jpg"],
        w.b["zulu/secret.jpg"],
    )
    got = c.post("/media/download", json={"ids": [one, two, one]}, headers=w.h("bob"))
    assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(got.content)) as archive:
        assert sorted(archive.namelist()) == ["one.jpg", "two.jpg"]
        assert archive.read("one.jpg") == b"jpeg bytes of trip/one.jpg"
    hidden = c.post("/media/download", json={"ids": [one, secret]}, headers=w.h("bob"))
    absent = c.post("/media/download", json={"ids": [one, 999999]}, headers=w.h("bob"))
    assert hidden.status_code == absent.status_code == 404
    assert hidden.json() == absent.json()
    assert c.post("/media/download", json={"ids": []}, headers=w.h("bob")).status_code == 422
    assert (
        c.post("/media/download", json={"ids": [secret]}, headers=w.h("carol")).status_code == 200
    )
