"""The test infrastructure itself works: a real Apache Kafka broker and real PostgreSQL/SQLite.

Covers what the product relies on: topic creation, consumer groups with committed offsets that a
restarted consumer resumes from, Kafka transactions with offsets sent to the transaction
(exactly-once mode) read back under read_committed, aiokafka consumer groups (faust's driver),
the alembic migration on both databases, and that the models and the migration agree.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition as AioTopicPartition
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from confluent_kafka import Consumer, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource
from sqlalchemy import delete, func, select, text
from sqlalchemy.engine import Connection

from enricher.adapters.store.engine import create_engine_for, session_factory
from enricher.adapters.store.migrate import current_revision, head_revision, upgrade_to_head
from enricher.adapters.store.models import (
    Base,
    BaselineChangeRow,
    EntitlementRow,
    IdentityAliasRow,
    IdentityRow,
)
from tests.integration.conftest import DatabaseFactory, TopicFactory
from tests.integration.services import KAFKA_SCRIPT, PG_SCRIPT, ThrowawayBroker, pg_env_for, unique_name

pytestmark = pytest.mark.integration

# Short session timeouts: a consumer that closes leaves the group at once anyway, but a crashed
# one should not hold its partitions for librdkafka's default 45 s.
CONSUMER_DEFAULTS = {"auto.offset.reset": "earliest", "enable.auto.commit": False, "session.timeout.ms": 6000}


def produce(bootstrap: str, topic: str, values: list[bytes], **config: Any) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, **config})
    for i, value in enumerate(values):
        producer.produce(topic, key=str(i).encode(), value=value)
    assert producer.flush(30) == 0


def consume(consumer: Consumer, count: int, timeout: float = 30.0, idle: float = 0.0) -> list[Message]:
    """Read until ``count`` messages arrived (then ``idle`` more seconds for any extras) or timeout."""
    messages: list[Message] = []
    deadline = time.monotonic() + timeout
    while len(messages) < count and time.monotonic() < deadline:
        for message in consumer.consume(num_messages=1000, timeout=0.5):
            assert message.error() is None, message.error()
            messages.append(message)
    quiet_until = time.monotonic() + idle
    while time.monotonic() < quiet_until:
        messages.extend(m for m in consumer.consume(num_messages=1000, timeout=0.2) if m.error() is None)
    return messages


def group_consumer(bootstrap: str, group: str, topic: str, **config: Any) -> Consumer:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, **CONSUMER_DEFAULTS, **config})
    consumer.subscribe([topic])
    return consumer


# ------------------------------------------------------------------------------------- Kafka


def test_created_topic_has_requested_partitions_and_config(
    kafka_bootstrap: str, kafka_topic_factory: TopicFactory
) -> None:
    topic = kafka_topic_factory("compacted", partitions=3, config={"cleanup.policy": "compact"})
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    metadata = admin.list_topics(topic=topic, timeout=10)
    assert sorted(metadata.topics[topic].partitions) == [0, 1, 2]
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    configs = admin.describe_configs([resource])[resource].result(timeout=10)
    assert configs["cleanup.policy"].value == "compact"


def test_consumer_group_resumes_from_committed_offsets(
    kafka_bootstrap: str, kafka_topic_factory: TopicFactory
) -> None:
    topic = kafka_topic_factory("group", partitions=3)
    group = unique_name("group")
    produce(kafka_bootstrap, topic, [f"first-{i}".encode() for i in range(300)])

    first = group_consumer(kafka_bootstrap, group, topic)
    seen = consume(first, 300)
    first.commit(asynchronous=False)
    committed = first.committed([TopicPartition(topic, p) for p in range(3)], timeout=10)
    first.close()
    assert len(seen) == 300
    assert sum(tp.offset for tp in committed) == 300

    produce(kafka_bootstrap, topic, [f"second-{i}".encode() for i in range(30)])
    second = group_consumer(kafka_bootstrap, group, topic)
    resumed = consume(second, 30, idle=1.0)
    second.close()
    assert sorted(m.value() for m in resumed) == sorted(f"second-{i}".encode() for i in range(30))


def test_transaction_with_consumer_offsets_is_atomic_and_aborts_are_invisible(
    kafka_bootstrap: str, kafka_topic_factory: TopicFactory
) -> None:
    source = kafka_topic_factory("tx-in", partitions=2)
    sink = kafka_topic_factory("tx-out", partitions=2)
    group = unique_name("tx-group")
    produce(kafka_bootstrap, source, [f"event-{i}".encode() for i in range(50)])

    consumer = group_consumer(kafka_bootstrap, group, source, **{"isolation.level": "read_committed"})
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "transactional.id": unique_name("tx")})
    producer.init_transactions(30)

    batch = consume(consumer, 50)
    assert len(batch) == 50
    producer.begin_transaction()
    for message in batch:
        producer.produce(sink, key=message.key(), value=b"verdict:" + message.value())
    producer.send_offsets_to_transaction(
        consumer.position(consumer.assignment()), consumer.consumer_group_metadata(), 30
    )
    producer.commit_transaction(30)

    producer.begin_transaction()
    for i in range(5):
        producer.produce(sink, key=b"x", value=f"aborted-{i}".encode())
    # flushed first, so the aborted records really are in the log (abort alone would purge them unsent)
    assert producer.flush(30) == 0
    producer.abort_transaction(30)

    producer.begin_transaction()
    producer.produce(sink, key=b"y", value=b"after-abort")
    producer.commit_transaction(30)

    # the offsets went in with the committed transaction, not through the consumer
    committed = consumer.committed([TopicPartition(source, p) for p in range(2)], timeout=10)
    consumer.close()
    assert sum(tp.offset for tp in committed) == 50

    reader = group_consumer(
        kafka_bootstrap, unique_name("reader"), sink, **{"isolation.level": "read_committed"}
    )
    values = [m.value() for m in consume(reader, 51, idle=1.0)]
    reader.close()
    assert len(values) == 51
    assert b"after-abort" in values
    assert not any(v.startswith(b"aborted-") for v in values)

    # read_uncommitted does see the aborted records: the test above can fail
    dirty = group_consumer(
        kafka_bootstrap, unique_name("dirty"), sink, **{"isolation.level": "read_uncommitted"}
    )
    dirty_values = [m.value() for m in consume(dirty, 56, idle=0.5)]
    dirty.close()
    assert sum(v.startswith(b"aborted-") for v in dirty_values) == 5


async def test_aiokafka_consumer_group_on_the_same_broker(
    kafka_bootstrap: str, kafka_topic_factory: TopicFactory
) -> None:
    topic = kafka_topic_factory("aio", partitions=2)
    group = unique_name("aio-group")
    produce(kafka_bootstrap, topic, [f"m-{i}".encode() for i in range(100)])

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
    )
    await consumer.start()
    try:
        values: list[bytes] = []
        deadline = time.monotonic() + 30
        while len(values) < 100 and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=1000)
            values.extend(record.value for records in batches.values() for record in records if record.value)
        await consumer.commit()
        committed = [await consumer.committed(AioTopicPartition(topic, p)) for p in range(2)]
    finally:
        await consumer.stop()
    assert sorted(values) == sorted(f"m-{i}".encode() for i in range(100))
    assert sum(offset or 0 for offset in committed) == 100

    # the offsets aiokafka committed are the group's offsets for confluent-kafka too
    checker = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": group})
    seen = checker.committed([TopicPartition(topic, p) for p in range(2)], timeout=10)
    checker.close()
    assert sum(tp.offset for tp in seen) == 100


async def test_aiokafka_transactional_producer(
    kafka_bootstrap: str, kafka_topic_factory: TopicFactory
) -> None:
    """faust's exactly-once mode runs on aiokafka transactions: they must work on this broker."""
    topic = kafka_topic_factory("aio-tx")
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, transactional_id=unique_name("aio-tx"))
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send_and_wait(topic, b"committed")
        await producer.begin_transaction()
        await producer.send_and_wait(topic, b"aborted")
        await producer.abort_transaction()
    finally:
        await producer.stop()
    reader = group_consumer(
        kafka_bootstrap, unique_name("aio-tx-reader"), topic, **{"isolation.level": "read_committed"}
    )
    values = [m.value() for m in consume(reader, 1, idle=1.0)]
    reader.close()
    assert values == [b"committed"]


def test_throwaway_broker_restart_keeps_data(throwaway_broker: ThrowawayBroker) -> None:
    bootstrap = throwaway_broker.bootstrap
    topic = unique_name("durable")
    produce(bootstrap, topic, [b"before-restart"], **{"acks": "all"})
    throwaway_broker.restart()
    consumer = group_consumer(bootstrap, unique_name("after"), topic)
    values = [m.value() for m in consume(consumer, 1)]
    consumer.close()
    assert values == [b"before-restart"]


def test_kafka_up_reuses_the_running_broker(kafka_bootstrap: str) -> None:
    host, _, port = kafka_bootstrap.rpartition(":")
    started = time.monotonic()
    result = subprocess.run(
        [str(KAFKA_SCRIPT), "up"],
        env={**os.environ, "KAFKA_HOST": host, "KAFKA_PORT": port, "KAFKA_PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "already up" in result.stderr or "reusing" in result.stderr
    assert time.monotonic() - started < 15


# -------------------------------------------------------------------------------- databases


async def _round_trip(url: str) -> None:
    """Insert a small baseline through the ORM and read it back with the types the schema promises."""
    engine = create_engine_for(url)
    sessions = session_factory(engine)
    valid_until = datetime(2026, 12, 31, tzinfo=UTC)
    try:
        async with sessions.begin() as session:
            session.add(IdentityRow(id="payments-api", kind="workload", owner="team-payments", purpose="API"))
            await session.flush()
            session.add(
                IdentityAliasRow(alias="system:serviceaccount:payments:api", identity_id="payments-api")
            )
            session.add(
                EntitlementRow(
                    identity_id="payments-api",
                    id="receipts-rw",
                    system="aws",
                    actions=["s3:GetObject", "s3:PutObject"],
                    resources=["arn:aws:s3:::receipts-prod/*"],
                    conditions={"source_cidrs": ["10.0.0.0/8"]},
                    valid_until=valid_until,
                    approved_by="alice",
                    ticket="SEC-123",
                )
            )
            session.add(BaselineChangeRow(author="alice", summary="import", change={"identities": 1}))
            session.add(BaselineChangeRow(author="bob", summary="edit", change={"entitlements": 1}))

        async with sessions() as session:
            identity = await session.get(IdentityRow, "payments-api")
            assert identity is not None and identity.owner == "team-payments"
            assert identity.created_at.tzinfo is UTC
            assert abs(identity.created_at - datetime.now(UTC)) < timedelta(minutes=5)
            entitlement = (await session.execute(select(EntitlementRow))).scalar_one()
            assert entitlement.actions == ["s3:GetObject", "s3:PutObject"]
            assert entitlement.conditions == {"source_cidrs": ["10.0.0.0/8"]}
            assert entitlement.valid_until == valid_until and entitlement.valid_until.tzinfo is UTC
            versions = (await session.execute(select(BaselineChangeRow.version))).scalars().all()
            assert len(versions) == 2 and versions[1] > versions[0]
            assert (await session.execute(select(func.max(BaselineChangeRow.version)))).scalar_one() == max(
                versions
            )

        # deleting the identity cascades to its aliases and entitlements (SQLite: foreign_keys=ON)
        async with sessions.begin() as session:
            await session.execute(delete(IdentityRow).where(IdentityRow.id == "payments-api"))
        async with sessions() as session:
            assert (
                await session.execute(select(func.count()).select_from(IdentityAliasRow))
            ).scalar_one() == 0
            assert (await session.execute(select(func.count()).select_from(EntitlementRow))).scalar_one() == 0
    finally:
        await engine.dispose()


def _schema_diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def _assert_models_match_migration(url: str) -> None:
    engine = create_engine_for(url)
    try:
        assert await current_revision(engine) == head_revision()
        async with engine.connect() as connection:
            assert await connection.run_sync(_schema_diff) == []
    finally:
        await engine.dispose()


async def test_postgres_migration_from_empty_database(pg_database_factory: DatabaseFactory) -> None:
    url = await pg_database_factory(migrated=False)
    engine = create_engine_for(url)
    try:
        assert await current_revision(engine) is None
    finally:
        await engine.dispose()
    upgrade_to_head(url)
    upgrade_to_head(url)  # at head already: nothing to do, no error
    await _assert_models_match_migration(url)
    engine = create_engine_for(url)
    try:
        async with engine.connect() as connection:
            json_type = await connection.scalar(
                text(
                    "SELECT data_type FROM information_schema.columns"
                    " WHERE table_name = 'verdicts' AND column_name = 'record'"
                )
            )
            indexes = set(
                (
                    await connection.execute(
                        text("SELECT indexname FROM pg_indexes WHERE tablename = 'verdicts'")
                    )
                )
                .scalars()
                .all()
            )
    finally:
        await engine.dispose()
    assert json_type == "jsonb"
    assert {
        "ix_verdicts_event_id",
        "ix_verdicts_identity_time",
        "ix_verdicts_verdict_reason_time",
        "ix_verdicts_source_time",
    } <= indexes


async def test_postgres_store_round_trip(pg_database: str) -> None:
    assert pg_database.startswith("postgresql+asyncpg://")
    await _round_trip(pg_database)


async def test_sqlite_migration_and_round_trip(sqlite_url: str) -> None:
    await _assert_models_match_migration(sqlite_url)
    await _round_trip(sqlite_url)


async def test_per_test_databases_are_isolated(pg_database_factory: DatabaseFactory) -> None:
    first, second = await pg_database_factory(), await pg_database_factory()
    assert first != second
    engine = create_engine_for(first)
    try:
        async with session_factory(engine).begin() as session:
            session.add(IdentityRow(id="only-in-first", kind="agent", owner="o", purpose="p"))
    finally:
        await engine.dispose()
    engine = create_engine_for(second)
    try:
        async with session_factory(engine)() as session:
            assert await session.get(IdentityRow, "only-in-first") is None
    finally:
        await engine.dispose()


def test_pg_up_is_idempotent(pg_url: str) -> None:
    started = time.monotonic()
    env = {**os.environ, **pg_env_for(pg_url)}
    result = subprocess.run(
        [str(PG_SCRIPT), "up"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 30
