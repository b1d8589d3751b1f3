"""The sink: the ``enricher.verdicts`` topic into the verdict store, in batches, without loss.

Its own consumer group (``enricher-sink``) in its own process, so the store never slows the
workers: when the database lags or is down, only this group's lag grows.

    consume up to 5000 records / 200 ms -> insert_rows (idempotent bulk insert) -> commit offsets

- At-least-once into an idempotent store: offsets are committed only after the rows are in; a
  crash between the two re-reads the batch and the redelivered rows are ``ON CONFLICT`` no-ops.
- Database down: the batch in hand is retried with exponential backoff (capped), nothing is
  committed and nothing more is read, so the sink resumes exactly where it stopped.
- A record that is not a verdict is logged and counted (``enricher_sink_rejected``), not retried.
- SIGTERM: the batch in hand is finished and committed, then the consumer leaves the group.
- Maintenance every hour: daily partitions ahead and retention (PostgreSQL; see verdict_partitions).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from typing import Final

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from sqlalchemy.ext.asyncio import AsyncEngine

from enricher.adapters.kafka.clients import consumer_config
from enricher.adapters.kafka.lag import publish_consumer_lag
from enricher.adapters.metrics import Metrics
from enricher.adapters.store.engine import create_engine_for
from enricher.adapters.store.verdict_repo import (
    BadVerdictRecord,
    Row,
    VerdictRepository,
    is_unavailable,
    verdict_row,
)
from enricher.config import Settings

log = logging.getLogger(__name__)

SINK_GROUP: Final = "enricher-sink"
BATCH_SIZE: Final = 5000
BATCH_TIMEOUT_S: Final = 0.2
BACKOFF_FIRST_S: Final = 0.2
BACKOFF_MAX_S: Final = 10.0
MAINTENANCE_EVERY_S: Final = 3600.0
MAINTENANCE_RETRY_S: Final = 30.0
PARTITION_DAYS_AHEAD: Final = 3
LAG_EVERY_S: Final = 5.0


class VerdictSink:
    """One sink process's loop (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        metrics: Metrics,
        *,
        group: str = SINK_GROUP,
        batch_size: int = BATCH_SIZE,
        batch_timeout_s: float = BATCH_TIMEOUT_S,
        engine: AsyncEngine | None = None,
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._batch_size = batch_size
        self._batch_timeout_s = batch_timeout_s
        self._own_engine = engine is None
        self._engine = engine if engine is not None else create_engine_for(settings.database_url)
        self._repo = VerdictRepository(self._engine)
        self._consumer = Consumer(consumer_config(settings, group))
        self._stop = threading.Event()
        self._assigned: set[tuple[str, int]] = set()
        self._next_maintenance = 0.0
        self._last_lag = 0.0
        self.written = 0  # rows newly inserted by this process
        self.batches = 0

    def stop(self) -> None:
        """Finish the batch in hand, commit it and leave (safe from a signal handler or thread)."""
        self._stop.set()

    async def run(self) -> None:
        """Consume and store until :meth:`stop`."""
        self._consumer.subscribe(
            [self._settings.topic_verdicts], on_assign=self._on_assign, on_revoke=self._on_revoke
        )
        try:
            while not self._stop.is_set():
                if time.monotonic() >= self._next_maintenance:
                    await self._maintain()
                await self._step()
        finally:
            self._consumer.close()  # leaves the group: the partitions move at once
            if self._own_engine:
                await self._engine.dispose()

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assigned.update((tp.topic, tp.partition) for tp in partitions)

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # each batch is committed before the next consume(), so nothing is in flight here
        for tp in partitions:
            self._assigned.discard((tp.topic, tp.partition))
            with contextlib.suppress(KeyError):
                self._metrics.consumer_lag.remove(tp.topic, str(tp.partition))

    async def _step(self) -> None:
        # consume() waits up to the batch timeout in librdkafka; the loop has nothing else to serve
        messages = self._consumer.consume(self._batch_size, self._batch_timeout_s)
        if time.monotonic() - self._last_lag >= LAG_EVERY_S:
            self._update_lag()
        if not messages:
            return
        rows, offsets = self._collect(messages)
        if rows and not await self._write(rows):
            return  # stopping during an outage: nothing committed, the batch is read again later
        self._commit(offsets)
        self.batches += 1

    def _collect(self, messages: list[Message]) -> tuple[list[Row], dict[tuple[str, int], int]]:
        rows: list[Row] = []
        offsets: dict[tuple[str, int], int] = {}
        for msg in messages:
            err = msg.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    log.warning("consume error: %s", err)
                continue
            topic: str = msg.topic()  # type: ignore[assignment]  # set on every non-error message
            partition: int = msg.partition()  # type: ignore[assignment]
            offset: int = msg.offset()  # type: ignore[assignment]
            offsets[(topic, partition)] = offset + 1
            try:
                rows.append(verdict_row(msg.value() or b""))
            except BadVerdictRecord as exc:
                self._metrics.sink_rejected.inc()
                log.warning(
                    "not a verdict record, skipped: %s",
                    exc,
                    extra={"topic": topic, "partition": partition, "offset": offset},
                )
        return rows, offsets

    async def _write(self, rows: list[Row]) -> bool:
        """Insert the batch, retrying while the database is unavailable; False if stopped first."""
        backoff = BACKOFF_FIRST_S
        while True:
            started = time.perf_counter()
            try:
                inserted = await self._repo.insert_rows(rows)
            except Exception as exc:
                if not is_unavailable(exc):
                    raise
                self._metrics.sink_write_errors.inc()
                log.warning("verdict store unavailable, retrying in %.1f s: %s", backoff, exc)
                if await self._sleep(backoff):
                    return False
                backoff = min(backoff * 2, BACKOFF_MAX_S)
                continue
            self._metrics.sink_write_seconds.observe(time.perf_counter() - started)
            self._metrics.sink_writes.labels("inserted").inc(inserted)
            if len(rows) > inserted:
                self._metrics.sink_writes.labels("duplicate").inc(len(rows) - inserted)
            self.written += inserted
            return True

    async def _sleep(self, seconds: float) -> bool:
        """Sleep, waking early on stop; True when stopped."""
        deadline = time.monotonic() + seconds
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            await asyncio.sleep(min(left, 0.1))
        return True

    def _commit(self, offsets: dict[tuple[str, int], int]) -> None:
        if not offsets:
            return
        try:
            self._consumer.commit(
                offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()], asynchronous=False
            )
        except KafkaException as exc:
            # a rebalance took the partitions (e.g. after a long outage): the new owner re-reads
            # from the last commit, and those rows are already stored (no-ops)
            log.warning("offset commit failed, the batch may be stored again (no-op): %s", exc)

    async def _maintain(self) -> None:
        """Daily partitions ahead, then retention; retried soon when the database is down."""
        retention = self._settings.verdict_retention_days
        try:
            created = await self._repo.ensure_partitions(PARTITION_DAYS_AHEAD)
            dropped = await self._repo.drop_partitions_older_than(retention) if retention else 0
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            log.warning("store maintenance postponed, database unavailable: %s", exc)
            self._next_maintenance = time.monotonic() + MAINTENANCE_RETRY_S
            return
        self._next_maintenance = time.monotonic() + MAINTENANCE_EVERY_S
        if created or dropped:
            log.info(
                "verdict partitions maintained",
                extra={"partitions_created": created, "partitions_dropped": dropped},
            )

    def _update_lag(self) -> None:
        self._last_lag = time.monotonic()
        publish_consumer_lag(self._consumer, self._assigned, self._metrics.consumer_lag)
