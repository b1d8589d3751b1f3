"""The enrichment worker: batch-consume the raw topics, run the core, produce, then commit.

One loop per process, on confluent-kafka (faust's per-message cost is far too high for the hot
path, see docs/architecture.md):

    consume up to batch_size -> enrich (pure core) -> produce verdicts, alerts, OCSF, dead letters
    -> wait for every acknowledgement -> commit the batch's offsets

At-least-once (default): offsets are committed only after the broker acknowledged every output
record; if any was not, the batch is rewound and judged again (verdict ids are deterministic, so
a consumer de-duplicates). Exactly-once: the outputs and the offsets go in one Kafka transaction.
SIGTERM finishes the batch in hand, commits it and leaves the group.
"""

from __future__ import annotations

import bisect
import contextlib
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from enricher import __version__
from enricher.adapters.baseline_cache import BaselineCache
from enricher.adapters.kafka.clients import consumer_config, default_worker_id, producer_config
from enricher.adapters.kafka.lag import publish_consumer_lag
from enricher.adapters.metrics import Metrics
from enricher.adapters.offenders import VerdictView
from enricher.config import Settings
from enricher.core.ocsf import ocsf_json
from enricher.core.pipeline import BatchResult, EnrichState, RawRecord, enrich, serialize_verdict
from enricher.core.verdict import EXPECTED, Verdict

log = logging.getLogger(__name__)

RETRY_BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0)
LAG_EVERY_S = 5.0


@dataclass(slots=True)
class _Delivery:
    """Acknowledgement bookkeeping for one batch's output records."""

    failed: int = 0
    first_error: str = ""

    def callback(self, err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            if not self.failed:
                self.first_error = str(err)
            self.failed += 1


@dataclass(slots=True)
class _Batch:
    """The raw records of one consume() call and where to rewind or commit."""

    records: list[RawRecord] = field(default_factory=list)
    first: dict[tuple[str, int], int] = field(default_factory=dict)
    next: dict[tuple[str, int], int] = field(default_factory=dict)
    timestamps_ms: list[int] = field(default_factory=list)


class Worker:
    """One enrichment worker process (see the module docstring)."""

    def __init__(self, settings: Settings, cache: BaselineCache, metrics: Metrics) -> None:
        self._settings = settings
        self._cache = cache
        self._metrics = metrics
        self._stop = threading.Event()
        self._source_of_topic = {topic: source for source, topic in settings.raw_topics.items()}
        self._exactly_once = settings.processing_guarantee == "exactly_once"
        worker_id = settings.worker_id or default_worker_id()
        self._consumer = Consumer(consumer_config(settings, settings.consumer_group))
        self._producer = Producer(
            producer_config(
                settings, f"{settings.consumer_group}-{worker_id}" if self._exactly_once else None
            )
        )
        self._state = EnrichState()
        self._findings_producer = Producer(producer_config(settings))
        cache.emit_unused_findings(self._is_leader, self._publish_findings)
        self._assigned: set[tuple[str, int]] = set()
        self._last_lag = 0.0
        self._verdict_view = VerdictView(metrics)  # drift by scope, top offenders (bounded)
        self._verdict_view.start()
        self.batches = 0

    def stop(self) -> None:
        """Ask the loop to finish the batch in hand and leave (safe from a signal handler)."""
        self._stop.set()

    def run(self) -> None:
        """Serve until ``stop``; the baseline must be loaded first (readiness)."""
        if self._exactly_once:
            self._producer.init_transactions(30)
        self._consumer.subscribe(
            list(self._settings.raw_topics.values()), on_assign=self._on_assign, on_revoke=self._on_revoke
        )
        try:
            while not self._stop.is_set():
                if self._cache.error is not None:
                    raise RuntimeError("the baseline cache failed") from self._cache.error
                self._step()
        finally:
            self._consumer.close()  # leaves the group: partitions move at once
            self._producer.flush(10)
            self._findings_producer.flush(10)

    def _is_leader(self) -> bool:
        """The worker owning partition 0 of the CloudTrail topic runs the cluster-wide periodic checks."""
        return (self._settings.topic_raw_cloudtrail, 0) in self._assigned

    def _publish_findings(self, findings: list[Verdict]) -> None:
        """Periodic findings (unused entitlements) to the verdict and alert topics; called from the
        baseline thread, on a producer of their own (a transactional one cannot produce outside a batch)."""
        settings = self._settings
        delivery = _Delivery()
        for verdict in findings:
            key = (verdict.identity or verdict.principal).encode()
            value = serialize_verdict(verdict)
            for topic, data in (
                (settings.topic_verdicts, value),
                (settings.topic_alerts, value),
                (settings.topic_alerts_ocsf, ocsf_json(verdict, __version__)),
            ):
                self._produce_one(self._findings_producer.produce, topic, key, data, delivery.callback)
        self._findings_producer.flush(30)
        if delivery.failed:
            log.warning("periodic findings not delivered (%d): %s", delivery.failed, delivery.first_error)
        for verdict in findings:
            self._metrics.verdicts.labels(verdict.source, verdict.verdict, verdict.reason).inc()

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assigned.update((tp.topic, tp.partition) for tp in partitions)
        log.info(
            "partitions assigned", extra={"partitions": [f"{p.topic}[{p.partition}]" for p in partitions]}
        )

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # every batch is committed before the next consume(), so nothing is in flight here
        log.info(
            "partitions revoked", extra={"partitions": [f"{p.topic}[{p.partition}]" for p in partitions]}
        )
        for tp in partitions:
            self._assigned.discard((tp.topic, tp.partition))
            with contextlib.suppress(KeyError):
                self._metrics.consumer_lag.remove(tp.topic, str(tp.partition))

    def _step(self) -> None:
        settings = self._settings
        messages = self._consumer.consume(settings.batch_size, settings.batch_timeout_s)
        if time.monotonic() - self._last_lag >= LAG_EVERY_S:
            self._update_lag()
        if not messages:
            return
        started = time.perf_counter()
        batch = self._collect(messages)
        if not batch.records:
            return
        result = enrich(batch.records, self._cache.current, self._state)
        if self._deliver(batch, result):
            self._cache.record_usage(result.usage)
            self._count(result, batch, started)
            self.batches += 1

    def _collect(self, messages: list[Message]) -> _Batch:
        batch = _Batch()
        source_of_topic = self._source_of_topic
        for msg in messages:
            err = msg.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    log.warning("consume error: %s", err)
                continue
            topic: str = msg.topic()  # type: ignore[assignment]  # set on every non-error message
            partition: int = msg.partition()  # type: ignore[assignment]
            offset: int = msg.offset()  # type: ignore[assignment]
            key = (topic, partition)
            if key not in batch.first:
                batch.first[key] = offset
            batch.next[key] = offset + 1
            batch.records.append(
                RawRecord(msg.value() or b"", source_of_topic.get(topic), topic, partition, offset)
            )
            batch.timestamps_ms.append(msg.timestamp()[1])
        return batch

    def _deliver(self, batch: _Batch, result: BatchResult) -> bool:
        """Produce every output of the batch and commit its offsets; False when it was rewound."""
        for attempt, backoff in enumerate((*RETRY_BACKOFF_S, None)):
            delivery = _Delivery()
            try:
                if self._exactly_once:
                    self._producer.begin_transaction()
                self._produce(result, delivery)
                if self._exactly_once:
                    self._commit_transaction(batch)
                else:
                    self._producer.flush()
                    if delivery.failed:
                        raise KafkaException(KafkaError(KafkaError._MSG_TIMED_OUT, delivery.first_error))
                    self._commit(batch)
                return True
            except KafkaException as exc:
                self._metrics.produce_errors.inc(max(delivery.failed, 1))
                log.warning("delivery failed (attempt %d): %s", attempt + 1, exc)
                if self._exactly_once:
                    self._abort()
                if backoff is None or self._stop.is_set():
                    break
                time.sleep(backoff)
        self._rewind(batch)
        return False

    def _produce(self, result: BatchResult, delivery: _Delivery) -> None:
        settings = self._settings
        produce = self._producer.produce
        callback = delivery.callback
        for verdict in result.verdicts:
            key = (verdict.identity or verdict.principal).encode()
            value = serialize_verdict(verdict)
            self._produce_one(produce, settings.topic_verdicts, key, value, callback)
            if verdict.verdict != EXPECTED:
                self._produce_one(produce, settings.topic_alerts, key, value, callback)
                self._produce_one(
                    produce, settings.topic_alerts_ocsf, key, ocsf_json(verdict, __version__), callback
                )
        for dead in result.dead_letters:
            self._produce_one(
                produce, settings.topic_deadletter, (dead.source or "").encode(), dead.to_json(), callback
            )

    def _produce_one(self, produce: Any, topic: str, key: bytes, value: bytes, callback: Any) -> None:
        while True:
            try:
                produce(topic, value, key, on_delivery=callback)
                return
            except BufferError:  # local queue full: let deliveries drain
                self._producer.poll(0.05)
                self._findings_producer.poll(0)

    def _offsets(self, batch: _Batch) -> list[TopicPartition]:
        return [TopicPartition(topic, partition, offset) for (topic, partition), offset in batch.next.items()]

    def _commit(self, batch: _Batch) -> None:
        try:
            self._consumer.commit(offsets=self._offsets(batch), asynchronous=False)
        except KafkaException as exc:
            # a rebalance took the partitions: the new owner re-reads from the last commit (at-least-once)
            log.warning("offset commit failed, the batch may be judged again: %s", exc)

    def _commit_transaction(self, batch: _Batch) -> None:
        self._producer.send_offsets_to_transaction(
            self._offsets(batch), self._consumer.consumer_group_metadata(), 30
        )
        self._producer.commit_transaction(60)

    def _abort(self) -> None:
        try:
            self._producer.abort_transaction(30)
        except KafkaException as exc:
            log.warning("abort_transaction failed: %s", exc)

    def _rewind(self, batch: _Batch) -> None:
        """Seek back to the batch's first offsets; its events will be judged again."""
        for (topic, partition), offset in batch.first.items():
            if (topic, partition) in self._assigned:
                try:
                    self._consumer.seek(TopicPartition(topic, partition, offset))
                except KafkaException as exc:
                    log.warning("seek failed for %s[%d]: %s", topic, partition, exc)
        self._state = EnrichState(links=self._state.links)  # forget dedup keys of the rewound batch

    def _count(self, result: BatchResult, batch: _Batch, started: float) -> None:
        m = self._metrics
        for source, n in result.events.items():
            m.events.labels(source).inc(n)
        verdicts: Counter[tuple[str, str, str]] = Counter(
            (v.source, v.verdict, v.reason) for v in result.verdicts
        )
        for (source, verdict, reason), n in verdicts.items():
            m.verdicts.labels(source, verdict, reason).inc(n)
        self._verdict_view.observe(result.verdicts)
        dead: Counter[tuple[str, str]] = Counter(
            (d.source or "unknown", d.error) for d in result.dead_letters
        )
        for (source, error), n in dead.items():
            m.deadletters.labels(source, error).inc(n)
        for key, n in result.out_of_scope.items():
            source, _, why = key.partition(":")
            m.out_of_scope.labels(source, why).inc(n)
        for reason, n in result.skipped.items():
            m.dropped.labels(reason).inc(n)
        if result.duplicates:
            m.dropped.labels("duplicate_event").inc(result.duplicates)
        now = time.time()
        observe_many(m.enrich_latency, [now - ts / 1000 for ts in batch.timestamps_ms if ts > 0])
        m.batch_seconds.observe(time.perf_counter() - started)

    def _update_lag(self) -> None:
        self._last_lag = time.monotonic()
        publish_consumer_lag(self._consumer, self._assigned, self._metrics.consumer_lag)


def observe_many(histogram: Any, values: list[float]) -> None:
    """Add many observations to a prometheus Histogram with one increment per bucket.

    ``Histogram.observe`` per event would cost a lock round-trip each; this buckets the batch
    first. It relies on prometheus-client's bucket layout (``_upper_bounds``, ``_buckets``,
    ``_sum``) and falls back to ``observe`` if that ever changes.
    """
    if not values:
        return
    bounds = getattr(histogram, "_upper_bounds", None)
    buckets = getattr(histogram, "_buckets", None)
    total = getattr(histogram, "_sum", None)
    if bounds is None or buckets is None or total is None:
        for value in values:
            histogram.observe(value)
        return
    counts = [0] * len(bounds)
    for value in values:
        counts[bisect.bisect_left(bounds, value)] += 1
    for index, n in enumerate(counts):
        if n:
            buckets[index].inc(n)
    total.inc(sum(values))
