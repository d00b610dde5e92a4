"""Who may see and manage which library: the request dependencies built on the grants.

`UserScope` is THE way a request learns what it may see: the libraries granted to the
current user, read from the database on every request (no cache, so a grant or a revoke
takes effect on the next request on every replica). Admins are scoped like everyone else
for media; they additionally manage every library (`AdminUser`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from imageserver.auth.deps import CurrentUser, User, require_admin
from imageserver.libraries import repo
from imageserver.work.deps import ReadConn
from imageserver.work.scope import Scope


def user_scope(user: User, conn: ReadConn) -> Scope:
    """The libraries the current user may see, fresh for this request."""
    return Scope.of(repo.granted_ids(conn, user.id))


__all__ = ["AdminUser", "UserScope", "require_admin", "user_scope"]

UserScope = Annotated[Scope, Depends(user_scope)]
AdminUser = Annotated[CurrentUser, Depends(require_admin)]
