"""`UserScope`: the request dependency every feature takes to learn what the caller may see.

It lives in auth/ (the lowest feature) so that every feature, media included, can take it
without importing libraries/ (which sits above media in the layering). It reads the
current user's library grants on every request (no cache: a grant or a revoke takes
effect on the next request, on every replica); libraries/access.py re-exports it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlalchemy import Connection

from imageserver.auth import repo
from imageserver.auth.deps import User
from imageserver.work.deps import ReadConn
from imageserver.work.scope import Scope


def scope_of(conn: Connection, user_id: int) -> Scope:
    """The libraries granted to `user_id` (stream tokens use it for the token's user)."""
    return Scope.of(repo.granted_library_ids(conn, user_id))


def user_scope(user: User, conn: ReadConn) -> Scope:
    """The libraries the current user may see, fresh for this request."""
    return scope_of(conn, user.id)


UserScope = Annotated[Scope, Depends(user_scope)]
