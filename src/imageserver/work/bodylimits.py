"""Bounded requests for any ASGI app of the project: a body limit per route, an optional
check of the request head before the body is read, and a deadline on the request head.

`BodyLimits` is a pure ASGI middleware (no BaseHTTPMiddleware: that one reads bodies
through a stream of its own) placed outermost, so nothing parses a byte before it ran:

- a declared Content-Length over the route's limit is answered 413 at once, before a byte
  of the body is received (and the connection is closed, so the rest is never read);
- a chunked body is counted as it arrives and cut off at the limit (413): at most the
  limit plus one network read is ever buffered;
- `precheck` may refuse a request from its head alone (401), before its body is read, so
  an anonymous client cannot make the server spool hundreds of MiB.

The head of a request is bounded by the protocol: uvicorn's h11 server caps an incomplete
head (`h11_max_incomplete_event_size`), but it arms no timer until the first response,
and every byte received cancels its keep-alive timer, so a client sending half a header
and then nothing (or one byte a minute) held a connection forever. `HeaderDeadlineH11`
closes a connection whose request head is not complete within the timeout of the
connection (or of the previous response), however slowly it trickles in. The web server
(server/limits.py) and `encoder serve` (ml/server.py) both use these.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import h11
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from imageserver.errors import error_body

log = logging.getLogger("imageserver.work.bodylimits")

CLOSE = (b"connection", b"close")
LimitOf = Callable[[str, str], int]
# Why the request is refused from its head alone (None: go on and read the body).
Precheck = Callable[[Scope], Awaitable[str | None]]


class BodyTooLarge(HTTPException):
    """Raised from `receive` when a streamed body passes its limit; rendered as 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


def declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def answer(send: Send, status: int, code: str, message: str, **headers: str) -> None:
    body = json.dumps(error_body(code, message)).encode()
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        CLOSE,  # the unread body stays on the wire: the connection cannot carry another request
        (b"x-content-type-options", b"nosniff"),
        (b"cache-control", b"no-store"),
        *((k.lower().replace("_", "-").encode(), v.encode()) for k, v in headers.items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class BodyLimits:
    """Route body limits and a pre-body check of the request head (see the module doc)."""

    def __init__(
        self,
        app: ASGIApp,
        limit_of: LimitOf,
        precheck: Precheck | None = None,
        challenge: str = "Bearer",
    ) -> None:
        self.app = app
        self.limit_of = limit_of
        self.precheck = precheck
        self.challenge = challenge

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        limit = self.limit_of(method, path)
        if self.precheck is not None:
            refused = await self.precheck(scope)
            if refused is not None:
                log.info("event=request_refused_before_body path=%s reason=%r", path, refused)
                await answer(send, 401, "unauthorized", refused, WWW_Authenticate=self.challenge)
                return
        declared = declared_length(scope)
        if declared is not None and declared > limit:
            log.info("event=body_refused path=%s declared=%d limit=%d", path, declared, limit)
            await answer(send, 413, "too_large", f"request body larger than {limit} bytes")
            return
        await self._bounded(scope, receive, send, limit)

    async def _bounded(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        received = 0
        started = cut = False

        async def limited_receive() -> Message:
            nonlocal received, cut
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    cut = True
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if cut:  # the rest of the body is never read: no second request here
                    message = {**message, "headers": [*message["headers"], CLOSE]}
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge as exc:
            if started:
                raise
            await answer(send, 413, "too_large", str(exc.detail))


def header_deadline_protocol(timeout: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol with a deadline on each request head (see the module doc)."""

    class HeaderDeadlineH11(H11Protocol):
        header_timeout = timeout

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm_head_deadline()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm_head_deadline()

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_head_deadline()
            super().connection_lost(exc)

        def _arm_head_deadline(self) -> None:
            self._cancel_head_deadline()
            self._head_deadline: asyncio.TimerHandle | None = self.loop.call_later(
                self.header_timeout, self._head_deadline_passed
            )

        def _cancel_head_deadline(self) -> None:
            handle = getattr(self, "_head_deadline", None)
            if handle is not None:
                handle.cancel()
                self._head_deadline = None

        def _head_deadline_passed(self) -> None:
            self._head_deadline = None
            if self.transport.is_closing():
                return
            # Still waiting for a request head (nothing, or part of one, arrived): close.
            if self.conn.their_state is h11.IDLE and (
                self.cycle is None or self.cycle.response_complete
            ):
                log.info("event=header_timeout client=%s", self.client)
                self.transport.close()

    return HeaderDeadlineH11
