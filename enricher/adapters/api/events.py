"""``GET /events/{event_id}``: an event's verdict(s) in context, for incident responders."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Query

from enricher.adapters.api.auth import ReadToken, route_docs
from enricher.adapters.api.context import ApiContext, get_context
from enricher.adapters.api.errors import not_found
from enricher.adapters.api.params import EventId
from enricher.adapters.api.schemas import EventContext, entitlement_dict, identity_dict
from enricher.adapters.store.token_repo import READ
from enricher.core.model import Identity

DEFAULT_WINDOW_MINUTES: Final = 15
RELATED_LIMIT: Final = 50

router = APIRouter(tags=["events"])


def _entitlement(identity: Identity | None, entitlement_id: object) -> dict[str, Any] | None:
    if identity is None or not isinstance(entitlement_id, str):
        return None
    for ent in identity.entitlements:
        if ent.id == entitlement_id:
            return entitlement_dict(ent)
    return None


@router.get("/events/{event_id:path}", response_model=EventContext, **route_docs(READ, 404))
async def get_event(
    event_id: EventId,
    _token: ReadToken,
    context: Annotated[ApiContext, Depends(get_context)],
    window_minutes: Annotated[
        int, Query(ge=1, le=1440, description="Half-width of the related-events window")
    ] = DEFAULT_WINDOW_MINUTES,
) -> dict[str, Any]:
    """The event's verdict(s), the identity and the matched (or nearest) entitlement as the baseline
    holds them now, and the other verdicts of the same identity (for an unresolved actor: the same
    principal, i.e. session) within ``window_minutes`` either side of the event. Scope: ``read``."""
    verdicts = await context.verdicts.get_by_event(event_id)
    if not verdicts:
        raise not_found(f"no verdict for event {event_id!r}")
    primary = verdicts[0]
    identity_id = primary.get("identity")
    identity = await context.baselines.get_identity(identity_id) if isinstance(identity_id, str) else None
    related = await context.verdicts.related(
        primary, window=timedelta(minutes=window_minutes), limit=RELATED_LIMIT + len(verdicts)
    )
    own = {v.get("verdict_id") for v in verdicts}
    return {
        "event_id": event_id,
        "verdicts": verdicts,
        "identity": None if identity is None else identity_dict(identity),
        "entitlement": _entitlement(identity, primary.get("entitlement")),
        "related": [r for r in related if r.get("verdict_id") not in own][:RELATED_LIMIT],
        "window_minutes": window_minutes,
        "baseline_version": await context.baselines.current_version(),
    }
