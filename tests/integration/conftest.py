"""Fixtures for integration tests: a real Apache Kafka broker and a real PostgreSQL server.

Both are brought up by the same scripts as ``make kafka-up``/``make pg-up`` when they do not
answer yet, and stopped at the end of the session only if this session started them. Each test
gets uniquely named topics and its own PostgreSQL database, so tests never collide.

Environment: ``ENRICHER_TEST_KAFKA_BROKERS`` (default 127.0.0.1:19092) and
``ENRICHER_TEST_DATABASE_URL`` (default postgresql+asyncpg://enricher:enricher@127.0.0.1:15432/enricher).
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from enricher.adapters.store.migrate import upgrade_to_head
from tests.integration.services import (
    DEFAULT_KAFKA_BOOTSTRAP,
    DEFAULT_PG_URL,
    ThrowawayBroker,
    database_url,
    kafka_answers,
    kafka_env_for,
    kafka_script,
    pg_answers,
    pg_connect,
    pg_script,
    run_isolated,
    unique_name,
)

HERE = Path(__file__).resolve().parent

TopicFactory = Callable[..., str]
DatabaseFactory = Callable[..., Awaitable[str]]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/integration is an integration test, marked or not."""
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.integration)


# --------------------------------------------------------------------------------------- Kafka


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """``host:port`` of a ready broker; started here (and stopped after) only if none answered."""
    given = os.environ.get("ENRICHER_TEST_KAFKA_BROKERS")
    bootstrap = given or DEFAULT_KAFKA_BOOTSTRAP
    if kafka_answers(bootstrap):
        yield bootstrap
        return
    if given:
        pytest.fail(f"ENRICHER_TEST_KAFKA_BROKERS={given} does not answer")
    env = kafka_env_for(bootstrap)
    kafka_script("up", env)
    try:
        yield bootstrap
    finally:
        kafka_script("down", env)


@pytest.fixture(scope="session")
def kafka_admin(kafka_bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": kafka_bootstrap, "log_level": 0})


def _wait_for_leaders(admin: AdminClient, topic: str, partitions: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = admin.list_topics(topic=topic, timeout=5).topics.get(topic)
        if (
            found is not None
            and found.error is None
            and len(found.partitions) == partitions
            and all(p.leader >= 0 for p in found.partitions.values())
        ):
            return
        time.sleep(0.05)
    raise TimeoutError(f"topic {topic} has no leaders after {timeout}s")


@pytest.fixture
def kafka_topic_factory(kafka_admin: AdminClient) -> Iterator[TopicFactory]:
    """``make(prefix="t", partitions=1, config=None) -> name``: a new, unique, ready topic.

    Topics are deleted when the test ends.
    """
    created: list[str] = []

    def make(prefix: str = "t", partitions: int = 1, config: dict[str, str] | None = None) -> str:
        name = unique_name(prefix)
        futures = kafka_admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1, config=config or {})],
            operation_timeout=30,
        )
        futures[name].result(timeout=30)
        created.append(name)
        _wait_for_leaders(kafka_admin, name, partitions)
        return name

    yield make
    if created:
        for future in kafka_admin.delete_topics(created, operation_timeout=30).values():
            future.result(timeout=30)


@pytest.fixture
def throwaway_broker(tmp_path: Path) -> Iterator[ThrowawayBroker]:
    """A private broker on free ports (fault tests stop/start it without touching the shared one)."""
    broker = ThrowawayBroker(tmp_path / "kafka")
    broker.start()
    try:
        yield broker
    finally:
        broker.close()


# ---------------------------------------------------------------------------------- PostgreSQL


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URL of the PostgreSQL database; the server is started here (and stopped after) if needed."""
    given = os.environ.get("ENRICHER_TEST_DATABASE_URL")
    url = given or DEFAULT_PG_URL
    if pg_answers(url):
        yield url
        return
    if given:
        pytest.fail(f"ENRICHER_TEST_DATABASE_URL={given} does not answer")
    pg_script("up", url)
    try:
        yield url
    finally:
        pg_script("down", url)


async def _create_database(url: str, name: str, template: str | None = None) -> None:
    connection = await pg_connect(url)
    try:
        clause = f' TEMPLATE "{template}"' if template else ""
        await connection.execute(f'CREATE DATABASE "{name}"{clause}')
    finally:
        await connection.close()


async def _drop_database(url: str, name: str) -> None:
    connection = await pg_connect(url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def pg_template(pg_url: str) -> Iterator[str]:
    """A database migrated to head once per session; per-test databases are copies of it."""
    name = unique_name("enricher_tpl").replace("-", "_")
    run_isolated(_create_database(pg_url, name))
    try:
        upgrade_to_head(database_url(pg_url, name))
        yield name
    finally:
        run_isolated(_drop_database(pg_url, name))


@pytest.fixture
async def pg_database_factory(pg_url: str, pg_template: str) -> AsyncIterator[DatabaseFactory]:
    """``await make(migrated=True) -> url``: a new database for this test, dropped afterwards.

    A migrated database is a copy of the session's template (milliseconds, no migration run);
    ``migrated=False`` gives an empty one, e.g. to test the migrations themselves.
    """
    created: list[str] = []

    async def make(migrated: bool = True) -> str:
        name = unique_name("enricher_t").replace("-", "_")
        await _create_database(pg_url, name, template=pg_template if migrated else None)
        created.append(name)
        return database_url(pg_url, name)

    yield make
    for name in created:
        await _drop_database(pg_url, name)


@pytest.fixture
async def pg_database(pg_database_factory: DatabaseFactory) -> str:
    """URL of a fresh PostgreSQL database at the newest migration, private to this test."""
    return await pg_database_factory()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of a fresh SQLite database file at the newest migration, private to this test."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'enricher.db'}"
    upgrade_to_head(url)
    return url
