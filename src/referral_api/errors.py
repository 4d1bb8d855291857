"""RFC 9457 problem details: one error hierarchy, one renderer."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://referral-api.dev/problems/"
log = logging.getLogger("referral_api.errors")


class ProblemError(BaseModel):
    pointer: str = Field(description="JSON pointer to the offending input, e.g. /body/npi")
    detail: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[ProblemError] | None = None
    allowed_actions: list[str] | None = None
    current_status: str | None = None


class APIError(Exception):
    status: int = 400
    type: str = "bad-request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        errors: Sequence[tuple[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors or [])
        self.headers = headers or {}
        self.extra = extra or {}


class Unauthorized(APIError):
    status, type, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str = "missing, invalid or revoked credentials") -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="referral-api"'})


class Forbidden(APIError):
    status, type, title = 403, "forbidden", "Not allowed"


class NotFound(APIError):
    status, type, title = 404, "not-found", "Not found"


class Conflict(APIError):
    status, type, title = 409, "conflict", "Conflict"


class InvalidTransition(Conflict):
    type, title = "invalid-transition", "Action not allowed in the current status"


class PreconditionFailed(APIError):
    status, type, title = 412, "precondition-failed", "Precondition failed"


class PayloadTooLarge(APIError):
    status, type, title = 413, "payload-too-large", "Request body too large"


class ValidationFailed(APIError):
    status, type, title = 422, "validation-error", "Request validation failed"


class ServiceUnavailable(APIError):
    status, type, title = 503, "service-unavailable", "Service unavailable"


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    type_: str,
    errors: Sequence[tuple[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": TYPE_BASE + type_,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = [{"pointer": p, "detail": d} for p, d in errors]
    if extra:
        body.update(extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _pointer(loc: Sequence[Any]) -> str:
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in loc]
    if parts and parts[0] == "query":
        parts = ["query", *parts[1:]]
    return "/" + "/".join(parts)


def _clean_msg(msg: str) -> str:
    return msg.removeprefix("Value error, ")


def validation_errors(exc: RequestValidationError) -> list[tuple[str, str]]:
    out = []
    for err in exc.errors():
        loc = list(err.get("loc", ()))
        # pydantic reports the union/model branch name in loc for tagged types; drop it
        loc = [p for p in loc if not (isinstance(p, str) and p.startswith("function-"))]
        out.append((_pointer(loc), _clean_msg(str(err.get("msg", "invalid value")))))
    return out


_STATUS_TITLES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Not allowed"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    412: ("precondition-failed", "Precondition failed"),
    413: ("payload-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("validation-error", "Request validation failed"),
    428: ("precondition-required", "Precondition required"),
    429: ("too-many-requests", "Too many requests"),
    500: ("internal-error", "Internal server error"),
    503: ("service-unavailable", "Service unavailable"),
}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(APIError)
    async def _api_error(_: Request, exc: APIError) -> JSONResponse:
        return problem_response(
            exc.status, exc.title, exc.detail, type_=exc.type, errors=exc.errors,
            headers=exc.headers, extra=exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = validation_errors(exc)
        detail = "; ".join(f"{p}: {d}" for p, d in errors[:5]) or "invalid request"
        return problem_response(
            422, "Request validation failed", detail, type_="validation-error", errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        type_, title = _STATUS_TITLES.get(exc.status_code, ("error", "Error"))
        detail = exc.detail if isinstance(exc.detail, str) else title
        return problem_response(
            exc.status_code, title, detail, type_=type_, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
        # Exception messages can quote request data (PHI); log the type and where it
        # happened, never the message.
        frames = traceback.extract_tb(exc.__traceback__)
        where = [f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}:{f.name}" for f in frames[-8:]]
        log.error("unhandled %s", type(exc).__name__,
                  extra={"route": getattr(request.scope.get("route"), "path", None),
                         "frames": where})
        return problem_response(
            500, "Internal server error", "an unexpected error occurred; it has been logged",
            type_="internal-error",
        )


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries declaring problem+json for the given statuses."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        _, title = _STATUS_TITLES.get(status, ("error", "Error"))
        out[status] = {
            "description": title,
            "model": Problem,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    return out
