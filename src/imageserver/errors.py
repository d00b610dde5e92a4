"""Domain exceptions and their single mapping to an HTTP status and a uniform JSON body.

Domain code raises these; `install_error_handlers` turns them (and framework errors) into
`{"error": {"code": ..., "message": ...}}`. Nothing else builds error responses, and no
stack trace ever reaches a client.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("imageserver.errors")


class ImageServerError(Exception):
    """Base of every error that has a meaning for a client."""

    status_code = 500
    code = "internal"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers


class NotFound(ImageServerError):
    status_code = 404
    code = "not_found"


class Invalid(ImageServerError):
    status_code = 422
    code = "invalid"


class Unauthorized(ImageServerError):
    status_code = 401
    code = "unauthorized"

    def __init__(self, message: str = "authentication required") -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(ImageServerError):
    status_code = 403
    code = "forbidden"


class Conflict(ImageServerError):
    status_code = 409
    code = "conflict"


class Unsupported(ImageServerError):
    status_code = 422
    code = "unsupported"


class TooManyRequests(ImageServerError):
    status_code = 429
    code = "too_many_requests"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, round(retry_after)))})
        self.retry_after = retry_after


class LibraryStale(ImageServerError):
    status_code = 503
    code = "library_stale"


class ServiceUnavailable(ImageServerError):
    status_code = 503
    code = "unavailable"


class RangeNotSatisfiable(ImageServerError):
    status_code = 416
    code = "range_not_satisfiable"


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
}


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{loc}: {err.get('msg', 'invalid')}" if loc else str(err.get("msg")))
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    """Register the one mapping from exceptions to responses."""

    @app.exception_handler(ImageServerError)
    async def _domain(_: Request, exc: ImageServerError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.code, exc.message), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(error_body("invalid", _validation_message(exc)), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code
        return JSONResponse(
            error_body(code, message),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error(
            "event=unhandled_error method=%s path=%s error=%r",
            request.method,
            request.url.path,
            exc,
            exc_info=exc,
        )
        return JSONResponse(error_body("internal", "internal server error"), status_code=500)
