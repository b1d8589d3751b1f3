"""``enricher worker`` and ``enricher topics create``."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from typing import Any


def register(commands: Any) -> None:
    """Add ``worker`` and ``topics`` to the CLI."""
    worker = commands.add_parser("worker", help="run an enrichment worker (Kafka in, verdicts out)")
    worker.add_argument(
        "--metrics-port", type=int, help="serve /metrics here (default ENRICHER_METRICS_PORT)"
    )
    worker.add_argument("--exactly-once", action="store_true", help="Kafka transactions (else at-least-once)")
    worker.set_defaults(handler=cmd_worker)

    topics = commands.add_parser("topics", help="manage the Kafka topics")
    sub = topics.add_subparsers(title="topics commands")
    create = sub.add_parser("create", help="create the raw, output and baseline topics (idempotent)")
    create.add_argument(
        "--partitions", type=int, help="partitions per topic (default ENRICHER_TOPIC_PARTITIONS)"
    )
    create.add_argument(
        "--retention-days", type=float, default=7.0, help="retention of raw and output topics"
    )
    create.set_defaults(handler=cmd_topics_create)


def cmd_worker(args: argparse.Namespace) -> int:
    """Load the baseline, then consume until SIGTERM/SIGINT."""
    from prometheus_client import start_http_server

    from enricher.adapters.baseline_cache import BaselineCache
    from enricher.adapters.kafka.worker import Worker
    from enricher.adapters.metrics import Metrics
    from enricher.adapters.store.migrate import upgrade_to_head
    from enricher.config import load_settings
    from enricher.logs import configure_logging

    overrides: dict[str, Any] = {}
    if args.metrics_port is not None:
        overrides["metrics_port"] = args.metrics_port
    if args.exactly_once:
        overrides["processing_guarantee"] = "exactly_once"
    settings = load_settings(**overrides)
    configure_logging(settings.log_level)
    log = logging.getLogger("enricher.worker")
    log.info("starting worker", extra={"settings": settings.masked()})
    upgrade_to_head(settings.database_url)
    metrics = Metrics()
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr="127.0.0.1", registry=metrics.registry)
    cache = BaselineCache(settings, metrics)
    cache.start()
    if not cache.wait_ready(timeout=300) or cache.error is not None:
        print(f"enricher: the baseline could not be loaded: {cache.error}", file=sys.stderr)
        return 1
    worker = Worker(settings, cache, metrics)
    signal.signal(signal.SIGTERM, lambda *_: worker.stop())
    signal.signal(signal.SIGINT, lambda *_: worker.stop())
    log.info("worker ready", extra={"baseline_version": cache.current.version})
    try:
        worker.run()
    finally:
        cache.stop()
    log.info("worker stopped", extra={"batches": worker.batches})
    return 0


def cmd_topics_create(args: argparse.Namespace) -> int:
    """Create the topics; say which were created and which existed."""
    from enricher.adapters.kafka.topics import create_topics, plan_topics
    from enricher.config import load_settings

    settings = load_settings()
    plans = plan_topics(settings, retention_days=args.retention_days, partitions=args.partitions)
    for name, outcome in sorted(create_topics(settings, plans).items()):
        print(f"{outcome:8s} {name}")
    return 0
