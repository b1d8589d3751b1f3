"""Error answers of the HTTP API: one JSON shape (``ErrorBody``), and no 500 for client input.

- ``ApiError`` is what routes and auth raise on purpose (401, 403, 404, 413, 422 ...).
- Request validation errors become 422 with each problem listed (the input itself is not echoed).
- A store that cannot be reached (connection refused or lost, server starting or shutting down,
  pool or lock timeout) is a 503 ``store_unavailable``: transient, retry.
- Anything else is a bug: ``RequestObserver`` logs it with its traceback and answers a bare 500
  without internals. It is a plain ASGI middleware rather than an ``Exception`` handler because
  Starlette re-raises after running such a handler, which would log every error twice.

``RequestObserver`` also counts every request by route template and status, and times it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from time import perf_counter
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from enricher.adapters.metrics import Metrics
from enricher.adapters.store.verdict_repo import is_unavailable
from enricher.errors import BaselineUnavailable

log = logging.getLogger("enricher.api")

UNMATCHED: Final = "unmatched"
_STATUS_CODES: Final = {
    400: "bad_request",
    401: "invalid_token",
    403: "insufficient_scope",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
}


class ApiError(Exception):
    """An error answer raised on purpose: status, stable code, sentence, optional problems/headers."""

    def __init__(
        self,
        status: int,
        error: str,
        detail: str,
        *,
        problems: Sequence[str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
        self.problems = list(problems) if problems is not None else None
        self.headers = dict(headers) if headers is not None else None


def not_found(detail: str) -> ApiError:
    """A 404 with ``detail``."""
    return ApiError(404, "not_found", detail)


def invalid(problems: Sequence[str]) -> ApiError:
    """A 422 listing ``problems``."""
    return ApiError(422, "invalid_request", _summary(problems), problems=problems)


def _summary(problems: Sequence[str]) -> str:
    if len(problems) == 1:
        return problems[0]
    return f"{len(problems)} problems in the request"


def error_response(
    status: int,
    error: str,
    detail: str,
    problems: Sequence[str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The JSON error answer every failure uses."""
    body: dict[str, Any] = {"error": error, "detail": detail}
    if problems is not None:
        body["problems"] = list(problems)
    return JSONResponse(body, status_code=status, headers=dict(headers) if headers else None)


def _location(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc)


def validation_problems(errors: Sequence[Any]) -> list[str]:
    """pydantic/FastAPI error dicts -> ``"query.limit: Input should be ..."`` lines."""
    out = []
    for error in errors:
        if isinstance(error, Mapping):
            message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
            out.append(f"{_location(error.get('loc', ()))}: {message}")
        else:
            out.append(str(error))
    return out


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.error, exc.detail, exc.problems, exc.headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = validation_problems(exc.errors())
    return error_response(422, "invalid_request", _summary(problems), problems)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    error = _STATUS_CODES.get(exc.status_code, "error")
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return error_response(exc.status_code, error, detail, headers=exc.headers)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn exceptions into ``ErrorBody`` answers."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)


def store_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the store cannot be reached right now (a 503, not a 500)."""
    return isinstance(exc, BaselineUnavailable | PoolTimeout) or is_unavailable(exc)


def route_label(scope: Scope) -> str:
    """The matched route's path template (bounded label values), or ``unmatched``."""
    route = scope.get("route")
    path = getattr(route, "path_format", None)  # "/events/{event_id}", without converters
    return path if isinstance(path, str) else UNMATCHED


_INTERNAL_BODY: Final = (
    b'{"error":"internal_error","detail":"internal error; the server log has the details"}'
)
_UNAVAILABLE_BODY: Final = (
    b'{"error":"store_unavailable","detail":"the baseline and verdict store cannot be reached; retry later"}'
)


class RequestObserver:
    """ASGI middleware: per-route counts and latency; a 503 for a store outage, a 500 for any other error."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        status = 500
        response_started = False

        async def observe(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
            await send(message)

        try:
            await self.app(scope, receive, observe)
        except Exception as exc:
            where = f"{scope.get('method')} {route_label(scope)}"
            if store_unavailable(exc):
                status, body = 503, _UNAVAILABLE_BODY
                log.warning("store unavailable during %s: %s", where, exc)
            else:
                status, body = 500, _INTERNAL_BODY
                log.exception("unhandled error on %s", where)
            if response_started:
                raise  # half an answer is out: let the server drop the connection
            await _send_error(send, status, body)
        finally:
            route = route_label(scope)
            self.metrics.api_requests.labels(route, str(status)).inc()
            self.metrics.api_latency.labels(route).observe(perf_counter() - started)


async def _send_error(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
