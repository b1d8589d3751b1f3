"""confluent-kafka client configurations for the workers, built from ``Settings`` in one place."""

from __future__ import annotations

import os
import socket
from typing import Any

from enricher.config import Settings


def consumer_config(settings: Settings, group: str, **extra: Any) -> dict[str, Any]:
    """A batch consumer: manual commits after the produce is acknowledged, committed reads only."""
    config: dict[str, Any] = {
        **settings.kafka_client_config(),
        "group.id": group,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
        "partition.assignment.strategy": "cooperative-sticky",
        "session.timeout.ms": int(settings.kafka_session_timeout_s * 1000),
        "heartbeat.interval.ms": max(100, int(settings.kafka_session_timeout_s * 1000 / 5)),
        "max.poll.interval.ms": 300_000,
        "fetch.wait.max.ms": 50,
        "queued.max.messages.kbytes": 65536,
        "log_level": 3,
    }
    config.update(extra)
    return config


def producer_config(settings: Settings, transactional_id: str | None = None, **extra: Any) -> dict[str, Any]:
    """An idempotent producer (acks=all); transactional when ``transactional_id`` is given."""
    config: dict[str, Any] = {
        **settings.kafka_client_config(),
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "compression.type": "lz4",
        "batch.num.messages": 10_000,
        "queue.buffering.max.messages": 1_000_000,
        "queue.buffering.max.kbytes": 1_048_576,
        # bounded, so a long broker outage surfaces as delivery errors the worker retries itself
        "message.timeout.ms": 60_000,
        "log_level": 3,
    }
    if transactional_id is not None:
        config["transactional.id"] = transactional_id
        config["transaction.timeout.ms"] = 60_000
    config.update(extra)
    return config


def default_worker_id() -> str:
    """``host-pid``: unique per process; set ENRICHER_WORKER_ID for a stable transactional id."""
    return f"{socket.gethostname()}-{os.getpid()}"
