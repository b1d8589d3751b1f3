"""The core end to end: raw records -> verdicts + dead letters + counts (composition only).

``enrich`` is what ``replay`` runs on files and what the Kafka workers run on each consumed batch,
so both give the same verdicts for the same input. State that must outlive a batch (IRSA session
links, recently seen event ids) lives in ``EnrichState``, owned by the caller.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

import orjson

from enricher.core.baseline import CompiledBaseline, CompiledEntitlement
from enricher.core.events import NormalizedEvent, Skipped
from enricher.core.identity import SessionLinks, resolve_direct, resolve_identity
from enricher.core.model import Identity
from enricher.core.parsers import decode_record, parse_object, parse_single
from enricher.core.redact import redact, redact_text
from enricher.core.rules import Context, Decision, decide_by_rules, direct_match, expected_explanation
from enricher.core.standards import severity_of, standards_for
from enricher.core.verdict import EXPECTED, MATCHED_ENTITLEMENT, SCHEMA_VERSION, Verdict, make_verdict_id
from enricher.errors import ParseError


@dataclass(slots=True)
class RawRecord:
    """One input record and where it came from (a Kafka position, or a file and line).

    Not ``frozen``: a worker builds one per consumed message, and frozen construction took ~1 us of
    CPU (0.17 us unfrozen) against a budget of ~11 us per event (see docs/performance.md). Never
    mutated.
    """

    data: bytes
    source: str | None = None  # None: detect from the record's shape
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Input that could not be parsed: its (redacted) bytes, where it came from and why."""

    source: str | None
    error: str
    detail: str
    data: bytes
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None

    def to_json(self) -> bytes:
        """The ``enricher.deadletter`` record: text data as is, other bytes as base64."""
        try:
            text, encoding = self.data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(self.data).decode("ascii"), "base64"
        return orjson.dumps(
            {
                "source": self.source,
                "error": self.error,
                "detail": self.detail,
                "topic": self.topic,
                "partition": self.partition,
                "offset": self.offset,
                "data": text,
                "data_encoding": encoding,
            }
        )


class RecentKeys:
    """Bounded memory of recently judged events (their verdict ids, i.e. digests of source + event
    id): two generations of sets, swapped when full."""

    __slots__ = ("_capacity", "_current", "_previous")

    def __init__(self, capacity: int = 500_000) -> None:
        self._capacity = capacity
        self._current: set[str] = set()
        self._previous: set[str] = set()

    def seen_before(self, key: str) -> bool:
        """True when ``key`` was added recently; otherwise remember it and return False."""
        if key in self._current or key in self._previous:
            return True
        current = self._current
        current.add(key)
        if len(current) >= self._capacity:
            self._previous = current
            self._current = set()
        return False


@dataclass(slots=True)
class EnrichState:
    """What the core remembers across batches: IRSA links and recent event ids (de-duplication)."""

    links: SessionLinks = field(default_factory=SessionLinks)
    recent: RecentKeys = field(default_factory=RecentKeys)


@dataclass(slots=True)
class BatchResult:
    """Everything one batch produced. ``usage`` is the latest use of each (identity, entitlement)."""

    verdicts: list[Verdict] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    events: Counter[str] = field(default_factory=Counter)  # by source
    out_of_scope: Counter[str] = field(default_factory=Counter)  # by "source:why"
    skipped: Counter[str] = field(default_factory=Counter)  # by reason
    duplicates: int = 0
    usage: dict[tuple[str, str], datetime] = field(default_factory=dict)

    def merge(self, other: BatchResult) -> None:
        """Add another batch's results to this one (for summaries over many batches)."""
        self.verdicts.extend(other.verdicts)
        self.dead_letters.extend(other.dead_letters)
        self.events.update(other.events)
        self.out_of_scope.update(other.out_of_scope)
        self.skipped.update(other.skipped)
        self.duplicates += other.duplicates
        for key, when in other.usage.items():
            if key not in self.usage or self.usage[key] < when:
                self.usage[key] = when


_UNDECODED: Final = object()


def enrich(records: Iterable[RawRecord], baseline: CompiledBaseline, state: EnrichState) -> BatchResult:
    """Parse, resolve and judge every record; one verdict per in-scope, not yet seen event."""
    result = BatchResult()
    loads = orjson.loads
    for record in records:
        data = record.data
        try:
            # a JSON object (nearly every record) is decoded here; decode_record does the rest
            obj = loads(data) if data[:1] == b"{" else decode_record(data)
        except orjson.JSONDecodeError:
            obj = _UNDECODED
        except ParseError as exc:
            result.dead_letters.append(_dead_letter(record, record.source, exc, whole=True))
            continue
        if obj is _UNDECODED:
            try:
                obj = decode_record(data)  # raises the ParseError that says why
            except ParseError as exc:
                result.dead_letters.append(_dead_letter(record, record.source, exc, whole=True))
                continue
        single = parse_single(obj, record.source)
        if single is not None and isinstance(single[1], NormalizedEvent):  # the common record
            _judge(single[1], baseline, state, result)
            continue
        for source, item in (single,) if single is not None else parse_object(obj, record.source):
            if isinstance(item, NormalizedEvent):
                _judge(item, baseline, state, result)
            elif isinstance(item, Skipped):
                result.skipped[item.reason] += 1
            else:
                result.dead_letters.append(_dead_letter(record, source, item, whole=item.raw is obj))
    return result


def _judge(
    event: NormalizedEvent, baseline: CompiledBaseline, state: EnrichState, result: BatchResult
) -> None:
    source = event.source
    result.events[source] += 1
    links = state.links
    identity = resolve_direct(event, baseline, links)
    if identity is None:
        resolution = resolve_identity(event, baseline, links)
        if event.link is not None:
            _remember_link(event, links)
        if not resolution.in_scope:
            result.out_of_scope[f"{source}:{resolution.scope_reason}"] += 1
            return
        identity, via = resolution.identity, resolution.via
    else:
        via = event.via
        if event.link is not None:
            _remember_link(event, links)
    # The verdict id is a digest of (source, event id), so it is also the de-duplication key.
    verdict_id = make_verdict_id(source, event.event_id)
    if state.recent.seen_before(verdict_id):
        result.duplicates += 1
        return
    if identity is not None:
        ent = direct_match(event, identity, baseline)
        if ent is not None:  # the common event: expected, one index lookup (see direct_match)
            result.verdicts.append(_expected_verdict(event, identity, via, ent, verdict_id, baseline.version))
            _note_use(result.usage, identity.id, ent.entitlement.id, event.time)
            return
    decision = decide_by_rules(Context(event, identity, baseline, via))
    result.verdicts.append(_verdict(event, identity, via, decision, verdict_id, baseline.version))
    if identity is not None and decision.entitlement is not None and decision.reason == MATCHED_ENTITLEMENT:
        _note_use(result.usage, identity.id, decision.entitlement, event.time)


def _note_use(
    usage: dict[tuple[str, str], datetime], identity_id: str, entitlement_id: str, when: datetime
) -> None:
    key = (identity_id, entitlement_id)
    last = usage.get(key)
    if last is None or last < when:
        usage[key] = when


def _remember_link(event: NormalizedEvent, links: SessionLinks) -> None:
    """An IRSA hand-off that succeeded: later events of the new session get ``via`` its subject."""
    link = event.link
    if link is not None and link.subject and event.outcome == "success" and link.session_keys:
        links.remember(link.session_keys, link.subject)


_expected_tags: dict[str | None, tuple[str, ...]] = {}


def _expected_verdict(
    event: NormalizedEvent,
    identity: Identity,
    via: tuple[str, ...],
    ent: CompiledEntitlement,
    verdict_id: str,
    baseline_version: int,
) -> Verdict:
    """``_verdict`` of ``expected_decision``, without building the decision (the common verdict)."""
    kind = identity.kind
    tags = _expected_tags.get(kind)
    if tags is None:
        tags = _expected_tags[kind] = standards_for(EXPECTED, MATCHED_ENTITLEMENT, kind, None)
    return Verdict(
        SCHEMA_VERSION,
        verdict_id,
        event.event_id,
        event.source,
        event.system,
        event.time,
        EXPECTED,
        MATCHED_ENTITLEMENT,
        "info",  # severity_of(expected, ...)
        identity.id,
        kind,
        identity.owner,
        identity.purpose,
        shown_principal(event),
        event.principal_kind,
        event.session,
        via,
        event.action,
        event.resource,
        event.outcome,
        event.account,
        event.region,
        event.cluster,
        event.namespace,
        event.source_ip,
        event.user_agent,
        ent.entitlement.id,
        None,  # target
        None,  # target_identity
        None,  # actor_entitled
        expected_explanation(identity.id, event, ent),
        baseline_version,
        tags,
    )


def shown_principal(event: NormalizedEvent) -> str:
    """The actor as a responder searches for it: the AWS session ARN (role + session name), else the
    acting principal (under Kubernetes impersonation the impersonated user; ``via`` names the caller)."""
    if event.system == "aws":
        return event.raw_principal or event.principal
    return event.principal or event.raw_principal


def _verdict(
    event: NormalizedEvent,
    identity: Identity | None,
    via: tuple[str, ...],
    decision: Decision,
    verdict_id: str,
    baseline_version: int,
) -> Verdict:
    change = event.change
    identity_kind = identity.kind if identity is not None else None
    verdict = decision.verdict
    return Verdict(
        SCHEMA_VERSION,
        verdict_id,
        event.event_id,
        event.source,
        event.system,
        event.time,
        verdict,
        decision.reason,
        "info"
        if verdict == EXPECTED
        else severity_of(verdict, decision.reason, event.outcome, decision.actor_entitled),
        identity.id if identity is not None else None,
        identity_kind,
        identity.owner if identity is not None else None,
        identity.purpose if identity is not None else None,
        shown_principal(event),
        event.principal_kind,
        event.session,
        via,
        event.action,
        event.resource,
        event.outcome,
        event.account,
        event.region,
        event.cluster,
        event.namespace,
        event.source_ip,
        event.user_agent,
        decision.entitlement,
        decision.target,
        decision.target_identity,
        decision.actor_entitled,
        decision.explanation,
        baseline_version,
        standards_for(
            verdict, decision.reason, identity_kind, change.category if change is not None else None
        ),
    )


def _dead_letter(record: RawRecord, source: str | None, error: ParseError, *, whole: bool) -> DeadLetter:
    """Dead-letter the record (or the one bad part of an envelope), with secrets redacted."""
    if whole or error.raw is None:
        data = _redacted_bytes(record.data)
    else:
        data = orjson.dumps(redact(error.raw), default=str)
    return DeadLetter(
        source or record.source,
        error.reason,
        error.detail,
        data,
        record.topic,
        record.partition,
        record.offset,
    )


def _redacted_bytes(data: bytes) -> bytes:
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return data
        redacted = redact_text(text)
        return data if redacted == text else redacted.encode("utf-8")
    cleaned = redact(obj)
    return data if cleaned == obj else orjson.dumps(cleaned)


def serialize_verdict(verdict: Verdict) -> bytes:
    """The ``enricher.verdicts`` record (orjson; datetimes as RFC 3339 with ``Z``)."""
    return orjson.dumps(verdict, option=orjson.OPT_UTC_Z)
