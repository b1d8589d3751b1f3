"""Verdict rules, one decision per module; the order lives here and nowhere else (SPEC §6).

Each rule takes the event's ``Context`` and returns a ``Decision`` or ``None`` (does not apply).
The first rule that returns a decision decides. The last rule always decides.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from enricher.core.baseline import CompiledBaseline, CompiledEntitlement
from enricher.core.events import NormalizedEvent
from enricher.core.model import Identity
from enricher.core.rules.access_change import decide_access_change
from enricher.core.rules.boundary import decide_boundary
from enricher.core.rules.context import Context, Decision
from enricher.core.rules.entitlement_match import (
    decide_entitlement_match,
    expected_decision,
    expected_explanation,
)
from enricher.core.rules.identity_link import decide_identity_link
from enricher.core.rules.identity_state import decide_identity_state

Rule = Callable[[Context], Decision | None]

RULES: Final[tuple[Rule, ...]] = (
    decide_identity_state,  # (1) unknown / decommissioned identity
    decide_access_change,  # (2) drift: access-model changes
    decide_identity_link,  # (3) identity links (IRSA, a role assuming itself)
    decide_boundary,  # (4) unapproved system / account / namespace / host
)


def decide(ctx: Context) -> Decision:
    """Apply the rules in precedence order; (5) entitlement match with outcome always decides.

    The common event (see ``direct_match``) is decided by one index lookup; the rest by
    ``decide_by_rules``.
    """
    identity = ctx.identity
    if identity is not None:
        ent = direct_match(ctx.event, identity, ctx.baseline)
        if ent is not None:
            return expected_decision(identity.id, ctx.event, ent)
    return decide_by_rules(ctx)


def decide_by_rules(ctx: Context) -> Decision:
    """The rules of ``RULES`` in order, then (5); each rule is called only when its guard says it
    could fire (most events pay for the boundary and entitlement rules alone)."""
    identity = ctx.identity
    event = ctx.event
    if identity is None or identity.status == "decommissioned":
        decision = decide_identity_state(ctx)
        if decision is not None:
            return decision
    if event.change is not None:
        decision = decide_access_change(ctx)
        if decision is not None:
            return decision
    if event.link is not None:
        decision = decide_identity_link(ctx)
        if decision is not None:
            return decision
    return decide_boundary(ctx) or decide_entitlement_match(ctx)


def direct_match(
    event: NormalizedEvent, identity: Identity, baseline: CompiledBaseline
) -> CompiledEntitlement | None:
    """The entitlement that makes the event ``expected``/``matched_entitlement`` when the identity
    is active, the event neither changes the access model nor hands off a credential nor was denied,
    its boundary is an exact one of the identity's, and the first grant that names the action and
    covers the resource is usable (most events). None when the full rules must decide; they may
    still reach the same verdict.
    """
    if (
        event.change is not None
        or event.link is not None
        or event.outcome == "denied"
        or identity.status == "decommissioned"
    ):
        return None
    return baseline.first_usable(identity.id, event)


__all__ = [
    "RULES",
    "Context",
    "Decision",
    "decide",
    "decide_by_rules",
    "direct_match",
    "expected_explanation",
]
