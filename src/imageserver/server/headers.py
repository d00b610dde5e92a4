"""Response headers every API answer carries (a pure ASGI middleware, outermost).

- `X-Content-Type-Options: nosniff` on everything: a browser never guesses a type from
  the bytes (an uploaded or indexed file must not turn into a page);
- `Cache-Control: no-store` on JSON when the route set no caching of its own: API answers
  name people, places and paths, and a shared or disk cache must not keep them.
  Thumbnails and originals set `private` caching deliberately and are not JSON, and the
  web page's files set their own revalidation: both are left as they are.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

NOSNIFF = (b"x-content-type-options", b"nosniff")
NO_STORE = (b"cache-control", b"no-store")


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                if NOSNIFF[0] not in names:
                    headers.append(NOSNIFF)
                content_type = next(
                    (value for name, value in headers if name.lower() == b"content-type"), b""
                )
                json = content_type.startswith(b"application/json") or content_type.endswith(
                    b"+json"
                )
                if json and b"cache-control" not in names:
                    headers.append(NO_STORE)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
