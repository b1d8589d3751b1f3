"""Verdict rules, one decision per module; the order lives here and nowhere else (SPEC §6).

Each rule takes the event's ``Context`` and returns a ``Decision`` or ``None`` (does not apply).
The first rule that returns a decision decides. The last rule always decides.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from enricher.core.rules.access_change import decide_access_change
from enricher.core.rules.boundary import decide_boundary
from enricher.core.rules.context import Context, Decision
from enricher.core.rules.entitlement_match import decide_entitlement_match, expected_decision
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

    The order is that of ``RULES``; each rule is called only when its guard says it could fire, so
    the common event (an active identity, no access change, no credential hand-off) pays for the
    boundary and entitlement rules alone, and, when one plain grant inside the boundary covers it,
    for one index lookup: rules (4) and (5) could only reach the same ``expected`` decision.
    """
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
    assert identity is not None  # rule (1) decided unknown identities
    index = ctx.baseline.system_index(identity.id, event.system)
    if index is not None and event.outcome != "denied":
        boundary = event.boundary
        if not boundary or boundary in index.boundaries:
            ent = index.sole_plain_match(event.action, event.resource)
            if ent is not None:
                return expected_decision(identity.id, event, ent)
    return decide_boundary(ctx) or decide_entitlement_match(ctx)


__all__ = ["RULES", "Context", "Decision", "decide"]
