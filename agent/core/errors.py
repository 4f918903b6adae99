"""One error hierarchy, one wire format.

Every failure a client can see is an `ApiError` rendered as
`{"success": false, "error": msg, "error_code": CODE, "details": {...}}` with its HTTP status.
Handlers raise these; anything else that escapes is an internal error (500, logged with the
request id, never shown).
"""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response


class ApiError(Exception):
    status = 500
    code = "INTERNAL_ERROR"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status or self.status
        self.message = message
        self.code = code or self.code
        self.details = details or {}
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        return error_response(self.status, self.code, self.message, self.details, self.headers)


class BadRequest(ApiError):
    status, code = 400, "VALIDATION_ERROR"


class Unauthorized(ApiError):
    status, code = 401, "UNAUTHORIZED"


class Forbidden(ApiError):
    status, code = 403, "FORBIDDEN"


class NotFound(ApiError):
    status, code = 404, "NOT_FOUND"


class MethodNotAllowed(ApiError):
    status, code = 405, "METHOD_NOT_ALLOWED"


class Conflict(ApiError):
    status, code = 409, "CONFLICT"


class Gone(ApiError):
    status, code = 410, "GONE"


class PayloadTooLarge(ApiError):
    status, code = 413, "PAYLOAD_TOO_LARGE"


class UnsupportedMediaType(ApiError):
    status, code = 415, "UNSUPPORTED_MEDIA_TYPE"


class Unprocessable(ApiError):
    status, code = 422, "UNPROCESSABLE"


class ServiceUnavailable(ApiError):
    status, code = 503, "SERVICE_UNAVAILABLE"


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"success": False, "error": message, "error_code": code, "details": details or {}}
    return JSONResponse(body, status_code=status, headers=headers)


_HTTP_CODES = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}


async def api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def http_error_handler(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405 (no route, wrong method) in the standard format."""
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
    message = {
        404: f"no route for {request.method} {request.url.path}",
        405: f"{request.method} is not allowed on {request.url.path}",
    }.get(exc.status_code, str(exc.detail))
    headers = dict(exc.headers) if exc.headers else None
    return error_response(exc.status_code, code, message, headers=headers)


EXCEPTION_HANDLERS = {ApiError: api_error_handler, HTTPException: http_error_handler}
