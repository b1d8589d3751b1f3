"""Run real ``enricher worker`` processes against a real broker and store, and read what they wrote.

The expected verdicts come from the pure core run in-process on the same records: the workers
must give exactly what ``replay`` gives (SPEC §2).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from confluent_kafka import Consumer, Producer, TopicPartition

from bench.workload import generate_records
from enricher.core.baseline import compile_baseline
from enricher.core.model import BaselineDocument
from enricher.core.pipeline import EnrichState, RawRecord, enrich
from enricher.core.synthetic import generate_baseline
from tests.integration.services import unique_name

GARBAGE = (b'{"eventVersion": "1.08", "userIdentity": {', b"\xff\xfe\x00binary", b'{"kind": 0}')
SOURCE_OF = {"raw.cloudtrail": "cloudtrail", "raw.k8s-audit": "k8s_audit", "raw.mesh": "mesh"}


@dataclass
class Topics:
    """Unique topic names of one test run (raw in, outputs out)."""

    raw: dict[str, str]
    verdicts: str
    alerts: str
    ocsf: str
    deadletter: str
    group: str = field(default_factory=lambda: unique_name("grp"))

    def env(self) -> dict[str, str]:
        return {
            "ENRICHER_TOPIC_RAW_CLOUDTRAIL": self.raw["cloudtrail"],
            "ENRICHER_TOPIC_RAW_K8S_AUDIT": self.raw["k8s_audit"],
            "ENRICHER_TOPIC_RAW_MESH": self.raw["mesh"],
            "ENRICHER_TOPIC_VERDICTS": self.verdicts,
            "ENRICHER_TOPIC_ALERTS": self.alerts,
            "ENRICHER_TOPIC_ALERTS_OCSF": self.ocsf,
            "ENRICHER_TOPIC_DEADLETTER": self.deadletter,
            "ENRICHER_CONSUMER_GROUP": self.group,
        }


def make_topics(factory: Callable[..., str], partitions: int = 3) -> Topics:
    """Create a fresh set of topics through the ``kafka_topic_factory`` fixture."""
    raw = {
        source: factory(f"raw-{source}", partitions=partitions)
        for source in ("cloudtrail", "k8s_audit", "mesh")
    }
    return Topics(raw, factory("verdicts", 3), factory("alerts", 3), factory("ocsf", 3), factory("dead", 1))


def synthetic_baseline(identities: int = 300, per_identity: int = 6) -> BaselineDocument:
    return generate_baseline(identities, per_identity, seed=11)


def synthetic_input(doc: BaselineDocument, count: int, seed: int = 12) -> list[tuple[str, bytes]]:
    """(source, raw record) pairs: generated records plus a few that must be dead-lettered."""
    out: list[tuple[str, bytes]] = []
    for raw in generate_records(doc, count, seed=seed):
        obj = orjson.loads(raw)
        source = "cloudtrail" if "eventName" in obj else "k8s_audit" if "auditID" in obj else "mesh"
        out.append((source, raw))
    out += [("cloudtrail", GARBAGE[0]), ("mesh", GARBAGE[1]), ("k8s_audit", GARBAGE[2])]
    return out


def expected_outputs(
    doc: BaselineDocument, version: int, records: list[tuple[str, bytes]]
) -> dict[str, tuple[str, str]]:
    """verdict_id -> (verdict, reason) as the core judges the records (the oracle)."""
    baseline = compile_baseline(doc, version)
    result = enrich([RawRecord(raw, source) for source, raw in records], baseline, EnrichState())
    return {v.verdict_id: (v.verdict, v.reason) for v in result.verdicts}


def produce(
    bootstrap: str, topics: Topics, records: Iterable[tuple[str, bytes]], partition: int | None = None
) -> int:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "log_level": 0})
    n = 0
    for source, raw in records:
        if partition is None:
            producer.produce(topics.raw[source], raw)
        else:
            producer.produce(topics.raw[source], raw, partition=partition)
        n += 1
        if n % 10_000 == 0:
            producer.poll(0)
    assert producer.flush(30) == 0
    return n


class OutputReader:
    """Reads an output topic from the beginning, accumulating what arrived."""

    def __init__(self, bootstrap: str, topic: str, committed_only: bool = False) -> None:
        self.records: list[dict[str, object]] = []
        self.raw: list[bytes] = []
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": unique_name("reader"),
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "isolation.level": "read_committed" if committed_only else "read_uncommitted",
                "log_level": 0,
            }
        )
        self._consumer.subscribe([topic])

    def poll(self, seconds: float = 0.5) -> int:
        deadline = time.monotonic() + seconds
        got = 0
        while time.monotonic() < deadline:
            for msg in self._consumer.consume(5000, 0.2):
                if msg.error() is None and msg.value() is not None:
                    self.raw.append(msg.value())
                    self.records.append(orjson.loads(msg.value()))
                    got += 1
        return got

    def until(self, done: Callable[[list[dict[str, object]]], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.poll(0.5)
            if done(self.records):
                return True
        return False

    def close(self) -> None:
        self._consumer.close()


class WorkerProcess:
    """An ``enricher worker`` subprocess with its stderr (JSON logs) captured to a file."""

    def __init__(self, env: dict[str, str], log_dir: Path, name: str = "worker") -> None:
        self.log_path = log_dir / f"{name}-{unique_name('log')}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "enricher.cli", "worker"],
            env={**os.environ, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited {self.proc.returncode}:\n{self.log()}")
            if "partitions assigned" in self.log():
                return
            time.sleep(0.1)
        raise AssertionError(f"worker not ready after {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_records(self) -> list[dict[str, object]]:
        out = []
        for line in self.log().splitlines():
            if line.startswith("{"):
                try:
                    out.append(orjson.loads(line))
                except orjson.JSONDecodeError:
                    continue
        return out

    def terminate(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout)
        self._log.close()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._log.close()


def worker_env(bootstrap: str, database_url: str, topics: Topics, **extra: str) -> dict[str, str]:
    env = {
        "ENRICHER_KAFKA_BROKERS": bootstrap,
        "ENRICHER_DATABASE_URL": database_url,
        "ENRICHER_METRICS_PORT": "0",
        "ENRICHER_BATCH_TIMEOUT_S": "0.05",
        "ENRICHER_KAFKA_SESSION_TIMEOUT_S": "6",
        **topics.env(),
    }
    env.update(extra)
    return env


def assigned_partitions(worker: WorkerProcess) -> set[str]:
    """The partitions the worker owns now, replayed from its assigned/revoked log lines."""
    owned: set[str] = set()
    for record in worker.log_records():
        if record.get("message") == "partitions assigned":
            owned.update(record.get("partitions", []))  # type: ignore[arg-type]
        elif record.get("message") == "partitions revoked":
            owned.difference_update(record.get("partitions", []))  # type: ignore[arg-type]
    return owned


def end_offsets(bootstrap: str, topic: str, partitions: int) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": unique_name("w"), "log_level": 0})
    try:
        return sum(
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(partitions)
        )
    finally:
        consumer.close()
