"""Domain exceptions, each with its HTTP status, and the uniform JSON error body.

Domain code raises these; `server/errorhandlers.py` turns them (and framework errors) into
`{"error": {"code": ..., "message": ...}}`. Nothing else builds error responses, and no
stack trace ever reaches a client. This module imports no web framework: the scanner, the
CLI and the workers import it without paying for one.
"""

from __future__ import annotations

from typing import Any


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
