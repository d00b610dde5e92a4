"""Public share links: exactly their items, no login, password, expiry, revoke, counts.

The last test derives from the OpenAPI document that a link's token (and the key its
password unlocks) opens nothing but the link's own /s/ routes.
"""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime
from typing import Any

from imageserver.clock import FakeClock
from imageserver.libraries import repo as libraries_repo
from tests.albums.conftest import World, insert_item


def share(w: World, user: str, **body: Any) -> dict[str, Any]:
    response = w.client.post("/shares", json=body, headers=w.h(user))
    assert response.status_code == 201, response.text
    found: dict[str, Any] = response.json()
    return found


def test_a_link_shows_exactly_its_items_without_a_login_and_hides_metadata(w: World) -> None:
    c, one, two = w.client, w.a["trip/one.jpg"], w.a["trip/two.jpg"]
    link = share(w, "bob", media_ids=[two, one])
    assert link["url"] == f"/s/{link['token']}" and len(link["token"]) >= 43
    assert link["item_count"] == 2 and link["view_count"] == 0 and not link["has_password"]
    page = c.get(link["url"])
    assert page.status_code == 200, page.text
    body = page.json()
    assert [i["id"] for i in body["items"]] == [one, two]
    assert body["download_url"] is None and body["items"][0]["original_url"] is None
    assert body["items"][0]["metadata"] is None
    assert "48.85" not in page.text and "Canon" not in page.text and "trip/" not in page.text
    thumb = c.get(body["items"][0]["thumbnail_url"])
    assert thumb.status_code == 200 and thumb.content.startswith(b"RIFF webp")
    assert c.get(f"{link['url']}/items/{one}/original").status_code == 404
    assert c.get(f"{link['url']}/download").status_code == 404
    # an item that is not in the link is not found through it, as a missing id is
    other = c.get(f"{link['url']}/items/{w.a['home/four.jpg']}/thumbnail")
    assert other.status_code == 404
    assert other.json() == c.get(f"{link['url']}/items/999999/thumbnail").json()
    listed = {s["id"]: s for s in c.get("/shares", headers=w.h("bob")).json()}
    assert listed[link["id"]]["view_count"] == 1
    assert link["id"] not in {s["id"] for s in c.get("/shares", headers=w.h("carol")).json()}


def test_metadata_and_downloads_when_the_owner_allows_them(w: World) -> None:
    c, one, two = w.client, w.a["trip/one.jpg"], w.a["trip/two.jpg"]
    link = share(w, "bob", media_ids=[one, two], show_metadata=True, allow_download=True)
    body = c.get(link["url"]).json()
    meta = body["items"][0]["metadata"]
    assert meta["latitude"] == 48.85 and meta["make"] == "Canon"
    original = c.get(body["items"][0]["original_url"])
    assert original.status_code == 200 and original.content == b"jpeg bytes of trip/one.jpg"
    download = c.get(body["download_url"])
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        assert archive.namelist() == ["one.jpg", "two.jpg"]
        assert archive.read("two.jpg") == b"jpeg bytes of trip/two.jpg"


def test_who_may_share_what(w: World) -> None:
    c, one, secret = w.client, w.a["trip/one.jpg"], w.b["zulu/secret.jpg"]
    hidden = c.post("/shares", json={"media_ids": [one, secret]}, headers=w.h("bob"))
    absent = c.post("/shares", json={"media_ids": [one, 999999]}, headers=w.h("bob"))
    assert hidden.status_code == absent.status_code == 404 and hidden.json() == absent.json()
    assert c.post("/shares", json={}, headers=w.h("bob")).status_code == 422
    album = c.post("/albums", json={"name": "Family"}, headers=w.h("carol")).json()
    c.post(f"/albums/{album['id']}/items", json={"ids": [one, secret]}, headers=w.h("carol"))
    c.post(f"/albums/{album['id']}/members", json={"user_id": w.uid["bob"]}, headers=w.h("carol"))
    refused = c.post("/shares", json={"album_id": album["id"]}, headers=w.h("bob"))
    assert refused.status_code == 403  # a viewer does not share the album
    link = share(w, "carol", album_id=album["id"])
    # the owner's link hands out exactly the album's items (B's included: hers to give)
    assert [i["id"] for i in c.get(link["url"]).json()["items"]] == [one, secret]
    assert c.get(link["url"]).json()["name"] == "Family"
    # ... seen through her CURRENT grants: revoking B takes its item off the link
    with w.ctx.engine.begin() as conn:
        libraries_repo.revoke(conn, w.lib_b, w.uid["carol"])
    try:
        assert [i["id"] for i in c.get(link["url"]).json()["items"]] == [one]
        assert c.get(f"{link['url']}/items/{secret}/thumbnail").status_code == 404
    finally:
        with w.ctx.engine.begin() as conn:
            libraries_repo.grant(conn, w.lib_b, w.uid["carol"], 3.0)
    # an album link follows the album; deleting the album ends the link
    c.request("DELETE", f"/albums/{album['id']}/items", json={"ids": [one]}, headers=w.h("carol"))
    assert [i["id"] for i in c.get(link["url"]).json()["items"]] == [secret]
    assert c.delete(f"/albums/{album['id']}", headers=w.h("carol")).status_code == 204
    assert c.get(link["url"]).status_code == 404


def test_password_links_want_their_key_and_throttle_wrong_guesses(w: World) -> None:
    c, one = w.client, w.a["trip/one.jpg"]
    link = share(w, "bob", media_ids=[one], password="grandma 1942")
    other = share(w, "bob", media_ids=[one], password="another one")
    assert link["has_password"]
    locked = c.get(link["url"])
    assert locked.status_code == 403 and "password" in locked.json()["error"]["message"]
    assert c.get(f"{link['url']}/items/{one}/thumbnail").status_code == 403
    wrong = c.post(f"{link['url']}/unlock", json={"password": "grandpa"})
    assert wrong.status_code == 403
    key = c.post(f"{link['url']}/unlock", json={"password": "grandma 1942"}).json()["key"]
    page = c.get(link["url"], params={"key": key})
    assert page.status_code == 200 and page.json()["items"][0]["thumbnail_url"].endswith(key)
    assert c.get(link["url"], headers={"x-share-key": key}).status_code == 200
    assert c.get(f"{link['url']}/items/{one}/thumbnail", params={"key": key}).status_code == 200
    assert c.get(other["url"], params={"key": key}).status_code == 403  # one link's key only
    statuses = [
        c.post(f"{other['url']}/unlock", json={"password": f"guess {n}"}).status_code
        for n in range(w.ctx.settings.login_backoff_after + 1)
    ]
    assert statuses[0] == 403 and statuses[-1] == 429
    right = c.post(f"{other['url']}/unlock", json={"password": "another one"})
    assert right.status_code == 429 and int(right.headers["retry-after"]) >= 1
    clock = w.ctx.clock
    assert isinstance(clock, FakeClock)
    clock.advance(w.ctx.settings.login_backoff_max_seconds + 1)
    assert c.post(f"{other['url']}/unlock", json={"password": "another one"}).status_code == 200


def test_expiry_and_revoke_end_a_link_like_a_token_that_never_was(w: World) -> None:
    c, one = w.client, w.a["trip/one.jpg"]
    clock = w.ctx.clock
    assert isinstance(clock, FakeClock)
    past = datetime.fromtimestamp(clock() - 10, UTC).isoformat()
    assert (
        c.post(
            "/shares", json={"media_ids": [one], "expires_at": past}, headers=w.h("bob")
        ).status_code
        == 422
    )
    soon = datetime.fromtimestamp(clock() + 60, UTC).isoformat()
    link = share(w, "bob", media_ids=[one], expires_at=soon)
    assert c.get(link["url"]).status_code == 200
    clock.advance(61)
    expired = c.get(link["url"])
    never = c.get("/s/" + "Q" * 43)
    assert expired.status_code == never.status_code == 404 and expired.json() == never.json()
    kept = share(w, "bob", media_ids=[one])
    assert c.delete(f"/shares/{kept['id']}", headers=w.h("carol")).status_code == 404
    assert c.get(kept["url"]).status_code == 200
    assert c.delete(f"/shares/{kept['id']}", headers=w.h("bob")).status_code == 204
    assert c.get(kept["url"]).status_code == 404


def test_a_share_token_or_key_opens_nothing_else(w: World) -> None:
    c, one = w.client, w.a["trip/one.jpg"]
    link = share(w, "bob", media_ids=[one], password="grandma 1942", allow_download=True)
    key = c.post(f"{link['url']}/unlock", json={"password": "grandma 1942"}).json()["key"]
    checked = 0
    for method, path, url in operations(w, one, "ab" * 32):
        for secret in (link["token"], key):
            for kwargs in credentials(secret):
                response = c.request(method, url, json={}, **kwargs)
                assert response.status_code == 401, (method, path, kwargs, response.text)
                checked += 1
    assert checked >= 8 * 50


def operations(w: World, media_id: int, content_hash: str) -> list[tuple[str, str, str]]:
    """(method, path, url) of every operation of the OpenAPI document outside /s/ and the
    open ones, path parameters filled in (ids with `media_id`)."""
    spec = w.client.get("/openapi.json").json()
    out = []
    for path, item in spec["paths"].items():
        if path.startswith("/s/") or path in ("/health", "/metrics", "/auth/login"):
            continue
        url = path
        for name in ("media_id", "album_id", "share_id", "library_id", "user_id", "person_id"):
            url = url.replace("{" + name + "}", str(media_id))
        url = url.replace("{face_id}", "1").replace("{key_id}", "1").replace("{session_id}", "1")
        url = url.replace("{content_hash}", content_hash).replace("{segment}", "seg_00000.ts")
        out += [(method.upper(), path, url) for method in item]
    return out


def credentials(secret: str) -> list[dict[str, Any]]:
    """Every way a request can carry a credential."""
    return [
        {"headers": {"Authorization": f"Bearer {secret}"}},
        {"headers": {"x-api-key": secret}},
        {"headers": {"x-share-key": secret}},
        {"params": {"token": secret, "key": secret, "path": "clips/a.mp4"}},
    ]


def plant_hls(w: World, digest: str) -> None:
    """A one-segment HLS rendition of `digest` where the video routes look for it."""
    from imageserver.video import layout

    root = w.ctx.settings.resolved_video_path
    layout.hash_dir(root, digest).mkdir(parents=True, exist_ok=True)
    layout.playlist_path(root, digest).write_text(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\nseg_00000.ts\n"
        "#EXT-X-ENDLIST\n"
    )
    layout.segment_path(root, digest, "seg_00000.ts").write_bytes(b"G" * 188)


def test_a_shared_video_plays_without_a_login_for_exactly_that_video(w: World) -> None:
    """The link's video carries a stream URL: playlist and segments open with its token and
    no login. The token opens no other video (a playable one of the same creator is the
    404 of a video that does not exist, as is any library path), stops when the video
    leaves the link's album, and dies with the link."""
    from sqlalchemy import delete

    from imageserver.db.tables import media

    c, digest, other_hash = w.client, "ab" * 32, "cd" * 32
    with w.ctx.engine.begin() as conn:
        video = insert_item(
            conn, w.lib_a, "clips/a.mp4", datetime(2020, 6, 15, 12, 0), digest, kind="video"
        )
        other = insert_item(
            conn, w.lib_a, "clips/b.mp4", datetime(2020, 6, 15, 13, 0), other_hash, kind="video"
        )
    plant_hls(w, digest)
    plant_hls(w, other_hash)
    album = c.post("/albums", json={"name": "clips"}, headers=w.h("bob")).json()["id"]
    ids = {"ids": [video, w.a["trip/one.jpg"]]}
    assert c.post(f"/albums/{album}/items", json=ids, headers=w.h("bob")).status_code == 200
    try:
        link = share(w, "bob", album_id=album)
        items = {i["id"]: i for i in c.get(link["url"]).json()["items"]}
        assert items[w.a["trip/one.jpg"]]["stream_url"] is None
        url = items[video]["stream_url"]
        assert url.startswith(f"/video/stream/{digest}/playlist.m3u8?token=")
        playlist = c.get(url)
        assert playlist.status_code == 200, playlist.text
        segment_url = next(x for x in playlist.text.splitlines() if x.startswith("/video/"))
        assert "token=" in segment_url
        assert c.get(segment_url).content == b"G" * 188
        token = url.split("token=", 1)[1]
        # bob may play the other video himself; the link's token may not, and says so
        # exactly as for a video that exists nowhere.
        own = c.get(f"/video/{other}", headers=w.h("bob")).json()["playlist_url"]
        assert c.get(own).status_code == 200
        refused = c.get(f"/video/stream/{other_hash}/playlist.m3u8", params={"token": token})
        nowhere = c.get(f"/video/stream/{'ef' * 32}/playlist.m3u8", params={"token": token})
        assert refused.status_code == nowhere.status_code == 404
        assert refused.json() == nowhere.json()
        for route in ("seg_00000.ts", "preview.mp4"):
            path = f"/video/stream/{other_hash}/{route}"
            assert c.get(path, params={"token": token}).status_code == 404
        for path in ("clips/a.mp4", "clips/b.mp4", "nothing.mp4"):
            by_path = c.get(
                f"/video/stream/library/{w.lib_a}/playlist.m3u8",
                params={"token": token, "path": path},
            )
            assert by_path.status_code == 404, (path, by_path.text)
        # Derived from the OpenAPI document: as a ?token= the link's stream token is the
        # 404 of a missing video on every stream route (another hash, any library path)
        # and a 401 everywhere else; as a header it is no credential at all.
        checked = 0
        for method, path, route in operations(w, video, other_hash):
            for kwargs in credentials(token)[::3]:  # as a bearer and as a ?token=
                response = c.request(method, route, json={}, **kwargs)
                as_query = "params" in kwargs and path.startswith("/video/stream/")
                assert response.status_code == (404 if as_query else 401), (
                    method,
                    path,
                    kwargs,
                    response.text,
                )
                checked += 1
        assert checked >= 2 * 50
        # out of the album, out of the link: its token no longer plays it
        assert c.request("DELETE", f"/albums/{album}/items", json=ids, headers=w.h("bob")).json()[
            "changed"
        ] == 2
        assert c.get(url).status_code == 404
        assert c.get(segment_url).status_code == 404
        assert c.post(f"/albums/{album}/items", json=ids, headers=w.h("bob")).status_code == 200
        assert c.get(url).status_code == 200
        # revoked with the link
        assert c.delete(f"/shares/{link['id']}", headers=w.h("bob")).status_code == 204
        assert c.get(url).status_code == 401
    finally:
        c.delete(f"/albums/{album}", headers=w.h("bob"))
        with w.ctx.engine.begin() as conn:
            conn.execute(delete(media).where(media.c.id.in_([video, other])))
