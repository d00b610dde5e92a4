"""Who may see and manage which library: the request dependencies built on the grants.

`UserScope` is THE way a request learns what it may see: the libraries granted to the
current user, read from the database on every request (no cache, so a grant or a revoke
takes effect on the next request on every replica). It is defined in auth/scope.py so
that media/ (below libraries/ in the layering) can take it too. Admins are scoped like
everyone else for media; they additionally manage every library (`AdminUser`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from imageserver.auth.deps import CurrentUser, require_admin
from imageserver.auth.scope import UserScope, user_scope

__all__ = ["AdminUser", "UserScope", "require_admin", "user_scope"]

AdminUser = Annotated[CurrentUser, Depends(require_admin)]
