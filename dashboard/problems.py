"""Every API error as ``application/problem+json`` (RFC 9457): type, title, status, detail.

Validation errors never echo the submitted values back (they may be passwords), and
unexpected errors say nothing about the inside of the server.
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from vms.errors import CodedError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

_TITLES = {
    400: "Bad request", 401: "Sign-in required", 403: "Not allowed", 404: "Not found", 405: "Method not allowed",
    409: "Conflict", 413: "Too large", 415: "Unsupported media type", 422: "Invalid request", 429: "Too many attempts",
    500: "Internal error", 503: "Unavailable",
}


class Problem(Exception):
    """Raise from a route or dependency to answer with a problem document."""

    def __init__(self, status: int, slug: str, detail: str, title: str | None = None,
                 headers: dict[str, str] | None = None, **extra) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.title = title or _TITLES.get(status, "Error")
        self.headers = headers or {}
        self.extra = extra


def coded(status: int, slug: str, exc: Exception, **extra) -> Problem:
    """A problem for a refusal: a ``CodedError``'s code and parameters become ``params`` (the
    dashboard words them from ``problem.<slug>.<reason>``); any other error says ``reason: other``."""
    params = exc.problem_params() if isinstance(exc, CodedError) else {"reason": "other"}
    return Problem(status, slug, str(exc), params=params, **extra)


def problem_response(status: int, slug: str, title: str, detail: str, headers: dict | None = None, **extra) -> JSONResponse:
    body = {"type": f"/problems/{slug}", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


async def _problem(request: Request, exc: Problem) -> JSONResponse:
    return problem_response(exc.status, exc.slug, exc.title, exc.detail, exc.headers, **exc.extra)


async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    status = exc.status_code
    detail = exc.detail if isinstance(exc.detail, str) else _TITLES.get(status, "Error")
    slug = {404: "not-found", 405: "method-not-allowed"}.get(status, f"http-{status}")
    return problem_response(status, slug, _TITLES.get(status, "Error"), detail, getattr(exc, "headers", None))


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = field_errors(exc.errors())
    detail = "; ".join(f"{e['where']}: {e['problem']}" for e in errors[:5])
    return problem_response(422, "invalid-request", "Invalid request", detail, errors=errors)


def field_errors(raw: Sequence[Any]) -> list[dict]:
    """pydantic's errors as ``[{"where", "problem", "code", "params"}]``: the error type and its
    limits (never the submitted value), for the UI's own words (``validation.<code>``)."""
    return [
        {"where": ".".join(str(part) for part in error.get("loc", ())),
         "problem": str(error.get("msg", "")).removeprefix("Value error, "),
         "code": str(error.get("type", "")), "params": _limits(error.get("ctx"))}
        for error in raw
    ]


def _limits(ctx) -> dict:
    """The plain limits of a validation error (max_length, ge, pattern, expected...)."""
    if not isinstance(ctx, dict):
        return {}
    # "message" is the English sentence of a coded refusal; the UI has its own words
    return {k: v for k, v in ctx.items() if isinstance(v, (str, int, float)) and k not in ("error", "message")}


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s: %s", request.method, request.scope.get("path"), type(exc).__name__, exc_info=exc)
    return problem_response(500, "internal-error", "Internal error", "the server failed to answer; the error is logged")


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _problem)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(Exception, _unexpected)
