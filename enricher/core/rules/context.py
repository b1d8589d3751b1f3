"""What every rule reads (``Context``) and what a rule returns (``Decision``)."""

from __future__ import annotations

from dataclasses import dataclass

from enricher.core.baseline import CompiledBaseline, CompiledEntitlement
from enricher.core.events import NormalizedEvent
from enricher.core.model import Identity


# Decision and Match are slotted but not frozen, like NormalizedEvent: one of each is built per
# event, and frozen construction pays an ``object.__setattr__`` per field. Never mutated.
@dataclass(slots=True)
class Decision:
    """A rule's finding: verdict + reason, the entitlement it rests on, and its one-sentence why."""

    verdict: str
    reason: str
    explanation: str
    entitlement: str | None = None
    actor_entitled: bool | None = None
    target: str | None = None
    target_identity: str | None = None


@dataclass(slots=True)
class Match:
    """Entitlements of the identity that match action + resource, split by what else holds.

    ``usable`` matched, are inside their valid window and their conditions hold; ``expired`` only
    failed the window; ``wrong_source`` were in their window but failed a condition.
    """

    usable: tuple[CompiledEntitlement, ...] = ()
    expired: tuple[CompiledEntitlement, ...] = ()
    wrong_source: tuple[CompiledEntitlement, ...] = ()


NO_MATCH = Match()


@dataclass(slots=True)
class Context:
    """One event being judged: the event, its resolved identity and the baseline snapshot.

    ``identity`` is None only for in-scope actors that no alias names (shadow NHIs). The entitlement
    match is computed at most once, since several rules need it.
    """

    event: NormalizedEvent
    identity: Identity | None
    baseline: CompiledBaseline
    via: tuple[str, ...] = ()
    _match: Match | None = None

    @property
    def match(self) -> Match:
        """The entitlement match for this event's identity, action and resource (cached)."""
        found = self._match
        if found is None:
            found = self._match = compute_match(self)
        return found


def compute_match(ctx: Context) -> Match:
    """Sort the identity's matching entitlements into usable / expired / wrong source."""
    identity = ctx.identity
    if identity is None:
        return NO_MATCH
    event = ctx.event
    index = ctx.baseline.system_index(identity.id, event.system)
    if index is None:
        return NO_MATCH
    found = index.candidates(event.action)
    if not found:
        return NO_MATCH
    resource = event.resource
    # Candidates already match the action, so only the resource is left to test.
    if len(found) == 1:  # the common case: one grant names the action
        cand = found[0]
        if not cand.matches_resource(resource):
            return NO_MATCH
        if cand.plain:
            return Match(found)
    usable: list[CompiledEntitlement] = []
    expired: list[CompiledEntitlement] = []
    wrong_source: list[CompiledEntitlement] = []
    for cand in found:
        if not cand.matches_resource(resource):
            continue
        if not cand.is_valid_at(event.time):
            expired.append(cand)
        elif not cand.source_allowed(event.source_ip):
            wrong_source.append(cand)
        else:
            usable.append(cand)
    if not (usable or expired or wrong_source):
        return NO_MATCH
    return Match(tuple(usable), tuple(expired), tuple(wrong_source))
