"""Consumer lag per assigned partition, for the ``enricher_consumer_lag`` gauge."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition


def publish_consumer_lag(consumer: Consumer, assigned: Iterable[tuple[str, int]], gauge: Any) -> None:
    """Set ``gauge{topic,partition}`` to end offset minus position (cached watermarks, no round trip)."""
    partitions = [TopicPartition(topic, partition) for topic, partition in assigned]
    if not partitions:
        return
    for tp in consumer.position(partitions):
        try:
            _low, high = consumer.get_watermark_offsets(tp, timeout=1, cached=True)
        except KafkaException:
            continue
        if tp.offset >= 0:
            gauge.labels(tp.topic, str(tp.partition)).set(max(high - tp.offset, 0))
