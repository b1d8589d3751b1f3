"""Resolve an event's actor to a baseline identity, or decide it is out of scope (SPEC §4).

Resolution tries the principal's alias keys in order (a SPIFFE id also tries the prefix-less form
and the Kubernetes service-account name it stands for). When no alias matches, the principal kind
decides scope: service accounts, IAM roles and users and other workload credentials are in scope
(an unaliased one is a shadow NHI, ``unknown_identity``); AWS services, root, human SSO sessions,
Kubernetes people and control-plane users and unattributed mesh lines are out of scope unless an
alias pulls them in.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Final, Protocol

from enricher.core import events as ev
from enricher.core.events import NormalizedEvent
from enricher.core.model import BaselineSettings, Identity

# Kinds that are out of scope unless aliased. AWS_OTHER (FederatedUser, SAMLUser, AWSAccount,
# missing type) stays in scope: a federation token minted from an IAM user is a credential to track.
OUT_OF_SCOPE_KINDS: Final = frozenset({ev.AWS_SERVICE, ev.AWS_ROOT, ev.AWS_SSO, ev.K8S_USER, ev.K8S_SYSTEM})


class AliasIndex(Protocol):
    """What resolution needs from the compiled baseline."""

    @property
    def settings(self) -> BaselineSettings: ...

    def resolve_alias(self, key: str) -> Identity | None: ...

    def is_out_of_scope(self, principal: str) -> bool: ...


@dataclass(slots=True)  # not frozen: built once per event (see NormalizedEvent); never mutated
class Resolution:
    """Outcome of resolution: the identity (or None), whether the event is in scope, extra ``via``."""

    identity: Identity | None
    in_scope: bool
    via: tuple[str, ...] = ()
    scope_reason: str = ""  # why it is out of scope: the principal kind, ``pattern`` or ``no_principal``


class SessionLinks:
    """Bounded memory of credentials handed out by identity links (EKS IRSA web identity).

    ``AssumeRoleWithWebIdentity`` from ``system:serviceaccount:NS:SA`` returns a temporary access
    key and a session ARN; later events carrying either get ``via = (that service account,)``.
    Oldest entries are evicted beyond ``capacity`` so a long-running worker stays bounded.
    """

    __slots__ = ("_capacity", "_links")

    def __init__(self, capacity: int = 100_000) -> None:
        self._capacity = capacity
        self._links: OrderedDict[str, str] = OrderedDict()

    def remember(self, keys: tuple[str, ...], subject: str) -> None:
        """Record that credentials ``keys`` were issued to ``subject``."""
        links = self._links
        for key in keys:
            links[key] = subject
            links.move_to_end(key)
        while len(links) > self._capacity:
            links.popitem(last=False)

    def via_for(self, event: NormalizedEvent) -> str | None:
        """The subject behind the event's session credential, if one was linked."""
        links = self._links
        if not links:
            return None
        if event.session_key is not None:
            found = links.get(event.session_key)
            if found is not None:
                return found
        return links.get(event.raw_principal)

    def __len__(self) -> int:
        return len(self._links)


def alias_keys(principal: str, kind: str, raw_principal: str) -> tuple[str, ...]:
    """The alias strings under which a principal may be listed in the baseline, most specific first."""
    if kind == ev.SPIFFE:
        return spiffe_keys(principal)
    if raw_principal and raw_principal != principal:
        return (principal, raw_principal)
    return (principal,)


def spiffe_keys(spiffe_id: str) -> tuple[str, ...]:
    """``spiffe://TD/ns/NS/sa/SA`` -> itself, ``TD/ns/NS/sa/SA`` and ``system:serviceaccount:NS:SA``."""
    bare = spiffe_id[9:] if spiffe_id.startswith("spiffe://") else spiffe_id
    parts = bare.split("/")
    if len(parts) == 5 and parts[1] == "ns" and parts[3] == "sa":
        return ("spiffe://" + bare, bare, f"system:serviceaccount:{parts[2]}:{parts[4]}")
    return ("spiffe://" + bare, bare)


def resolve_direct(event: NormalizedEvent, baseline: AliasIndex, links: SessionLinks) -> Identity | None:
    """The identity when the principal itself is its alias and no linked session adds a ``via``: then
    ``resolve_identity`` would return it, in scope, with ``via = event.via``. None otherwise (ask
    ``resolve_identity``)."""
    principal = event.principal
    if not principal or (event.principal_kind == ev.SPIFFE and not principal.startswith("spiffe://")):
        return None
    if links._links and links.via_for(event) is not None:
        return None
    return baseline.resolve_alias(principal)


def resolve_identity(event: NormalizedEvent, baseline: AliasIndex, links: SessionLinks) -> Resolution:
    """Map the event's actor to an identity and decide whether it gets a verdict."""
    principal = event.principal
    kind = event.principal_kind
    linked = links.via_for(event) if links._links else None
    via = event.via if linked is None else (*event.via, linked)
    # The principal itself is the first alias key unless it is a SPIFFE id without its scheme.
    if principal and (kind != ev.SPIFFE or principal.startswith("spiffe://")):
        identity = baseline.resolve_alias(principal)
        if identity is not None:
            return Resolution(identity, True, via)
    for key in alias_keys(principal, kind, event.raw_principal):
        if key:
            identity = baseline.resolve_alias(key)
            if identity is not None:
                return Resolution(identity, True, via)
    return _unresolved(event, baseline, via)


def _unresolved(event: NormalizedEvent, baseline: AliasIndex, via: tuple[str, ...]) -> Resolution:
    """No alias names the actor: the principal kind and the out-of-scope patterns decide scope."""
    principal = event.principal
    kind = event.principal_kind
    if not principal:
        if kind == ev.UNATTRIBUTED and baseline.settings.mesh_require_identity:
            return Resolution(None, True, via)
        return Resolution(None, False, via, "no_principal" if kind != ev.UNATTRIBUTED else kind)
    if kind in OUT_OF_SCOPE_KINDS:
        return Resolution(None, False, via, kind)
    if baseline.is_out_of_scope(principal) or (
        event.raw_principal != principal and baseline.is_out_of_scope(event.raw_principal)
    ):
        return Resolution(None, False, via, "pattern")
    return Resolution(None, True, via)
