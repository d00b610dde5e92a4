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
    spec = c.get("/openapi.json").json()
    checked = 0
    for path, item in spec["paths"].items():
        if path.startswith("/s/") or path in ("/health", "/metrics", "/auth/login"):
            continue
        url = path
        for name in ("media_id", "album_id", "share_id", "library_id", "user_id", "person_id"):
            url = url.replace("{" + name + "}", str(one))
        url = url.replace("{face_id}", "1").replace("{key_id}", "1").replace("{session_id}", "1")
        url = url.replace("{content_hash}", "ab" * 32).replace("{segment}", "seg_00000.ts")
        for method in item:
            for secret in (link["token"], key):
                for kwargs in (
                    {"headers": {"Authorization": f"Bearer {secret}"}},
                    {"headers": {"x-api-key": secret}},
                    {"headers": {"x-share-key": secret}},
                    {"params": {"token": secret, "key": secret}},
                ):
                    response = c.request(method.upper(), url, json={}, **kwargs)
                    assert response.status_code == 401, (method, path, kwargs, response.text)
                    checked += 1
    assert checked >= 8 * 50


def test_a_shared_video_plays_without_a_login_for_exactly_that_video(w: World) -> None:
    """The link's video carries a stream URL: playlist and segments open with its token and
    no login; the token opens no other video and dies with the link."""
    from sqlalchemy import delete

    from imageserver.db.tables import media
    from imageserver.video import layout

    c, digest = w.client, "ab" * 32
    with w.ctx.engine.begin() as conn:
        video = insert_item(
            conn, w.lib_a, "clips/a.mp4", datetime(2020, 6, 15, 12, 0), digest, kind="video"
        )
    root = w.ctx.settings.resolved_video_path
    layout.hash_dir(root, digest).mkdir(parents=True, exist_ok=True)
    layout.playlist_path(root, digest).write_text(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\nseg_00000.ts\n"
        "#EXT-X-ENDLIST\n"
    )
    layout.segment_path(root, digest, "seg_00000.ts").write_bytes(b"G" * 188)
    try:
        link = share(w, "bob", media_ids=[video, w.a["trip/one.jpg"]])
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
        other = c.get(f"/video/stream/{'cd' * 32}/playlist.m3u8", params={"token": token})
        assert other.status_code == 403
        assert c.get("/media", params={"token": token}).status_code == 401
        # revoked with the link
        assert c.delete(f"/shares/{link['id']}", headers=w.h("bob")).status_code == 204
        assert c.get(url).status_code == 401
    finally:
        with w.ctx.engine.begin() as conn:
            conn.execute(delete(media).where(media.c.id == video))
