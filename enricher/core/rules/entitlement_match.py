"""Rule (5): match the event against the identity's entitlements, then read the outcome.

| match                          | outcome          | verdict / reason                              |
|--------------------------------|------------------|-----------------------------------------------|
| usable entitlement             | success or error | expected / matched_entitlement                |
| usable entitlement             | denied           | drift / approved_but_denied                   |
| only outside its valid window  | any              | unauthorized_path / expired_entitlement       |
| only with unmet conditions     | any              | unauthorized_path / unexpected_source         |
| none                           | success or error | overprivileged / allowed_beyond_baseline      |
| none                           | denied           | unauthorized_path / denied_outside_baseline   |

``error`` is a failure after authorization passed, so it counts as allowed.
"""

from __future__ import annotations

from datetime import datetime

from enricher.core import verdict as v
from enricher.core.baseline import CompiledEntitlement
from enricher.core.events import NormalizedEvent
from enricher.core.rules.context import Context, Decision


def decide_entitlement_match(ctx: Context) -> Decision:
    """Always decides: the last rule in the precedence order."""
    event = ctx.event
    identity = ctx.identity
    assert identity is not None
    match = ctx.match
    denied = event.outcome == "denied"
    if match.usable:
        ent = match.usable[0]
        if denied:
            return Decision(
                v.DRIFT,
                v.APPROVED_BUT_DENIED,
                f"{identity.id} is approved for {event.action} on {event.resource} by {ent.entitlement.id} "
                f"but the platform denied it ({event.error_code or 'denied'}): baseline and reality disagree.",
                ent.entitlement.id,
            )
        return expected_decision(identity.id, event, ent)
    if match.expired:
        ent = match.expired[0]
        e = ent.entitlement
        window = f"{_iso(e.valid_from) or 'always'} to {_iso(e.valid_until) or 'open end'}"
        return Decision(
            v.UNAUTHORIZED_PATH,
            v.EXPIRED_ENTITLEMENT,
            f"{identity.id} performed {event.action} on {event.resource} ({event.outcome}) at "
            f"{_iso(event.time)}, outside the valid window of {e.id} ({window}).",
            e.id,
        )
    if match.wrong_source:
        e = match.wrong_source[0].entitlement
        return Decision(
            v.UNAUTHORIZED_PATH,
            v.UNEXPECTED_SOURCE,
            f"{identity.id} performed {event.action} on {event.resource} ({event.outcome}) from "
            f"{event.source_ip or 'an unknown address'}, outside the sources {e.id} allows "
            f"({', '.join(e.conditions.source_cidrs)}).",
            e.id,
        )
    return _no_match(ctx, denied)


def expected_decision(identity_id: str, event: NormalizedEvent, ent: CompiledEntitlement) -> Decision:
    """``expected``/``matched_entitlement``: ``ent`` is usable for the event, which was not denied."""
    return Decision(
        v.EXPECTED, v.MATCHED_ENTITLEMENT, expected_explanation(identity_id, event, ent), ent.entitlement.id
    )


def expected_explanation(identity_id: str, event: NormalizedEvent, ent: CompiledEntitlement) -> str:
    """The one sentence of an ``expected``/``matched_entitlement`` verdict."""
    return f"{identity_id} used entitlement {ent.describe()} for {event.action} on {event.resource}."


def _no_match(ctx: Context, denied: bool) -> Decision:
    event = ctx.event
    identity = ctx.identity
    assert identity is not None
    nearest = ctx.baseline.nearest(identity.id, event.system, event.action, event.resource)
    if nearest is None:
        hint = "it holds no comparable entitlement"
    else:
        hint = f"the nearest, {nearest.describe()}, does not cover it"
    if denied:
        return Decision(
            v.UNAUTHORIZED_PATH,
            v.DENIED_OUTSIDE_BASELINE,
            f"{identity.id} tried {event.action} on {event.resource} and was denied; no entitlement "
            f"approves it and {hint}.",
            nearest.entitlement.id if nearest is not None else None,
        )
    return Decision(
        v.OVERPRIVILEGED,
        v.ALLOWED_BEYOND_BASELINE,
        f"{identity.id} performed {event.action} on {event.resource} ({event.outcome}) and the platform "
        f"allowed it, but no entitlement approves it; {hint}.",
        nearest.entitlement.id if nearest is not None else None,
    )


def _iso(when: datetime | None) -> str:
    if when is None:
        return ""
    return when.isoformat().replace("+00:00", "Z")
