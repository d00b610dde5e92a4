"""Stream tokens: signed `?token=` URLs for HLS players, which send no custom headers.

A stream token is scoped to one content hash and names the credential that minted it (the
login session, the API key, or a public share link); it dies with that credential. A share
link's token acts as the link's creator, read-only, for the one video of the link it was
minted for (albums/shares_api.py mints it only for the link's own items), and only while the
link still shows it (the stream routes ask, video/api.py); for anything else it gets the
404 of a video that does not exist. `stream_access` is the
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
from imageserver.errors import Forbidden, NotFound, Unauthorized
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
    # Set for a public share link's stream token: the link it was minted for.
    share_id: int | None = None

    def token_for(self, content_hash: str, missing: str = "no such video") -> str | None:
        """The token to propagate, if any. A login's stream token for another video is a
        403; a share link's is `missing`, the route's 404 of a video that does not exist:
        past its own video a link's token reaches nothing, not even an answer that differs."""
        if self.token is not None and self.scope != content_hash:
            if self.share_id is not None:
                raise NotFound(missing)
            raise Forbidden("this stream token is for another video")
        return self.token

    def by_path(self, missing: str) -> None:
        """A share link's token plays by hash only: a lookup by library path is `missing`
        whatever the path (no probing of the creator's libraries)."""
        if self.share_id is not None:
            raise NotFound(missing)


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


def share_of(subject: str) -> int:
    """The link id of a share stream token's subject (`share:ID`)."""
    try:
        return int(subject.removeprefix(SHARE_SUBJECT))
    except ValueError as exc:
        raise Unauthorized("invalid token") from exc


def share_link_user(ctx: AppContext, share_id: int) -> CurrentUser:
    """The creator of the live link `share_id`, read-only."""
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
        share_id = share_of(claims.subject)
        user = share_link_user(ctx, share_id)
        return StreamAccess(user=user, scope=claims.scope, token=token, share_id=share_id)
    if claims.session_id is not None:
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
