"""Verdict store benchmarks: the sink's write rate and the responder's query latency.

``bench_verdict_store(url)`` works on a scratch PostgreSQL database it creates (on the server of
``url``) and drops. It measures, side by side in one run:

- ``writes``: ``insert_many`` of serialized verdicts in batches of 5,000 (what the sink does per
  batch: parse, COPY into a staging table, ``INSERT .. ON CONFLICT DO NOTHING``) into the daily
  partitions, then the same batches again (a redelivery: every row a no-op), beside the floor: a
  bare binary COPY of the same rows into an unindexed table;
- ``sink``: when a broker is given, the real sink from a 3-partition topic to the store;
- ``queries`` with 1,000,000 stored verdicts over 10 days (bulk-loaded by COPY): p50/p99 of
  ``get_by_event``, a filtered search page, an unfiltered page, a deeper page by cursor, an
  identity timeline page and ``related``.

The verdicts are produced by the core from the benchmark workload (real shapes), then given
fresh event ids and times so that a million distinct ones exist.

Run alone: ``python -m bench.verdict_store_bench [URL] [BROKERS]``.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson
from sqlalchemy.engine import make_url

from bench.api_bench import bench_api
from bench.workload import generate_records
from enricher.adapters.store.engine import create_engine_for
from enricher.adapters.store.migrate import upgrade_to_head
from enricher.adapters.store.verdict_repo import COLUMNS, VerdictRepository, verdict_row
from enricher.core.baseline import compile_baseline
from enricher.core.pipeline import EnrichState, RawRecord, enrich, serialize_verdict
from enricher.core.synthetic import generate_baseline
from enricher.core.verdict import make_verdict_id

BATCH = 5000
DAYS = 10


async def _connect(url: str, database: str | None = None) -> asyncpg.Connection:
    parsed = make_url(url)
    return await asyncpg.connect(
        host=parsed.host,
        port=parsed.port,
        user=parsed.username,
        password=parsed.password,
        database=database or parsed.database,
    )


async def _admin(url: str, statement: str) -> None:
    conn = await _connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def _drop(url: str, name: str) -> None:
    """Drop the scratch database; an autovacuum worker in it makes PostgreSQL 15 refuse a
    non-superuser's ``WITH (FORCE)`` for a moment, so retry for a while."""
    for attempt in range(60):
        try:
            await _admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except asyncpg.InsufficientPrivilegeError:
            if attempt == 59:
                raise
            await asyncio.sleep(1)


def _templates(count: int = 20_000) -> list[dict[str, Any]]:
    """Verdict records from the core on the benchmark workload (every verdict kind occurs)."""
    doc = generate_baseline(1000, 10, seed=11)
    baseline = compile_baseline(doc, version=7)
    raw = generate_records(doc, count, seed=12)
    result = enrich([RawRecord(r, None) for r in raw], baseline, EnrichState())
    return [orjson.loads(serialize_verdict(v)) for v in result.verdicts]


class Verdicts:
    """Distinct verdicts made from templates: number ``n`` has its own event id and time."""

    def __init__(self, templates: list[dict[str, Any]], start: datetime, span: timedelta, total: int) -> None:
        self._templates = templates
        self._start = start
        self._step = span / total

    def record(self, n: int) -> bytes:
        template = self._templates[n % len(self._templates)]
        event_id = f"bench-{n:09d}-{template['event_id'][:8]}"
        when = self._start + self._step * n
        return orjson.dumps(
            {
                **template,
                "verdict_id": make_verdict_id(template["source"], event_id),
                "event_id": event_id,
                "time": when.isoformat().replace("+00:00", "Z"),
            }
        )

    def batches(self, numbers: Sequence[int], size: int) -> Iterator[list[bytes]]:
        for first in range(0, len(numbers), size):
            yield [self.record(n) for n in numbers[first : first + size]]


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))] * 1000,
        "runs": len(ordered),
    }


async def _timed(runs: int, call: Callable[[int], Awaitable[object]]) -> dict[str, float]:
    samples = []
    for n in range(runs):
        started = time.perf_counter()
        await call(n)
        samples.append(time.perf_counter() - started)
    return _percentiles(samples)


async def _writes(url: str, source: Verdicts, numbers: Sequence[int]) -> dict[str, Any]:
    engine = create_engine_for(url)
    repo = VerdictRepository(engine)
    batches = list(source.batches(numbers, BATCH))
    count = len(numbers)
    try:
        await repo.insert_many(batches[0][:10])  # warm the pool and the statement cache
        started = time.perf_counter()
        inserted = 0
        for batch in batches:
            inserted += await repo.insert_many(batch)
        first = time.perf_counter() - started
        started = time.perf_counter()
        again = 0
        for batch in batches:
            again += await repo.insert_many(batch)
        redelivered = time.perf_counter() - started
    finally:
        await engine.dispose()
    assert inserted == count - 10 and again == 0, (inserted, again)
    floor = await _copy_floor(url, batches)
    return {
        "verdicts": count,
        "batch": BATCH,
        "insert_per_s": count / first,
        "redelivery_per_s": count / redelivered,
        "floor_copy_per_s": count / floor,
        "ratio_to_floor": floor / first,
    }


async def _copy_floor(url: str, batches: list[list[bytes]]) -> float:
    """A bare binary COPY of the same rows (already parsed) into an unindexed, unlogged table."""
    rows = [[verdict_row(record) for record in batch] for batch in batches]
    conn = await _connect(url)
    try:
        await conn.execute("CREATE UNLOGGED TABLE copy_floor (LIKE verdicts)")
        started = time.perf_counter()
        for batch in rows:
            await conn.copy_records_to_table("copy_floor", records=batch, columns=COLUMNS)
        elapsed = time.perf_counter() - started
        await conn.execute("DROP TABLE copy_floor")
    finally:
        await conn.close()
    return elapsed


async def _bulk_load(url: str, source: Verdicts, numbers: Sequence[int]) -> dict[str, float]:
    """Fill the store fast: binary COPY straight into the partitioned table (ids are unique)."""
    conn = await _connect(url)
    started = time.perf_counter()
    try:
        for batch in source.batches(numbers, 50_000):
            rows = [verdict_row(record) for record in batch]
            await conn.copy_records_to_table("verdicts", records=rows, columns=COLUMNS)
        loaded = time.perf_counter() - started
        await conn.execute("ANALYZE verdicts")
    finally:
        await conn.close()
    return {"verdicts": len(numbers), "copy_per_s": len(numbers) / loaded}


async def _queries(url: str, source: Verdicts, total: int, runs: int) -> dict[str, Any]:
    engine = create_engine_for(url)
    repo = VerdictRepository(engine)
    rnd = random.Random(5)
    picks = [orjson.loads(source.record(rnd.randrange(total))) for _ in range(runs)]
    identities = [p["identity"] for p in picks if p["identity"]]
    verdicts = ("unauthorized_path", "overprivileged", "drift", "expected")
    try:
        await repo.search(limit=1)
        stored = await repo.count()
        day = timedelta(days=1)

        async def deep(n: int) -> None:
            _, cursor = await repo.search(verdict=verdicts[n % 4], limit=100)
            for _ in range(4):
                _, cursor = await repo.search(verdict=verdicts[n % 4], limit=100, cursor=cursor)

        result = {
            "stored": stored,
            "get_by_event": await _timed(runs, lambda n: repo.get_by_event(picks[n]["event_id"])),
            "search_verdict_page": await _timed(
                runs, lambda n: repo.search(verdict=verdicts[n % 4], limit=100)
            ),
            "search_reason_since_page": await _timed(
                runs,
                lambda n: repo.search(
                    reason=picks[n]["reason"], since=datetime.fromisoformat(picks[n]["time"]) - day, limit=100
                ),
            ),
            "search_source_verdict_page": await _timed(
                runs, lambda n: repo.search(source=picks[n]["source"], verdict=picks[n]["verdict"], limit=100)
            ),
            "search_unfiltered_page": await _timed(runs, lambda n: repo.search(limit=100)),
            "search_fifth_page_by_cursor": await _timed(max(runs // 5, 10), deep),
            "timeline_page": await _timed(
                runs, lambda n: repo.timeline(identities[n % len(identities)], limit=100)
            ),
            "related": await _timed(runs, lambda n: repo.related(picks[n])),
            "counts_for_identity": await _timed(
                runs, lambda n: repo.counts_for_identity(identities[n % len(identities)])
            ),
        }
    finally:
        await engine.dispose()
    return result


def _sink(url: str, brokers: str, source: Verdicts, numbers: Sequence[int]) -> dict[str, float]:
    """The real sink from a 3-partition topic: records/s from start to the last row stored."""
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

    from enricher.adapters.kafka.sink import VerdictSink
    from enricher.adapters.metrics import Metrics
    from enricher.config import load_settings

    topic = f"bench-verdicts-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": brokers})
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])[topic].result(30)
    try:
        producer = Producer({"bootstrap.servers": brokers, "linger.ms": 20, "compression.type": "lz4"})
        for batch in source.batches(numbers, 10_000):
            for record in batch:
                while True:
                    try:
                        producer.produce(topic, record)
                        break
                    except BufferError:
                        producer.poll(0.05)
            producer.poll(0)
        producer.flush(60)
        settings = load_settings(database_url=url, kafka_brokers=brokers, topic_verdicts=topic)
        metrics = Metrics()
        sink = VerdictSink(settings, metrics, group=f"bench-sink-{uuid.uuid4().hex[:8]}")
        thread = threading.Thread(target=lambda: asyncio.run(sink.run()), daemon=True)
        started = time.perf_counter()
        thread.start()
        while sink.written < len(numbers) and time.perf_counter() - started < 600:
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
        sink.stop()
        thread.join(30)
    finally:
        admin.delete_topics([topic])[topic].result(30)
    return {"verdicts": sink.written, "sink_per_s": sink.written / elapsed, "batches": sink.batches}


def bench_verdict_store(
    url: str,
    *,
    stored: int = 1_000_000,
    written: int = 200_000,
    runs: int = 300,
    brokers: str | None = None,
) -> dict[str, Any]:
    """Write rate and query latency of the verdict store on a scratch database of ``url``'s server."""
    if not url.startswith("postgresql"):
        raise ValueError("the verdict store benchmark needs PostgreSQL")
    name = f"enricher_vbench_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(url, f'CREATE DATABASE "{name}"'))
    scratch = make_url(url).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade_to_head(scratch)
        now = datetime.now(UTC).replace(microsecond=0)
        start = now - timedelta(days=DAYS)
        source = Verdicts(_templates(), start, timedelta(days=DAYS), stored)
        asyncio.run(_partitions(scratch, start))
        results: dict[str, Any] = {}
        # the writes land first (in a store still empty), then the bulk fill, then the queries;
        # every verdict number below ``stored`` is stored exactly once
        step = stored // written
        skip = {0, 1} if brokers else {0}
        results["writes"] = asyncio.run(_writes(scratch, source, range(0, stored, step)))
        if brokers:
            results["sink"] = _sink(scratch, brokers, source, range(1, stored, step))
        rest = [n for n in range(stored) if n % step not in skip]
        results["bulk_load"] = asyncio.run(_bulk_load(scratch, source, rest))
        results["queries"] = asyncio.run(_queries(scratch, source, stored, runs))
        sample = random.Random(5).sample(range(stored), 2000)
        results["http"] = bench_api(scratch, [orjson.loads(source.record(n))["event_id"] for n in sample])
        return results
    finally:
        asyncio.run(_drop(url, name))


async def _partitions(url: str, start: datetime) -> None:
    engine = create_engine_for(url)
    try:
        await VerdictRepository(engine).ensure_partitions(DAYS + 1, now=start)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    target = (
        sys.argv[1]
        if len(sys.argv) > 1
        else "postgresql+asyncpg://enricher:enricher@127.0.0.1:15432/enricher"
    )
    print(
        orjson.dumps(
            bench_verdict_store(target, brokers=sys.argv[2] if len(sys.argv) > 2 else None),
            option=orjson.OPT_INDENT_2,
        ).decode()
    )
