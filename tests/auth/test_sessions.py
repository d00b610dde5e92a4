"""Sessions revoke for real: logout, logout everywhere, ending one session, own password.

No test here advances the clock: revocation is a deleted row checked on every request.
"""

from __future__ import annotations

import jwt
from fastapi.testclient import TestClient

from imageserver.auth.deps import CurrentUser
from imageserver.auth.streams import issue_stream_token
from imageserver.work.context import AppContext
from tests.conftest import ADMIN_PASSWORD, login

DIGEST = "cd" * 32


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def session_of(ctx: AppContext, token: str) -> int:
    claims = jwt.decode(
        token,
        ctx.jwt_secret,
        algorithms=["HS256"],
        options={"verify_exp": False, "verify_iat": False},
    )
    return int(claims["sid"])


def test_logout_ends_this_session_only(client: TestClient) -> None:
    first, second = bearer(login(client)), bearer(login(client))
    assert client.post("/auth/logout", headers=first).status_code == 204
    assert client.get("/libraries", headers=first).status_code == 401
    assert client.post("/auth/logout", headers=first).status_code == 401
    assert client.get("/libraries", headers=second).status_code == 200


def test_logout_all_ends_every_session(client: TestClient) -> None:
    first, second = bearer(login(client)), bearer(login(client))
    assert client.post("/auth/logout-all", headers=first).status_code == 204
    assert client.get("/libraries", headers=first).status_code == 401
    assert client.get("/libraries", headers=second).status_code == 401


def test_sessions_list_and_end_one(client: TestClient, ctx: AppContext) -> None:
    token_a, token_b = login(client), login(client)
    a, b = bearer(token_a), bearer(token_b)
    listed = client.get("/auth/sessions", headers=a).json()
    assert [s["current"] for s in listed] == [True, False]
    assert {s["id"] for s in listed} == {session_of(ctx, token_a), session_of(ctx, token_b)}
    assert listed[0]["address"] == "testclient"
    assert client.delete(f"/auth/sessions/{session_of(ctx, token_b)}", headers=a).status_code == 204
    assert client.get("/libraries", headers=b).status_code == 401
    assert client.get("/libraries", headers=a).status_code == 200
    assert client.delete("/auth/sessions/999999", headers=a).status_code == 404


def test_a_user_cannot_end_another_users_session(
    client: TestClient, ctx: AppContext, auth: dict[str, str], member: dict[str, str]
) -> None:
    admin_sid = session_of(ctx, auth["Authorization"].split()[1])
    assert client.delete(f"/auth/sessions/{admin_sid}", headers=member).status_code == 404
    assert client.get("/libraries", headers=auth).status_code == 200


def test_own_password_change_needs_the_current_one_and_ends_other_sessions(
    client: TestClient,
) -> None:
    here, elsewhere = bearer(login(client)), bearer(login(client))
    wrong = client.post(
        "/auth/password",
        headers=here,
        json={"current_password": "not it at all", "new_password": "a new password"},
    )
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "forbidden"
    assert client.get("/libraries", headers=here).status_code == 200  # a wrong guess: no logout
    short = client.post(
        "/auth/password",
        headers=here,
        json={"current_password": ADMIN_PASSWORD, "new_password": "short"},
    )
    assert short.status_code == 422
    changed = client.post(
        "/auth/password",
        headers=here,
        json={"current_password": ADMIN_PASSWORD, "new_password": "a new password"},
    )
    assert changed.status_code == 204, changed.text
    assert client.get("/libraries", headers=here).status_code == 200
    assert client.get("/libraries", headers=elsewhere).status_code == 401
    assert login(client, password="a new password")


def test_stream_tokens_die_with_their_session(client: TestClient, ctx: AppContext) -> None:
    token = login(client)
    user = CurrentUser(id=1, username="admin", role="admin", session_id=session_of(ctx, token))
    stream, _ = issue_stream_token(ctx, user, DIGEST)
    url = f"/video/stream/{DIGEST}/playlist.m3u8"
    # Authorized (the playlist is simply not made yet), then refused once the session ends.
    assert client.get(url, params={"token": stream}).status_code == 404
    assert client.post("/auth/logout", headers=bearer(token)).status_code == 204
    gone = client.get(url, params={"token": stream})
    assert gone.status_code == 401 and gone.json()["error"]["code"] == "unauthorized"


def test_stream_routes_authorize_before_any_lookup(client: TestClient) -> None:
    """No existence oracle: without credentials every stream URL is the same 401."""
    urls = [
        ("/video/stream/library/1/playlist.m3u8", {"path": "missing.mp4"}),
        ("/video/stream/library/1/preview.mp4", {"path": "../../etc/passwd"}),
        ("/video/stream/library/999/playlist.m3u8", {"path": "x" * 5000}),
        ("/video/stream/library/0/playlist.m3u8", {}),
        (f"/video/stream/{DIGEST}/playlist.m3u8", {}),
        ("/video/stream/not-a-hash/preview.mp4", {}),
        (f"/video/stream/{DIGEST}/not-a-segment", {}),
    ]
    for url, params in urls:
        response = client.get(url, params=params)
        assert response.status_code == 401, (url, response.status_code, response.text[:200])
        assert response.json()["error"]["code"] == "unauthorized"
