"""The sink on the real broker and real PostgreSQL: every verdict on the topic ends in the store once.

The database outage is made with a TCP proxy on loopback between the sink and PostgreSQL (the
shared server keeps running for the other tests): stopping the proxy refuses new connections and
cuts the open ones, exactly what a sink sees when its database goes away.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError

from enricher.adapters.kafka.sink import VerdictSink
from enricher.adapters.metrics import Metrics
from enricher.adapters.store.engine import create_engine_for
from enricher.adapters.store.verdict_repo import VerdictRepository, is_unavailable
from enricher.config import load_settings
from enricher.core.pipeline import serialize_verdict
from enricher.core.verdict import Verdict
from tests.integration.services import free_port, unique_name
from tests.integration.store_support import quiesce_autovacuum
from tests.unit.verdict_samples import PAIRS, sample

# recent times: the sink applies retention (30 days by default) to what it stores
T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=6)
PARTITIONS = 3
TopicFactory = Callable[..., str]


def verdicts(count: int, prefix: str, start: datetime = T0) -> list[Verdict]:
    """Real-shaped verdicts of every (source, reason) pair, distinct event ids, a second apart."""
    pairs = itertools.cycle(PAIRS)
    out = []
    for n in range(count):
        source, reason = next(pairs)
        out.append(
            sample(
                source, reason, event_id=f"{prefix}-{n:08d}-7c1d-4b7e-a0f1", time=start + timedelta(seconds=n)
            )
        )
    return out


def produce(bootstrap: str, topic: str, records: list[Verdict], extra: list[bytes] = ()) -> None:  # type: ignore[assignment]
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "log_level": 0})
    for v in records:
        producer.produce(topic, serialize_verdict(v), (v.identity or v.principal).encode())
        producer.poll(0)
    for value in extra:
        producer.produce(topic, value, b"garbage")
    assert producer.flush(30) == 0


def committed_and_end(bootstrap: str, topic: str, group: str) -> tuple[list[int], list[int]]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "log_level": 0})
    try:
        parts = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        committed = [tp.offset for tp in consumer.committed(parts, timeout=10)]
        ends = [consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in parts]
        return committed, ends
    finally:
        consumer.close()


async def stored_count(url: str) -> int:
    engine = create_engine_for(url)
    try:
        return await VerdictRepository(engine).count()
    finally:
        await engine.dispose()


async def wait_until(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class SinkThread:
    """A ``VerdictSink`` on its own event loop in a thread, as ``enricher sink`` runs it."""

    def __init__(self, database_url: str, bootstrap: str, topic: str, group: str) -> None:
        settings = load_settings(database_url=database_url, kafka_brokers=bootstrap, topic_verdicts=topic)
        self.metrics = Metrics()
        self.sink = VerdictSink(settings, self.metrics, group=group)
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="sink", daemon=True)
        self._thread.start()

    def _main(self) -> None:
        try:
            asyncio.run(self.sink.run())
        except BaseException as exc:
            self.error = exc

    def sample(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 30) -> None:
        self.sink.stop()
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the sink did not stop"
        assert self.error is None, self.error


class TcpProxy:
    """A loopback TCP proxy that can be cut (listener closed, open connections aborted) and restored."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="proxy", daemon=True)
        self._thread.start()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def _call(self, coro: object) -> None:
        future: Future[None] = asyncio.run_coroutine_threadsafe(coro, self._loop)  # type: ignore[arg-type]
        future.result(10)

    def start(self) -> None:
        self._call(self._start())

    def cut(self) -> None:
        self._call(self._cut())

    def close(self) -> None:
        self._call(self._cut())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(writer)
            writer.transport.abort()


@pytest.fixture
async def pg_database(pg_database: str) -> AsyncIterator[str]:
    """The shared fixture's database, with autovacuum kept out of it before it is dropped."""
    yield pg_database
    await quiesce_autovacuum(pg_database)


@pytest.fixture
def proxy_url(pg_database: str) -> Iterator[tuple[str, TcpProxy]]:
    """``(url through the proxy, proxy)`` for the test's database; the proxy starts open."""
    parsed = make_url(pg_database)
    proxy = TcpProxy(parsed.host or "127.0.0.1", parsed.port or 5432)
    proxy.start()
    try:
        yield parsed.set(port=proxy.port).render_as_string(hide_password=False), proxy
    finally:
        proxy.close()


async def test_sink_stores_every_verdict_once_and_commits(
    kafka_bootstrap: str, kafka_topic_factory: TopicFactory, pg_database: str
) -> None:
    topic = kafka_topic_factory("verdicts", partitions=PARTITIONS)
    group = unique_name("sink")
    batch = verdicts(12_000, "e2e")
    redelivered = batch[:700]  # the workers' at-least-once: the same verdicts produced again
    await asyncio.to_thread(produce, kafka_bootstrap, topic, batch + redelivered)
    sink = SinkThread(pg_database, kafka_bootstrap, topic, group)
    try:
        await wait_until(lambda: _equals(stored_count(pg_database), len(batch)), 60, "every verdict stored")
        await wait_until(
            lambda: (
                sink.sample("enricher_sink_writes_total", result="inserted")
                + sink.sample("enricher_sink_writes_total", result="duplicate")
                >= len(batch) + len(redelivered)
            ),
            60,
            "every record read",
        )
    finally:
        sink.stop()
    assert await stored_count(pg_database) == len(batch)
    assert sink.sample("enricher_sink_writes_total", result="inserted") == len(batch)
    assert sink.sample("enricher_sink_writes_total", result="duplicate") == len(redelivered)
    assert sink.sample("enricher_sink_write_seconds_count") >= 3  # batches of at most 5000
    committed, ends = committed_and_end(kafka_bootstrap, topic, group)
    assert committed == ends and sum(ends) == len(batch) + len(redelivered)
    engine = create_engine_for(pg_database)
    try:
        repo = VerdictRepository(engine)
        for v in (batch[0], batch[5_555], batch[-1]):
            assert await repo.get(v.verdict_id) is not None
    finally:
        await engine.dispose()


async def test_database_outage_the_sink_waits_then_catches_up_without_loss(
    kafka_bootstrap: str,
    kafka_topic_factory: TopicFactory,
    pg_database: str,
    proxy_url: tuple[str, TcpProxy],
) -> None:
    url, proxy = proxy_url
    topic = kafka_topic_factory("verdicts", partitions=PARTITIONS)
    group = unique_name("sink")
    before, during = verdicts(4_000, "before"), verdicts(6_000, "during", start=T0 + timedelta(hours=3))
    sink = SinkThread(url, kafka_bootstrap, topic, group)
    try:
        await asyncio.to_thread(produce, kafka_bootstrap, topic, before)
        await wait_until(lambda: _equals(stored_count(pg_database), len(before)), 60, "the first verdicts")

        proxy.cut()
        await asyncio.to_thread(produce, kafka_bootstrap, topic, during)
        await wait_until(lambda: sink.sample("enricher_sink_write_errors_total") >= 3, 60, "failed writes")
        assert await stored_count(pg_database) == len(before)
        committed, ends = committed_and_end(kafka_bootstrap, topic, group)
        assert sum(committed) < sum(ends), "nothing written during the outage may be committed"

        proxy.start()
        await wait_until(
            lambda: _equals(stored_count(pg_database), len(before) + len(during)), 60, "the catch-up"
        )
    finally:
        sink.stop()
    assert sink.error is None
    committed, ends = committed_and_end(kafka_bootstrap, topic, group)
    assert committed == ends
    await _assert_stored_exactly(pg_database, before + during)


async def test_stopped_during_an_outage_the_next_sink_resumes_from_the_last_commit(
    kafka_bootstrap: str,
    kafka_topic_factory: TopicFactory,
    pg_database: str,
    proxy_url: tuple[str, TcpProxy],
) -> None:
    url, proxy = proxy_url
    topic = kafka_topic_factory("verdicts", partitions=PARTITIONS)
    group = unique_name("sink")
    first, second = verdicts(3_000, "first"), verdicts(3_000, "second", start=T0 + timedelta(days=1))
    await asyncio.to_thread(produce, kafka_bootstrap, topic, first)
    sink = SinkThread(url, kafka_bootstrap, topic, group)
    try:
        await wait_until(lambda: _equals(stored_count(pg_database), len(first)), 60, "the first verdicts")
        proxy.cut()
        await asyncio.to_thread(produce, kafka_bootstrap, topic, second)
        await wait_until(lambda: sink.sample("enricher_sink_write_errors_total") >= 1, 60, "a failed write")
    finally:
        started = time.monotonic()
        sink.stop()  # SIGTERM while the database is down: give up the batch, commit nothing of it
    assert time.monotonic() - started < 15
    committed, ends = committed_and_end(kafka_bootstrap, topic, group)
    assert sum(committed) == len(first) and sum(ends) == len(first) + len(second)

    proxy.start()
    successor = SinkThread(url, kafka_bootstrap, topic, group)
    try:
        await wait_until(
            lambda: _equals(stored_count(pg_database), len(first) + len(second)),
            60,
            "the successor's catch-up",
        )
    finally:
        successor.stop()
    assert successor.sample("enricher_sink_writes_total", result="inserted") == len(second)
    await _assert_stored_exactly(pg_database, first + second)


async def test_enricher_sink_command_skips_non_verdicts_and_leaves_on_sigterm(
    kafka_bootstrap: str, kafka_topic_factory: TopicFactory, pg_database: str
) -> None:
    topic = kafka_topic_factory("verdicts", partitions=PARTITIONS)
    group = unique_name("sink")
    records = verdicts(2_500, "cmd")
    garbage = [b"\xff\xfe not json", b'{"verdict": "expected"}', b"[1, 2, 3]"]
    await asyncio.to_thread(produce, kafka_bootstrap, topic, records, garbage)
    port = free_port()
    env = {
        **os.environ,
        "ENRICHER_DATABASE_URL": pg_database,
        "ENRICHER_KAFKA_BROKERS": kafka_bootstrap,
        "ENRICHER_TOPIC_VERDICTS": topic,
        "ENRICHER_LOG_LEVEL": "INFO",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "enricher.cli", "sink", "--group", group, "--metrics-port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        await wait_until(lambda: _equals(stored_count(pg_database), len(records)), 60, "the command's writes")
        await wait_until(lambda: "enricher_sink_rejected_total 3.0" in _scrape(port), 30, "rejected count")
        metrics = _scrape(port)
        assert f'enricher_sink_writes_total{{result="inserted"}} {float(len(records))}' in metrics
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.to_thread(process.communicate, timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr.decode()
    assert b"not a verdict record, skipped" in stderr and b"sink stopped" in stderr
    committed, ends = committed_and_end(kafka_bootstrap, topic, group)
    assert committed == ends and sum(ends) == len(records) + len(garbage)


async def test_a_database_without_the_schema_is_not_an_outage_the_sink_stops_loudly(
    kafka_bootstrap: str, kafka_topic_factory: TopicFactory, pg_database_factory: Callable[..., Any]
) -> None:
    url = await pg_database_factory(migrated=False)
    topic = kafka_topic_factory("verdicts", partitions=PARTITIONS)
    await asyncio.to_thread(produce, kafka_bootstrap, topic, verdicts(10, "nothing"))
    sink = SinkThread(url, kafka_bootstrap, topic, unique_name("sink"))
    await wait_until(lambda: not sink.alive, 30, "the sink to stop on its own")
    assert isinstance(sink.error, ProgrammingError) and "verdicts" in str(sink.error)
    assert sink.sample("enricher_sink_write_errors_total") == 0


@pytest.mark.parametrize(
    ("error", "unavailable"),
    [
        (OperationalError("SELECT 1", {}, ConnectionRefusedError(111, "refused")), True),
        (ConnectionRefusedError(111, "Connect call failed"), True),
        (TimeoutError(), True),
        (asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"), True),
        (asyncpg.exceptions.CannotConnectNowError("the database system is starting up"), True),
        (asyncpg.exceptions.TooManyConnectionsError("too many clients"), True),
        (asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"), True),
        (DBAPIError("INSERT", {}, RuntimeError("x"), connection_invalidated=True), True),
        (
            ProgrammingError("SELECT", {}, asyncpg.exceptions.UndefinedTableError('relation "verdicts"')),
            False,
        ),
        (asyncpg.exceptions.UniqueViolationError("duplicate key"), False),
        (ValueError("bad cursor"), False),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_which_errors_mean_the_database_is_unavailable(error: BaseException, unavailable: bool) -> None:
    assert is_unavailable(error) is unavailable
    wrapped = RuntimeError("while writing")
    wrapped.__cause__ = error
    assert is_unavailable(wrapped) is unavailable


def _scrape(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            return str(response.read().decode())
    except OSError:
        return ""


async def _equals(count: object, expected: int) -> bool:
    return await count == expected  # type: ignore[misc]


async def _assert_stored_exactly(url: str, expected: list[Verdict]) -> None:
    """Each expected verdict stored once: same count, same ids, no id twice."""
    from sqlalchemy import text

    engine = create_engine_for(url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT verdict_id FROM verdicts"))).scalars().all()
    finally:
        await engine.dispose()
    assert len(rows) == len(set(rows)) == len(expected)
    assert set(rows) == {v.verdict_id for v in expected}
