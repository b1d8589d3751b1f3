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
from enricher.core.rules.entitlement_match import decide_entitlement_match
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
    """Apply the rules in precedence order; (5) entitlement match with outcome always decides."""
    for rule in RULES:
        decision = rule(ctx)
        if decision is not None:
            return decision
    return decide_entitlement_match(ctx)


__all__ = ["RULES", "Context", "Decision", "decide"]
