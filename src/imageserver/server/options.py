"""AllowOptions: a pure ASGI middleware answering `OPTIONS <path>` with an `Allow` header.

The methods are those whose request the router would hand to a route (a full match), so
the header is what the application really serves at that path. A path no route serves is
a 404, as for any other method; a CORS preflight is not special-cased (there is no CORS).
"""

from __future__ import annotations

from typing import Any

from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(app: Any, scope: Scope) -> list[str]:
    found: list[str] = []
    for method in METHODS:
        probe = {**scope, "method": method}
        for route in app.router.routes:
            match, _ = route.matches(dict(probe))
            if match is Match.FULL:
                found.append(method)
                break
    return [*found, "OPTIONS"] if found else []


class AllowOptions:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "OPTIONS" or "app" not in scope:
            await self.app(scope, receive, send)
            return
        methods = allowed_methods(scope["app"], scope)
        if not methods:
            await self.app(scope, receive, send)  # the router's own 404
            return
        await send(
            {
                "type": "http.response.start",
                "status": 204,
                "headers": [(b"allow", ", ".join(methods).encode())],
            }
        )
        await send({"type": "http.response.body", "body": b""})
