"""Pipeline benchmarks through the real broker (SPEC §11): one worker beside a bare loop, latency at
a sustained rate, baseline change propagation.

Needs the local broker (``make kafka-up``) and PostgreSQL (``make pg-up``); ``make bench`` starts
both. Every figure sits beside the floor it is compared with, measured in the same run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from bench.workload import generate_records
from enricher.adapters.store.baseline_repo import BaselineRepository
from enricher.adapters.store.engine import create_engine_for
from enricher.adapters.store.migrate import upgrade_to_head
from enricher.core.model import BaselineDocument
from enricher.core.synthetic import generate_baseline

BROKER = os.environ.get("ENRICHER_KAFKA_BROKERS", "127.0.0.1:19092")
PG_ADMIN_URL = os.environ.get(
    "ENRICHER_BENCH_DATABASE_URL", "postgresql+asyncpg://enricher:enricher@127.0.0.1:15432/enricher"
)
PARTITIONS = 3
SOURCES = ("cloudtrail", "k8s_audit", "mesh")


def _name(prefix: str) -> str:
    return f"bench-{prefix}-{uuid.uuid4().hex[:8]}"


def _topics(admin: AdminClient, names: list[str], partitions: int = PARTITIONS) -> None:
    futures = admin.create_topics(
        [NewTopic(n, num_partitions=partitions, replication_factor=1) for n in names]
    )
    for future in futures.values():
        future.result(timeout=30)


def _source_of(raw: bytes) -> str:
    return "cloudtrail" if b'"eventName"' in raw else "k8s_audit" if b'"auditID"' in raw else "mesh"


def _produce_all(raw_topics: dict[str, str], records: list[bytes]) -> None:
    producer = Producer(
        {"bootstrap.servers": BROKER, "linger.ms": 20, "compression.type": "lz4", "log_level": 0}
    )
    for i, raw in enumerate(records):
        while True:
            try:
                producer.produce(raw_topics[_source_of(raw)], raw)
                break
            except BufferError:
                producer.poll(0.1)
        if i % 20_000 == 0:
            producer.poll(0)
    producer.flush(60)


def _fresh_database() -> str:
    """A new PostgreSQL database for this run, migrated to head."""
    import asyncpg

    name = f"bench_{uuid.uuid4().hex[:10]}"
    dsn = PG_ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://")

    async def create() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    upgrade_to_head(url)
    return url


def _import(url: str, doc: BaselineDocument) -> int:
    async def run() -> int:
        engine = create_engine_for(url)
        try:
            return (await BaselineRepository(engine).import_document(doc, author="bench")).version
        finally:
            await engine.dispose()

    return asyncio.run(run())


class _Worker:
    def __init__(
        self, url: str, raw_topics: dict[str, str], outputs: dict[str, str], metrics_port: int, **env: str
    ):
        self.metrics_port = metrics_port
        self.log = Path(tempfile.mkstemp(prefix="bench-worker-", suffix=".log")[1])
        full_env = {
            **os.environ,
            "ENRICHER_DATABASE_URL": url,
            "ENRICHER_KAFKA_BROKERS": BROKER,
            "ENRICHER_METRICS_PORT": str(metrics_port),
            "ENRICHER_TOPIC_RAW_CLOUDTRAIL": raw_topics["cloudtrail"],
            "ENRICHER_TOPIC_RAW_K8S_AUDIT": raw_topics["k8s_audit"],
            "ENRICHER_TOPIC_RAW_MESH": raw_topics["mesh"],
            "ENRICHER_TOPIC_VERDICTS": outputs["verdicts"],
            "ENRICHER_TOPIC_ALERTS": outputs["alerts"],
            "ENRICHER_TOPIC_ALERTS_OCSF": outputs["ocsf"],
            "ENRICHER_TOPIC_DEADLETTER": outputs["dead"],
            "ENRICHER_CONSUMER_GROUP": _name("grp"),
            "ENRICHER_LOG_LEVEL": "WARNING",
            **env,
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "enricher.cli", "worker"],
            env=full_env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=2) as response:
            return str(response.read().decode())

    def wait_metrics(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited: {self.log.read_text()[-2000:]}")
            try:
                if (
                    "enricher_baseline_version" in self.metrics()
                    and _gauge(self.metrics(), "enricher_baseline_version") > 0
                ):
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise TimeoutError("worker did not come up")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def _gauge(text: str, name: str) -> float:
    match = re.search(rf"^{name} ([0-9.e+-]+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def _counter_total(text: str, name: str) -> float:
    return sum(float(v) for v in re.findall(rf"^{name}_total{{[^}}]*}} ([0-9.e+-]+)$", text, re.MULTILINE))


def _histogram_quantile(text: str, name: str, q: float) -> float:
    buckets = [
        (float("inf") if le == "+Inf" else float(le), float(count))
        for le, count in re.findall(rf'^{name}_bucket{{le="([^"]+)"}} ([0-9.e+-]+)$', text, re.MULTILINE)
    ]
    total = buckets[-1][1] if buckets else 0
    if not total:
        return float("nan")
    target = q * total
    previous_bound, previous_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= target:
            if bound == float("inf"):
                return previous_bound
            share = (target - previous_count) / max(count - previous_count, 1)
            return previous_bound + (bound - previous_bound) * share
        previous_bound, previous_count = bound, count
    return previous_bound


def bare_loop(raw_topics: dict[str, str], sink: str, expected: int, batch: int = 5000) -> float:
    """The floor: consume -> orjson.loads -> orjson.dumps -> produce -> commit, records/s."""
    consumer = Consumer(
        {"bootstrap.servers": BROKER, "group.id": _name("floor"), "auto.offset.reset": "earliest",
         "enable.auto.commit": False, "log_level": 0}
    )  # fmt: skip
    producer = Producer({"bootstrap.servers": BROKER, "linger.ms": 5, "compression.type": "lz4", "acks": "all",
                         "enable.idempotence": True, "log_level": 0})  # fmt: skip
    consumer.subscribe(list(raw_topics.values()))
    seen = 0
    started = None
    deadline = time.monotonic() + 300
    while seen < expected and time.monotonic() < deadline:
        messages = consumer.consume(batch, 0.5)
        if not messages:
            continue
        if started is None:
            started = time.perf_counter()
        loads, dumps = orjson.loads, orjson.dumps
        for msg in messages:
            if msg.error() is None:
                producer.produce(sink, dumps(loads(msg.value())))
                seen += 1
        producer.flush()
        consumer.commit(asynchronous=False)
    elapsed = time.perf_counter() - (started or time.perf_counter())
    consumer.close()
    return seen / elapsed if elapsed else 0.0


def worker_throughput(
    url: str, raw_topics: dict[str, str], outputs: dict[str, str], expected: int
) -> dict[str, Any]:
    """One worker on records already in the topics: events/s from its first to its last batch."""
    worker = _Worker(url, raw_topics, outputs, metrics_port=19464, ENRICHER_UNUSED_CHECK_INTERVAL_S="0")
    try:
        worker.wait_metrics()
        started = None
        deadline = time.monotonic() + 300
        done = 0.0
        while time.monotonic() < deadline:
            text = worker.metrics()
            done = _counter_total(text, "enricher_events") + _counter_total(text, "enricher_deadletter")
            if started is None and done > 0:
                started = time.perf_counter() - 0.05
            if done >= expected:
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - (started or time.perf_counter())
        return {"events": done, "events_per_s": done / elapsed if elapsed else 0.0}
    finally:
        worker.stop()


def latency_at_rate(url: str, doc: BaselineDocument, rate: int = 5000, seconds: int = 20) -> dict[str, Any]:
    """p50/p99 event->verdict latency while a producer holds ``rate`` events/s for ``seconds``."""
    admin = AdminClient({"bootstrap.servers": BROKER})
    raw_topics = {s: _name(f"lat-{s}") for s in SOURCES}
    outputs = {k: _name(f"lat-{k}") for k in ("verdicts", "alerts", "ocsf", "dead")}
    _topics(admin, [*raw_topics.values(), *outputs.values()])
    records = generate_records(doc, rate * seconds, seed=9)
    worker = _Worker(url, raw_topics, outputs, metrics_port=19465, ENRICHER_UNUSED_CHECK_INTERVAL_S="0")
    try:
        worker.wait_metrics()
        producer = Producer({"bootstrap.servers": BROKER, "linger.ms": 1, "log_level": 0})
        tick = 0.01
        per_tick = max(1, int(rate * tick))
        started = time.perf_counter()
        for i in range(0, len(records), per_tick):
            for raw in records[i : i + per_tick]:
                producer.produce(raw_topics[_source_of(raw)], raw)
            producer.poll(0)
            due = started + (i // per_tick + 1) * tick
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        producer.flush(30)
        achieved = len(records) / (time.perf_counter() - started)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if _counter_total(worker.metrics(), "enricher_events") >= len(records):
                break
            time.sleep(0.2)
        text = worker.metrics()
        return {
            "target_rate": rate,
            "achieved_rate": achieved,
            "p50_ms": _histogram_quantile(text, "enricher_enrich_latency_seconds", 0.5) * 1000,
            "p99_ms": _histogram_quantile(text, "enricher_enrich_latency_seconds", 0.99) * 1000,
            "target_p99_ms": 50.0,
        }
    finally:
        worker.stop()


def propagation(url: str, doc: BaselineDocument, version: int) -> dict[str, Any]:
    """Seconds from a committed baseline change to the worker's baseline_version showing it."""
    admin = AdminClient({"bootstrap.servers": BROKER})
    raw_topics = {s: _name(f"prop-{s}") for s in SOURCES}
    outputs = {k: _name(f"prop-{k}") for k in ("verdicts", "alerts", "ocsf", "dead")}
    _topics(admin, [*raw_topics.values(), *outputs.values()])
    worker = _Worker(url, raw_topics, outputs, metrics_port=19466, ENRICHER_UNUSED_CHECK_INTERVAL_S="0")
    samples = []
    try:
        worker.wait_metrics()
        current = doc
        for round_ in range(5):
            first = current.identities[round_]
            changed = dataclasses.replace(first, purpose=f"{first.purpose} (revision {round_})")
            rest = current.identities
            current = dataclasses.replace(current, identities=(*rest[:round_], changed, *rest[round_ + 1 :]))
            new_version = _import(url, current)
            began = time.perf_counter()  # the change is committed: from here it must reach the worker
            while _gauge(worker.metrics(), "enricher_baseline_version") < new_version:
                time.sleep(0.02)
            samples.append(time.perf_counter() - began)
        return {
            "changes": len(samples),
            "max_s": max(samples),
            "mean_s": sum(samples) / len(samples),
            "target_s": 2.0,
        }
    finally:
        worker.stop()


def main(records_count: int = 200_000) -> dict[str, Any]:
    """All pipeline figures."""
    doc = generate_baseline(10_000, 10, seed=3)
    url = _fresh_database()
    version = _import(url, doc)
    admin = AdminClient({"bootstrap.servers": BROKER})
    raw_topics = {s: _name(f"raw-{s}") for s in SOURCES}
    outputs = {k: _name(k) for k in ("verdicts", "alerts", "ocsf", "dead", "floor")}
    _topics(admin, [*raw_topics.values(), *outputs.values()])
    records = generate_records(doc, records_count, seed=4)
    _produce_all(raw_topics, records)
    floor = bare_loop(raw_topics, outputs["floor"], len(records))
    worker = worker_throughput(url, raw_topics, outputs, len(records))
    return {
        "throughput": {
            "records": len(records),
            "partitions": PARTITIONS,
            "floor_records_per_s": floor,
            "worker_events_per_s": worker["events_per_s"],
            "ratio": worker["events_per_s"] / floor if floor else 0.0,
            "target_ratio": 0.5,
        },
        "latency": latency_at_rate(url, doc),
        "baseline_propagation": propagation(url, doc, version),
    }


if __name__ == "__main__":
    print(orjson.dumps(main(), option=orjson.OPT_INDENT_2).decode())
