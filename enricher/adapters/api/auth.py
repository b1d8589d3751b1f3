"""Bearer-token authentication and scope checks (RFC 6750 style answers).

``Authorization: Bearer <token>`` on every route but ``/healthz`` and ``/readyz``. A missing,
malformed, unknown or revoked token is a 401 with a ``WWW-Authenticate`` challenge; a valid token
without the route's scope is a 403 naming the scope needed. ``baseline:write`` implies ``read``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Final

from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from enricher.adapters.api.context import ApiContext, get_context
from enricher.adapters.api.errors import ApiError
from enricher.adapters.api.params import reject_unknown_query
from enricher.adapters.api.schemas import ErrorBody
from enricher.adapters.store.token_repo import BASELINE_WRITE, READ, TokenInfo, effective_scopes

REALM: Final = "enricher"
MAX_TOKEN: Final = 512

# Declares the scheme in OpenAPI; the header itself is read below so that each 401 can say why.
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="A token from `enricher api token create NAME --scopes read[,baseline:write]`.",
)


def _challenge(error: str | None = None, description: str | None = None, scope: str | None = None) -> str:
    parts = [f'realm="{REALM}"']
    if error is not None:
        parts.append(f'error="{error}"')
    if description is not None:
        parts.append('error_description="' + description.replace('"', "'") + '"')
    if scope is not None:
        parts.append(f'scope="{scope}"')
    return "Bearer " + ", ".join(parts)


def _unauthorized(detail: str, error: str | None = "invalid_token") -> ApiError:
    return ApiError(
        401,
        error or "missing_token",
        detail,
        headers={"WWW-Authenticate": _challenge(error, detail if error else None)},
    )


def _presented_token(request: Request) -> str:
    header = request.headers.get("authorization")
    if header is None:
        raise _unauthorized('no credentials: send "Authorization: Bearer <token>"', error=None)
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise _unauthorized(
            f"unsupported authorization scheme {scheme[:20]!r}: use Bearer", error="invalid_request"
        )
    token = token.strip()
    if not token:
        raise _unauthorized("empty bearer token", error="invalid_request")
    if len(token) > MAX_TOKEN or not token.isascii():
        raise _unauthorized("malformed bearer token")
    return token


async def authenticate(request: Request, context: ApiContext) -> TokenInfo:
    """The active token the request presents; ``ApiError(401)`` saying why otherwise."""
    found = await context.tokens.authenticate(_presented_token(request))
    if found is None:
        raise _unauthorized("unknown token")
    if found.revoked_at is not None:
        raise _unauthorized(f"token {found.name!r} was revoked")
    return found


def require(scope: str) -> Callable[..., Awaitable[TokenInfo]]:
    """A dependency that authenticates the request, checks that its token grants ``scope``, and
    then (so that an anonymous caller learns nothing about parameters) refuses unknown query
    parameters."""

    async def dependency(
        request: Request,
        context: Annotated[ApiContext, Depends(get_context)],
        _credentials: Annotated[Any, Depends(bearer_scheme)],
    ) -> TokenInfo:
        token = await authenticate(request, context)
        if scope not in effective_scopes(token.scopes):
            held = ", ".join(token.scopes) or "no scopes"
            raise ApiError(
                403,
                "insufficient_scope",
                f"this route needs the {scope!r} scope; token {token.name!r} has: {held}",
                headers={"WWW-Authenticate": _challenge("insufficient_scope", scope=scope)},
            )
        await reject_unknown_query(request)
        return token

    dependency.__name__ = f"require_{scope.replace(':', '_')}"
    return dependency


require_read = require(READ)
require_write = require(BASELINE_WRITE)
ReadToken = Annotated[TokenInfo, Depends(require_read)]
WriteToken = Annotated[TokenInfo, Depends(require_write)]

_ERROR_DESCRIPTIONS: Final = {
    401: "No token, or an unknown, malformed or revoked one",
    403: "The token lacks the scope this route needs",
    404: "No such object",
    413: "The request body is too large",
    422: "Invalid input; each problem listed",
    503: "The store cannot be reached",
}


def route_docs(scope: str, *statuses: int) -> dict[str, Any]:
    """``responses`` and ``openapi_extra`` for a route that needs ``scope`` and may also answer ``statuses``."""
    wanted = (401, 403, 422, 503, *statuses)
    responses: dict[int | str, dict[str, Any]] = {
        status: {"model": ErrorBody, "description": _ERROR_DESCRIPTIONS[status]} for status in wanted
    }
    return {"responses": responses, "openapi_extra": {"x-required-scope": scope}}
