"""Memories (per earlier year, visible, non-archived, favorites first) and deletions that
leave no dangling rows. Deleting runs last in this module's world."""

from __future__ import annotations

from sqlalchemy import func, select

from imageserver.db.tables import (
    album_items,
    album_members,
    albums,
    archives,
    favorites,
    share_items,
    shares,
)
from tests.albums.conftest import World, insert_item


def test_memories_per_year_scoped_unarchived_favorites_first(w: World) -> None:
    c, h = w.client, w.h("bob")
    one, two, five = w.a["trip/one.jpg"], w.a["trip/two.jpg"], w.a["home/five.jpg"]
    assert c.put(f"/media/{five}/favorite", headers=h).status_code == 200
    got = c.get("/memories", params={"date": "2024-06-15"}, headers=h).json()
    years = {y["year"]: [i["item"]["id"] for i in y["items"]] for y in got["years"]}
    assert years == {2021: [five, two], 2020: [one]}  # B's 2019 and 2020 photos: not bob's
    assert got["years"][0]["years_ago"] == 3 and got["years"][0]["items"][0]["favorite"]
    wide = c.get("/memories", params={"date": "2024-06-15", "window": 1}, headers=h).json()
    assert [y["year"] for y in wide["years"]] == [2022, 2021, 2020]
    c.put(f"/media/{one}/archive", headers=h)
    archived = c.get("/memories", params={"date": "2024-06-15"}, headers=h).json()
    assert [y["year"] for y in archived["years"]] == [2021]
    carol = c.get("/memories", params={"date": "2024-06-15"}, headers=w.h("carol")).json()
    assert [y["year"] for y in carol["years"]] == [2021, 2020, 2019]
    c.delete(f"/media/{one}/archive", headers=h)
    c.delete(f"/media/{five}/favorite", headers=h)


def test_memories_rank_faces_first_and_show_one_shot_per_burst(w: World) -> None:
    """Three shots of one second, the middle one with two faces, and a lone shot an hour
    later: the memory shows the faced shot first, then the lone one; the burst's others
    are near-duplicates of it and stay out."""
    from datetime import datetime

    from sqlalchemy import delete, insert

    from imageserver.db.tables import faces, media

    shots = {
        "burst/a.jpg": datetime(2018, 3, 3, 10, 0, 0),
        "burst/b.jpg": datetime(2018, 3, 3, 10, 0, 1),
        "burst/c.jpg": datetime(2018, 3, 3, 10, 0, 2),
        "burst/later.jpg": datetime(2018, 3, 3, 11, 0, 0),
    }
    ids: dict[str, int] = {}
    with w.ctx.engine.begin() as conn:
        for n, (rel, taken) in enumerate(shots.items()):
            ids[rel] = insert_item(conn, w.lib_a, rel, taken, f"{n:02d}" * 32)
        for index in range(2):
            conn.execute(
                insert(faces).values(
                    content_hash="01" * 32,
                    face_index=index,
                    box_x=0,
                    box_y=0,
                    box_w=9,
                    box_h=9,
                    image_width=99,
                    image_height=99,
                    landmarks={},
                    embedding=b"0" * 512,
                    detector="hog",
                    created_at=1.0,
                )
            )
    try:
        got = w.client.get("/memories", params={"date": "2024-03-03"}, headers=w.h("bob")).json()
        years = {y["year"]: [i["item"]["id"] for i in y["items"]] for y in got["years"]}
        assert years == {2018: [ids["burst/b.jpg"], ids["burst/later.jpg"]]}
    finally:
        with w.ctx.engine.begin() as conn:
            conn.execute(delete(faces).where(faces.c.content_hash == "01" * 32))
            conn.execute(delete(media).where(media.c.id.in_(list(ids.values()))))


def test_deleting_an_album_a_user_or_a_library_leaves_no_dangling_rows(w: World) -> None:
    c, one, secret = w.client, w.a["trip/one.jpg"], w.b["zulu/secret.jpg"]
    album = c.post("/albums", json={"name": "gone"}, headers=w.h("carol")).json()["id"]
    c.post(f"/albums/{album}/items", json={"ids": [one, secret]}, headers=w.h("carol"))
    c.post(f"/albums/{album}/members", json={"user_id": w.uid["bob"]}, headers=w.h("carol"))
    c.post("/shares", json={"album_id": album}, headers=w.h("carol"))
    c.put(f"/media/{secret}/favorite", headers=w.h("carol"))
    listed = c.post("/shares", json={"media_ids": [one, secret]}, headers=w.h("carol")).json()

    def count(table: object, *where: object) -> int:
        with w.ctx.engine.connect() as conn:
            query = select(func.count()).select_from(table).where(*where)  # type: ignore[arg-type]
            return int(conn.execute(query).scalar_one())

    # An album deleted by its owner takes its items, members and share links along.
    short = c.post("/albums", json={"name": "brief"}, headers=w.h("bob")).json()["id"]
    c.post(f"/albums/{short}/items", json={"ids": [one]}, headers=w.h("bob"))
    c.post(f"/albums/{short}/members", json={"user_id": w.uid["carol"]}, headers=w.h("bob"))
    c.post("/shares", json={"album_id": short}, headers=w.h("bob"))
    assert count(shares, shares.c.album_id == short) == 1
    assert c.delete(f"/albums/{short}", headers=w.h("bob")).status_code == 204
    for table in (album_items, album_members, shares):
        assert count(table, table.c.album_id == short) == 0, table.name
    assert count(albums, albums.c.id == short) == 0

    assert count(album_items, album_items.c.album_id == album) == 2
    assert count(share_items, share_items.c.share_id == listed["id"]) == 2
    assert c.delete(f"/libraries/{w.lib_b}", headers=w.h("admin")).status_code == 204
    assert count(album_items, album_items.c.album_id == album) == 1
    assert count(favorites, favorites.c.media_id == secret) == 0
    assert count(share_items, share_items.c.share_id == listed["id"]) == 1
    c.put(f"/media/{one}/favorite", headers=w.h("carol"))
    c.put(f"/media/{one}/archive", headers=w.h("carol"))
    assert count(archives, archives.c.user_id == w.uid["carol"]) == 1
    assert c.delete(f"/users/{w.uid['carol']}", headers=w.h("admin")).status_code == 204
    assert count(favorites, favorites.c.user_id == w.uid["carol"]) == 0
    assert count(archives, archives.c.user_id == w.uid["carol"]) == 0
    assert count(albums, albums.c.id == album) == 0
    assert count(album_items, album_items.c.album_id == album) == 0
    assert count(album_members, album_members.c.album_id == album) == 0
    assert count(shares, shares.c.owner_id == w.uid["carol"]) == 0
    assert count(share_items, share_items.c.share_id == listed["id"]) == 0
