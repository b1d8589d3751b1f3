"""The identity-inventory change feed on a real broker: records, tombstones, the compacted topic.

Also what happens when no broker answers: the change stays committed in the store and the feed
only logs a warning, within a bounded time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Consumer, Message
from confluent_kafka.admin import AdminClient, ConfigResource

from enricher.adapters.kafka.baseline_feed import (
    FeedError,
    ensure_baseline_topic,
    identity_from_record,
    publish_changes,
    publish_delta,
)
from enricher.adapters.store.baseline_repo import BaselineDelta, BaselineRepository
from enricher.adapters.store.engine import create_engine_for
from enricher.config import Settings
from enricher.core.baseline_file import load_baseline_file
from tests.integration.conftest import TopicFactory
from tests.integration.services import free_port, unique_name

pytestmark = pytest.mark.integration

VALID = Path(__file__).resolve().parents[1] / "data" / "baselines" / "valid.yaml"


def read_all(bootstrap: str, topic: str, count: int, timeout: float = 30.0) -> list[Message]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": unique_name("feed-reader"),
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    messages: list[Message] = []
    deadline = time.monotonic() + timeout
    try:
        while len(messages) < count and time.monotonic() < deadline:
            for message in consumer.consume(num_messages=100, timeout=0.5):
                assert message.error() is None, message.error()
                messages.append(message)
        # a short quiet spell: nothing beyond what was expected
        messages.extend(m for m in consumer.consume(num_messages=100, timeout=1.0) if m.error() is None)
    finally:
        consumer.close()
    return messages


@pytest.fixture
def created_topics(kafka_bootstrap: str) -> Iterator[list[str]]:
    """Names of topics a test had the code under test create; deleted afterwards."""
    names: list[str] = []
    yield names
    if names:
        admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
        for future in admin.delete_topics(names, operation_timeout=30).values():
            future.result(timeout=30)


async def test_store_change_reaches_the_feed_with_a_tombstone_for_the_delete(
    kafka_bootstrap: str, kafka_topic_factory: TopicFactory, pg_database: str
) -> None:
    topic = kafka_topic_factory("baseline", config={"cleanup.policy": "compact"})
    settings = Settings(kafka_brokers=kafka_bootstrap, topic_baseline=topic, database_url=pg_database)
    engine = create_engine_for(pg_database)
    try:
        repo = BaselineRepository(engine)
        await repo.import_document(load_baseline_file(VALID), author="alice")
        await repo.delete_identity("old-batch", author="bob")
        delta = await repo.changes_since(0)
    finally:
        await engine.dispose()
    assert (delta.version, delta.deletes) == (2, ("old-batch",))

    publish_changes(settings, delta)

    messages = read_all(kafka_bootstrap, topic, 3)
    by_key = {m.key().decode(): m for m in messages}
    assert sorted(by_key) == ["ci-runner", "old-batch", "payments-api"]
    assert len(messages) == 3
    assert by_key["old-batch"].value() is None  # tombstone
    for upsert in delta.upserts:
        message = by_key[upsert.id]
        body = orjson.loads(message.value())
        assert body["version"] == 2
        assert identity_from_record(body["identity"]) == upsert
        assert dict(message.headers() or []) == {"baseline_version": b"2"}
    payments = orjson.loads(by_key["payments-api"].value())["identity"]
    receipts = next(e for e in payments["entitlements"] if e["id"] == "receipts-rw")
    assert receipts["valid_until"] == "2026-12-30T22:00:00Z"
    assert receipts["conditions"] == {"source_cidrs": ["10.0.0.0/8", "2001:db8::/32"]}


def test_ensure_baseline_topic_creates_it_compacted_once(
    kafka_bootstrap: str, created_topics: list[str]
) -> None:
    topic = unique_name("enricher.baseline")
    settings = Settings(kafka_brokers=kafka_bootstrap, topic_baseline=topic)
    created_topics.append(topic)

    assert ensure_baseline_topic(settings) == "created"
    assert ensure_baseline_topic(settings) == "exists"

    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    configs = admin.describe_configs([resource])[resource].result(timeout=10)
    assert configs["cleanup.policy"].value == "compact"


def test_an_existing_topic_that_is_not_compacted_is_reported(
    kafka_bootstrap: str, kafka_topic_factory: TopicFactory, caplog: pytest.LogCaptureFixture
) -> None:
    topic = kafka_topic_factory("baseline-deleting", config={"cleanup.policy": "delete"})
    with caplog.at_level(logging.WARNING, logger="enricher.adapters.kafka.baseline_feed"):
        assert (
            ensure_baseline_topic(Settings(kafka_brokers=kafka_bootstrap, topic_baseline=topic)) == "exists"
        )
    assert "not compact" in caplog.text


def test_unreachable_broker_is_a_warning_not_a_failure(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(kafka_brokers=f"127.0.0.1:{free_port()}", topic_baseline=unique_name("nowhere"))
    identity = load_baseline_file(VALID).identities[0]
    delta = BaselineDelta(version=7, upserts=(identity,), deletes=(), settings=None)

    started = time.monotonic()
    with pytest.raises(FeedError, match="no broker"):
        publish_delta(settings, delta, timeout=2.0)
    with caplog.at_level(logging.WARNING, logger="enricher.adapters.kafka.baseline_feed"):
        publish_changes(settings, delta)  # must not raise
    with pytest.raises(FeedError, match="cannot create topic"):
        ensure_baseline_topic(settings, timeout=2.0)

    assert "baseline version 7" in caplog.text and "not published" in caplog.text
    assert time.monotonic() - started < 30
