"""/auth/...: log in and out, who am I, own password, own sessions, own API keys.

- POST   /auth/login            a session + its access token (throttled, see throttle.py)
- GET    /auth/me               the caller and how they authenticated
- POST   /auth/logout           end this session
- POST   /auth/logout-all       end every session of the caller (API keys stay)
- POST   /auth/password         change own password (needs the current one; ends the
                                caller's other sessions, keeps this one)
- GET    /auth/sessions         own live sessions; DELETE /auth/sessions/{id} ends one
- GET    /auth/api-keys         own API keys; POST creates one (the key is shown once);
                                DELETE /auth/api-keys/{id} revokes it
Everything but login and me needs a login session (an API key cannot manage credentials).
"""

from __future__ import annotations

from contextlib import ExitStack

import anyio
from fastapi import APIRouter, Depends, Request, Response

from imageserver.auth import repo, service, tokens
from imageserver.auth.deps import SessionUser, User, current_user
from imageserver.auth.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    LoginRequest,
    MeResponse,
    PasswordChange,
    SessionOut,
    TokenResponse,
    api_key_out,
)
from imageserver.db.engine import read_only
from imageserver.errors import NotFound, ServiceUnavailable, TooManyRequests, error_responses
from imageserver.work.context import AppContext
from imageserver.work.deps import Ctx, IdPath, ReadConn, WriteConn

public = APIRouter(tags=["auth"])
router = APIRouter(tags=["auth"], dependencies=[Depends(current_user)])

SESSION_ONLY = error_responses(403)

# Below the Retry-After of 1 s that the refusal carries.
REFUSED_LOGIN_PAUSE_SECONDS = 0.5


def client_address(request: Request) -> str:
    """The peer address of the connection (proxy headers are not trusted)."""
    return request.client.host if request.client else ""


@public.post("/auth/login", response_model=TokenResponse, responses=error_responses(401, 429, 503))
async def login(body: LoginRequest, request: Request, ctx: Ctx) -> TokenResponse:
    """A new session and its access token.

    `async` on purpose: the backoff check and the password-check slot are taken on the
    event loop, so refused logins (429, 503) never occupy the thread pool that serves the
    rest of the API; only the lookup and the argon2 check run in a thread.
    """
    address = client_address(request)
    wait = ctx.throttle.wait_remaining(body.username, address)
    if wait > 0:
        raise TooManyRequests(f"too many failed logins; retry in {wait:.0f} s", wait)
    user_agent = request.headers.get("user-agent")
    with ExitStack() as slot:
        try:
            slot.enter_context(ctx.throttle.verification_slot())
        except ServiceUnavailable:
            # Answer the overflow after a pause that costs nothing (no thread, no CPU):
            # a spray of refused logins then runs at the server's pace instead of as fast
            # as the 503s come back, which would crowd the event loop serving everyone.
            await anyio.sleep(REFUSED_LOGIN_PAUSE_SECONDS)
            raise
        return await anyio.to_thread.run_sync(_login, ctx, body, address, user_agent)


def _login(ctx: AppContext, body: LoginRequest, address: str, agent: str | None) -> TokenResponse:
    now = ctx.clock()
    with read_only(ctx.engine) as conn:
        user_id = service.authenticate(
            conn, ctx.throttle, body.username, body.password, now, address
        )
    lifetime = ctx.settings.jwt_lifetime_seconds
    with ctx.engine.begin() as conn:
        session_id = service.start_session(conn, user_id, now, lifetime, agent, address)
    token = tokens.issue(ctx.jwt_secret, str(user_id), now, lifetime, session_id=session_id)
    return TokenResponse(access_token=token, expires_in=lifetime)


@router.get("/auth/me", response_model=MeResponse)
def me(user: User) -> MeResponse:
    return MeResponse(
        id=user.id,
        username=user.username,
        role=user.role,
        is_admin=user.is_admin,
        session_id=user.session_id,
        api_key_id=user.api_key_id,
        read_only=user.read_only,
    )


@router.post("/auth/logout", status_code=204, responses=SESSION_ONLY)
def logout(user: SessionUser, conn: WriteConn) -> Response:
    """End this session: its access token and every stream URL it minted stop at once."""
    assert user.session_id is not None
    repo.delete_session(conn, user.id, user.session_id)
    return Response(status_code=204)


@router.post("/auth/logout-all", status_code=204, responses=SESSION_ONLY)
def logout_all(user: SessionUser, conn: WriteConn) -> Response:
    """End every session of the caller, this one included (API keys are revoked apart)."""
    repo.delete_sessions(conn, user.id)
    return Response(status_code=204)


@router.post("/auth/password", status_code=204, responses=error_responses(403))
def change_password(body: PasswordChange, user: SessionUser, ctx: Ctx, conn: WriteConn) -> Response:
    """Change own password; the caller's other sessions end, this one stays.

    A wrong current password is a 403 (the session itself is valid)."""
    with ctx.throttle.verification_slot():
        service.change_own_password(
            conn, user.id, body.current_password, body.new_password, ctx.clock(), user.session_id
        )
    return Response(status_code=204)


@router.get("/auth/sessions", response_model=list[SessionOut], responses=SESSION_ONLY)
def list_sessions(user: SessionUser, ctx: Ctx, conn: ReadConn) -> list[SessionOut]:
    return [
        SessionOut(
            id=row["id"],
            created_at=row["created_at"],
            last_seen_at=row["last_seen_at"],
            expires_at=row["expires_at"],
            user_agent=row["user_agent"],
            address=row["address"],
            current=row["id"] == user.session_id,
        )
        for row in repo.list_sessions(conn, user.id, ctx.clock())
    ]


@router.delete("/auth/sessions/{session_id}", status_code=204, responses=error_responses(403, 404))
def end_session(session_id: IdPath, user: SessionUser, conn: WriteConn) -> Response:
    """End one of the caller's own sessions (another user's id is a 404)."""
    if not repo.delete_session(conn, user.id, session_id):
        raise NotFound(f"session {session_id} not found")
    return Response(status_code=204)


@router.get("/auth/api-keys", response_model=list[ApiKeyOut], responses=SESSION_ONLY)
def list_api_keys(user: SessionUser, conn: ReadConn) -> list[ApiKeyOut]:
    return [api_key_out(row) for row in repo.list_api_keys(conn, user.id)]


@router.post(
    "/auth/api-keys", response_model=ApiKeyCreated, status_code=201, responses=SESSION_ONLY
)
def create_api_key(
    body: ApiKeyCreate, user: SessionUser, ctx: Ctx, conn: WriteConn
) -> ApiKeyCreated:
    """A key for the caller; `key` is in this response only (it is stored hashed)."""
    now = ctx.clock()
    new = service.create_api_key(conn, user.id, body.name, body.read_only, now)
    return ApiKeyCreated(
        id=new.id,
        name=body.name,
        prefix=new.prefix,
        read_only=body.read_only,
        created_at=now,
        last_used_at=None,
        key=new.secret,
    )


@router.delete("/auth/api-keys/{key_id}", status_code=204, responses=error_responses(403, 404))
def revoke_api_key(key_id: IdPath, user: SessionUser, conn: WriteConn) -> Response:
    """Revoke one of the caller's keys: refused from the next request on."""
    if not repo.delete_api_key(conn, user.id, key_id):
        raise NotFound(f"API key {key_id} not found")
    return Response(status_code=204)
