"""Rule (3): the identity takes on a credential that is its own (``expected``/``identity_link``).

EKS IRSA: ``AssumeRoleWithWebIdentity`` by ``system:serviceaccount:NS:SA`` into a role that is an
alias of the same identity; or a role assuming itself. Assuming someone else's role is not a link:
it falls through to the entitlement rules (``sts:AssumeRole`` must be approved).
"""

from __future__ import annotations

from enricher.core import verdict as v
from enricher.core.rules.context import Context, Decision


def decide_identity_link(ctx: Context) -> Decision | None:
    """A successful credential hand-off between two aliases of one identity is expected."""
    event = ctx.event
    link = event.link
    if link is None or event.outcome != "success":
        return None
    identity = ctx.identity
    assert identity is not None
    linked = ctx.baseline.resolve_alias(link.role)
    if linked is None or linked.id != identity.id:
        return None
    return Decision(
        v.EXPECTED,
        v.IDENTITY_LINK,
        f"{identity.id} assumed {link.role}, which is an alias of the same identity "
        f"({event.principal} -> role).",
        None,  # entitlement
        None,  # actor_entitled
        link.role,  # target
        identity.id,  # target_identity
    )
