"""The compiled baseline: the in-memory index every verdict rule queries, once per event.

``compile_baseline`` turns a ``BaselineDocument`` into dictionaries keyed the way events ask:
alias -> identity, identity -> system -> exact action -> entitlements (plus a short list of
entitlements with wildcard actions), and identity -> system -> boundaries. No query scans all
entitlements; the per-event cost is a few dict lookups and string tests.

Boundaries (SPEC §6 ``unapproved_system``) come from each entitlement's resource patterns:

- aws: the account of each ARN (5th ``:`` field, a pattern allowed). An ARN without an account
  (S3's ``arn:aws:s3:::bucket/key``) or a resource with no account field at all (``*``) counts for
  the accounts of the identity's own IAM role/user aliases; an identity with no such alias then
  covers no account through it.
- k8s: the namespace, i.e. the first ``/`` segment (``_cluster`` for cluster-scoped objects).
- mesh: the destination host, i.e. the part before the first ``/``.
Every entitlement counts for its boundary whatever its validity window: an expired grant is an
``expired_entitlement`` matter, not a boundary crossing.

AWS action names are compared case-insensitively: patterns are lowercased at compile time and
``candidates``/``matches`` lowercase the event's action themselves, so callers pass it as logged.

Cost model (measured on the shared 2-core machine, 100,000 identities x 10 entitlements):
``compile_baseline`` builds the alias index and settings eagerly (~0.4 s); each identity's
entitlement index is built the first time an event asks about it (a few microseconds), or all at
once by ``warm()`` (~4.7 s, ~255 MB on top of the ~500 MB document). Building pauses the cyclic GC;
a worker that installs a large snapshot should call ``gc.freeze()`` afterwards, otherwise the next
full collection walks every object of the baseline (~1.3 s at this size).
"""

from __future__ import annotations

import gc
import ipaddress
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Final

from enricher.core.events import NormalizedEvent
from enricher.core.model import BaselineDocument, BaselineSettings, Entitlement, Identity
from enricher.core.patterns import compile_pattern, compile_patterns, is_pattern

_AWS: Final = "aws"
_SPIFFE: Final = "spiffe://"
_ALIAS_CACHE_LIMIT: Final = 65_536
_MEMO_LIMIT: Final = 256
_SMALL: Final = 6
_SHARED_LIMIT: Final = 100_000
_MISS: Final = object()
_NO_SYSTEMS: Final[dict[str, Any]] = {}
_Test = Callable[[str], bool]


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of acyclic objects are built.

    Each collection would re-scan the growing, still-young object graph; for a large baseline
    that costs more than the building itself (measured 3-4x on a 100,000-entitlement file).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# ------------------------------------------------------------------------------------ conditions


@lru_cache(maxsize=16_384)
def _parse_ip(text: str) -> tuple[int, int] | None:
    """``(version, integer)`` of an address, IPv4-mapped IPv6 folded to IPv4; None if unparseable."""
    try:
        addr: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(text)
    except ValueError:
        # Access logs often keep the port: ``10.1.2.3:54321``, ``[2001:db8::1]:443``.
        host = text[1 : text.find("]")] if text.startswith("[") else text.rpartition(":")[0]
        if not host or host == text:
            return None
        try:
            addr = ipaddress.ip_address(host)
        except ValueError:
            return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.version, int(addr)


class _Networks:
    """A set of CIDRs as (version, network, mask) integers: one AND and compare per network."""

    __slots__ = ("_nets",)

    def __init__(self, cidrs: Iterable[str]) -> None:
        nets = []
        for cidr in cidrs:
            try:
                nets.append(ipaddress.ip_network(cidr, strict=False))
            except ValueError:
                continue  # refused by validation; compiled lazily, so never raise mid-stream
        self._nets = tuple((n.version, int(n.network_address), int(n.netmask)) for n in nets)

    def allows(self, source_ip: str | None) -> bool:
        parsed = _parse_ip(source_ip) if source_ip else None
        if parsed is None:
            return False
        version, value = parsed
        return any(v == version and value & mask == net for v, net, mask in self._nets)


# ----------------------------------------------------------------------------------- boundaries


def _own_accounts(aliases: Iterable[str]) -> tuple[str, ...]:
    """Accounts of the identity's own IAM role/user (or assumed-role session) ARNs."""
    accounts: list[str] = []
    for alias in aliases:
        if alias.startswith("arn:"):
            parts = alias.split(":", 5)
            if len(parts) == 6 and parts[2] in ("iam", "sts") and parts[4] and parts[4] not in accounts:
                accounts.append(sys.intern(parts[4]))
    return tuple(accounts)


def _boundaries(system: str, resources: Iterable[str], own_accounts: tuple[str, ...]) -> set[str]:
    """The boundaries (or boundary patterns) the resource patterns reach; see the module docstring."""
    out: set[str] = set()
    if system == _AWS:
        for resource in resources:
            parts = resource.split(":", 5)
            if len(parts) < 5 or not parts[4]:
                out.update(own_accounts)
            else:
                out.add(parts[4])
    else:
        for resource in resources:
            out.add(resource.partition("/")[0])
    return out


def _boundary_tests(boundaries: set[str]) -> tuple[tuple[str, ...] | frozenset[str], _Test | None]:
    """Exact boundaries as a small tuple (or a set when many), patterns as one test."""
    patterns = [b for b in boundaries if "*" in b or "?" in b]
    if patterns:
        boundaries.difference_update(patterns)
    exact = [sys.intern(b) for b in boundaries]
    return (
        tuple(exact) if len(exact) <= _SMALL else frozenset(exact),
        compile_patterns(sorted(patterns)) if patterns else None,
    )


# ------------------------------------------------------------------------------ compiled records


class _Actions:
    """An action list compiled once and shared by every entitlement that repeats it."""

    __slots__ = ("fold", "keys", "services", "test", "wildcard")

    def __init__(self, actions: tuple[str, ...], fold: bool) -> None:
        self.fold = fold
        # the lowercased service prefixes (``s3`` of ``s3:Get*``), for ``nearest``
        self.services = (
            frozenset(a.lower().partition(":")[0] for a in actions if ":" in a) if fold else frozenset()
        )
        self.test = compile_patterns(actions, case_insensitive=fold)
        exact = (a for a in actions if not is_pattern(a))
        self.keys = tuple(dict.fromkeys(sys.intern(a.lower()) if fold else a for a in exact))
        self.wildcard = any(is_pattern(a) for a in actions)


@dataclass(frozen=True, slots=True)
class CompiledEntitlement:
    """One entitlement with its patterns compiled; what ``candidates`` and ``nearest`` return.

    The resource test is compiled on first use: most of a large baseline's entitlements are never
    a candidate for any event a worker sees, and the resource patterns are the one per-entitlement
    piece that cannot be shared. ``plain`` says the grant has neither a validity window nor
    conditions, so a matching event needs no further test.
    """

    entitlement: Entitlement
    identity_id: str
    _actions: _Actions = field(repr=False, compare=False)
    _resources: _Test | None = field(repr=False, compare=False)
    _networks: _Networks | None = field(repr=False, compare=False)
    _own_accounts: tuple[str, ...] = field(repr=False, compare=False)
    plain: bool = field(default=False, repr=False, compare=False)
    _described: str | None = field(default=None, repr=False, compare=False)
    _boundary: tuple[tuple[str, ...] | frozenset[str], _Test | None] | None = field(
        default=None, repr=False, compare=False
    )

    def matches(self, action: str, resource: str) -> bool:
        """Action and resource patterns both match (the action as logged; AWS names any case)."""
        test = self._resources
        if test is None:
            test = self._compile_resources()
        if not test(resource):
            return False
        actions = self._actions
        return actions.test(action.lower() if actions.fold else action)

    def matches_resource(self, resource: str) -> bool:
        """Only the resource patterns: enough for what ``candidates`` returned."""
        test = self._resources
        if test is None:
            test = self._compile_resources()
        return test(resource)

    def _compile_resources(self) -> _Test:
        test = compile_patterns(self.entitlement.resources)
        object.__setattr__(self, "_resources", test)  # a memo, not a change of value
        return test

    def is_valid_at(self, when: datetime) -> bool:
        """Inside the grant's window: ``valid_from <= when < valid_until`` (open ends allowed)."""
        ent = self.entitlement
        if ent.valid_from is not None and when < ent.valid_from:
            return False
        return ent.valid_until is None or when < ent.valid_until

    def source_allowed(self, source_ip: str | None) -> bool:
        """The conditions hold: True without conditions; False for a missing or unparseable address."""
        return self._networks is None or self._networks.allows(source_ip)

    def describe(self) -> str:
        """``receipts-rw (s3:GetObject, s3:PutObject on arn:aws:s3:::receipts-prod/*)``, for explanations.

        Built once per entitlement: explanations name the same few entitlements over and over.
        """
        text = self._described
        if text is None:
            e = self.entitlement
            actions = ", ".join(e.actions[:3]) + (", ..." if len(e.actions) > 3 else "")
            resources = ", ".join(e.resources[:2]) + (", ..." if len(e.resources) > 2 else "")
            text = f"{e.id} ({actions} on {resources})"
            object.__setattr__(self, "_described", text)  # a memo, not a change of value
        return text

    def covers_boundary(self, boundary: str) -> bool:
        """This entitlement reaches ``boundary`` (AWS account, k8s namespace, mesh host)."""
        tests = self._boundary
        if tests is None:
            ent = self.entitlement
            tests = _boundary_tests(_boundaries(ent.system, ent.resources, self._own_accounts))
            object.__setattr__(self, "_boundary", tests)  # a memo, not a change of value
        exact, test = tests
        return boundary in exact or (test is not None and test(boundary))


class SystemIndex:
    """One identity's entitlements in one system: exact action -> entitlements, wildcard ones, boundaries.

    What ``CompiledBaseline.system_index`` returns, so that a rule that needs both the boundary
    test and the candidates of one event looks the identity up once.
    """

    __slots__ = ("boundaries", "boundary_test", "by_action", "entries", "fold", "memo", "wildcard")

    def __init__(self, system: str, entries: list[CompiledEntitlement], own: tuple[str, ...]) -> None:
        self.fold = system == _AWS
        by_action: dict[str, tuple[CompiledEntitlement, ...]] = {}
        wildcard: list[CompiledEntitlement] = []
        for compiled in entries:
            actions = compiled._actions
            solo = (compiled,)  # shared by every action only this entitlement grants: most keys
            for key in actions.keys:
                found = by_action.get(key)
                by_action[key] = solo if found is None else (*found, compiled)
            if actions.wildcard:
                wildcard.append(compiled)
        self.by_action = by_action
        self.wildcard = tuple(wildcard)
        # candidates per action once wildcards are involved; filled on demand, bounded
        self.memo: dict[str, tuple[CompiledEntitlement, ...]] | None = None
        self.entries = tuple(entries)
        resources = [r for c in entries for r in c.entitlement.resources]
        self.boundaries, self.boundary_test = _boundary_tests(_boundaries(system, resources, own))

    def covers(self, boundary: str) -> bool:
        """Some entitlement of this index reaches ``boundary`` (account, namespace or host)."""
        if boundary in self.boundaries:
            return True
        test = self.boundary_test
        return test is not None and test(boundary)

    def closest(self, action: str, resource: str) -> CompiledEntitlement:
        """The first entry sharing the most with an event no entry matches (``max`` by closeness):
        the resource (a bare ``*`` does not count) and the AWS service, or the resource and the
        namespace/host."""
        best = self.entries[0]
        best_key: tuple[bool, ...] = ()
        if self.fold:
            service = action.lower().partition(":")[0]
            for cand in self.entries:
                same_resource = _specific_resource_match(cand, resource)
                same_service = service in cand._actions.services
                key: tuple[bool, ...] = (same_resource and same_service, same_resource, same_service)
                if key > best_key:
                    best, best_key = cand, key
                    if same_resource and same_service:
                        break  # nothing later can rank higher
            return best
        boundary = resource.partition("/")[0]
        for cand in self.entries:
            key = (_specific_resource_match(cand, resource), cand.covers_boundary(boundary))
            if key > best_key:
                best, best_key = cand, key
                if key == (True, True):
                    break
        return best

    def candidates(self, action: str) -> tuple[CompiledEntitlement, ...]:
        """Entitlements whose action patterns match ``action`` (as logged): see ``CompiledBaseline``."""
        key = action.lower() if self.fold else action
        if not self.wildcard:
            return self.by_action.get(key, ())
        memo = self.memo
        if memo is None:
            memo = self.memo = {}
        found = memo.get(key)
        if found is None:
            exact = self.by_action.get(key, ())
            extra = tuple(c for c in self.wildcard if c._actions.test(key) and c not in exact)
            found = exact + extra if extra else exact
            if len(memo) < _MEMO_LIMIT:
                memo[key] = found
        return found


class _Shared:
    """Compiled pieces shared between equal entitlements (action lists and CIDR sets repeat a lot)."""

    __slots__ = ("actions", "networks")

    def __init__(self) -> None:
        self.actions: dict[tuple[tuple[str, ...], bool], _Actions] = {}
        self.networks: dict[tuple[str, ...], _Networks] = {}

    def action_set(self, actions: tuple[str, ...], fold: bool) -> _Actions:
        key = (actions, fold)
        found = self.actions.get(key)
        if found is None:
            found = _Actions(actions, fold)
            if len(self.actions) < _SHARED_LIMIT:
                self.actions[key] = found
        return found

    def network_set(self, cidrs: tuple[str, ...]) -> _Networks:
        found = self.networks.get(cidrs)
        if found is None:
            found = _Networks(cidrs)
            if len(self.networks) < _SHARED_LIMIT:
                self.networks[cidrs] = found
        return found


def _entitlement_id(ent: Entitlement) -> str:
    return ent.id


def _compile_identity(identity: Identity, shared: _Shared) -> dict[str, SystemIndex]:
    """One identity's entitlements compiled, by system."""
    own = _own_accounts(identity.aliases)
    iid = identity.id
    groups: dict[str, list[CompiledEntitlement]] = {}
    # by id, not file order: the store returns entitlements sorted by id, and the entitlement a
    # verdict names (first match, nearest) must be the same from a file (replay) and from the store
    for ent in sorted(identity.entitlements, key=_entitlement_id):
        system = ent.system
        cidrs = ent.conditions.source_cidrs
        compiled = CompiledEntitlement(
            ent,
            iid,
            shared.action_set(ent.actions, system == _AWS),
            None,
            shared.network_set(cidrs) if cidrs else None,
            own,
            not cidrs and ent.valid_from is None and ent.valid_until is None,
        )
        group = groups.get(system)
        if group is None:
            groups[system] = [compiled]
        else:
            group.append(compiled)
    return {system: SystemIndex(system, entries, own) for system, entries in groups.items()}


def _alias_keys(alias: str) -> tuple[str, ...]:
    """The alias and, for a SPIFFE id, its other spelling (with/without ``spiffe://``)."""
    if alias.startswith(_SPIFFE):
        return (alias, alias[len(_SPIFFE) :])
    parts = alias.split("/")
    if len(parts) == 5 and parts[1] == "ns" and parts[3] == "sa":
        return (alias, _SPIFFE + alias)
    return (alias,)


# ------------------------------------------------------------------------------------ the index


class CompiledBaseline:
    """A read-only snapshot of the baseline, compiled for per-event lookups.

    Aliases and settings are compiled up front; each identity's entitlement index is compiled the
    first time an event asks about that identity (or by ``warm``), so a 1,000,000-entitlement
    baseline is ready in about a second and holds compiled indexes only for identities that act.
    Build it with ``compile_baseline`` or derive it with ``apply_changes``; never mutate it (its
    memos aside), so a worker can swap snapshots with one assignment.
    """

    __slots__ = (
        "_alias_memo",
        "_alias_patterns",
        "_aliases",
        "_compiled",
        "_conflicts",
        "_identities",
        "_out_of_scope",
        "_pattern_owners",
        "_shared",
        "entitlement_count",
        "identities",
        "settings",
        "version",
    )

    def __init__(
        self,
        version: int,
        settings: BaselineSettings,
        identities: dict[str, Identity],
        compiled: dict[str, dict[str, SystemIndex]],
        aliases: dict[str, Identity],
        pattern_owners: frozenset[str],
        conflicts: bool,
        shared: _Shared,
        entitlement_count: int,
    ) -> None:
        self.version = version
        self.settings = settings
        self._identities = identities
        self.identities: Mapping[str, Identity] = MappingProxyType(identities)
        self.entitlement_count = entitlement_count
        self._compiled = compiled
        self._aliases = aliases
        self._pattern_owners = pattern_owners
        self._alias_patterns = tuple(
            (compile_pattern(key), identity)
            for identity in (identities.values() if pattern_owners else ())
            if identity.id in pattern_owners
            for alias in identity.aliases
            if is_pattern(alias)
            for key in _alias_keys(alias)
        )
        self._conflicts = conflicts
        self._shared = shared
        self._out_of_scope = compile_patterns(settings.out_of_scope)
        self._alias_memo: dict[str, object] = {}

    def _systems(self, identity_id: str) -> dict[str, SystemIndex]:
        systems = self._compiled.get(identity_id)
        if systems is None:
            identity = self._identities.get(identity_id)
            if identity is None:
                return _NO_SYSTEMS
            systems = self._compiled[identity_id] = _compile_identity(identity, self._shared)
        return systems

    def warm(self) -> CompiledBaseline:
        """Compile every identity's index now (benchmarks; a worker that wants no first-event cost)."""
        with paused_gc():
            for identity_id in self._identities:
                self._systems(identity_id)
        return self

    def resolve_alias(self, key: str) -> Identity | None:
        """The identity listing ``key`` as an alias: exact aliases, then alias patterns in file order."""
        found = self._aliases.get(key)
        if found is not None or not self._alias_patterns:
            return found
        memo = self._alias_memo.get(key, _MISS)
        if memo is _MISS:
            memo = next((identity for match, identity in self._alias_patterns if match(key)), None)
            if len(self._alias_memo) >= _ALIAS_CACHE_LIMIT:
                self._alias_memo.clear()
            self._alias_memo[key] = memo
        return memo  # type: ignore[return-value]

    def is_out_of_scope(self, principal: str) -> bool:
        """``settings.out_of_scope`` names this principal (counted, given no verdict)."""
        return self._out_of_scope(principal)

    def system_index(self, identity_id: str, system: str) -> SystemIndex | None:
        """The identity's compiled entitlements in ``system``; None when it holds none there."""
        return (self._compiled.get(identity_id) or self._systems(identity_id)).get(system)

    def first_usable(self, identity_id: str, event: NormalizedEvent) -> CompiledEntitlement | None:
        """The grant a full match would pick first for the event, when it is simple to tell: the
        event's boundary is one of the identity's exact boundaries in its system, and the first
        candidate for the action that matches the resource is usable (in its window, conditions
        met). None otherwise, including when no candidate matches; the rules then decide.
        """
        index = (self._compiled.get(identity_id) or self._systems(identity_id)).get(event.system)
        if index is None:
            return None
        boundary = event.boundary
        if boundary and boundary not in index.boundaries:
            return None  # a boundary pattern may still cover it: the rules decide
        action = event.action
        key = action.lower() if index.fold else action
        known = index.memo if index.wildcard else index.by_action
        found = known.get(key) if known is not None else None
        if found is None:
            found = index.candidates(action)
        resource = event.resource
        for cand in found:
            test = cand._resources
            if test is None:
                test = cand._compile_resources()
            if test(resource):
                if cand.plain or (cand.is_valid_at(event.time) and cand.source_allowed(event.source_ip)):
                    return cand
                return None
        return None

    def holds_system(self, identity_id: str, system: str) -> bool:
        """The identity holds at least one entitlement in ``system``."""
        return system in (self._compiled.get(identity_id) or self._systems(identity_id))

    def covers_boundary(self, identity_id: str, system: str, boundary: str) -> bool:
        """Some entitlement of the identity in ``system`` reaches ``boundary`` (account/namespace/host)."""
        index = (self._compiled.get(identity_id) or self._systems(identity_id)).get(system)
        return index is not None and index.covers(boundary)

    def candidates(self, identity_id: str, system: str, action: str) -> Sequence[CompiledEntitlement]:
        """Entitlements whose action patterns match ``action``: exact ones, then wildcard ones, in file order.

        The caller still checks the resource (``matches_resource``/``matches``), window and conditions.
        """
        index = (self._compiled.get(identity_id) or self._systems(identity_id)).get(system)
        return () if index is None else index.candidates(action)

    def nearest(
        self, identity_id: str, system: str, action: str, resource: str
    ) -> CompiledEntitlement | None:
        """The entitlement closest to an unmatched event, for explanations.

        Same action (other resource) first; else the one sharing the most of: the resource (a bare
        ``*`` does not count), the AWS service or the namespace/host; else the first in ``system``.
        None when the identity holds nothing in ``system``.
        """
        index = (self._compiled.get(identity_id) or self._systems(identity_id)).get(system)
        if index is None:
            return None
        candidates = index.candidates(action)
        if candidates:
            return candidates[0]
        return index.closest(action, resource)


def _specific_resource_match(compiled: CompiledEntitlement, resource: str) -> bool:
    return "*" not in compiled.entitlement.resources and compiled.matches_resource(resource)


def _register_aliases(aliases: dict[str, Identity], identity: Identity) -> tuple[bool, bool]:
    """Add the identity's exact aliases; say whether it has alias patterns and whether an alias clashed."""
    has_patterns = clashed = False
    for alias in identity.aliases:
        if is_pattern(alias):
            has_patterns = True
            continue
        for key in _alias_keys(alias):
            owner = aliases.setdefault(key, identity)
            if owner is not identity and owner.id != identity.id:
                clashed = True
    return has_patterns, clashed


def compile_baseline(doc: BaselineDocument, version: int) -> CompiledBaseline:
    """Compile a whole document into a snapshot carrying ``baseline_version`` ``version``."""
    with paused_gc():
        shared = _Shared()
        # A repeated id (refused by validation) keeps its first position and its last record,
        # exactly as an upsert would.
        identities = {identity.id: identity for identity in doc.identities}
        aliases: dict[str, Identity] = {}
        pattern_owners: set[str] = set()
        conflicts = False
        for identity in identities.values():
            has_patterns, clashed = _register_aliases(aliases, identity)
            conflicts |= clashed
            if has_patterns:
                pattern_owners.add(identity.id)
        count = sum(len(identity.entitlements) for identity in identities.values())
        return CompiledBaseline(
            version,
            doc.settings,
            identities,
            {},
            aliases,
            frozenset(pattern_owners),
            conflicts,
            shared,
            count,
        )


def apply_changes(
    base: CompiledBaseline,
    upserts: Iterable[Identity],
    deletes: Iterable[str],
    settings: BaselineSettings | None,
    version: int,
) -> CompiledBaseline:
    """A new snapshot with ``deletes`` removed, then ``upserts`` replaced in place or appended.

    Only the changed identities are compiled; the rest is shared with ``base`` (its dicts are
    copied, not rebuilt). The result equals ``compile_baseline`` of the changed document; should
    an alias clash make the outcome order-dependent, it is exactly that full compile.
    """
    upserts = list({u.id: u for u in upserts}.values())
    deletes = set(deletes)
    settings = base.settings if settings is None else settings
    if base._conflicts:
        return compile_baseline(_changed_document(base, upserts, deletes, settings), version)
    with paused_gc():
        identities = dict(base._identities)
        compiled = dict(base._compiled)
        aliases = dict(base._aliases)
        owners = set(base._pattern_owners)
        count = base.entitlement_count
        for iid in deletes | {u.id for u in upserts}:
            old = identities.get(iid)
            if old is None:
                continue
            owners.discard(iid)
            count -= len(old.entitlements)
            compiled.pop(iid, None)
            for key in (k for alias in old.aliases for k in _alias_keys(alias)):
                if aliases.get(key) is old:
                    del aliases[key]
            if iid in deletes:
                del identities[iid]
        for identity in upserts:
            identities[identity.id] = identity
            count += len(identity.entitlements)
            has_patterns, clashed = _register_aliases(aliases, identity)
            if clashed:
                return compile_baseline(_changed_document(base, upserts, deletes, settings), version)
            if has_patterns:
                owners.add(identity.id)
        return CompiledBaseline(
            version, settings, identities, compiled, aliases, frozenset(owners), False, base._shared, count
        )


def _changed_document(
    base: CompiledBaseline, upserts: list[Identity], deletes: set[str], settings: BaselineSettings
) -> BaselineDocument:
    identities = {iid: i for iid, i in base._identities.items() if iid not in deletes}
    for identity in upserts:
        identities[identity.id] = identity
    return BaselineDocument(identities=tuple(identities.values()), settings=settings)
