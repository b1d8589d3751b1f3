"""``GET /identities/{id}`` and its timeline: the inventory record joined with what the identity did."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from enricher.adapters.api.auth import ReadToken, route_docs
from enricher.adapters.api.context import ApiContext, get_context
from enricher.adapters.api.errors import invalid, not_found
from enricher.adapters.api.params import DEFAULT_PAGE, Cursor, IdentityId, Limit, Since, Until, check_window
from enricher.adapters.api.schemas import IdentityDetail, Timeline, identity_dict
from enricher.adapters.api.verdicts import fetch_page
from enricher.adapters.store.token_repo import READ
from enricher.core.verdict import VERDICTS

router = APIRouter(tags=["identities"])


def _counts(found: dict[str, int]) -> dict[str, int]:
    return {kind: found.get(kind, 0) for kind in VERDICTS} | found


# Ids may hold "/" (":path"); the timeline route comes first so that its suffix is not read as id.
@router.get("/identities/{identity_id:path}/timeline", response_model=Timeline, **route_docs(READ, 404))
async def get_timeline(
    identity_id: IdentityId,
    _token: ReadToken,
    context: Annotated[ApiContext, Depends(get_context)],
    since: Since = None,
    until: Until = None,
    limit: Limit = DEFAULT_PAGE,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """The identity's verdicts, newest first, paged like ``GET /verdicts``. Scope: ``read``."""
    problem = check_window(since, until)
    if problem is not None:
        raise invalid([problem])
    items, next_cursor = await fetch_page(
        context.verdicts.timeline(identity_id, since=since, until=until, limit=limit, cursor=cursor)
    )
    if not items and cursor is None and await context.baselines.get_identity(identity_id) is None:
        counts = await context.verdicts.counts_for_identity(identity_id)
        if not any(counts.values()):
            raise not_found(f"no identity {identity_id!r} in the baseline or the verdict store")
    return {"identity": identity_id, "items": items, "next_cursor": next_cursor}


@router.get("/identities/{identity_id:path}", response_model=IdentityDetail, **route_docs(READ, 404))
async def get_identity(
    identity_id: IdentityId,
    _token: ReadToken,
    context: Annotated[ApiContext, Depends(get_context)],
) -> dict[str, Any]:
    """The identity's inventory record with each entitlement's last-used time (null: never seen
    used), and its stored verdicts counted by kind. An identity removed from the baseline but with
    stored verdicts is still answered, with ``identity`` null. Scope: ``read``."""
    identity = await context.baselines.get_identity(identity_id)
    counts = await context.verdicts.counts_for_identity(identity_id)
    if identity is None and not any(counts.values()):
        raise not_found(f"no identity {identity_id!r} in the baseline or the verdict store")
    record = None
    if identity is not None:
        record = identity_dict(identity, await context.verdicts.last_used(identity_id))
    return {
        "id": identity_id,
        "identity": record,
        "verdict_counts": _counts(counts),
        "baseline_version": await context.baselines.current_version(),
    }
