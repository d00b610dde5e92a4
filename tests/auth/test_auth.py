"""Login, token verification in every bad case, backoff, revocation on password change."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import jwt
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from imageserver.auth import service, tokens
from imageserver.clock import FakeClock
from imageserver.work.context import AppContext
from tests.conftest import ADMIN_PASSWORD, login

PROTECTED = "/libraries"


def _b64(data: dict[str, object]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def assert_401(response: object) -> None:
    assert response.status_code == 401, response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"}
    assert body["error"]["code"] == "unauthorized"
    assert "Traceback" not in response.text  # type: ignore[attr-defined]


def test_login_returns_a_working_token(client: TestClient, ctx: AppContext) -> None:
    token = login(client)
    claims = jwt.decode(
        token,
        ctx.jwt_secret,
        algorithms=["HS256"],
        options={"verify_exp": False, "verify_iat": False},
    )
    assert {"sub", "exp", "iat"} <= set(claims)
    assert claims["exp"] - claims["iat"] == ctx.settings.jwt_lifetime_seconds
    response = client.get(PROTECTED, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


def test_wrong_password_is_401(client: TestClient) -> None:
    response = client.post("/auth/login", json={"username": "admin", "password": "nope-nope"})
    assert_401(response)


def test_unknown_user_is_401(client: TestClient) -> None:
    response = client.post("/auth/login", json={"username": "ghost", "password": "whatever1"})
    assert_401(response)


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer ", "Basic YWRtaW46eA==", "Bearer not.a.token", "Token abc"],
)
def test_missing_or_malformed_header(client: TestClient, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    assert_401(client.get(PROTECTED, headers=headers))


def test_expired_token(client: TestClient, ctx: AppContext, clock: FakeClock) -> None:
    token = login(client)
    clock.advance(ctx.settings.jwt_lifetime_seconds + 1)
    assert_401(client.get(PROTECTED, headers={"Authorization": f"Bearer {token}"}))


def test_tampered_token(client: TestClient) -> None:
    token = login(client)
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = "999"
    forged = f"{header}.{_b64(claims)}.{signature}"
    assert_401(client.get(PROTECTED, headers={"Authorization": f"Bearer {forged}"}))


def test_other_secret(client: TestClient, clock: FakeClock) -> None:
    forged = tokens.issue("another-secret-entirely-" + "y" * 20, "1", clock(), 3600)
    assert_401(client.get(PROTECTED, headers={"Authorization": f"Bearer {forged}"}))


def test_alg_none(client: TestClient, clock: FakeClock) -> None:
    now = int(clock())
    unsigned = (
        f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64({'sub': '1', 'iat': now, 'exp': now + 600})}."
    )
    assert_401(client.get(PROTECTED, headers={"Authorization": f"Bearer {unsigned}"}))


def test_wrong_algorithm(client: TestClient, ctx: AppContext, clock: FakeClock) -> None:
    now = int(clock())
    hs512 = jwt.encode(
        {"sub": "1", "iat": now, "exp": now + 600}, ctx.jwt_secret, algorithm="HS512"
    )
    assert_401(client.get(PROTECTED, headers={"Authorization": f"Bearer {hs512}"}))


def test_token_without_session_is_refused(
    client: TestClient, ctx: AppContext, clock: FakeClock
) -> None:
    """A well-signed access token that names no live session opens nothing."""
    no_session = tokens.issue(ctx.jwt_secret, "1", clock(), 600)
    assert_401(client.get(PROTECTED, headers={"Authorization": f"Bearer {no_session}"}))
    unknown = tokens.issue(ctx.jwt_secret, "1", clock(), 600, session_id=987654)
    assert_401(client.get(PROTECTED, headers={"Authorization": f"Bearer {unknown}"}))


def test_token_without_exp(client: TestClient, ctx: AppContext, clock: FakeClock) -> None:
    token = jwt.encode({"sub": "1", "iat": int(clock())}, ctx.jwt_secret, algorithm="HS256")
    assert_401(client.get(PROTECTED, headers={"Authorization": f"Bearer {token}"}))


def test_stream_token_is_not_an_access_token(
    client: TestClient, ctx: AppContext, clock: FakeClock
) -> None:
    token = tokens.issue(ctx.jwt_secret, "1", clock(), 600, token_type="stream", scope="ab" * 32)
    assert_401(client.get(PROTECTED, headers={"Authorization": f"Bearer {token}"}))


def test_password_change_revokes_tokens_in_the_same_instant(
    client: TestClient, ctx: AppContext, clock: FakeClock
) -> None:
    """No clock advance at all: revocation is a deleted session, not a time comparison."""
    token = login(client)
    assert client.get(PROTECTED, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    with ctx.engine.begin() as conn:
        service.change_password(conn, "admin", "a brand new password", clock())
    assert_401(client.get(PROTECTED, headers={"Authorization": f"Bearer {token}"}))
    fresh = login(client, password="a brand new password")
    assert client.get(PROTECTED, headers={"Authorization": f"Bearer {fresh}"}).status_code == 200


def test_failed_logins_back_off_and_log_without_password(
    client: TestClient, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="imageserver.auth")
    secret_guess = "hunter2-guess"
    for _ in range(3):
        assert (
            client.post(
                "/auth/login", json={"username": "admin", "password": secret_guess}
            ).status_code
            == 401
        )
    # Past the threshold: even the right password must wait.
    blocked = client.post("/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) >= 1
    assert blocked.json()["error"]["code"] == "too_many_requests"
    clock.advance(2)
    assert login(client)  # after the delay, the owner gets in and the counter resets
    assert "event=login_failed" in caplog.text
    assert secret_guess not in caplog.text


def test_backoff_grows_and_is_capped(ctx: AppContext) -> None:
    throttle = ctx.throttle
    delays = [throttle.delay_for(n) for n in range(1, 12)]
    assert delays[:2] == [0.0, 0.0]
    assert delays == sorted(delays)
    assert max(delays) == ctx.settings.login_backoff_max_seconds


def test_me(client: TestClient, auth: dict[str, str]) -> None:
    body = client.get("/auth/me", headers=auth).json()
    assert body["username"] == "admin" and body["is_admin"] is True
    assert body["role"] == "admin" and body["read_only"] is False
    assert isinstance(body["session_id"], int) and body["api_key_id"] is None


def test_public_routes_need_no_token(client: TestClient) -> None:
    assert client.get("/health").status_code == 200
    assert client.get("/openapi.json").status_code == 200


def test_metrics_is_for_the_operator_only(
    client: TestClient, ctx: AppContext, auth: dict[str, str], member: dict[str, str]
) -> None:
    """Gauges name every library: an admin credential or the metrics token, nobody else."""
    assert_401(client.get("/metrics"))
    refused = client.get("/metrics", headers=member)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    admin = client.get("/metrics", headers=auth)
    assert admin.status_code == 200 and "imageserver_" in admin.text
    scraper = {"Authorization": "Bearer scrape-me-" + "s" * 32}
    assert_401(client.get("/metrics", headers=scraper))  # no token configured: not a token
    ctx.settings.metrics_token = SecretStr(scraper["Authorization"].split(" ", 1)[1])
    try:
        scraped = client.get("/metrics", headers=scraper)
        assert scraped.status_code == 200 and "imageserver_" in scraped.text
        assert_401(client.get("/metrics", headers={"Authorization": "Bearer scrape-me-wrong"}))
        assert client.get("/metrics", headers=member).status_code == 403
        assert client.get("/metrics", headers=auth).status_code == 200
        assert_401(client.get("/metrics"))
    finally:
        ctx.settings.metrics_token = None


def test_a_generated_secret_is_created_private_and_kept(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = tokens.load_or_create_secret(data, None)
    assert (data / tokens.SECRET_FILE).stat().st_mode & 0o777 == 0o600
    assert tokens.load_or_create_secret(data, None) == first
    assert tokens.load_or_create_secret(data, "configured-" + "z" * 32) != first
    assert sorted(p.name for p in data.iterdir()) == [tokens.SECRET_FILE]
