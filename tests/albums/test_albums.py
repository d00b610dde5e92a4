"""Albums: owner, roles, the visibility rule (an album grants nothing), from a folder."""

from __future__ import annotations

from typing import Any

from imageserver.libraries import repo as libraries_repo
from tests.albums.conftest import World


def made(w: World, user: str, **body: Any) -> dict[str, Any]:
    response = w.client.post("/albums", json=body, headers=w.h(user))
    assert response.status_code == 201, response.text
    found: dict[str, Any] = response.json()
    return found


def items(w: World, user: str, album_id: int, **params: Any) -> list[int]:
    response = w.client.get(f"/albums/{album_id}", params=params, headers=w.h(user))
    assert response.status_code == 200, response.text
    return [i["id"] for i in response.json()["items"]]


def test_owner_makes_fills_sorts_renames_and_deletes_an_album(w: World) -> None:
    c, h, a = w.client, w.h("bob"), w.a
    album = made(w, "bob", name="Summer", description="by the sea")
    assert album["role"] == "owner" and album["item_count"] == 0 and album["cover_media_id"] is None
    assert album["owner"] == {"id": w.uid["bob"], "username": "bob"}
    ids = [a["trip/two.jpg"], a["trip/one.jpg"], a["home/four.jpg"]]
    added = c.post(f"/albums/{album['id']}/items", json={"ids": ids}, headers=h)
    assert added.json() == {"changed": 3, "item_count": 3}
    again = c.post(f"/albums/{album['id']}/items", json={"ids": ids[:1]}, headers=h)
    assert again.json() == {"changed": 0, "item_count": 3}
    assert items(w, "bob", album["id"]) == [
        a["trip/one.jpg"],
        a["trip/two.jpg"],
        a["home/four.jpg"],
    ]
    got = c.get(f"/albums/{album['id']}", headers=h).json()
    assert got["date_from"] == "2020-06-15T10:00:00" and got["date_to"] == "2023-01-01T12:00:00"
    assert got["cover_media_id"] == a["trip/one.jpg"]  # no cover chosen: the first item
    patch = {"name": "Summers", "sort_order": "taken_desc", "cover_media_id": a["home/four.jpg"]}
    patched = c.patch(f"/albums/{album['id']}", json=patch, headers=h)
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "Summers" and patched.json()["cover_media_id"] == ids[2]
    assert items(w, "bob", album["id"]) == [
        a["home/four.jpg"],
        a["trip/two.jpg"],
        a["trip/one.jpg"],
    ]
    assert items(w, "bob", album["id"], limit=1, offset=1) == [a["trip/two.jpg"]]
    # a cover must be one of the album's items
    outside = c.patch(
        f"/albums/{album['id']}", json={"cover_media_id": a["home/five.jpg"]}, headers=h
    )
    assert outside.status_code == 404
    removed = c.request("DELETE", f"/albums/{album['id']}/items", json={"ids": ids[:1]}, headers=h)
    assert removed.json() == {"changed": 1, "item_count": 2}
    assert album["id"] in [x["id"] for x in c.get("/albums", headers=h).json()]
    assert album["id"] not in [x["id"] for x in c.get("/albums", headers=w.h("carol")).json()]
    assert c.delete(f"/albums/{album['id']}", headers=h).status_code == 204
    assert c.get(f"/albums/{album['id']}", headers=h).status_code == 404


def test_an_album_shows_each_viewer_only_what_their_grants_show(w: World) -> None:
    """The rule both ways: sharing an album grants nothing; a library grant does."""
    c = w.client
    one, secret = w.a["trip/one.jpg"], w.b["zulu/secret.jpg"]
    album = made(w, "carol", name="Mixed")
    c.post(f"/albums/{album['id']}/items", json={"ids": [one, secret]}, headers=w.h("carol"))
    cover = {"cover_media_id": secret}
    assert c.patch(f"/albums/{album['id']}", json=cover, headers=w.h("carol")).status_code == 200
    member = {"user_id": w.uid["bob"], "role": "viewer"}
    shared = c.post(f"/albums/{album['id']}/members", json=member, headers=w.h("carol"))
    assert shared.json() == [{"user_id": w.uid["bob"], "username": "bob", "role": "viewer"}]
    mine = c.get(f"/albums/{album['id']}", headers=w.h("carol")).json()
    assert mine["item_count"] == 2 and mine["cover_media_id"] == secret
    theirs = c.get(f"/albums/{album['id']}", headers=w.h("bob")).json()
    assert theirs["role"] == "viewer" and theirs["item_count"] == 1
    assert [i["id"] for i in theirs["items"]] == [one]
    assert theirs["cover_media_id"] == one  # B's cover is not shown, nor its dates
    assert theirs["date_from"] == theirs["date_to"] == "2020-06-15T10:00:00"
    assert "zulu" not in str(c.get("/albums", headers=w.h("bob")).json())
    # a grant of B (not the album) is what shows B's item; revoking hides it again
    with w.ctx.engine.begin() as conn:
        libraries_repo.grant(conn, w.lib_b, w.uid["bob"], 2.0)
    try:
        assert items(w, "bob", album["id"]) == [one, secret]
    finally:
        with w.ctx.engine.begin() as conn:
            libraries_repo.revoke(conn, w.lib_b, w.uid["bob"])
    assert items(w, "bob", album["id"]) == [one]
    # not a member, no grant: the album does not exist for dave
    hidden = c.get(f"/albums/{album['id']}", headers=w.h("dave"))
    absent = c.get("/albums/99999", headers=w.h("dave"))
    assert hidden.status_code == absent.status_code == 404 and hidden.json() == absent.json()
    c.delete(f"/albums/{album['id']}", headers=w.h("carol"))


def test_roles_viewer_looks_editor_edits_within_their_scope_owner_manages(w: World) -> None:
    c, one, two = w.client, w.a["trip/one.jpg"], w.a["trip/two.jpg"]
    secret = w.b["zulu/secret.jpg"]
    album = made(w, "carol", name="Roles")
    aid = album["id"]
    c.post(f"/albums/{aid}/items", json={"ids": [one, secret]}, headers=w.h("carol"))
    c.post(f"/albums/{aid}/members", json={"user_id": w.uid["bob"]}, headers=w.h("carol"))
    bob = w.h("bob")
    assert c.post(f"/albums/{aid}/items", json={"ids": [two]}, headers=bob).status_code == 403
    assert c.patch(f"/albums/{aid}", json={"name": "x"}, headers=bob).status_code == 403
    editor = {"user_id": w.uid["bob"], "role": "editor"}
    assert c.post(f"/albums/{aid}/members", json=editor, headers=w.h("carol")).status_code == 200
    assert c.post(f"/albums/{aid}/items", json={"ids": [two]}, headers=bob).json()["changed"] == 1
    # an editor adds only what they can see: B's id is "not found", like a missing one
    hidden = c.post(f"/albums/{aid}/items", json={"ids": [secret]}, headers=bob)
    absent = c.post(f"/albums/{aid}/items", json={"ids": [999999]}, headers=bob)
    assert hidden.status_code == absent.status_code == 404 and hidden.json() == absent.json()
    # ... and removes only what they can see: carol's B item stays
    gone = c.request("DELETE", f"/albums/{aid}/items", json={"ids": [one, secret]}, headers=bob)
    assert gone.json() == {"changed": 1, "item_count": 1}
    assert items(w, "carol", aid) == [secret, two]
    assert c.delete(f"/albums/{aid}", headers=bob).status_code == 403
    dave = {"user_id": w.uid["dave"]}
    assert c.post(f"/albums/{aid}/members", json=dave, headers=bob).status_code == 403
    owner = {"user_id": w.uid["carol"]}
    assert c.post(f"/albums/{aid}/members", json=owner, headers=w.h("carol")).status_code == 422
    nobody = {"user_id": 99999}
    assert c.post(f"/albums/{aid}/members", json=nobody, headers=w.h("carol")).status_code == 404
    # a member may leave
    assert c.delete(f"/albums/{aid}/members/{w.uid['bob']}", headers=bob).status_code == 204
    assert c.get(f"/albums/{aid}", headers=bob).status_code == 404
    c.delete(f"/albums/{aid}", headers=w.h("carol"))


def test_an_album_from_a_folder_takes_its_visible_items_in_one_call(w: World) -> None:
    c = w.client
    album = made(w, "bob", from_folder={"library": w.lib_a, "path": "trip"})
    assert album["name"] == "trip" and album["item_count"] == 3
    assert {i["id"] for i in album["items"]} == {
        w.a["trip/one.jpg"],
        w.a["trip/two.jpg"],
        w.a["trip/sub/three.jpg"],
    }
    hidden = c.post("/albums", json={"from_folder": {"library": w.lib_b}}, headers=w.h("bob"))
    assert hidden.status_code == 404
    assert hidden.json()["error"]["message"] == f"library {w.lib_b} not found"
    assert c.post("/albums", json={"description": "no name"}, headers=w.h("bob")).status_code == 422
    c.delete(f"/albums/{album['id']}", headers=w.h("bob"))


def test_a_removed_file_leaves_its_albums_and_links_as_it_leaves_the_timeline(w: World) -> None:
    """The missing stage retires the row of a file gone from disk (media/repo.retire):
    from that moment it is out of the timeline, its albums (items, count, dates, cover)
    and their share links; when the file comes back, so does its place in the album."""
    from sqlalchemy import update

    from imageserver.db.tables import media
    from imageserver.media.repo import retire

    c, h, a = w.client, w.h("bob"), w.a
    one, gone = a["trip/one.jpg"], a["home/four.jpg"]
    album = made(w, "bob", name="Soon one less")["id"]
    c.post(f"/albums/{album}/items", json={"ids": [one, gone]}, headers=h)
    assert c.patch(f"/albums/{album}", json={"cover_media_id": gone}, headers=h).status_code == 200
    link = c.post("/shares", json={"album_id": album}, headers=h).json()

    def timeline() -> list[int]:
        return [i["id"] for i in c.get("/media", params={"limit": 100}, headers=h).json()["items"]]

    with w.ctx.engine.begin() as conn:
        retire(conn, [gone], w.ctx.clock())
    try:
        assert gone not in timeline() and one in timeline()
        assert items(w, "bob", album) == [one]
        got = c.get(f"/albums/{album}", headers=h).json()
        assert (got["item_count"], got["cover_media_id"]) == (1, one)
        assert got["date_from"] == got["date_to"] == "2020-06-15T10:00:00"
        assert [i["id"] for i in c.get(link["url"]).json()["items"]] == [one]
        assert c.get(f"{link['url']}/items/{gone}/thumbnail").status_code == 404
    finally:
        with w.ctx.engine.begin() as conn:
            conn.execute(update(media).where(media.c.id == gone).values(retired_at=None))
    assert gone in timeline()
    assert sorted(items(w, "bob", album)) == sorted([one, gone])
    assert c.get(f"/albums/{album}", headers=h).json()["cover_media_id"] == gone
    assert c.delete(f"/albums/{album}", headers=h).status_code == 204
