"""Rule (4): cross-boundary movement (``unauthorized_path``/``unapproved_system``).

Fires whatever the outcome when the identity holds no entitlement at all in the event's system, or
none in its boundary: the AWS account (``recipientAccountId``), the Kubernetes namespace
(``_cluster`` for cluster-scoped objects) or the mesh destination host. An event whose boundary is
unknown (empty) is judged on the system alone.
"""

from __future__ import annotations

from enricher.core import verdict as v
from enricher.core.rules.context import Context, Decision

BOUNDARY_NAME = {"aws": "AWS account", "k8s": "Kubernetes namespace", "mesh": "mesh destination host"}


def decide_boundary(ctx: Context) -> Decision | None:
    """An identity acting in a system or boundary it holds nothing in has crossed a boundary."""
    event = ctx.event
    identity = ctx.identity
    assert identity is not None
    system = event.system
    index = ctx.baseline.system_index(identity.id, system)
    if index is None:
        return Decision(
            v.UNAUTHORIZED_PATH,
            v.UNAPPROVED_SYSTEM,
            f"{identity.id} holds no entitlement in {system} but performed {event.action} on "
            f"{event.resource} ({event.outcome}).",
        )
    boundary = event.boundary
    if boundary and not index.covers(boundary):
        return Decision(
            v.UNAUTHORIZED_PATH,
            v.UNAPPROVED_SYSTEM,
            f"{identity.id} holds no entitlement in {BOUNDARY_NAME.get(system, system)} {boundary} "
            f"but performed {event.action} on {event.resource} there ({event.outcome}).",
        )
    return None
