"""Every role x every operation, derived from the OpenAPI document.

Each operation is classified here: public, admin-only or open to members. A new route
fails `test_every_operation_is_classified` until someone decides which it is. A member
gets 403 with the error body on every admin-only operation (before any lookup or body
check: the ids and bodies below are dummies); an admin never gets 403; a member is never
refused on the rest; a read-only API key is refused (403) on everything but GET/HEAD.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from imageserver.work.context import AppContext
from tests.conftest import MEMBER_PASSWORD, login

PUBLIC = {
    ("POST", "/auth/login"),
    ("GET", "/health"),
    # public share links: the token in the path is the only credential (albums/shares.py)
    ("GET", "/s/{token}"),
    ("POST", "/s/{token}/unlock"),
    ("GET", "/s/{token}/items/{media_id}/thumbnail"),
    ("GET", "/s/{token}/items/{media_id}/original"),
    ("GET", "/s/{token}/download"),
}
ADMIN_ONLY = {
    ("GET", "/metrics"),
    ("POST", "/libraries"),
    ("PATCH", "/libraries/{library_id}"),
    ("DELETE", "/libraries/{library_id}"),
    ("GET", "/libraries/{library_id}/members"),
    ("PUT", "/libraries/{library_id}/members/{user_id}"),
    ("DELETE", "/libraries/{library_id}/members/{user_id}"),
    ("PATCH", "/people/{person_id}"),
    ("POST", "/people/{person_id}/merge"),
    ("DELETE", "/people/{person_id}/faces/{face_id}"),
    ("PATCH", "/faces/{face_id}"),
    ("GET", "/users"),
    ("POST", "/users"),
    ("GET", "/users/{user_id}"),
    ("PATCH", "/users/{user_id}"),
    ("DELETE", "/users/{user_id}"),
    ("POST", "/export/xmp"),
}
# Everything else needs a login and is open to members (what they may SEE is the library
# scope's business). Writes a member may make: their own account, and asking for a video
# playlist (viewing, see video/api.py generate) or an image search (a read with a body).
MEMBER_WRITES = {
    ("POST", "/auth/logout"),
    ("POST", "/auth/logout-all"),
    ("POST", "/auth/password"),
    ("POST", "/auth/api-keys"),
    ("DELETE", "/auth/api-keys/{key_id}"),
    ("DELETE", "/auth/sessions/{session_id}"),
    ("POST", "/video/generate"),
    ("POST", "/photos/search/image"),
    # collections: their own marks, albums and links (what they may touch is the scope's
    # and the album role's business, tests/albums)
    ("PUT", "/media/{media_id}/favorite"),
    ("DELETE", "/media/{media_id}/favorite"),
    ("POST", "/media/favorite"),
    ("POST", "/media/download"),  # a read with a body (the ids of a selection)
    ("PUT", "/media/{media_id}/archive"),
    ("DELETE", "/media/{media_id}/archive"),
    ("POST", "/media/archive"),
    ("POST", "/albums"),
    ("PATCH", "/albums/{album_id}"),
    ("DELETE", "/albums/{album_id}"),
    ("POST", "/albums/{album_id}/items"),
    ("DELETE", "/albums/{album_id}/items"),
    ("POST", "/albums/{album_id}/members"),
    ("DELETE", "/albums/{album_id}/members/{user_id}"),
    ("POST", "/shares"),
    ("DELETE", "/shares/{share_id}"),
    # edits are the household's, shared: a member edits what the scope lets them see
    ("PATCH", "/media/{media_id}"),
    ("PATCH", "/media"),
    ("POST", "/media/{media_id}/edits/undo"),
}
# Ends the caller's own session(s): run last, each with a fresh login.
ENDS_SESSION = {("POST", "/auth/logout"), ("POST", "/auth/logout-all")}
PARAMS = {"q": "dog", "library": 1, "path": "nowhere.mp4"}


def operations(client: TestClient) -> list[tuple[str, str, str, dict[str, Any]]]:
    spec = client.get("/openapi.json").json()
    out = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            url = path
            for param in op.get("parameters", []):
                if param["in"] == "path":
                    value = "ab" * 32 if param["name"] == "content_hash" else "77"
                    value = "seg_00000.ts" if param["name"] == "segment" else value
                    url = url.replace("{" + param["name"] + "}", value)
            query = {
                p["name"]: PARAMS[p["name"]]
                for p in op.get("parameters", [])
                if p["in"] == "query" and p["name"] in PARAMS
            }
            out.append((method.upper(), path, url, {"params": query, "json": {}}))
    return out


def assert_403(response: Any, label: str) -> None:
    assert response.status_code == 403, (label, response.status_code, response.text[:200])
    assert response.json()["error"]["code"] == "forbidden", label


def test_every_operation_is_classified(client: TestClient) -> None:
    found = {(method, path) for method, path, _, _ in operations(client)}
    assert found >= ADMIN_ONLY and found >= PUBLIC and found >= MEMBER_WRITES
    reads = {op for op in found if op[0] == "GET"} - ADMIN_ONLY - PUBLIC
    unclassified = found - PUBLIC - ADMIN_ONLY - MEMBER_WRITES - reads
    assert not unclassified, f"classify these in tests/auth/test_roles.py: {unclassified}"


def test_member_gets_403_on_every_admin_only_operation_and_admin_never(
    client: TestClient, ctx: AppContext, auth: dict[str, str], member: dict[str, str]
) -> None:
    ops = operations(client)
    checked = 0
    for method, path, url, kwargs in ops:
        if (method, path) not in ADMIN_ONLY:
            continue
        assert_403(client.request(method, url, headers=member, **kwargs), f"member {path}")
        admin = client.request(method, url, headers=auth, **kwargs)
        assert admin.status_code != 403, (method, path, admin.text[:200])
        checked += 1
    assert checked == len(ADMIN_ONLY)
    # The member's 403 came before any check: nothing was created for them either.
    names = [u["username"] for u in client.get("/users", headers=auth).json()]
    assert names == ["admin", "bob"]


def test_member_is_never_refused_outside_the_admin_only_operations(
    client: TestClient, member: dict[str, str]
) -> None:
    ops = sorted(operations(client), key=lambda op: (op[0], op[1]) in ENDS_SESSION)
    checked = 0
    for method, path, url, kwargs in ops:
        if (method, path) in ADMIN_ONLY | PUBLIC:
            continue
        headers = member
        if (method, path) in ENDS_SESSION:
            headers = {"Authorization": f"Bearer {login(client, 'bob', MEMBER_PASSWORD)}"}
        response = client.request(method, url, headers=headers, **kwargs)
        assert response.status_code not in (401, 403), (method, path, response.text[:200])
        checked += 1
    assert checked >= 30


def test_read_only_api_key_may_only_read(
    client: TestClient, auth: dict[str, str], member: dict[str, str]
) -> None:
    made = client.post("/auth/api-keys", headers=auth, json={"name": "ro", "read_only": True})
    assert made.status_code == 201, made.text
    key = {"x-api-key": made.json()["key"]}
    for method, path, url, kwargs in operations(client):
        if (method, path) in PUBLIC:
            continue
        response = client.request(method, url, headers=key, **kwargs)
        if method == "GET":
            assert response.status_code != 401, (path, response.text[:200])
        else:
            assert_403(response, f"read-only key {method} {path}")
    assert client.get("/libraries", headers=key).status_code == 200
