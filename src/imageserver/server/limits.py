"""The web server's request bounds (the mechanism is work/bodylimits.py): every JSON
route gets a small body limit, an upload route (multipart, tens of MiB) a large one, and
an upload's credentials are checked from the headers alone, before its body is read, so
no or an invalid token is a 401 and an anonymous client cannot make the server spool
hundreds of MiB to a temporary file.
"""

from __future__ import annotations

import logging

import anyio
from starlette.types import ASGIApp, Scope

from imageserver.auth import deps as auth_deps
from imageserver.errors import ImageServerError, Unauthorized
from imageserver.work.bodylimits import BodyLimits, header_deadline_protocol
from imageserver.work.context import AppContext

__all__ = ["UPLOAD_ROUTES", "RequestLimits", "header_deadline_protocol"]

log = logging.getLogger("imageserver.server.limits")

# (method, path) of the routes that take a file upload; every other route is JSON-sized.
UPLOAD_ROUTES = frozenset({("POST", "/photos/search/image")})


class RequestLimits(BodyLimits):
    """Body limits from the settings; uploads authenticated before their body."""

    def __init__(self, app: ASGIApp, ctx: AppContext) -> None:
        super().__init__(app, self.route_limit, self.upload_credentials)
        self.ctx = ctx

    def route_limit(self, method: str, path: str) -> int:
        if (method, path) in UPLOAD_ROUTES:
            return self.ctx.settings.upload_max_bytes
        return self.ctx.settings.json_body_max_bytes

    async def upload_credentials(self, scope: Scope) -> str | None:
        """Why an upload's credentials are not good (None: a live user, or not an upload),
        checked exactly as the route's dependency will check them again (sessions and keys
        are database rows, so the lookup runs in a worker thread)."""
        if (scope["method"], scope["path"]) not in UPLOAD_ROUTES:
            return None
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        authorization, api_key = headers.get("authorization"), headers.get("x-api-key")

        def check() -> None:
            if authorization is not None:
                scheme, _, credential = authorization.partition(" ")
                if scheme.lower() != "bearer" or not credential.strip():
                    raise Unauthorized("malformed authorization header")
                auth_deps.user_from_token(self.ctx, credential.strip())
            elif api_key:
                auth_deps.user_from_api_key(self.ctx, api_key)
            else:
                raise Unauthorized("missing bearer token or API key")

        try:
            await anyio.to_thread.run_sync(check)
        except ImageServerError as exc:
            return exc.message
        return None
