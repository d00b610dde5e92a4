"""POST /auth/login and GET /auth/me."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from imageserver.auth import service, tokens
from imageserver.auth.deps import User, current_user
from imageserver.errors import error_responses
from imageserver.inputs import PRINTABLE
from imageserver.work.deps import Ctx, ReadConn


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=150, pattern=PRINTABLE)
    password: str = Field(min_length=1, max_length=1024)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class MeResponse(BaseModel):
    id: int
    username: str
    is_admin: bool


public = APIRouter(tags=["auth"])
router = APIRouter(tags=["auth"], dependencies=[Depends(current_user)])


@public.post("/auth/login", response_model=TokenResponse, responses=error_responses(401, 429))
def login(body: LoginRequest, ctx: Ctx, conn: ReadConn) -> TokenResponse:
    now = ctx.clock()
    user_id = service.authenticate(conn, ctx.throttle, body.username, body.password, now)
    lifetime = ctx.settings.jwt_lifetime_seconds
    token = tokens.issue(ctx.jwt_secret, str(user_id), now, lifetime)
    return TokenResponse(access_token=token, expires_in=lifetime)


@router.get("/auth/me", response_model=MeResponse)
def me(user: User) -> MeResponse:
    return MeResponse(id=user.id, username=user.username, is_admin=user.is_admin)
