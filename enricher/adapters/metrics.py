"""Every Prometheus metric of the service, named once (SPEC §10).

Label values are bounded: sources, verdicts, reasons, error codes, topics and partitions. Never put
an identity, principal or resource in a label of a per-event series.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Buckets that resolve a 50 ms p99 target: dense between 1 ms and 100 ms.
LATENCY_BUCKETS: Final = (
    0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip


class Metrics:
    """The service's metrics on one registry (a fresh registry per instance keeps tests isolated)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.events = Counter("enricher_events", "Parsed events, by source", ["source"], registry=r)
        self.verdicts = Counter(
            "enricher_verdicts", "Verdicts produced", ["source", "verdict", "reason"], registry=r
        )
        self.deadletters = Counter(
            "enricher_deadletter", "Records sent to the dead-letter topic", ["source", "error"], registry=r
        )
        self.out_of_scope = Counter(
            "enricher_out_of_scope", "Events counted but not judged", ["source", "why"], registry=r
        )
        self.dropped = Counter(
            "enricher_dropped",
            "Records dropped by design (digest, non-final stage, duplicate)",
            ["reason"],
            registry=r,
        )
        self.enrich_latency = Histogram(
            "enricher_enrich_latency_seconds",
            "Time from a raw record's Kafka timestamp to its verdict being acknowledged by the broker",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_seconds = Histogram(
            "enricher_batch_seconds",
            "Wall time of one consume-enrich-produce-commit batch",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.baseline_version = Gauge("enricher_baseline_version", "baseline_version in force", registry=r)
        self.baseline_entitlements = Gauge(
            "enricher_baseline_entitlements", "Entitlements in the compiled baseline", registry=r
        )
        self.baseline_identities = Gauge(
            "enricher_baseline_identities", "Identities in the compiled baseline", registry=r
        )
        self.baseline_age = Gauge(
            "enricher_baseline_age_seconds",
            "Seconds since the baseline in force was last confirmed current",
            registry=r,
        )
        self.consumer_lag = Gauge(
            "enricher_consumer_lag",
            "Records behind the end of each assigned partition",
            ["topic", "partition"],
            registry=r,
        )
        self.produce_errors = Counter(
            "enricher_produce_errors",
            "Output records the broker did not acknowledge (batch retried)",
            registry=r,
        )
        # Drift by AWS account / namespace: ``scope`` is capped per source (first N seen, then
        # "_other"), see enricher/adapters/offenders.py and docs/observability.md.
        self.verdicts_by_scope = Counter(
            "enricher_verdicts_by_scope",
            "Verdicts by AWS account (cloudtrail) or namespace (k8s_audit, mesh); scope capped per source",
            ["source", "verdict", "scope"],
            registry=r,
        )
        # Top offenders: only the top 10 identities per alert verdict over a sliding window, rewritten
        # every 30 s (at most 40 series); identities are never labels of a per-event series.
        self.top_offender_alerts = Gauge(
            "enricher_top_offender_alerts",
            "Alerts (verdict != expected) per identity over the last hour, top 10 per verdict only",
            ["identity", "verdict"],
            registry=r,
        )
        # the sink: verdicts topic -> verdict store
        self.sink_writes = Counter(
            "enricher_sink_writes",
            "Verdicts the sink wrote to the store, by result (inserted; duplicate = already stored)",
            ["result"],
            registry=r,
        )
        self.sink_write_seconds = Histogram(
            "enricher_sink_write_seconds",
            "Wall time of one successful store write of the sink (one batch)",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.sink_write_errors = Counter(
            "enricher_sink_write_errors",
            "Store writes of the sink that failed because the database was unavailable (retried)",
            registry=r,
        )
        self.sink_rejected = Counter(
            "enricher_sink_rejected",
            "Records on the verdicts topic that are not verdict records (skipped, logged)",
            registry=r,
        )
        # HTTP API; ``route`` is the path template (e.g. /events/{event_id}), never the raw path
        self.api_requests = Counter(
            "enricher_api_requests", "HTTP API requests answered", ["route", "status"], registry=r
        )
        self.api_latency = Histogram(
            "enricher_api_request_seconds",
            "Time to answer an HTTP API request",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
