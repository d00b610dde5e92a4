"""Stream tokens: signed `?token=` URLs for HLS players, which send no custom headers.

A stream token is scoped to one content hash and names the credential that minted it (the
login session, the API key, or a public share link); it dies with that credential. A share
link's token acts as the link's creator, read-only, for the one video of the link it was
minted for (albums/shares_api.py mints it only for the link's own items). `stream_access` is the
dependency of every stream route: it authenticates BEFORE the route looks anything up, so
a request without credentials is a 401 whatever the path (no existence oracle); the route
then asks `StreamAccess.token_for(content_hash)` once it knows which video is wanted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from imageserver.auth import repo, tokens
from imageserver.auth.deps import CurrentUser, user_from_api_key, user_from_session, user_from_token
from imageserver.db.engine import read_only
from imageserver.errors import Forbidden, Unauthorized
from imageserver.work.context import AppContext
from imageserver.work.deps import Ctx

STREAM = "stream"
SHARE_SUBJECT = "share:"


@dataclass(frozen=True)
class StreamAccess:
    user: CurrentUser
    # Set when the request came with ?token=: the one hash it opens, and the token itself
    # (carried into the rewritten playlist so segment requests authenticate too).
    scope: str | None = None
    token: str | None = None

    def token_for(self, content_hash: str) -> str | None:
        """403 when a stream token is for another video; the token to propagate, if any."""
        if self.token is not None and self.scope != content_hash:
            raise Forbidden("this stream token is for another video")
        return self.token


def issue_stream_token(ctx: AppContext, user: CurrentUser, content_hash: str) -> tuple[str, float]:
    """A stream token for one video, tied to the credential of `user`; (token, expires_at)."""
    now = ctx.clock()
    lifetime = ctx.settings.stream_token_lifetime_seconds
    token = tokens.issue(
        ctx.jwt_secret,
        str(user.id),
        now,
        lifetime,
        STREAM,
        content_hash,
        session_id=user.session_id,
        api_key_id=user.api_key_id,
    )
    return token, now + lifetime


def issue_share_stream_token(
    ctx: AppContext, share_id: int, content_hash: str
) -> tuple[str, float]:
    """A stream token for one video of a public link; (token, expires_at)."""
    now = ctx.clock()
    lifetime = ctx.settings.stream_token_lifetime_seconds
    subject = f"{SHARE_SUBJECT}{share_id}"
    return tokens.issue(
        ctx.jwt_secret, subject, now, lifetime, STREAM, content_hash
    ), now + lifetime


def share_link_user(ctx: AppContext, subject: str) -> CurrentUser:
    """The creator of the live link named by `subject` (`share:ID`), read-only."""
    try:
        share_id = int(subject.removeprefix(SHARE_SUBJECT))
    except ValueError as exc:
        raise Unauthorized("invalid token") from exc
    with read_only(ctx.engine) as conn:
        row = repo.share_owner_alive(conn, share_id, ctx.clock())
    if row is None:
        raise Unauthorized("token revoked")
    # Never more than a member, whatever the creator's role: the link shows, it does not admin.
    return CurrentUser(
        id=int(row["id"]), username=str(row["username"]), role=repo.MEMBER, read_only=True
    )


def verify_stream_token(ctx: AppContext, token: str) -> StreamAccess:
    claims = tokens.verify(ctx.jwt_secret, token, ctx.clock(), token_type=STREAM)
    if claims.scope is None:
        raise Unauthorized("invalid token")
    if claims.subject.startswith(SHARE_SUBJECT):
        user = share_link_user(ctx, claims.subject)
    elif claims.session_id is not None:
        user = user_from_session(ctx, claims)
    elif claims.api_key_id is not None:
        try:
            user_id = int(claims.subject)
        except ValueError as exc:
            raise Unauthorized("invalid token") from exc
        with read_only(ctx.engine) as conn:
            row = repo.api_key_alive(conn, claims.api_key_id, user_id)
        if row is None:
            raise Unauthorized("token revoked")
        user = CurrentUser(
            id=int(row["id"]),
            username=str(row["username"]),
            role=str(row["role"]),
            api_key_id=claims.api_key_id,
            read_only=bool(row["read_only"]),
        )
    else:
        raise Unauthorized("token has no session")
    return StreamAccess(user=user, scope=claims.scope, token=token)


def stream_access(request: Request, ctx: Ctx) -> StreamAccess:
    """Bearer header, x-api-key header, or `?token=`: authenticated before any lookup."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, bearer = header.partition(" ")
        if scheme.lower() != "bearer" or not bearer.strip():
            raise Unauthorized("malformed authorization header")
        return StreamAccess(user=user_from_token(ctx, bearer.strip()))
    api_key = request.headers.get("x-api-key")
    if api_key:
        return StreamAccess(user=user_from_api_key(ctx, api_key))
    token = request.query_params.get("token")
    if not token:
        raise Unauthorized("a bearer token or a stream token (?token=) is required")
    return verify_stream_token(ctx, token)


Stream = Annotated[StreamAccess, Depends(stream_access)]
