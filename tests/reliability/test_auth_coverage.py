"""Auth coverage derived from the OpenAPI document: every operation, every bad token.

Every operation but the allow-list answers 401 (with the uniform error body and a
`WWW-Authenticate: Bearer` challenge) without a token, with an expired token, with a token
signed by another secret, with `alg: none`, and with a stream token used as a bearer. The
requests are otherwise well formed (real ids of an indexed world): the same GET with a
valid token succeeds, so the 401 is the token's doing. A new route joins these tests by
being in the document; a path parameter nobody knows how to fill fails loudly.

Signed stream tokens (`?token=`) are checked on every stream operation: they open the one
video whose content hash they carry, no other, not after they expire or their session
ends, never when forged, and never as an access token anywhere else. Stream routes
authorize before any lookup: without credentials every path is the same 401.

API keys are credentials too (`Authorization: Bearer isk_...` or `x-api-key`): a valid key
opens every GET but the credential-management ones (403), a revoked or unknown one none.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from imageserver.auth import tokens
from imageserver.video import layout
from tests.fixtures import make_png
from tests.reliability.world import World, login_headers

# The public share-link routes take no login: the token in their path is the credential.
SHARE_ROUTES = {
    ("GET", "/s/{token}"),
    ("POST", "/s/{token}/unlock"),
    ("GET", "/s/{token}/items/{media_id}/thumbnail"),
    ("GET", "/s/{token}/items/{media_id}/original"),
    ("GET", "/s/{token}/download"),
}
ALLOW_LIST = {("POST", "/auth/login"), ("GET", "/health"), *SHARE_ROUTES}
OTHER_SECRET = "not-the-server-secret-" + "z" * 40


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # as documented
    url: str
    kwargs: dict[str, Any]

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


@pytest.fixture(scope="module")
def client(world: World) -> Iterator[TestClient]:
    with TestClient(world.app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def auth(client: TestClient) -> dict[str, str]:
    return login_headers(client)


@pytest.fixture(scope="module")
def openapi(client: TestClient) -> dict[str, Any]:
    spec: dict[str, Any] = client.get("/openapi.json").json()
    return spec


def _b64(data: dict[str, object]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def path_values(world: World, path: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    video = path.startswith("/video/")
    return {
        **(extra or {}),
        "library_id": str(world.library_id),
        "media_id": str(world.video_id if video else world.photo_id),
        "person_id": str(world.people[0]),
        "face_id": str(world.faces[0]),
        "content_hash": world.video_hash,
        "segment": "seg_00000.ts",
        "user_id": "1",  # the admin: granting a library to its owner again is a no-op
        "session_id": "1",
        "key_id": "1",
    }


def query_values(world: World, path: str) -> dict[str, Any]:
    video = path.startswith("/video/")
    return {
        "library": world.library_id,
        "path": "clips/clip.mp4" if video else "2021/a.jpg",
        "q": "red dog",
    }


def body_for(world: World, method: str, path: str, tmp_png: bytes) -> dict[str, Any]:
    bodies: dict[str, dict[str, Any]] = {
        "POST /libraries": {"json": {"name": "x", "root_path": str(world.root)}},
        "PATCH /libraries/{library_id}": {"json": {"enabled": True}},
        "POST /video/generate": {"json": {"media_id": world.video_id}},
        "POST /photos/search/image": {"files": {"image": ("a.png", tmp_png, "image/png")}},
        "PATCH /people/{person_id}": {"json": {"hidden": False}},
        "POST /people/{person_id}/merge": {"json": {"ids": [world.people[-1]]}},
        "PATCH /faces/{face_id}": {"json": {"person_id": world.people[0]}},
        "POST /users": {"json": {"username": "carol", "password": "carol password"}},
        "PATCH /users/{user_id}": {"json": {"role": "admin"}},
        "POST /auth/password": {"json": {"current_password": "x" * 12, "new_password": "y" * 12}},
        "POST /auth/api-keys": {"json": {"name": "script"}},
    }
    return bodies.get(f"{method} {path}", {"json": {}})


def calls(
    world: World, openapi: dict[str, Any], png: bytes, extra: dict[str, str] | None = None
) -> list[Call]:
    out = []
    for path, item in openapi["paths"].items():
        for method, op in item.items():
            method = method.upper()
            values = path_values(world, path, extra)
            url = path
            for param in op.get("parameters", []):
                if param["in"] == "path":
                    assert param["name"] in values, f"{method} {path}: no value for {param}"
                    url = url.replace("{" + param["name"] + "}", values[param["name"]])
            wanted = query_values(world, path)
            query = {
                p["name"]: wanted[p["name"]]
                for p in op.get("parameters", [])
                if p["in"] == "query" and p["name"] in wanted
            }
            missing = [
                p["name"]
                for p in op.get("parameters", [])
                if p["in"] == "query" and p.get("required") and p["name"] not in query
            ]
            assert not missing, f"{method} {path}: no value for required {missing}"
            kwargs: dict[str, Any] = {"params": query}
            if "requestBody" in op:
                kwargs.update(body_for(world, method, path, png))
            out.append(Call(method, path, url, kwargs))
    return out


@pytest.fixture(scope="module")
def collections(client: TestClient, auth: dict[str, str], world: World) -> dict[str, str]:
    """An album and a share link of the admin's, so their ids are real (GETs answer 200)."""
    album = client.post("/albums", json={"name": "auth album"}, headers=auth).json()
    items = {"ids": [world.photo_id]}
    assert client.post(f"/albums/{album['id']}/items", json=items, headers=auth).is_success
    share = client.post("/shares", json={"album_id": album["id"]}, headers=auth).json()
    return {"album_id": str(album["id"]), "share_id": str(share["id"]), "token": share["token"]}


@pytest.fixture(scope="module")
def operations(
    world: World, openapi: dict[str, Any], tmp_path_factory: Any, collections: dict[str, str]
) -> list[Call]:
    png = make_png(tmp_path_factory.mktemp("auth-png") / "q.png", size=(40, 30)).read_bytes()
    found = calls(world, openapi, png, collections)
    assert len(found) >= 50
    return found


def protected(operations: list[Call]) -> list[Call]:
    return [c for c in operations if (c.method, c.path) not in ALLOW_LIST]


def session_id(auth: dict[str, str], world: World) -> int:
    claims = jwt.decode(
        auth["Authorization"].split()[1],
        world.ctx.jwt_secret,
        algorithms=["HS256"],
        options={"verify_exp": False, "verify_iat": False},
    )
    return int(claims["sid"])


def stream_token(world: World, sid: int, digest: str, now: float | None = None) -> str:
    """A real stream token: the admin's, minted from a live login session."""
    issued = world.ctx.clock() if now is None else now
    return tokens.issue(world.ctx.jwt_secret, "1", issued, 600, "stream", digest, session_id=sid)


@pytest.fixture(scope="module")
def sid(auth: dict[str, str], world: World) -> int:
    return session_id(auth, world)


@pytest.fixture(scope="module")
def revoked_key(client: TestClient, auth: dict[str, str]) -> str:
    made = client.post("/auth/api-keys", headers=auth, json={"name": "revoked"}).json()
    assert client.delete(f"/auth/api-keys/{made['id']}", headers=auth).status_code == 204
    key: str = made["key"]
    return key


def bad_tokens(world: World) -> dict[str, str | None]:
    now = world.ctx.clock()
    lifetime = world.ctx.settings.jwt_lifetime_seconds
    claims = {"sub": "1", "iat": int(now), "exp": int(now) + 600}
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    return {
        "none": None,
        "expired": tokens.issue(world.ctx.jwt_secret, "1", now - lifetime - 60, lifetime),
        "other secret": tokens.issue(OTHER_SECRET, "1", now, lifetime),
        "alg none": unsigned,
        "alg none (upper)": f"{_b64({'alg': 'None'})}.{unsigned.split('.')[1]}.",
        "HS512": jwt.encode(
            {"sub": "1", "iat": int(now), "exp": int(now) + 600},
            world.ctx.jwt_secret + "x" * 32,
            algorithm="HS512",
        ),
        "stream token as bearer": tokens.issue(
            world.ctx.jwt_secret, "1", now, 600, "stream", world.video_hash
        ),
        "garbage": "not.a.token",
        "session ended": tokens.issue(world.ctx.jwt_secret, "1", now, lifetime, session_id=99999),
        "no session": tokens.issue(world.ctx.jwt_secret, "1", now, lifetime),
        "unknown API key": "isk_" + "A" * 43,
    }


def assert_401(response: Any, label: str) -> None:
    assert response.status_code == 401, (label, response.status_code, response.text[:300])
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == "unauthorized", (label, body)
    assert response.headers.get("www-authenticate", "").lower().startswith("bearer"), label


def test_the_allow_list_is_exactly_what_answers_without_a_token(
    client: TestClient, world: World, operations: list[Call]
) -> None:
    open_ops = {(c.method, c.path) for c in operations if (c.method, c.path) in ALLOW_LIST}
    assert open_ops == ALLOW_LIST, "an allow-listed operation left the document"
    assert client.get("/health").status_code == 200
    assert_401(client.get("/metrics"), "GET /metrics")  # an operator endpoint
    wrong = client.post("/auth/login", json={"username": "admin", "password": "x" * 12})
    assert_401(wrong, "POST /auth/login")
    for method, path in SHARE_ROUTES:  # open, but only with a real token
        url = path.replace("{token}", "A" * 43).replace("{media_id}", str(world.photo_id))
        answer = client.request(method, url, json={"password": "x" * 12})
        assert answer.status_code == 404, (method, path, answer.text)


@pytest.mark.parametrize(
    "kind",
    [
        "none",
        "expired",
        "other secret",
        "alg none",
        "alg none (upper)",
        "HS512",
        "stream token as bearer",
        "garbage",
        "session ended",
        "no session",
        "unknown API key",
        "revoked API key",
    ],
)
def test_every_operation_refuses_a_bad_token(
    client: TestClient, world: World, operations: list[Call], kind: str, revoked_key: str
) -> None:
    token = revoked_key if kind == "revoked API key" else bad_tokens(world)[kind]
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    checked = 0
    for call in protected(operations):
        response = client.request(call.method, call.url, headers=headers, **call.kwargs)
        assert_401(response, f"{call.label} with {kind}")
        checked += 1
    assert checked >= 35


def test_the_same_requests_succeed_with_a_valid_token(
    client: TestClient, auth: dict[str, str], operations: list[Call]
) -> None:
    """Control: the well-formed GETs above are refused for the token alone."""
    for call in protected(operations):
        if call.method != "GET":
            continue
        response = client.request(call.method, call.url, headers=auth, **call.kwargs)
        assert response.status_code in (200, 206), (call.label, response.text[:300])


CREDENTIAL_ROUTES = {"/auth/sessions", "/auth/api-keys"}


def test_the_same_requests_succeed_with_an_api_key(
    client: TestClient, auth: dict[str, str], operations: list[Call]
) -> None:
    """Keys work as Bearer and as x-api-key; credential management needs a login (403)."""
    made = client.post("/auth/api-keys", headers=auth, json={"name": "control"})
    key = made.json()["key"]
    for headers in ({"Authorization": f"Bearer {key}"}, {"x-api-key": key}):
        for call in protected(operations):
            if call.method != "GET":
                continue
            response = client.request(call.method, call.url, headers=headers, **call.kwargs)
            wanted = (403,) if call.path in CREDENTIAL_ROUTES else (200, 206)
            assert response.status_code in wanted, (call.label, response.text[:300])


def test_every_operation_refuses_a_bad_x_api_key(
    client: TestClient, operations: list[Call], revoked_key: str
) -> None:
    for key in (revoked_key, "isk_" + "B" * 43, "not-a-key"):
        for call in protected(operations):
            response = client.request(
                call.method, call.url, headers={"x-api-key": key}, **call.kwargs
            )
            assert_401(response, f"{call.label} with x-api-key {key[:8]}")


# --- stream tokens ----------------------------------------------------------------------


def stream_calls(operations: list[Call]) -> list[Call]:
    found = [c for c in operations if c.path.startswith("/video/stream/")]
    assert len(found) >= 5
    return found


def test_stream_routes_authorize_before_any_lookup(
    client: TestClient, operations: list[Call]
) -> None:
    """No existence oracle: a missing file, a bad path or hash, an existing video: 401."""
    for call in stream_calls(operations):
        for params in (call.kwargs["params"], {"path": "no/such.mp4"}, {"path": "../x"}, {}):
            assert_401(client.get(call.url, params=params), f"{call.label} {params}")
    assert_401(client.get("/video/stream/not-a-hash/playlist.m3u8"), "bad hash")
    assert_401(client.get("/video/stream/library/999999/preview.mp4?path=a"), "no library")


def test_stream_token_opens_its_own_video_on_every_stream_route(
    client: TestClient, world: World, operations: list[Call], sid: int
) -> None:
    token = stream_token(world, sid, world.video_hash)
    for call in stream_calls(operations):
        params = {**call.kwargs["params"], "token": token}
        response = client.get(call.url, params=params)
        assert response.status_code == 200, (call.label, response.text[:300])


def test_stream_token_is_scoped_to_one_hash(
    client: TestClient, world: World, operations: list[Call], sid: int
) -> None:
    other = world.hashes["2021/a.jpg"]
    assert layout.is_hash(other) and other != world.video_hash
    token = stream_token(world, sid, other)
    for call in stream_calls(operations):
        params = {**call.kwargs["params"], "token": token}
        response = client.get(call.url, params=params)
        assert response.status_code == 403, (call.label, response.text[:300])
        assert response.json()["error"]["code"] == "forbidden"


def test_stream_token_expires_and_cannot_be_forged(
    client: TestClient, world: World, operations: list[Call], sid: int
) -> None:
    now, digest, secret = world.ctx.clock(), world.video_hash, world.ctx.jwt_secret
    claims = {
        "sub": "1",
        "iat": int(now),
        "exp": int(now) + 600,
        "typ": "stream",
        "scope": digest,
        "sid": sid,
    }
    refused = {
        "expired": stream_token(world, sid, digest, now - 7200),
        "just expired": stream_token(world, sid, digest, now - 600),
        "other secret": tokens.issue(OTHER_SECRET, "1", now, 600, "stream", digest, session_id=sid),
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.",
        "access token": tokens.issue(secret, "1", now, 600, session_id=sid),
        "unknown user": tokens.issue(secret, "999", now, 600, "stream", digest, session_id=sid),
        "no session": tokens.issue(secret, "1", now, 600, "stream", digest),
        "session ended": tokens.issue(secret, "1", now, 600, "stream", digest, session_id=99999),
        "empty": "",
    }
    for call in stream_calls(operations):
        for kind, token in refused.items():
            params = {**call.kwargs["params"], "token": token}
            assert_401(client.get(call.url, params=params), f"{call.label} with {kind}")


def test_stream_token_opens_nothing_else(
    client: TestClient, world: World, operations: list[Call], sid: int
) -> None:
    token = stream_token(world, sid, world.video_hash)
    for call in protected(operations):
        if call.path.startswith("/video/stream/"):
            continue
        params = {**call.kwargs.get("params", {}), "token": token}
        kwargs = {**call.kwargs, "params": params}
        assert_401(client.request(call.method, call.url, **kwargs), f"{call.label} ?token=")


def test_issued_stream_urls_carry_a_token_scoped_to_the_video_that_expires(
    client: TestClient, auth: dict[str, str], world: World
) -> None:
    info = client.get(f"/video/{world.video_id}", headers=auth).json()
    assert info["status"] == "ready", info
    token = info["playlist_url"].split("token=", 1)[1]
    claims = jwt.decode(
        token,
        world.ctx.jwt_secret,
        algorithms=["HS256"],
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims["typ"] == "stream" and claims["scope"] == world.video_hash
    assert claims["sid"] == session_id(auth, world)
    lifetime = world.ctx.settings.stream_token_lifetime_seconds
    assert claims["exp"] - claims["iat"] == lifetime
    assert info["token_expires_at"] == pytest.approx(claims["exp"], abs=1)
