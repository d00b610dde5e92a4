"""The current user of a request: the FastAPI dependency every protected router uses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from imageserver.auth import repo as users_repo
from imageserver.auth import tokens
from imageserver.db.engine import read_only
from imageserver.errors import Unauthorized
from imageserver.work.context import AppContext
from imageserver.work.deps import Ctx

_bearer = HTTPBearer(auto_error=False, description="JWT from POST /auth/login")


@dataclass(frozen=True)
class CurrentUser:
    id: int
    username: str
    is_admin: bool


def current_user(
    ctx: Ctx,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> CurrentUser:
    """The authenticated user; any missing, expired, tampered or revoked token is a 401."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("missing bearer token")
    return user_from_token(ctx, credentials.credentials)


def user_from_token(ctx: AppContext, token: str) -> CurrentUser:
    claims = tokens.verify(ctx.jwt_secret, token, ctx.clock())
    try:
        user_id = int(claims.subject)
    except ValueError as exc:
        raise Unauthorized("invalid token") from exc
    with read_only(ctx.engine) as conn:
        user = users_repo.get_by_id(conn, user_id)
    if user is None:
        raise Unauthorized("user no longer exists")
    if claims.issued_at < int(user["password_changed_at"]):
        raise Unauthorized("token revoked by a password change")
    return CurrentUser(id=user["id"], username=user["username"], is_admin=user["is_admin"])


User = Annotated[CurrentUser, Depends(current_user)]
