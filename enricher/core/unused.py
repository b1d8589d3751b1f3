"""Periodic finding: entitlements not exercised for N days (``overprivileged``/``unused_entitlement``).

Not tied to one event. The workers pre-aggregate the last time each entitlement matched an event
and store it; this check compares those times with ``now``. An entitlement never seen in use
counts from when the service started observing (or from its ``valid_from``, if later), so a fresh
deployment does not report every grant on day one. The finding's event id names the identity, the
entitlement and the N-day period, so it is emitted once per entitlement per period: a re-run (or
several workers) yields the same ``verdict_id``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Final

from enricher.core import events as ev
from enricher.core.baseline import CompiledBaseline
from enricher.core.model import Entitlement, Identity
from enricher.core.standards import standards_for
from enricher.core.verdict import OVERPRIVILEGED, SCHEMA_VERSION, UNUSED_ENTITLEMENT, Verdict, make_verdict_id

SOURCE_OF_SYSTEM: Final = {"aws": "cloudtrail", "k8s": "k8s_audit", "mesh": "mesh"}
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def find_unused(
    baseline: CompiledBaseline,
    last_used: Mapping[tuple[str, str], datetime],
    now: datetime,
    *,
    observing_since: datetime,
) -> list[Verdict]:
    """One finding per active, currently valid entitlement idle for ``unused_after_days`` or more."""
    days = baseline.settings.unused_after_days
    threshold = timedelta(days=days)
    period_start = _EPOCH + timedelta(days=days * ((now - _EPOCH).days // days))
    findings: list[Verdict] = []
    for identity in baseline.identities.values():
        if identity.status != "active":
            continue
        for ent in identity.entitlements:
            if (ent.valid_from is not None and now < ent.valid_from) or (
                ent.valid_until is not None and now >= ent.valid_until
            ):
                continue  # outside its window: not an idle grant, an inactive one
            since = last_used.get((identity.id, ent.id))
            if since is None:
                since = max(observing_since, ent.valid_from or observing_since)
            idle = now - since
            if idle >= threshold:
                findings.append(_finding(baseline, identity, ent, now, idle, period_start, days))
    return findings


def _finding(
    baseline: CompiledBaseline,
    identity: Identity,
    ent: Entitlement,
    now: datetime,
    idle: timedelta,
    period_start: datetime,
    days: int,
) -> Verdict:
    source = SOURCE_OF_SYSTEM[ent.system]
    event_id = f"unused/{identity.id}/{ent.id}/{period_start.date().isoformat()}"
    principal, kind = _principal_for(identity, ent.system)
    return Verdict(
        SCHEMA_VERSION,
        make_verdict_id(source, event_id),
        event_id,
        source,
        ent.system,
        now,
        OVERPRIVILEGED,
        UNUSED_ENTITLEMENT,
        "medium",
        identity.id,
        identity.kind,
        identity.owner,
        identity.purpose,
        principal,
        kind,
        None,
        (),
        ent.actions[0],
        ent.resources[0],
        "success",
        None,
        None,
        None,
        None,
        None,
        None,
        ent.id,
        None,
        None,
        None,
        f"Entitlement {ent.id} ({', '.join(ent.actions[:3])} on {', '.join(ent.resources[:2])}) of {identity.id} "
        f"has not been used for {idle.days} days (threshold {days}).",
        baseline.version,
        standards_for(OVERPRIVILEGED, UNUSED_ENTITLEMENT, identity.kind, None),
    )


def _principal_for(identity: Identity, system: str) -> tuple[str, str]:
    """The alias a responder would look for in that system's logs, and its principal kind."""
    for alias in identity.aliases:
        if system == "aws" and alias.startswith("arn:"):
            return alias, ev.AWS_USER if ":user/" in alias else ev.AWS_ROLE
        if system == "k8s" and alias.startswith("system:serviceaccount:"):
            return alias, ev.K8S_SERVICE_ACCOUNT
        if system == "mesh" and alias.startswith("spiffe://"):
            return alias, ev.SPIFFE
    return (identity.aliases[0] if identity.aliases else identity.id), ev.AWS_OTHER
