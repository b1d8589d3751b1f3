"""Rule (2): the event changes the access model (``drift``/``access_model_change``).

IAM policy attach/put/version/trust-policy updates, access-key and login-profile creation,
Kubernetes RBAC writes, service-account token creation and Istio security policy writes change who
can do what, whatever else is true of the call. The record names the target whose access changed
(resolved to an identity when one of its aliases names it) and whether the actor was entitled to
make the change.
"""

from __future__ import annotations

from enricher.core import verdict as v
from enricher.core.rules.context import Context, Decision


def decide_access_change(ctx: Context) -> Decision | None:
    """Every access-model change is drift; the actor's entitlement only changes the severity."""
    event = ctx.event
    change = event.change
    if change is None:
        return None
    identity = ctx.identity
    assert identity is not None  # rule (1) handled unknown actors
    usable = ctx.match.usable
    entitled = bool(usable)
    target_identity = ctx.baseline.resolve_alias(change.target)
    target_name = target_identity.id if target_identity is not None else change.target
    if entitled:
        why = f"entitled by {usable[0].entitlement.id}"
    else:
        why = "not entitled to make this change"
    return Decision(
        v.DRIFT,
        v.ACCESS_MODEL_CHANGE,
        f"{identity.id} changed the access model ({change.category}: {event.action}) of {target_name} "
        f"({event.outcome}); the actor was {why}.",
        usable[0].entitlement.id if entitled else None,  # entitlement
        entitled,  # actor_entitled
        change.target,  # target
        target_identity.id if target_identity is not None else None,  # target_identity
    )
