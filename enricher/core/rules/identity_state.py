"""Rule (1): the identity itself is not allowed to act at all.

- ``unknown_identity``: an in-scope actor that no identity's aliases name (a shadow NHI).
- ``decommissioned_identity``: the identity is marked ``decommissioned`` (OWASP NHI1, improper
  offboarding): any activity at all, allowed or denied, is a finding.
"""

from __future__ import annotations

from enricher.core import verdict as v
from enricher.core.rules.context import Context, Decision


def decide_identity_state(ctx: Context) -> Decision | None:
    """Unknown or decommissioned actors get ``unauthorized_path`` whatever they did."""
    identity = ctx.identity
    event = ctx.event
    if identity is None:
        actor = event.principal or event.raw_principal or "an unattributed caller"
        return Decision(
            v.UNAUTHORIZED_PATH,
            v.UNKNOWN_IDENTITY,
            f"{actor} is in scope but is no alias of any baseline identity "
            f"(shadow identity); it performed {event.action} on {event.resource} ({event.outcome}).",
        )
    if identity.status == "decommissioned":
        return Decision(
            v.UNAUTHORIZED_PATH,
            v.DECOMMISSIONED_IDENTITY,
            f"{identity.id} is decommissioned (owner {identity.owner}) but performed {event.action} "
            f"on {event.resource} ({event.outcome}); its credentials should no longer work.",
        )
    return None
