"""Proof that nothing of a library you are not granted reaches you, derived from OpenAPI.

Two indexed libraries (tests/reliability/scope_world.py): A is granted to `member`, B to
nobody but the admin; `nobody` is granted nothing. Every operation of the document must be
classified below (a new route fails `test_every_route_is_classified` until it is). Every
read (and the safe POST of image search) is called as `nobody` and as `member`:

- with A's values: the body must hold no id, path, file or folder name, hash or name of B;
- with B's values (its ids, paths, hash, library id) and with values that exist nowhere:
  status and body must be the same once the values are masked, so a 404 (or 403) never
  tells that something of B exists.

Routes that phase 2 of the access work still has to scope (media, video, ops, stats) are
listed in PHASE2_KNOWN_LEAKS: each is an xfail(strict=True), so the entry must go the day
its route stops leaking. Writes that take an id are probed with B's ids the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import world_database_url
from tests.fixtures import make_png
from tests.ml.tiny_clip import TinyClip
from tests.reliability.scope_world import (
    A_ID,
    ALICE,
    B_FACE_FROM,
    B_ID,
    BOB,
    CAROL,
    ScopeWorld,
    build_scope_world,
    make_b_sources,
)

READ = "read"  # called with A's values, then probed with B's values vs. absent ones
PROBE = "probe"  # a write taking ids: probed only (B's values vs. absent ones)
ADMIN = "admin"  # admin-only: 403 with the error body for both members, nothing else
OPEN = "open"  # no token needed; still called and checked for B's values
NOT_CALLED = "not called"  # says why in NOT_CALLED_WHY

CLASSIFIED: dict[str, str] = {
    "GET /health": OPEN,
    "GET /metrics": ADMIN,
    "POST /auth/login": NOT_CALLED,
    "GET /auth/me": READ,
    "GET /auth/sessions": READ,
    "GET /auth/api-keys": READ,
    "POST /auth/api-keys": NOT_CALLED,
    "DELETE /auth/api-keys/{key_id}": NOT_CALLED,
    "DELETE /auth/sessions/{session_id}": NOT_CALLED,
    "POST /auth/logout": NOT_CALLED,
    "POST /auth/logout-all": NOT_CALLED,
    "POST /auth/password": NOT_CALLED,
    "GET /users": ADMIN,
    "POST /users": ADMIN,
    "GET /users/{user_id}": ADMIN,
    "PATCH /users/{user_id}": ADMIN,
    "DELETE /users/{user_id}": ADMIN,
    "GET /libraries": READ,
    "POST /libraries": ADMIN,
    "GET /libraries/{library_id}": READ,
    "PATCH /libraries/{library_id}": ADMIN,
    "DELETE /libraries/{library_id}": ADMIN,
    "GET /libraries/{library_id}/members": ADMIN,
    "PUT /libraries/{library_id}/members/{user_id}": ADMIN,
    "DELETE /libraries/{library_id}/members/{user_id}": ADMIN,
    "GET /media": READ,
    "GET /media/by-path": READ,
    "GET /media/{media_id}": READ,
    "GET /media/{media_id}/original": READ,
    "GET /media/{media_id}/thumbnail": READ,
    "GET /media/{media_id}/faces": READ,
    "GET /timeline": READ,
    "GET /duplicates": READ,
    "GET /folders": READ,
    "GET /photos/search": READ,
    "GET /search": READ,
    "POST /photos/search/image": READ,
    "GET /photos/{media_id}/similar": READ,
    "GET /ml/stats": READ,
    "GET /video/stream/{content_hash}/playlist.m3u8": READ,
    "GET /video/stream/{content_hash}/preview.mp4": READ,
    "GET /video/stream/{content_hash}/{segment}": READ,
    "GET /video/stream/library/{library_id}/playlist.m3u8": READ,
    "GET /video/stream/library/{library_id}/preview.mp4": READ,
    "GET /video/by-path": READ,
    "GET /video/{media_id}": READ,
    "POST /video/generate": PROBE,
    "GET /hls/stats": READ,
    "GET /stats/backlogs": READ,
    "GET /people": READ,
    "GET /people/{person_id}": READ,
    "PATCH /people/{person_id}": PROBE,
    "POST /people/{person_id}/merge": PROBE,
    "DELETE /people/{person_id}/faces/{face_id}": PROBE,
    "GET /people/{person_id}/cover": READ,
    "GET /faces/stats": READ,
    "GET /faces/{face_id}": READ,
    "PATCH /faces/{face_id}": PROBE,
    "GET /faces/{face_id}/crop": READ,
    "PUT /media/{media_id}/favorite": PROBE,
    "DELETE /media/{media_id}/favorite": PROBE,
    "POST /media/favorite": PROBE,
    "POST /media/download": PROBE,
    "PUT /media/{media_id}/archive": PROBE,
    "DELETE /media/{media_id}/archive": PROBE,
    "POST /media/archive": PROBE,
    "GET /albums": READ,
    "POST /albums": PROBE,
    "GET /albums/{album_id}": READ,
    "PATCH /albums/{album_id}": PROBE,
    "DELETE /albums/{album_id}": PROBE,
    "POST /albums/{album_id}/items": PROBE,
    "DELETE /albums/{album_id}/items": PROBE,
    "POST /albums/{album_id}/members": PROBE,
    "DELETE /albums/{album_id}/members/{user_id}": PROBE,
    "GET /memories": READ,
    "GET /shares": READ,
    "POST /shares": PROBE,
    "DELETE /shares/{share_id}": PROBE,
    # The public side of share links: called with no token (a member's link to A).
    "GET /s/{token}": OPEN,
    "POST /s/{token}/unlock": OPEN,
    "GET /s/{token}/items/{media_id}/thumbnail": OPEN,
    "GET /s/{token}/items/{media_id}/original": OPEN,
    "GET /s/{token}/download": OPEN,
    "GET /places": READ,
    "GET /places/search": READ,
    "GET /search/suggest": READ,
    "GET /map/markers": READ,
    "GET /map/outlines": READ,
    "GET /map/config": READ,
    "GET /ocr/search": READ,
    "GET /ocr/stats": READ,
    "GET /media/{media_id}/text": READ,
    "GET /tags": READ,
    "PATCH /media/{media_id}": PROBE,
    "PATCH /media": PROBE,
    "GET /media/{media_id}/edits": READ,
    "POST /media/{media_id}/edits/undo": PROBE,
    "POST /export/xmp": ADMIN,
}
# Writes whose ids travel in the body: probed like a path id (B's vs. absent ones).
BODY_IDS = {
    "POST /video/generate",
    "POST /media/favorite",
    "POST /media/download",
    "POST /media/archive",
    "POST /albums",
    "POST /albums/{album_id}/items",
    "DELETE /albums/{album_id}/items",
    "POST /shares",
    "PATCH /media",
}
_OWN = "the caller's own credentials only (no library data); covered by tests/auth"
NOT_CALLED_WHY = {
    "POST /auth/login": "takes no token; covered by the auth tests",
    "POST /auth/api-keys": _OWN,
    "DELETE /auth/api-keys/{key_id}": _OWN,
    "DELETE /auth/sessions/{session_id}": _OWN,
    "POST /auth/logout": _OWN + " (would end the probing session)",
    "POST /auth/logout-all": _OWN + " (would end the probing session)",
    "POST /auth/password": _OWN,
}

# Phase 2 threads the scope through media/, video/, ops/ and the stats modules. Each entry
# is a route that still shows something of B to a member; xfail(strict=True): remove the
# entry when the route is scoped (an XPASS fails the run).
PHASE2_KNOWN_LEAKS: dict[str, str] = {}

ABSENT = {
    "library_id": "9999",
    "media_id": "799999",
    "person_id": "999999",
    "face_id": "899999",
    "user_id": "99999",
    "content_hash": "f" * 64,
    "segment": "seg_00000.ts",
    "library": "9999",
    "path": "nowhere/none.jpg",
    "album_id": "99999",
    "share_id": "99999",
    "token": "A" * 43,
}


# --- the world -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def b_sources(tmp_path_factory: pytest.TempPathFactory, world_sources: Path) -> Path:
    return make_b_sources(tmp_path_factory.mktemp("scope-b-sources"), world_sources)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def sw(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
    world_sources: Path,
    b_sources: Path,
    tiny_model: TinyClip,
) -> Iterator[ScopeWorld]:
    """Both libraries indexed once per database (tests must leave it as they found it)."""
    tmp = tmp_path_factory.mktemp(f"scope-{request.param}")
    url = world_database_url(request, tmp, sqlite_template)
    built = build_scope_world(tmp, url, world_sources, b_sources, tiny_model)
    with built.client:
        yield built
    from imageserver.ml.encoders import close_encoder
    from imageserver.server.background import close_services

    close_encoder(built.ctx)
    close_services(built.ctx)
    built.ctx.engine.dispose()


@pytest.fixture(scope="module")
def openapi(sw: ScopeWorld) -> dict[str, Any]:
    spec: dict[str, Any] = sw.client.get("/openapi.json").json()
    return spec


@pytest.fixture(scope="module")
def png(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_png(tmp_path_factory.mktemp("scope-png") / "q.png", size=(40, 30)).read_bytes()


# --- values --------------------------------------------------------------------------------


def a_values(sw: ScopeWorld, path: str) -> dict[str, str]:
    video = path.startswith("/video/")
    return {
        "library_id": str(A_ID),
        "media_id": str(sw.media_a["clips/clip.mp4" if video else "2021/a.jpg"]),
        "person_id": str(BOB),
        "face_id": str(sw.faces_a[0]),
        "user_id": str(sw.user_ids["member"]),
        "content_hash": sw.hashes_a["clips/clip.mp4"],
        "segment": "seg_00000.ts",
        "library": str(A_ID),
        "path": "clips/clip.mp4" if video else "2021/a.jpg",
        **sw.collections["a"],
    }


def b_values(sw: ScopeWorld, path: str) -> dict[str, str]:
    video = path.startswith("/video/")
    rel = "zulu-clips/zulu-movie.mp4" if video else "zulu-folder/zulu-secret.jpg"
    return {
        "library_id": str(B_ID),
        "media_id": str(sw.media_b[rel]),
        "person_id": str(CAROL),
        "face_id": str(B_FACE_FROM + 1),
        "user_id": str(sw.user_ids["member"]),
        "content_hash": sw.hashes_b["zulu-clips/zulu-movie.mp4"],
        "segment": "seg_00000.ts",
        "library": str(B_ID),
        "path": rel,
        **sw.collections["b"],
    }


def bodies(sw: ScopeWorld, key: str, values: dict[str, str], png: bytes) -> dict[str, Any]:
    # reads drop their optional values; the body-id writes always carry theirs
    values = {"media_id": "1", "library": "1", "user_id": "1", **values}
    found: dict[str, dict[str, Any]] = {
        "POST /photos/search/image": {"files": {"image": ("a.png", png, "image/png")}},
        "POST /video/generate": {"json": {"media_id": int(values["media_id"])}},
        "PATCH /people/{person_id}": {"json": {"hidden": False}},
        "POST /people/{person_id}/merge": {"json": {"ids": [ALICE]}},
        "PATCH /faces/{face_id}": {"json": {"person_id": ALICE}},
        "POST /media/favorite": {"json": {"ids": [int(values["media_id"])]}},
        "POST /media/download": {"json": {"ids": [int(values["media_id"])]}},
        "POST /media/archive": {"json": {"ids": [int(values["media_id"])]}},
        "POST /albums": {"json": {"from_folder": {"library": int(values["library"])}}},
        "PATCH /albums/{album_id}": {"json": {"name": "renamed"}},
        "POST /albums/{album_id}/items": {"json": {"ids": [int(values["media_id"])]}},
        "DELETE /albums/{album_id}/items": {"json": {"ids": [int(values["media_id"])]}},
        "POST /albums/{album_id}/members": {"json": {"user_id": int(values["user_id"])}},
        "POST /shares": {"json": {"media_ids": [int(values["media_id"])]}},
        "PATCH /media/{media_id}": {"json": {"rating": 3}},
        "PATCH /media": {"json": {"ids": [int(values["media_id"])], "rating": 3}},
    }
    return found.get(key, {})


def request_for(
    op: dict[str, Any], path: str, values: dict[str, str], extra: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    url, params = path, {}
    for param in op.get("parameters", []):
        name = param["name"]
        if param["in"] == "path":
            assert name in values, f"{path}: no value for path parameter {name}"
            url = url.replace("{" + name + "}", values[name])
        elif param["in"] == "query" and name in values:
            params[name] = values[name]
        elif param["in"] == "query" and name == "q":
            params[name] = "red dog"
        elif param["in"] == "query" and param.get("required"):
            raise AssertionError(f"{path}: no value for required query parameter {name}")
    if path in ("/photos/search", "/search") or path.endswith("/similar"):
        params["threshold"] = -1  # every visible photo is a hit: the most to leak
    return url, {"params": params, **extra}


# --- checks --------------------------------------------------------------------------------


def _walk(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v)
    else:
        yield value


def leaks(sw: ScopeWorld, response: Any) -> list[str]:
    """What of B shows in the response (headers included: an ETag carries a hash)."""
    text = response.content.decode("utf-8", "replace")
    text += "\n" + "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    found = [s for s in sw.secret_strings() if s in text]
    numbers = sw.secret_ints()
    if response.headers.get("content-type", "").startswith("application/json"):
        for value in _walk(response.json()):
            if isinstance(value, int) and not isinstance(value, bool) and value in numbers:
                found.append(f"id {value}")
    else:
        found += [f"id {n}" for n in numbers if re.search(rf"(?<![\d.]){n}(?![\d.])", text)]
    return found


def _mask(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {_mask(k, values): _mask(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v, values) for v in value]
    if isinstance(value, str):
        for name, given in sorted(values.items(), key=lambda kv: -len(kv[1])):
            value = value.replace(given, f"<{name}>")
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        named = [name for name, given in values.items() if given == str(value)]
        return f"<{named[0]}>" if named else value
    return value


def masked(response: Any, values: dict[str, str]) -> tuple[int, str]:
    """Status and body with the request's own values masked (they may be echoed)."""
    if response.headers.get("content-type", "").startswith("application/json"):
        return response.status_code, json.dumps(_mask(response.json(), values), sort_keys=True)
    return response.status_code, str(_mask(response.content.decode("utf-8", "replace"), values))


def used(op: dict[str, Any], values: dict[str, str], key: str) -> dict[str, str]:
    """The values this request really carries (path, query and the generate body)."""
    names = {p["name"] for p in op.get("parameters", []) if p["in"] in ("path", "query")}
    if key in BODY_IDS:
        names |= {"media_id", "library", "user_id"}
    return {k: v for k, v in values.items() if k in names}


def optional_dropped(op: dict[str, Any], values: dict[str, str]) -> dict[str, str]:
    optional = {
        p["name"] for p in op.get("parameters", []) if p["in"] == "query" and not p.get("required")
    }
    return {k: v for k, v in values.items() if k not in optional}


def operations(openapi: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    return {
        f"{method.upper()} {path}": (path, op)
        for path, item in openapi["paths"].items()
        for method, op in item.items()
    }


def test_every_route_is_classified(openapi: dict[str, Any]) -> None:
    documented = set(operations(openapi))
    assert documented == set(CLASSIFIED), (
        f"classify: {sorted(documented - set(CLASSIFIED))}; "
        f"gone: {sorted(set(CLASSIFIED) - documented)}"
    )
    assert set(PHASE2_KNOWN_LEAKS) <= set(CLASSIFIED)
    assert {k for k, v in CLASSIFIED.items() if v == NOT_CALLED} == set(NOT_CALLED_WHY)


def _param(key: str) -> Any:
    if key in PHASE2_KNOWN_LEAKS:
        return pytest.param(
            key, marks=pytest.mark.xfail(strict=True, reason=PHASE2_KNOWN_LEAKS[key]), id=key
        )
    return pytest.param(key, id=key)


CHECKED = [k for k, v in CLASSIFIED.items() if v in (READ, PROBE, OPEN)]


@pytest.mark.parametrize("key", [_param(k) for k in CHECKED])
def test_nothing_of_an_ungranted_library_shows(
    sw: ScopeWorld, openapi: dict[str, Any], png: bytes, key: str
) -> None:
    method = key.split(" ", 1)[0]
    path, op = operations(openapi)[key]
    kind = CLASSIFIED[key]
    problems: list[str] = []
    for user in ("nobody", "member"):
        headers = sw.headers[user] if kind != OPEN else {}
        if kind in (READ, OPEN):
            # with A's values, then without the optional filters (everything a list holds)
            for values in (a_values(sw, path), optional_dropped(op, a_values(sw, path))):
                url, kwargs = request_for(op, path, values, bodies(sw, key, values, png))
                response = sw.client.request(method, url, headers=headers, **kwargs)
                if response.status_code >= 500:
                    problems.append(f"{user}: {response.status_code} {response.text[:200]}")
                problems += [f"{user} {url} {kwargs['params']}: {x}" for x in leaks(sw, response)]
        has_ids = (
            any(
                p["in"] in ("path", "query") and p["name"] in ABSENT
                for p in op.get("parameters", [])
            )
            or key in BODY_IDS
        )
        if not has_ids or kind == OPEN:
            continue
        answers = []
        for values in (b_values(sw, path), ABSENT):
            url, kwargs = request_for(op, path, values, bodies(sw, key, values, png))
            response = sw.client.request(method, url, headers=headers, **kwargs)
            answers.append(masked(response, used(op, values, key)))
        if answers[0] != answers[1]:
            problems.append(f"{user}: B's values {answers[0]} != absent {answers[1]}")
    assert not problems, problems


@pytest.mark.parametrize("key", [k for k, v in CLASSIFIED.items() if v == ADMIN])
def test_admin_routes_refuse_members_before_any_check(
    sw: ScopeWorld, openapi: dict[str, Any], key: str
) -> None:
    method = key.split(" ", 1)[0]
    path, op = operations(openapi)[key]
    body = {"json": {"name": "x", "root_path": "/etc"}} if "requestBody" in op else {}
    for user in ("nobody", "member"):
        seen = set()
        for values in (a_values(sw, path), b_values(sw, path), ABSENT):
            url, kwargs = request_for(op, path, values, body)
            response = sw.client.request(method, url, headers=sw.headers[user], **kwargs)
            assert response.status_code == 403, (key, user, response.text)
            assert response.json()["error"]["code"] == "forbidden"
            seen.add(response.text)
        assert len(seen) == 1, (key, user, seen)


# --- what a member sees, precisely ---------------------------------------------------------


def test_libraries_as_each_user(sw: ScopeWorld) -> None:
    c, h = sw.client, sw.headers
    admin = c.get("/libraries", headers=h["admin"]).json()
    assert [x["id"] for x in admin] == [A_ID, B_ID]
    assert admin[1]["root_path"] == str(sw.root_b) and admin[1]["counts"]["photos"] == 3
    member = c.get("/libraries", headers=h["member"]).json()
    assert [x["id"] for x in member] == [A_ID]
    assert member[0]["root_path"] is None and member[0]["excluded_dirs"] is None
    assert member[0]["health"]["reason"] is None
    assert member[0]["counts"] == {"photos": 5, "videos": 1}
    assert c.get("/libraries", headers=h["nobody"]).json() == []
    assert c.get(f"/libraries/{A_ID}", headers=h["nobody"]).status_code == 404


def test_a_person_shows_only_visible_faces_cover_and_counts(sw: ScopeWorld) -> None:
    c, h = sw.client, sw.headers
    full = c.get(f"/people/{BOB}", headers=h["admin"]).json()
    assert full["face_count"] == 2 and full["cover_face_id"] == B_FACE_FROM
    seen = c.get(f"/people/{BOB}", headers=h["member"]).json()
    assert seen["face_count"] == 1 and seen["image_count"] == 1
    assert seen["cover_face_id"] == sw.bob_faces_a[0]
    assert [f["id"] for f in seen["faces"]] == sw.bob_faces_a
    page = c.get("/people", headers=h["member"]).json()
    assert page["total"] == 2 and {p["id"] for p in page["items"]} == {ALICE, BOB}
    assert c.get(f"/people/{CAROL}", headers=h["member"]).status_code == 404
    assert c.get("/people", headers=h["nobody"]).json() == {"items": [], "total": 0}
    admin_page = c.get("/people", headers=h["admin"]).json()
    assert admin_page["total"] == 3


def test_search_limit_counts_visible_hits_only(sw: ScopeWorld) -> None:
    c, h = sw.client, sw.headers
    params: dict[str, Any] = {"q": "green", "threshold": -1, "limit": 2}
    everything = c.get("/photos/search", params={**params, "limit": 50}, headers=h["admin"])
    assert {x["library_id"] for x in everything.json()["hits"]} == {A_ID, B_ID}
    hits = c.get("/photos/search", params=params, headers=h["member"]).json()["hits"]
    assert len(hits) == 2 and {x["library_id"] for x in hits} == {A_ID}
    all_visible = c.get("/photos/search", params={**params, "limit": 50}, headers=h["member"])
    # a.jpg and its copy are one hit; b, "c d", e: four distinct photos of A
    assert len(all_visible.json()["hits"]) == 4
    assert c.get("/photos/search", params=params, headers=h["nobody"]).json()["hits"] == []


def test_grant_and_revoke_take_effect_on_the_next_request(sw: ScopeWorld) -> None:
    c, h = sw.client, sw.headers
    nobody = sw.user_ids["nobody"]
    search: dict[str, Any] = {"q": "red", "threshold": -1}
    assert c.get("/photos/search", params=search, headers=h["nobody"]).json()["hits"] == []
    granted = c.put(f"/libraries/{B_ID}/members/{nobody}", headers=h["admin"])
    assert granted.status_code == 200 and granted.json()["username"] == "nobody"
    try:
        members = c.get(f"/libraries/{B_ID}/members", headers=h["admin"]).json()
        assert {m["username"] for m in members} == {"admin", "nobody"}
        assert [x["id"] for x in c.get("/libraries", headers=h["nobody"]).json()] == [B_ID]
        hits = c.get("/photos/search", params=search, headers=h["nobody"]).json()["hits"]
        assert {x["library_id"] for x in hits} == {B_ID} and len(hits) == 3
        people = {p["id"]: p for p in c.get("/people", headers=h["nobody"]).json()["items"]}
        # Alice's face on a.jpg shows through B's copy of it (zulu-copy-of-a.jpg)
        assert set(people) == {ALICE, BOB, CAROL} and people[ALICE]["face_count"] == 1
        bob = c.get(f"/people/{BOB}", headers=h["nobody"]).json()
        assert bob["cover_face_id"] == B_FACE_FROM and bob["face_count"] == 1
    finally:
        revoked = c.delete(f"/libraries/{B_ID}/members/{nobody}", headers=h["admin"])
    assert revoked.status_code == 204
    assert c.get("/libraries", headers=h["nobody"]).json() == []
    assert c.get("/photos/search", params=search, headers=h["nobody"]).json()["hits"] == []
    assert c.get("/people", headers=h["nobody"]).json()["total"] == 0
    assert c.get(f"/people/{CAROL}", headers=h["nobody"]).status_code == 404
    again = c.delete(f"/libraries/{B_ID}/members/{nobody}", headers=h["admin"])
    assert again.status_code == 204  # idempotent
    unknown = c.put(f"/libraries/{B_ID}/members/99999", headers=h["admin"])
    assert unknown.status_code == 404


def test_streams_open_only_what_the_credential_user_may_see(sw: ScopeWorld) -> None:
    """A hash streams while some item of it is in the caller's libraries; a stream token
    carries its user's scope as it is now (a revoke stops it at once), not as it was."""
    c, h = sw.client, sw.headers
    clip_a, movie_b = sw.hashes_a["clips/clip.mp4"], sw.hashes_b["zulu-clips/zulu-movie.mp4"]
    admin_b = c.get(f"/video/stream/{movie_b}/playlist.m3u8", headers=h["admin"])
    assert admin_b.status_code == 200  # B's stream exists: the 404s below hide it
    absent = c.get(f"/video/stream/{'f' * 64}/playlist.m3u8", headers=h["member"])
    assert absent.status_code == 404
    for user in ("member", "nobody"):
        hidden = c.get(f"/video/stream/{movie_b}/playlist.m3u8", headers=h[user])
        assert (hidden.status_code, hidden.json()) == (404, absent.json())
    member_a = c.get(f"/video/stream/{clip_a}/playlist.m3u8", headers=h["member"])
    assert member_a.status_code == 200 and "#EXTM3U" in member_a.text
    segment = next(x for x in member_a.text.splitlines() if x and not x.startswith("#"))
    assert c.get(segment, headers=h["member"]).status_code == 200
    seg_b = c.get(f"/video/stream/{movie_b}/seg_00000.ts", headers=h["member"])
    seg_absent = c.get(f"/video/stream/{'f' * 64}/seg_00000.ts", headers=h["member"])
    assert (seg_b.status_code, seg_b.json()) == (seg_absent.status_code, seg_absent.json())
    by_path_b = c.get(
        f"/video/stream/library/{B_ID}/playlist.m3u8",
        params={"path": "zulu-clips/zulu-movie.mp4"},
        headers=h["member"],
    )
    by_path_absent = c.get(
        "/video/stream/library/9999/playlist.m3u8",
        params={"path": "zulu-clips/zulu-movie.mp4"},
        headers=h["member"],
    )
    assert by_path_b.status_code == 404
    assert (
        by_path_b.json()["error"]["message"].replace(str(B_ID), "9999")
        == (by_path_absent.json()["error"]["message"])
    )

    # A member's stream token for A's clip: works while A is granted, 404 once revoked.
    info = c.get(f"/video/{sw.media_a['clips/clip.mp4']}", headers=h["member"]).json()
    assert info["status"] == "ready" and info["playlist_url"]
    assert c.get(info["playlist_url"]).status_code == 200
    member = sw.user_ids["member"]
    assert c.delete(f"/libraries/{A_ID}/members/{member}", headers=h["admin"]).status_code == 204
    try:
        revoked = c.get(info["playlist_url"])
        assert revoked.status_code == 404 and revoked.json() == absent.json()
    finally:
        assert c.put(f"/libraries/{A_ID}/members/{member}", headers=h["admin"]).status_code == 200
    assert c.get(info["playlist_url"]).status_code == 200
    # no credentials: the same 401 for B's hash, A's hash and a hash that exists nowhere
    bare = {c.get(f"/video/stream/{x}/playlist.m3u8").text for x in (movie_b, clip_a, "f" * 64)}
    assert len(bare) == 1 and "unauthorized" in bare.pop()


def test_stats_count_only_the_callers_libraries(sw: ScopeWorld) -> None:
    c, h = sw.client, sw.headers
    admin = c.get("/stats/backlogs", headers=h["admin"]).json()["libraries"]
    assert {r["library_id"] for r in admin} == {A_ID, B_ID}
    member = c.get("/stats/backlogs", headers=h["member"]).json()["libraries"]
    assert [r["library_id"] for r in member] == [A_ID] and member[0]["media"] == 6
    assert member[0]["health_reason"] is None
    asked_b = c.get("/stats/backlogs", params={"library": B_ID}, headers=h["member"])
    assert asked_b.json()["libraries"] == []
    assert c.get("/stats/backlogs", headers=h["nobody"]).json()["libraries"] == []

    hls_admin = c.get("/hls/stats", headers=h["admin"]).json()
    hls_member = c.get("/hls/stats", headers=h["member"]).json()
    assert hls_admin["aggregate"]["total"] == 2  # A's clip and B's movie
    assert [r["library_id"] for r in hls_member["libraries"]] == [A_ID]
    assert hls_member["aggregate"]["total"] == 1
    assert c.get("/hls/stats", headers=h["nobody"]).json()["aggregate"]["total"] == 0

    ml_member = c.get("/ml/stats", headers=h["member"]).json()
    assert list(ml_member["libraries"]) == ["family"]
    ml_admin = c.get("/ml/stats", headers=h["admin"]).json()
    # B adds two photos of its own (its copy of a.jpg is counted once, by hash)
    assert ml_admin["total"]["images"] == ml_member["total"]["images"] + 2

    faces_member = c.get("/faces/stats", headers=h["member"]).json()
    assert [r["library_id"] for r in faces_member["libraries"]] == [A_ID]
    faces_admin = c.get("/faces/stats", headers=h["admin"]).json()
    assert faces_admin["total"]["images"] == faces_member["total"]["images"] + 2
