"""Who is asking: the FastAPI dependencies every protected router uses.

A request authenticates with one credential:
- `Authorization: Bearer <access token>`: a JWT from POST /auth/login naming a session
  (`sid`); the session row must exist, be unexpired and belong to an enabled user, checked
  on every request by primary key (deleting the row is what logout and revocation do);
- `Authorization: Bearer isk_...` or `x-api-key: isk_...`: an API key, looked up by the
  sha256 of its secret. A read-only key may only GET/HEAD (anything else is 403).

`require_admin` guards admin-only operations (403 with the error body for a member);
routers add it as one dependency line: `dependencies=[AdminOnly]`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Connection, RowMapping

from imageserver.auth import repo, tokens
from imageserver.auth.keys import API_KEY_PREFIX, hash_api_key
from imageserver.db.engine import read_only
from imageserver.errors import Forbidden, Unauthorized
from imageserver.work.context import AppContext
from imageserver.work.deps import Ctx

log = logging.getLogger("imageserver.auth")

# last_seen_at / last_used_at are written at most this often, not on every request.
TOUCH_EVERY = 60.0
SAFE_METHODS = frozenset({"GET", "HEAD"})

_bearer = HTTPBearer(
    auto_error=False, description="JWT from POST /auth/login, or an API key (isk_...)"
)
_api_key = APIKeyHeader(name="x-api-key", auto_error=False, description="An API key (isk_...)")


@dataclass(frozen=True)
class CurrentUser:
    """The authenticated user and the credential used; what authorization decisions need."""

    id: int
    username: str
    role: str
    # Exactly one of these is set: the login session, or the API key, of this request.
    session_id: int | None = None
    api_key_id: int | None = None
    # A read-only API key: only GET/HEAD (enforced by `current_user`).
    read_only: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role == repo.ADMIN


def current_user(
    request: Request,
    ctx: Ctx,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> CurrentUser:
    """The authenticated user; a missing, expired, tampered or revoked credential is a 401."""
    header = request.headers.get("authorization")
    if header is not None:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise Unauthorized("malformed authorization header")
        user = user_from_token(ctx, credentials.credentials)
    elif api_key:
        user = user_from_api_key(ctx, api_key)
    else:
        raise Unauthorized("missing bearer token or API key")
    if user.read_only and request.method not in SAFE_METHODS:
        raise Forbidden("this API key is read-only")
    return user


def user_from_token(ctx: AppContext, token: str) -> CurrentUser:
    """A bearer credential: an access token (JWT with a live session) or an API key."""
    if token.startswith(API_KEY_PREFIX):
        return user_from_api_key(ctx, token)
    claims = tokens.verify(ctx.jwt_secret, token, ctx.clock())
    return user_from_session(ctx, claims)


def user_from_session(ctx: AppContext, claims: tokens.TokenClaims) -> CurrentUser:
    try:
        user_id = int(claims.subject)
    except ValueError as exc:
        raise Unauthorized("invalid token") from exc
    if claims.session_id is None:
        raise Unauthorized("token has no session")
    now = ctx.clock()
    with read_only(ctx.engine) as conn:
        row = repo.live_session(conn, claims.session_id, user_id, now)
    if row is None:
        raise Unauthorized("session ended")
    if now - float(row["last_seen_at"]) > TOUCH_EVERY:
        _touch_later(ctx, repo.touch_session, claims.session_id, now)
    return _user(row, session_id=claims.session_id)


def user_from_api_key(ctx: AppContext, secret: str) -> CurrentUser:
    if not secret.startswith(API_KEY_PREFIX) or len(secret) > 200:
        raise Unauthorized("invalid API key")
    with read_only(ctx.engine) as conn:
        row = repo.live_api_key(conn, hash_api_key(secret))
    if row is None:
        raise Unauthorized("invalid API key")
    now = ctx.clock()
    last = row["last_used_at"]
    if last is None or now - float(last) > TOUCH_EVERY:
        _touch_later(ctx, repo.touch_api_key, int(row["api_key_id"]), now)
    return _user(row, api_key_id=row["api_key_id"], read_only=bool(row["read_only"]))


_touch_lock = threading.Lock()
_touching: set[tuple[str, int]] = set()


def _touch_later(
    ctx: AppContext, touch: Callable[[Connection, int, float], None], row_id: int, now: float
) -> None:
    """Record last use off the request path: a request never waits for the write lock
    (on SQLite a long indexing transaction may hold it). Once per row at a time; a failed
    write is logged and retried by a later request."""
    key = (touch.__name__, row_id)
    with _touch_lock:
        if key in _touching:
            return
        _touching.add(key)

    def run() -> None:
        try:
            with ctx.engine.begin() as conn:
                touch(conn, row_id, now)
        except Exception as exc:
            log.warning("event=touch_failed what=%s id=%d error=%r", key[0], row_id, exc)
        finally:
            with _touch_lock:
                _touching.discard(key)

    threading.Thread(target=run, name="auth-touch", daemon=True).start()


def _user(
    row: RowMapping,
    *,
    session_id: int | None = None,
    api_key_id: int | None = None,
    read_only: bool = False,
) -> CurrentUser:
    return CurrentUser(
        id=int(row["id"]),
        username=str(row["username"]),
        role=str(row["role"]),
        session_id=session_id,
        api_key_id=api_key_id,
        read_only=read_only,
    )


User = Annotated[CurrentUser, Depends(current_user)]


def require_admin(user: User) -> CurrentUser:
    """Admin-only operations: a member (or a member's API key) gets 403."""
    if not user.is_admin:
        raise Forbidden("this operation needs the admin role")
    return user


def require_session(user: User) -> CurrentUser:
    """Credential management (password, sessions, API keys) needs a login, not an API key."""
    if user.session_id is None:
        raise Forbidden("manage credentials with a login session, not an API key")
    return user


Admin = Annotated[CurrentUser, Depends(require_admin)]
SessionUser = Annotated[CurrentUser, Depends(require_session)]
# For a router decorator: `@router.post(..., dependencies=[AdminOnly])`.
AdminOnly = Depends(require_admin)
