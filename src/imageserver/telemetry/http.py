"""HttpMetrics: a pure ASGI middleware counting and timing every HTTP request.

The `route` label is the template of the route that handled the request (what the router
left in `scope["route"]`: `/media/{media_id}`, never `/media/17`), so a crawler or a
fuzzer cannot grow the series without bound; a request no route matched is `unmatched`,
and a method outside the usual seven is `other`.
The duration runs to the end of the response body (a streamed file is timed whole).
"""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from imageserver.telemetry.metrics import HTTP_REQUESTS, HTTP_SECONDS

UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_template(scope: Scope) -> str:
    route: Any = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


class HttpMetrics:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception before the response started is answered as a 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            method = scope["method"] if scope["method"] in METHODS else "other"
            labels = (route_template(scope), method, str(status))
            HTTP_REQUESTS.labels(*labels).inc()
            HTTP_SECONDS.labels(*labels).observe(time.perf_counter() - started)
