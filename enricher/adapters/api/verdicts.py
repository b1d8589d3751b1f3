"""``GET /verdicts``: search stored verdicts, newest first, with cursor paging."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from enricher.adapters.api.auth import ReadToken, route_docs
from enricher.adapters.api.context import ApiContext, get_context
from enricher.adapters.api.errors import invalid
from enricher.adapters.api.params import (
    DEFAULT_PAGE,
    MAX_TEXT,
    Cursor,
    Limit,
    Reason,
    Since,
    Source,
    StoredText,
    Until,
    VerdictKind,
    check_window,
)
from enricher.adapters.api.schemas import VerdictPage
from enricher.adapters.store.token_repo import READ

router = APIRouter(tags=["verdicts"])


async def fetch_page(
    search: Awaitable[tuple[list[dict[str, Any]], str | None]],
) -> tuple[list[dict[str, Any]], str | None]:
    """Await a store search, turning its refusal of the cursor into a 422."""
    try:
        return await search
    except (ValueError, OverflowError) as exc:  # a cursor it did not make (or one with a time out of range)
        raise invalid([f"query.cursor: {exc if isinstance(exc, ValueError) else 'bad cursor'}"]) from exc


@router.get("/verdicts", response_model=VerdictPage, **route_docs(READ))
async def search_verdicts(
    _token: ReadToken,
    context: Annotated[ApiContext, Depends(get_context)],
    verdict: Annotated[VerdictKind | None, Query()] = None,
    reason: Annotated[Reason | None, Query()] = None,
    identity: Annotated[StoredText | None, Query(min_length=1, max_length=MAX_TEXT)] = None,
    source: Annotated[Source | None, Query()] = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = DEFAULT_PAGE,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Stored verdicts matching every given filter, newest first; ``since`` is inclusive, ``until``
    exclusive. Pass a page's ``next_cursor`` back as ``cursor`` (with the same filters) for the next
    page. Scope: ``read``."""
    problem = check_window(since, until)
    if problem is not None:
        raise invalid([problem])
    items, next_cursor = await fetch_page(
        context.verdicts.search(
            verdict=verdict,
            reason=reason,
            identity=identity,
            source=source,
            since=since,
            until=until,
            limit=limit,
            cursor=cursor,
        )
    )
    return {"items": items, "next_cursor": next_cursor}
