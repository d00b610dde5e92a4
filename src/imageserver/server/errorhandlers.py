"""The one mapping from exceptions to HTTP responses, and its place in the OpenAPI document.

Every error leaves the server as `{"error": {"code": ..., "message": ...}}` (see
`imageserver.errors`); no stack trace ever reaches a client.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from imageserver.errors import ImageServerError, error_body, error_responses

log = logging.getLogger("imageserver.errors")


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    """What every error response carries (and nothing else: no stack trace)."""

    error: ErrorDetail


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
