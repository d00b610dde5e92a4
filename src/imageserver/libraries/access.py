"""Who may see and manage which library: the request dependencies built on the grants.

`UserScope` is THE way a request learns what it may see: the libraries granted to the
current user, read from the database on every request (no cache, so a grant or a revoke
takes effect on the next request on every replica). Admins are scoped like everyone else
for media; they additionally manage every library (`AdminUser`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from imageserver.auth.deps import CurrentUser, User
from imageserver.errors import Forbidden
from imageserver.libraries import repo
from imageserver.work.deps import ReadConn
from imageserver.work.scope import Scope


def user_scope(user: User, conn: ReadConn) -> Scope:
    """The libraries the current user may see, fresh for this request."""
    return Scope.of(repo.granted_ids(conn, user.id))


def require_admin(user: User) -> CurrentUser:
    """403 for anyone but an admin, before any other check of the request runs.

    merge: the auth branch brings the shared `require_admin`; this one is replaced by it.
    """
    if not user.is_admin:
        raise Forbidden("this operation needs an admin")
    return user


UserScope = Annotated[Scope, Depends(user_scope)]
AdminUser = Annotated[CurrentUser, Depends(require_admin)]
