"""``enricher topics create``: the raw, output and baseline topics, idempotently."""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from enricher.config import Settings

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True, slots=True)
class TopicPlan:
    """One topic to create: name, partitions and topic configs."""

    name: str
    partitions: int
    config: dict[str, str]


def plan_topics(
    settings: Settings, *, retention_days: float = 7.0, partitions: int | None = None
) -> list[TopicPlan]:
    """Raw and output topics with time retention; the baseline feed compacted."""
    count = partitions or settings.topic_partitions
    retention = {"retention.ms": str(int(retention_days * DAY_MS))}
    plans = [TopicPlan(t, count, dict(retention)) for t in settings.raw_topics.values()]
    plans += [TopicPlan(t, count, dict(retention)) for t in settings.output_topics]
    plans.append(TopicPlan(settings.topic_baseline, 1, {"cleanup.policy": "compact"}))
    return plans


def create_topics(settings: Settings, plans: list[TopicPlan], timeout: float = 30.0) -> dict[str, str]:
    """Create what is missing; returns ``name -> "created" | "exists"``."""
    admin = AdminClient(dict(settings.kafka_client_config()))
    new = [
        NewTopic(
            p.name,
            num_partitions=p.partitions,
            replication_factor=settings.topic_replication_factor,
            config=p.config,
        )
        for p in plans
    ]
    outcome: dict[str, str] = {}
    for name, future in admin.create_topics(new, operation_timeout=timeout, request_timeout=timeout).items():
        try:
            future.result(timeout=timeout)
            outcome[name] = "created"
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
            outcome[name] = "exists"
    return outcome
