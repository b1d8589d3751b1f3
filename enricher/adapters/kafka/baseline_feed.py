"""The identity-inventory change feed: each baseline change, as records on a compacted topic.

One record per changed identity on ``settings.topic_baseline``, keyed by the identity id, so that
after compaction the topic holds the current inventory: the value is JSON
``{"version": N, "identity": {...the full record...}}``, and a deleted identity is a tombstone
(no value). Every record also carries the version in a ``baseline_version`` header.

This feed is for other consumers (SIEM lookup tables, inventories). The workers do not need it:
they follow the store itself (``BaselineRepository.changes_since``), so a broker that cannot be
reached never blocks or fails a baseline change; ``publish_changes`` only logs a warning.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Final

import orjson
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, ConfigResource  # type: ignore[attr-defined]

from enricher.adapters.kafka.clients import producer_config
from enricher.adapters.kafka.topics import create_topics, plan_topics
from enricher.adapters.store.baseline_repo import BaselineDelta
from enricher.config import Settings
from enricher.core.baseline_file import format_timestamp, parse_timestamp
from enricher.core.model import Conditions, Entitlement, Identity

log = logging.getLogger(__name__)

VERSION_HEADER: Final = "baseline_version"
_Headers = list[tuple[str, str | bytes | None]]


class FeedError(Exception):
    """The change feed could not be written (broker unreachable, delivery failed)."""


# ------------------------------------------------------------------------------------ record format


def _time(when: datetime | None) -> str | None:
    return None if when is None else format_timestamp(when)


def identity_record(identity: Identity) -> dict[str, Any]:
    """An identity as the feed's JSON object (the baseline file's fields and names)."""
    return {
        "id": identity.id,
        "kind": identity.kind,
        "owner": identity.owner,
        "purpose": identity.purpose,
        "status": identity.status,
        "aliases": list(identity.aliases),
        "entitlements": [
            {
                "id": ent.id,
                "system": ent.system,
                "actions": list(ent.actions),
                "resources": list(ent.resources),
                "conditions": {"source_cidrs": list(ent.conditions.source_cidrs)},
                "valid_from": _time(ent.valid_from),
                "valid_until": _time(ent.valid_until),
                "approved_by": ent.approved_by,
                "ticket": ent.ticket,
            }
            for ent in identity.entitlements
        ],
    }


def identity_from_record(record: dict[str, Any]) -> Identity:
    """The inverse of ``identity_record`` (for consumers of the feed and tests)."""
    entitlements = tuple(
        Entitlement(
            id=ent["id"],
            system=ent["system"],
            actions=tuple(ent["actions"]),
            resources=tuple(ent["resources"]),
            conditions=Conditions(tuple(ent.get("conditions", {}).get("source_cidrs", ()))),
            valid_from=None if ent.get("valid_from") is None else parse_timestamp(ent["valid_from"]),
            valid_until=None if ent.get("valid_until") is None else parse_timestamp(ent["valid_until"]),
            approved_by=ent.get("approved_by"),
            ticket=ent.get("ticket"),
        )
        for ent in record["entitlements"]
    )
    return Identity(
        id=record["id"],
        kind=record["kind"],
        owner=record["owner"],
        purpose=record["purpose"],
        status=record["status"],
        aliases=tuple(record["aliases"]),
        entitlements=entitlements,
    )


# --------------------------------------------------------------------------------------- the topic


def ensure_baseline_topic(settings: Settings, timeout: float = 10.0) -> str:
    """Create ``settings.topic_baseline`` (compacted) when missing: ``"created"`` or ``"exists"``.

    An existing topic that is not compacted is left alone with a warning (it would lose the
    inventory to time retention). Raises ``FeedError`` when no broker answers within ``timeout``.
    """
    topic = settings.topic_baseline
    admin = AdminClient({**settings.kafka_client_config(), "log_level": 0})
    try:
        if topic in admin.list_topics(timeout=timeout).topics:
            _warn_unless_compacted(admin, topic, timeout)
            return "exists"
        plans = [plan for plan in plan_topics(settings) if plan.name == topic]
        return create_topics(settings, plans, timeout=timeout)[topic]
    except (KafkaException, TimeoutError) as exc:
        raise FeedError(f"cannot create topic {topic} at {settings.kafka_brokers}: {_reason(exc)}") from exc


def _warn_unless_compacted(admin: AdminClient, topic: str, timeout: float) -> None:
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    configs = admin.describe_configs([resource], request_timeout=timeout)[resource].result(timeout=timeout)
    policy = configs["cleanup.policy"].value
    if "compact" not in policy:
        log.warning("topic %s has cleanup.policy=%s, not compact: the inventory will age out", topic, policy)


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


# ---------------------------------------------------------------------------------------- publishing


def publish_delta(settings: Settings, delta: BaselineDelta, timeout: float = 10.0) -> int:
    """Produce ``delta`` to the feed and wait for every acknowledgement; the number of records.

    Raises ``FeedError`` when no broker answers within ``timeout`` or a record is not delivered.
    """
    if not delta.upserts and not delta.deletes:
        return 0
    problems: list[str] = []
    extra: dict[str, Any] = {
        "message.timeout.ms": max(1000, int(timeout * 1000)),
        "log_level": 0,  # failures are reported once, below, not as librdkafka log lines
        "error_cb": lambda err: problems.append(str(err)),
    }
    producer = Producer(producer_config(settings, None, **extra))
    try:
        producer.list_topics(topic=settings.topic_baseline, timeout=timeout)
    except KafkaException as exc:
        reason = problems[-1] if problems else _reason(exc)
        raise FeedError(f"no broker at {settings.kafka_brokers} answered: {reason}") from exc

    def delivered(err: KafkaError | None, _msg: Any) -> None:
        if err is not None:
            problems.append(str(err))

    headers: _Headers = [(VERSION_HEADER, str(delta.version).encode())]
    records: list[tuple[str, bytes | None]] = [
        (identity.id, orjson.dumps({"version": delta.version, "identity": identity_record(identity)}))
        for identity in delta.upserts
    ]
    records += [(identity_id, None) for identity_id in delta.deletes]
    for key, value in records:
        _produce(producer, settings.topic_baseline, key.encode(), value, headers, delivered)
    remaining = producer.flush(timeout)
    if remaining or problems:
        undelivered = f"{remaining} record(s) not acknowledged; " if remaining else ""
        raise FeedError(f"{undelivered}{'; '.join(dict.fromkeys(problems))}".strip("; "))
    return len(records)


def _produce(
    producer: Producer, topic: str, key: bytes, value: bytes | None, headers: _Headers, cb: Any
) -> None:
    while True:
        try:
            producer.produce(topic, key=key, value=value, headers=headers, on_delivery=cb)
            return
        except BufferError:  # local queue full: let deliveries drain
            producer.poll(0.1)


def publish_changes(settings: Settings, repo_delta: BaselineDelta) -> None:
    """Publish a baseline change to the feed; a failure is logged as a warning, never raised.

    The change is already committed in the store, which is what workers follow; the feed is a
    convenience for other consumers and catches up with the next change of the same identities.
    """
    try:
        count = publish_delta(settings, repo_delta)
    except FeedError as exc:
        log.warning(
            "baseline version %d: change feed %s not published: %s",
            repo_delta.version,
            settings.topic_baseline,
            exc,
        )
        return
    log.info(
        "baseline version %d: %d record(s) published to %s",
        repo_delta.version,
        count,
        settings.topic_baseline,
    )
