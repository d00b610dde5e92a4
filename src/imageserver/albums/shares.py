"""Rules of public share links: who may make one, what one opens, passwords and expiry.

A link is a 256-bit random token (unguessable; stored as is so its owner can copy it
again). It opens exactly its items (a fixed list, or an album's items as they are now),
seen through its creator's CURRENT scope: a revoked grant, a retired file or a disabled
creator takes the item (or the whole link) away on the next request. An unknown, revoked
or expired token is the same 404. Nothing else of the server accepts a token or the key a
password unlocks (a key is a signed `typ=share` token, never an access token).

A password is hashed like account passwords; wrong attempts back off per link and client
address (the login throttle), so a link's password cannot be sprayed. GPS, camera and lens
fields are only in the answer when the owner chose `show_metadata`.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, RowMapping

from imageserver.albums import service, shares_repo
from imageserver.auth import tokens
from imageserver.auth.passwords import hash_password, verify_password
from imageserver.auth.scope import scope_of
from imageserver.clock import Clock
from imageserver.errors import Forbidden, ImageServerError, Invalid, NotFound, TooManyRequests
from imageserver.media.model import MediaItem
from imageserver.media.paths import open_file_inside
from imageserver.work.context import AppContext
from imageserver.work.scope import Scope

TOKEN_BYTES = 32
KEY_TYPE = "share"
KEY_LIFETIME = 12 * 3600.0
MAX_ITEMS = 5000


@dataclass(frozen=True)
class NewShare:
    album_id: int | None
    media_ids: Sequence[int]
    expires_at: float | None
    password: str | None
    allow_download: bool
    show_metadata: bool


def create(conn: Connection, scope: Scope, user_id: int, new: NewShare, now: float) -> int:
    """Only an album's owner or editor shares it; a list must be all visible (else 404)."""
    if (new.album_id is None) == (not new.media_ids):
        raise Invalid("give either album_id or media_ids")
    if new.album_id is not None:
        service.reach(conn, new.album_id, user_id, "editor")
    else:
        service.require_visible(conn, scope, new.media_ids)
    if new.expires_at is not None and new.expires_at <= now:
        raise Invalid("expires_at is in the past")
    values: dict[str, object] = {
        "owner_id": user_id,
        "token": secrets.token_urlsafe(TOKEN_BYTES),
        "album_id": new.album_id,
        "expires_at": new.expires_at,
        "password_hash": hash_password(new.password) if new.password else None,
        "allow_download": new.allow_download,
        "show_metadata": new.show_metadata,
        "view_count": 0,
        "created_at": now,
    }
    return shares_repo.create(conn, values, sorted(set(new.media_ids)))


def revoke(conn: Connection, share_id: int, user_id: int) -> None:
    if not shares_repo.delete_own(conn, share_id, user_id):
        raise NotFound("share not found")


# --- the public side -----------------------------------------------------------------------


@dataclass(frozen=True)
class Opened:
    row: RowMapping
    scope: Scope  # the creator's, now


def open_link(conn: Connection, ctx: AppContext, token: str, key: str | None) -> Opened:
    """The live link of `token`, unlocked by `key` when it has a password."""
    row = shares_repo.by_token(conn, token) if len(token) <= 64 else None
    if row is None or (row["expires_at"] is not None and row["expires_at"] <= ctx.clock()):
        raise NotFound("share not found")
    if row["password_hash"] is not None and not key_opens(ctx, row, key):
        raise Forbidden("this link needs its password (POST /s/{token}/unlock)")
    scope = scope_of(conn, int(row["owner_id"]))
    return Opened(row=row, scope=scope)


def key_opens(ctx: AppContext, row: RowMapping, key: str | None) -> bool:
    if not key:
        return False
    try:
        claims = tokens.verify(ctx.jwt_secret, key, ctx.clock(), KEY_TYPE)
    except ImageServerError:
        return False
    return claims.scope == row["token"] and claims.subject == f"share:{row['id']}"


def unlock(
    conn: Connection, ctx: AppContext, token: str, password: str, address: str
) -> tuple[str, float]:
    """A key for a password link, or Forbidden; failures back off (429) per link+address."""
    row = shares_repo.by_token(conn, token) if len(token) <= 64 else None
    now = ctx.clock()
    if row is None or (row["expires_at"] is not None and row["expires_at"] <= now):
        raise NotFound("share not found")
    if row["password_hash"] is None:
        raise Invalid("this link has no password")
    name = f"share:{row['id']}"
    wait = ctx.throttle.wait_remaining(name, address)
    if wait > 0:
        raise TooManyRequests(f"too many wrong passwords; retry in {wait:.0f} s", wait)
    with ctx.throttle.verification_slot():
        ok = verify_password(str(row["password_hash"]), password)
    if not ok:
        ctx.throttle.failed(name, address)
        raise Forbidden("wrong password")
    ctx.throttle.succeeded(name, address)
    key = tokens.issue(ctx.jwt_secret, name, now, KEY_LIFETIME, KEY_TYPE, str(row["token"]))
    return key, KEY_LIFETIME


def items(conn: Connection, opened: Opened) -> list[MediaItem]:
    return shares_repo.items(conn, opened.row, opened.scope, MAX_ITEMS)


def item(conn: Connection, opened: Opened, media_id: int) -> tuple[MediaItem, Path]:
    """One item of the link and its library root; anything else is "media not found"."""
    found = shares_repo.item(conn, opened.row, opened.scope, media_id)
    if found is None:
        raise NotFound("media not found")
    return found[0], Path(found[1])


def original(conn: Connection, opened: Opened, media_id: int) -> tuple[MediaItem, Path]:
    if not opened.row["allow_download"]:
        raise NotFound("media not found")
    found, root = item(conn, opened, media_id)
    return found, open_file_inside(root, found.rel_path)


class LinkStreams:
    """The stream routes' view of links (work/ports.SharedStreams): a link's stream token
    plays its video only while the link, through its creator's scope as it is now, still
    shows an item of those bytes; removed from the album, retired, a grant revoked, the
    link expired or revoked: the stream is gone on the next request."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def shows(self, conn: Connection, share_id: int, content_hash: str) -> bool:
        row = shares_repo.by_id(conn, share_id)
        if row is None or (row["expires_at"] is not None and row["expires_at"] <= self.clock()):
            return False
        return shares_repo.shows_hash(conn, row, scope_of(conn, int(row["owner_id"])), content_hash)


def files(conn: Connection, opened: Opened) -> list[tuple[MediaItem, Path]]:
    """(item, its file) of every downloadable item; files gone from disk are skipped."""
    if not opened.row["allow_download"]:
        raise NotFound("download is not allowed for this link")
    found = items(conn, opened)
    roots = shares_repo.roots(conn, sorted({i.library_id for i in found}))
    out = []
    for it in found:
        try:
            out.append((it, open_file_inside(Path(roots[it.library_id]), it.rel_path)))
        except (NotFound, Invalid):
            continue
    return out
