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
from pydantic import BaseModel
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


# --- the error body in the OpenAPI document ---------------------------------------------


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    """What every error response carries (and nothing else: no stack trace)."""

    error: ErrorDetail


ERROR_REF = "#/components/schemas/ErrorBody"
_ERROR_DESCRIPTIONS = {
    304: "not modified (If-None-Match matched the ETag)",
    400: "malformed request body",
    401: "missing, malformed, expired or revoked token",
    403: "the token does not grant this resource (or the operation needs an admin)",
    404: "not found",
    409: "conflicts with an existing resource",
    416: "the Range cannot be satisfied",
    422: "invalid request",
    429: "too many failed logins; see Retry-After",
    503: "temporarily unavailable",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries documenting these statuses with the uniform error body."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        entry: dict[str, Any] = {"description": _ERROR_DESCRIPTIONS[code]}
        if code != 304:
            entry["content"] = {"application/json": {"schema": {"$ref": ERROR_REF}}}
        out[code] = entry
    return out


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Make the OpenAPI document describe the errors the handlers below really send.

    FastAPI documents its own `{"detail": [...]}` body for 422, which this server never
    sends; every operation gets `ErrorBody` instead. Operations guarded by the bearer
    scheme document 401, operations with a body 400 (an unparsable body): both derived
    from the document itself, so a new route is covered without remembering to.
    """
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    body = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(body.pop("$defs", {}))
    components["ErrorBody"] = body
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    generic = error_responses(400, 401, 422)
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            if "422" in responses or operation.get("parameters") or "requestBody" in operation:
                responses["422"] = generic[422]
            if operation.get("security"):
                responses.setdefault("401", generic[401])
            if "requestBody" in operation:
                responses.setdefault("400", generic[400])
    return schema


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
    """Register the one mapping from exceptions to responses (and document it)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

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
